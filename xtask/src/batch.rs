//! Batch grading for CI: every submission in a folder against an exercise or a chapter, with
//! standard result files, a journal that survives `kill -9`, and sharding across machines.
//!
//! Flow: intake every submission (refusals are verdicts) → skip what the journal already has
//! (keyed by the submission, the exercise, the exact sources, the spec and the grader version)
//! → build the rest in batches of one generated workspace → grade in parallel → append each
//! verdict to the journal as it is decided → write every result file from the journal.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Instant;

use anyhow::{Context, bail};
use grader::build::{Isolation, Member};
use grader::intake::{self, Intake};
use grader::results::{self, GradebookRow, Graded, GradescopeOptions, HiddenDetails};
use grader::{Report, Spec, Submission};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::course::{self, Exercise};
use crate::{EXIT_FAIL, EXIT_HARNESS, EXIT_PASS};

/// Changes whenever grading could change a verdict; part of every journal key.
pub const GRADER_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+journal2");

/// About how many submissions one cargo invocation builds (see `chunk_len`); a chunk's
/// outputs are removed once all of its members are graded, so the target directory holds about
/// one chunk. Verdicts reach the journal member by member, as cargo writes each module.
const CHUNK: usize = 32;

/// How many submissions each chunk of a batch of `n` holds: chunks of equal sizes, as many as
/// make them closest to `CHUNK` (from ¾ to 1½ times it, unless the batch is smaller), so no
/// chunk is a small remainder that costs a cargo run of its own.
fn chunk_len(n: usize) -> usize {
    let count = ((n + CHUNK / 2) / CHUNK).max(1);
    n.div_ceil(count).max(1)
}

#[derive(clap::Args, Debug, Clone)]
pub struct BatchArgs {
    /// A folder with one sub-folder or `.tar`/`.tar.gz` archive per student
    #[arg(long, value_name = "DIR")]
    pub submissions: Option<PathBuf>,
    /// Extra hidden scenarios, kept outside the students' repository: `<exercise>.toml` files
    /// (e.g. `01-copy-in-copy-out.toml`) holding `[[scenario]]` tables
    #[arg(long, value_name = "DIR", requires = "submissions")]
    pub hidden: Option<PathBuf>,
    /// Where results go
    #[arg(
        long,
        value_name = "DIR",
        default_value = "target/grades",
        requires = "submissions"
    )]
    pub out: PathBuf,
    /// Grade only shard K of N (1-based), e.g. `--partition 2/4`, for a CI matrix
    #[arg(long, value_name = "K/N", requires = "submissions")]
    pub partition: Option<String>,
    /// Parallel builds and graders (default: the number of cores)
    #[arg(long, requires = "submissions")]
    pub jobs: Option<usize>,
    /// Longest one submission's build may take, in seconds
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 120,
        requires = "submissions"
    )]
    pub build_timeout: u64,
}

/// What a batch run did.
#[derive(Debug)]
pub struct Outcome {
    pub graded: usize,
    pub reused: usize,
    pub code: u8,
    /// Every submission's grade, for the table `run` prints.
    pub rows: Vec<GradebookRow>,
}

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    pub submission: String,
    pub exercise: String,
    pub report: Report,
}

struct Pending<'a> {
    key: String,
    submission: String,
    exercise: &'a Exercise,
    spec: &'a Spec,
    intake: Intake,
}

/// Parses `K/N`.
fn partition(text: &str) -> anyhow::Result<(u64, u64)> {
    let (k, n) = text
        .split_once('/')
        .context("`--partition` takes `K/N`, e.g. `2/4`")?;
    let (k, n): (u64, u64) = (k.trim().parse()?, n.trim().parse()?);
    if n == 0 || k == 0 || k > n {
        bail!("`--partition {text}`: K must be between 1 and N");
    }
    Ok((k, n))
}

/// The shard a submission belongs to: stable across machines and runs.
fn shard(name: &str, n: u64) -> u64 {
    let digest = Sha256::digest(name.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes")) % n + 1
}

fn sha(parts: &[&str]) -> String {
    intake::digest(parts.iter().copied())
}

/// A name safe for a folder or file: the submission's own name, with anything else replaced.
fn safe(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let s = s.trim_start_matches('.').to_owned();
    if s.is_empty() { "_".into() } else { s }
}

/// The key a submission's results go under, in file names and in every output: its own name
/// when that is already safe, else the safe name and a hash of the real one, so that names
/// differing only in characters `safe` replaces (a space and an underscore) stay apart.
fn key_of(submission: &str) -> String {
    let safe = safe(submission);
    if safe == submission {
        safe
    } else {
        format!("{safe}-{}", &sha(&[submission])[..8])
    }
}

/// The submission a folder entry holds, by name: the archive suffix dropped, unless another
/// entry then has the same name (`alice/` and `alice.tar`), when both keep their full names.
fn submission_names(entries: &[(String, PathBuf)]) -> Vec<String> {
    let trimmed = |n: &str| {
        n.trim_end_matches(".tar.gz")
            .trim_end_matches(".tgz")
            .trim_end_matches(".tar")
            .to_owned()
    };
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for (name, _) in entries {
        *count.entry(trimmed(name)).or_default() += 1;
    }
    entries
        .iter()
        .map(|(name, _)| {
            let short = trimmed(name);
            if count[&short] > 1 {
                eprintln!(
                    "warning: more than one entry is named `{}`; each is graded under its full name",
                    key_of(&short)
                );
                name.clone()
            } else {
                short
            }
        })
        .collect()
}

/// The exercises' specs, with the hidden scenarios from `--hidden` added.
fn specs(chosen: &[&Exercise], hidden: Option<&Path>) -> anyhow::Result<Vec<Spec>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Extra {
        scenario: Vec<grader::Scenario>,
    }
    let mut out = Vec::new();
    for e in chosen {
        let mut spec = e.spec();
        if let Some(dir) = hidden {
            let name = e.id.rsplit('/').next().unwrap_or(&e.id);
            for file in [
                dir.join(format!("{name}.toml")),
                dir.join(&e.id).with_extension("toml"),
            ] {
                if file.is_file() {
                    let text = std::fs::read_to_string(&file)?;
                    let extra: Extra = toml::from_str(&text).map_err(|err| {
                        anyhow::anyhow!(
                            "{}",
                            course::render(&file, &text, err.span().unwrap_or(0..0), err.message())
                        )
                    })?;
                    spec.scenarios
                        .extend(extra.scenario.into_iter().map(|mut s| {
                            s.hidden = true;
                            s
                        }));
                    break;
                }
            }
        }
        let errors = spec.validate();
        if let Some(err) = errors.first() {
            bail!("`{}` with its hidden scenarios: {}", e.id, err.message);
        }
        out.push(spec);
    }
    Ok(out)
}

/// One journal line: a checksum of the JSON, a space, the JSON, a newline.
fn journal_line(entry: &Entry) -> anyhow::Result<Vec<u8>> {
    let json = serde_json::to_string(entry)?;
    Ok(format!("{} {json}\n", &sha(&[&json])[..16]).into_bytes())
}

/// The entries of whole journal lines, and the (1-based) numbers of the lines that are
/// damaged: a bad checksum or JSON skips that line only.
pub fn read_lines(bytes: &[u8]) -> (Vec<Entry>, Vec<usize>) {
    let (mut entries, mut damaged) = (Vec::new(), Vec::new());
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let entry = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.split_once(' '))
            .filter(|(sum, json)| *sum == &sha(&[json])[..16])
            .and_then(|(_, json)| serde_json::from_str::<Entry>(json).ok());
        match entry {
            Some(entry) => entries.push(entry),
            None => damaged.push(i + 1),
        }
    }
    (entries, damaged)
}

/// The journal, locked for this process: a second grader on the same journal is refused.
struct Journal {
    file: std::fs::File,
    entries: Vec<Entry>,
}

impl Journal {
    fn open(path: &Path) -> anyhow::Result<Journal> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating `{}`", dir.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("opening the journal `{}`", path.display()))?;
        if file.try_lock().is_err() {
            bail!(
                "another grader is writing `{}`; wait for it, or give this run its own `--out`",
                path.display()
            );
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut bytes)?;
        // A last line without its newline was cut by `kill -9` while being written: dropped.
        let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if whole < bytes.len() {
            file.set_len(whole as u64)?;
        }
        let (entries, damaged) = read_lines(&bytes[..whole]);
        for line in damaged {
            eprintln!(
                "warning: `{}` line {line} is damaged (its checksum does not match); it is skipped and that verdict graded again",
                path.display()
            );
        }
        file.seek(std::io::SeekFrom::End(0))?;
        Ok(Journal { file, entries })
    }

    /// Appends one verdict and flushes it to disk before anything else happens.
    fn append(&mut self, mut entry: Entry) -> anyhow::Result<()> {
        let line = journal_line(&entry)?;
        self.file.write_all(&line)?;
        self.file.sync_data()?;
        // Kept as it reads back from disk (timings are not journaled), so result files written
        // now and after a resume are the same.
        entry.report.timings = grader::Timings::default();
        self.entries.push(entry);
        Ok(())
    }
}

pub fn run(root: &Path, filter: Option<&str>, args: &BatchArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let outcome = grade_all(root, filter, args)?;
    print_table(&outcome.rows);
    eprintln!(
        "graded {} and reused {} from the journal in {:.1} s; results in `{}`",
        outcome.graded,
        outcome.reused,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(ExitCode::from(outcome.code))
}

/// Grades the batch; see the module documentation.
pub fn grade_all(root: &Path, filter: Option<&str>, args: &BatchArgs) -> anyhow::Result<Outcome> {
    let submissions = args.submissions.as_ref().expect("required by the caller");
    let (all, errors) = crate::exercises(root)?;
    if let Some(e) = errors.first() {
        bail!("{e}");
    }
    let chosen = course::select(&all, filter)?;
    let specs = specs(&chosen, args.hidden.as_deref())?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let shard_of = args.partition.as_deref().map(partition).transpose()?;
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        root.join(&args.out)
    };
    let mut journal = Journal::open(&out.join("journal.jsonl"))?;
    let done: BTreeSet<String> = journal.entries.iter().map(|e| e.key.clone()).collect();

    // Intake: every entry of the submissions folder, in name order.
    let mut names: Vec<(String, PathBuf)> = std::fs::read_dir(submissions)
        .with_context(|| format!("reading `{}`", submissions.display()))?
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(name, _)| !name.starts_with('.'))
        .collect();
    names.sort();
    if let Some((k, n)) = shard_of {
        // By the name without its archive suffix, so `alice/` and `alice.tar` meet.
        names.retain(|(name, _)| {
            let short = name
                .trim_end_matches(".tar.gz")
                .trim_end_matches(".tgz")
                .trim_end_matches(".tar");
            shard(short, n) == k
        });
    }
    let submissions_named = submission_names(&names);
    // What a verdict depends on besides the sources: part of every journal key.
    let spec_texts: Vec<String> = specs.iter().map(|spec| format!("{spec:?}")).collect();
    let mut pending = Vec::new();
    let mut skipped = 0;
    for ((_, path), submission) in names.iter().zip(&submissions_named) {
        let submission = submission.clone();
        for ((exercise, spec), spec_text) in chosen.iter().zip(&specs).zip(&spec_texts) {
            let short = exercise.id.rsplit('/').next().unwrap_or(&exercise.id);
            let subdir = if chosen.len() > 1 {
                Some(Path::new(short))
            } else {
                None
            };
            match intake::take(path, subdir, &intake::Caps::default()) {
                Ok(taken) => {
                    let key = sha(&[
                        &submission,
                        &exercise.id,
                        &taken.hash(),
                        spec_text,
                        GRADER_VERSION,
                    ]);
                    if done.contains(&key) {
                        skipped += 1;
                        continue;
                    }
                    pending.push(Pending {
                        key,
                        submission: submission.clone(),
                        exercise,
                        spec,
                        intake: taken,
                    });
                }
                Err(refusal) => {
                    let key = sha(&[
                        &submission,
                        &exercise.id,
                        "refused",
                        &refusal.0,
                        spec_text,
                        GRADER_VERSION,
                    ]);
                    if done.contains(&key) {
                        skipped += 1;
                        continue;
                    }
                    let report = grader::refused_report(&exercise.id, spec, &refusal);
                    journal.append(Entry {
                        key,
                        submission: submission.clone(),
                        exercise: exercise.id.clone(),
                        report,
                    })?;
                }
            }
        }
    }
    let total = pending.len();
    let progress = Progress::new(total, skipped);
    // Every build runs in a sandbox that shows only the toolchain, the registry cache, the
    // batch's own workspace and its target directory. Without one, hidden tests are refused.
    let sandbox = match grader::sandbox::Confinement::detect() {
        Ok(sandbox) => Some(sandbox),
        Err(why) if args.hidden.is_some() => bail!(
            "cannot keep `--hidden` secret from the submissions' builds: {why}; without the sandbox, only batches without hidden tests are graded"
        ),
        Err(why) => {
            eprintln!("warning: the submissions' builds are not sandboxed: {why}");
            None
        }
    };
    let isolation = Isolation {
        clear_env: sandbox.is_none(),
        sandbox,
        // The guest crate, and the root manifest it inherits its package fields from.
        read_only: vec![
            std::path::absolute(course::guest_crate(root))?,
            std::path::absolute(root.join("Cargo.toml"))?,
        ],
    };
    // The batch's builds and modules live apart from the course's own (solutions included).
    let mut options = grader::GraderOptions::new(
        course::work_dir(root).join("batch"),
        course::guest_crate(root),
    );
    options.build_timeout = std::time::Duration::from_secs(args.build_timeout);
    options.isolation = isolation.clone();
    // Each module is graded once: a copy on disk would only be written.
    options.module_cache = false;
    let grader = grader::Grader::new(options)?;
    let journal = Mutex::new(journal);
    // One batch workspace per results folder: the journal's lock keeps two runs out of it.
    let batch = format!("batch-{}", &sha(&[&out.to_string_lossy()])[..12]);
    // Members' folder names are drawn at random for this run: a submission cannot name
    // another's files, even one whose name and sources it knows.
    let nonce = random_hex();
    let member_id = |p: &Pending<'_>| format!("s{}", &sha(&[&nonce, &p.key])[..24]);
    let chunks: Vec<&[Pending<'_>]> = pending.chunks(chunk_len(pending.len())).collect();
    // The dependencies are resolved, fetched and built once, before the first chunk; every
    // chunk's build starts from the lock file made then.
    let prepared = (!chunks.is_empty())
        .then(|| grader.prepare_batch(&batch, jobs, &isolation, grader::build::BATCH_PROFILE))
        .transpose()?;
    // One thread builds the chunks, one after another; the graders take each module as soon as
    // cargo has written it, so grading overlaps the build it comes from. A bounded queue: the
    // builds wait for graders that fall behind rather than fill memory with modules.
    let (built_tx, built_rx) =
        mpsc::sync_channel::<(usize, usize, Result<grader::build::Built, grader::Failure>)>(CHUNK);
    // Taken away by a grader that fails, so the builder's next send fails and the batch ends.
    let built_rx = Mutex::new(Some(built_rx));
    // Members of each chunk not graded yet: the last one graded frees the chunk's space.
    let ungraded: Vec<AtomicUsize> = chunks.iter().map(|c| AtomicUsize::new(c.len())).collect();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let builder = scope.spawn(|| -> anyhow::Result<()> {
            let built_tx = built_tx;
            for (k, chunk) in chunks.iter().enumerate() {
                let members: Vec<Member> = chunk
                    .iter()
                    .map(|p| Member {
                        id: member_id(p),
                        files: p.intake.files.clone(),
                    })
                    .collect();
                let prepared = prepared.as_ref().expect("prepared when there are chunks");
                let mut stopped = false;
                prepared.build_each(&members, &mut |i, result| {
                    stopped |= built_tx.send((k, i, result)).is_err();
                })?;
                if stopped {
                    // A grader failed (a journal that cannot be written): its error ends the
                    // batch.
                    break;
                }
            }
            Ok(())
        });
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    let graded = (|| -> anyhow::Result<()> {
                        loop {
                            let next = match built_rx.lock().expect("queue").as_ref() {
                                Some(queue) => queue.recv(),
                                None => return Ok(()),
                            };
                            let Ok((k, i, built)) = next else {
                                return Ok(());
                            };
                            let p = &chunks[k][i];
                            let report = match built {
                                Ok(built) => grade_one(&grader, p, &member_id(p), built)?,
                                Err(failure) => {
                                    compile_report(&p.exercise.id, p.spec, failure, &p.intake)
                                }
                            };
                            progress.tick(&key_of(&p.submission), &p.exercise.id, &report);
                            let entry = Entry {
                                key: p.key.clone(),
                                submission: p.submission.clone(),
                                exercise: p.exercise.id.clone(),
                                report,
                            };
                            journal.lock().expect("journal").append(entry)?;
                            if ungraded[k].fetch_sub(1, Ordering::AcqRel) == 1 {
                                grader
                                    .discard(&chunks[k].iter().map(member_id).collect::<Vec<_>>());
                            }
                        }
                    })();
                    if graded.is_err() {
                        built_rx.lock().expect("queue").take();
                    }
                    graded
                })
            })
            .collect();
        let built = builder.join().expect("the build thread panicked");
        for w in workers {
            w.join().expect("a grading worker panicked")?;
        }
        built
    })?;
    progress.finish();
    let journal = journal.into_inner().expect("journal");
    let entries = latest(&journal.entries, &chosen, &submissions_named);
    let (code, rows) = write_results(&out, &entries, &chosen, &specs)?;
    Ok(Outcome {
        graded: total,
        reused: skipped,
        code,
        rows,
    })
}

/// Writes `path` whole or not at all: a reader never sees half a file. Not synced: result
/// files are written again from the journal by any later run.
fn write_atomically(path: &Path, content: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(content)?;
    drop(file);
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Grades one built submission. A panic of the grader on this module (wasm-bindgen or a parser
/// meeting a module crafted to break it) is this submission's verdict, not the batch's end.
fn grade_one(
    grader: &grader::Grader,
    p: &Pending<'_>,
    slot: &str,
    built: grader::build::Built,
) -> anyhow::Result<Report> {
    let submission = Submission::Built {
        intake: p.intake.clone(),
        built,
    };
    let graded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        grader.grade(&p.exercise.id, slot, &submission, p.spec)
    }));
    match graded {
        Ok(report) => Ok(report?),
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            let mut report = Report::new(&p.exercise.id, p.spec.points());
            report.preflight.push(grader::CheckResult::fail(grader::CheckName::Module,
                grader::Failure::new(
                    grader::Verdict::InvalidModule,
                    "the grader could not read your module",
                )
                .detail(grader::results::clean_text(what, 300))
                .hint("build it from ordinary Rust with the exercise's `Cargo.toml`: a hand-made section, import or debug information the tools cannot parse is not accepted"),
            ));
            report.notes = grader::ignored_notes(&p.intake).collect();
            Ok(report)
        }
    }
}

/// 128 random bits, in hex.
fn random_hex() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        // Not secret then, but still different per run.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        bytes[..16].copy_from_slice(&now.as_nanos().to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The report of a submission that did not compile.
fn compile_report(exercise: &str, spec: &Spec, failure: grader::Failure, taken: &Intake) -> Report {
    let mut report = Report::new(exercise, spec.points());
    report.preflight.push(grader::CheckResult::fail(
        grader::CheckName::Compile,
        failure,
    ));
    report.notes = grader::ignored_notes(taken).collect();
    report
}

/// For each submission and exercise in this run, its newest journal entry.
fn latest(entries: &[Entry], chosen: &[&Exercise], names: &[String]) -> Vec<Entry> {
    let wanted: BTreeSet<&str> = chosen.iter().map(|e| e.id.as_str()).collect();
    let present: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let mut by: BTreeMap<(String, String), Entry> = BTreeMap::new();
    for e in entries {
        if wanted.contains(e.exercise.as_str())
            && (present.is_empty() || present.contains(e.submission.as_str()))
        {
            by.insert((e.submission.clone(), e.exercise.clone()), e.clone());
        }
    }
    by.into_values().collect()
}

/// Every result file, from journal entries only: the same entries give the same files. Returns
/// the exit code and the gradebook's rows.
fn write_results(
    out: &Path,
    entries: &[Entry],
    chosen: &[&Exercise],
    specs: &[Spec],
) -> anyhow::Result<(u8, Vec<GradebookRow>)> {
    let spec_of: BTreeMap<&str, &Spec> = chosen.iter().map(|e| e.id.as_str()).zip(specs).collect();
    // Every output names a submission by its key; two submissions whose keys meet (a name
    // chosen to look like another's key) are told apart and reported.
    let mut by_key: BTreeMap<String, (&str, Vec<&Entry>)> = BTreeMap::new();
    for e in entries {
        let mut key = key_of(&e.submission);
        let mut n = 1;
        while by_key
            .get(&key)
            .is_some_and(|(owner, _)| *owner != e.submission)
        {
            n += 1;
            key = format!("{}~{n}", key_of(&e.submission));
            if n == 2 {
                eprintln!(
                    "warning: two submissions share the key `{}`; one is written as `{key}`",
                    key_of(&e.submission)
                );
            }
        }
        by_key
            .entry(key)
            .or_insert_with(|| (&e.submission, Vec::new()))
            .1
            .push(e);
    }
    let write = |path: PathBuf, text: &str| -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot write results into `{}`", dir.display()))?;
        }
        write_atomically(&path, text.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))
    };
    let mut rows = Vec::new();
    let mut junit = Vec::new();
    let github = std::env::var_os("GITHUB_ACTIONS").is_some();
    for (submission, (_, list)) in &by_key {
        let dir = out.join("submissions").join(submission);
        let graded: Vec<Graded<'_>> = list
            .iter()
            .map(|e| Graded {
                report: &e.report,
                spec: spec_of.get(e.exercise.as_str()).copied(),
            })
            .collect();
        write(
            dir.join("results.json"),
            &results::gradescope(&graded, &GradescopeOptions::default()),
        )?;
        let own: Vec<(String, Report)> = list
            .iter()
            .map(|e| (submission.to_string(), e.report.clone()))
            .collect();
        write(
            dir.join("junit.xml"),
            &results::junit(&own, HiddenDetails::Withhold),
        )?;
        junit.extend(own);
        for e in list {
            let short = e.exercise.rsplit('/').next().unwrap_or(&e.exercise);
            write(
                dir.join(format!("{short}.exercism.json")),
                &results::exercism(&e.report),
            )?;
            rows.push(GradebookRow::new(submission.to_string(), &e.report));
            if github {
                for line in results::github_annotations(
                    &format!("{submission}/src"),
                    &e.report,
                    HiddenDetails::Withhold,
                ) {
                    println!("{line}");
                }
            }
        }
    }
    write(
        out.join("junit.xml"),
        &results::junit(&junit, HiddenDetails::Withhold),
    )?;
    write(out.join("gradebook.csv"), &results::gradebook_csv(&rows))?;
    let summary = results::step_summary(&rows);
    write(out.join("summary.md"), &summary)?;
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)?;
        f.write_all(summary.as_bytes())?;
    }
    let all_passed = rows.iter().all(|r| r.verdict == "pass");
    let code = if rows.is_empty() {
        EXIT_HARNESS
    } else if all_passed {
        EXIT_PASS
    } else {
        EXIT_FAIL
    };
    Ok((code, rows))
}

/// The grades as a table, on standard output.
fn print_table(rows: &[GradebookRow]) {
    println!(
        "{:<28} {:<40} {:>7}  verdict",
        "submission", "exercise", "score"
    );
    for r in rows {
        println!(
            "{:<28} {:<40} {:>6.0}%  {}",
            r.submission, r.exercise, r.percent, r.verdict
        );
    }
}

/// A progress bar with an ETA on a terminal; plain lines in CI or when piped.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: Mutex<usize>,
}

impl Progress {
    fn new(total: usize, reused: usize) -> Progress {
        let terminal = crate::terminal::understands_escapes(&std::io::stderr())
            && std::env::var_os("CI").is_none();
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} graded, eta {eta} {msg}",
                )
                .expect("a valid template"),
            );
            bar
        });
        if bar.is_none() {
            eprintln!("grading {total} submissions ({reused} already in the journal)");
        }
        Progress {
            bar,
            total,
            done: Mutex::new(0),
        }
    }

    fn tick(&self, submission: &str, exercise: &str, report: &Report) {
        let mut done = self.done.lock().expect("progress");
        *done += 1;
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{submission} {exercise}"));
                bar.inc(1);
            }
            None => eprintln!(
                "[{}/{}] {submission} {exercise}: {} ({:.0}%)",
                *done,
                self.total,
                report.verdict().name(),
                report.percent()
            ),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `cargo xtask merge`: combines the journals of several shards into one, and writes every
/// result file for the whole class.
pub fn merge(
    root: &Path,
    filter: Option<&str>,
    out: &Path,
    journals: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let (all, _) = crate::exercises(root)?;
    let chosen = course::select(&all, filter)?;
    let specs = specs(&chosen, None)?;
    let out = if out.is_absolute() {
        out.to_path_buf()
    } else {
        root.join(out)
    };
    let mut journal = Journal::open(&out.join("journal.jsonl"))?;
    let mut keys: BTreeSet<String> = journal.entries.iter().map(|e| e.key.clone()).collect();
    for path in journals {
        let bytes = std::fs::read(path).with_context(|| format!("reading `{}`", path.display()))?;
        let (entries, damaged) = read_lines(&bytes);
        for line in damaged {
            eprintln!(
                "warning: `{}` line {line} is damaged and is not merged",
                path.display()
            );
        }
        for entry in entries {
            if keys.insert(entry.key.clone()) {
                journal.append(entry)?;
            }
        }
    }
    let entries = latest(&journal.entries, &chosen, &[]);
    let (code, rows) = write_results(&out, &entries, &chosen, &specs)?;
    print_table(&rows);
    Ok(ExitCode::from(code))
}

// Its submissions include symlinks; off Linux it proves that `--hidden` is refused.
#[cfg(all(test, unix))]
#[path = "hostile.rs"]
mod hostile;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_cover_everyone_once() {
        let names: Vec<String> = (0..200).map(|i| format!("student-{i}")).collect();
        let mut counts = [0usize; 4];
        for name in &names {
            let k = shard(name, 4);
            assert_eq!(k, shard(name, 4));
            counts[(k - 1) as usize] += 1;
        }
        assert_eq!(counts.iter().sum::<usize>(), 200);
        assert!(counts.iter().all(|c| *c > 20), "{counts:?}");
        assert_eq!(partition("2/4").unwrap(), (2, 4));
        assert!(partition("5/4").is_err());
        assert!(partition("0/4").is_err());
    }

    #[test]
    fn chunks_are_even_and_near_the_chunk_size() {
        assert_eq!(chunk_len(0), 1);
        assert_eq!(chunk_len(5), 5);
        assert_eq!(chunk_len(CHUNK), CHUNK);
        // 100 is three chunks (34, 34 and 32), not three of 32 and one of 4.
        assert_eq!(chunk_len(100), 34);
        for n in 1..2000 {
            let len = chunk_len(n);
            let count = n.div_ceil(len);
            let last = n - (count - 1) * len;
            assert!(len * 2 < CHUNK * 3, "{n}: chunks of {len}");
            assert!(
                n < CHUNK * 3 / 2 || len * 4 >= CHUNK * 3,
                "{n}: chunks of {len}"
            );
            assert!(
                len - last < count,
                "{n}: {count} chunks of {len}, the last of {last}"
            );
        }
    }

    /// [`Journal::open`] of a journal this test has just closed: a process another test
    /// starts meanwhile holds a copy of its lock until it execs, for a moment.
    fn reopen(path: &Path) -> Journal {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            match Journal::open(path) {
                Ok(journal) => return journal,
                Err(e) if std::time::Instant::now() < deadline => {
                    assert!(e.to_string().contains("another grader"), "{e}");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn a_journal_cut_by_kill_is_repaired_and_locked() {
        let dir = std::env::temp_dir().join(format!("journal-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("journal.jsonl");
        {
            let mut j = Journal::open(&path).unwrap();
            let report =
                grader::refused_report("x", &Spec::default(), &intake::Refusal("r".into()));
            j.append(Entry {
                key: "k1".into(),
                submission: "a".into(),
                exercise: "x".into(),
                report,
            })
            .unwrap();
        }
        // Half a line, as a kill in the middle of a write leaves it.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(br#"{"key":"k2","submission""#).unwrap();
        drop(f);
        let j = reopen(&path);
        assert_eq!(j.entries.len(), 1);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
        // A second grader on the same journal is refused while the first holds it.
        let err = Journal::open(&path).err().unwrap();
        assert!(err.to_string().contains("another grader"), "{err}");
    }

    /// One flipped byte costs one verdict, never the lines after it.
    #[test]
    fn a_damaged_journal_line_is_skipped_and_the_rest_kept() {
        let dir = std::env::temp_dir().join(format!("journal-flip-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("journal.jsonl");
        {
            let mut j = Journal::open(&path).unwrap();
            for key in ["k1", "k2", "k3"] {
                let report =
                    grader::refused_report("x", &Spec::default(), &intake::Refusal("r".into()));
                j.append(Entry {
                    key: key.into(),
                    submission: key.into(),
                    exercise: "x".into(),
                    report,
                })
                .unwrap();
            }
        }
        let mut bytes = std::fs::read(&path).unwrap();
        let second = bytes.iter().position(|b| *b == b'\n').unwrap() + 30;
        bytes[second] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let j = reopen(&path);
        let keys: Vec<&str> = j.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["k1", "k3"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys_are_unique_and_escaped() {
        assert_eq!(key_of("alice"), "alice");
        assert_ne!(key_of("alice smith"), key_of("alice_smith"));
        assert!(key_of("alice smith").starts_with("alice_smith-"));
        let forged = key_of("x\n::error::passed");
        assert!(!forged.contains('\n') && !forged.contains(':'), "{forged}");
        let entries = [
            ("dup".to_owned(), PathBuf::from("dup")),
            ("dup.tar".to_owned(), PathBuf::from("dup.tar")),
            ("solo.tar.gz".to_owned(), PathBuf::from("solo.tar.gz")),
        ];
        assert_eq!(submission_names(&entries), ["dup", "dup.tar", "solo"]);
    }

    #[test]
    fn names_are_made_safe_for_files() {
        assert_eq!(safe("../etc"), "_etc");
        assert_eq!(safe("alice smith"), "alice_smith");
        assert_eq!(safe("..."), "_");
    }
}
