//! Grades a student's Rust → WebAssembly submission: build → bindgen → load → run scenarios →
//! checks → report, data flowing one way.
//!
//! ```text
//! src/ ──build──> raw wasm ──bindgen──> processed wasm ──load──> Module
//!                                                         │
//!   Spec (exports, scenarios) ──> preflight checks ───────┤
//!                                                         ▼
//!                     run (fresh store per scenario) ──> RunRecord ──checks──> Report
//! ```
//!
//! Student behaviour is never an `Err`: a compile error, a trap, a leak or a wrong result is a
//! [`Verdict`] in the [`Report`]. [`HarnessError`] means the grader itself, or its input (an
//! exercise's scenarios), is at fault.

#![warn(unreachable_pub)]

pub mod abi;
mod accounting;
pub mod bindgen;
pub mod build;
mod check;
mod dlmalloc;
pub mod dwarf;
pub mod engine;
mod error;
pub mod heap;
pub mod intake;
pub mod js;
pub mod memmap;
mod paths;
pub mod report;
pub mod results;
pub mod run;
pub mod sandbox;
pub mod size;
pub mod spec;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use error::HarnessError;
pub use paths::slashed;
pub use report::{
    CheckName, CheckResult, Failure, Render, Report, ScenarioReport, Status, Timings, Verdict,
};
pub use spec::{Scenario, Spec, Step, Value};

use engine::{Detail, Limits, Sandbox};
use run::{RunRecord, SiteCapture};

/// What to grade.
#[derive(Debug, Clone)]
pub enum Submission {
    /// A crate folder whose `src/` is the student's code; taken through [`intake`].
    Crate(PathBuf),
    /// Sources already taken, and what `build::build_batch` made of them: the raw module, with
    /// line tables when the batch's profile has them (a leak's line then needs no rebuild).
    Built {
        intake: intake::Intake,
        built: build::Built,
    },
    /// A module file: raw rustc output (bindgen runs on it), an already processed module, or a
    /// `.wat` text module.
    Module(PathBuf),
}

/// Where the grader keeps its files, and its limits.
#[derive(Debug, Clone)]
pub struct GraderOptions {
    /// Staged crates, the shared target directory and the module cache live under here.
    pub work_dir: PathBuf,
    /// The guest support crate linked into every submission.
    pub guest_crate: PathBuf,
    pub limits: Limits,
    pub build_timeout: Duration,
    /// Seeds `Math.random` in every scenario (to replay a run); by default each scenario has
    /// its own fixed seed.
    pub seed: Option<u64>,
    /// What every build may see: the sandbox for untrusted submissions (see [`sandbox`]).
    pub isolation: build::Isolation,
    /// The grading program itself, when its `main` starts with [`build::record_if_asked`]
    /// (the default then): a student's re-grade runs rustc without cargo (see
    /// [`build::BuildDirs`]).
    pub rustc_recorder: Option<PathBuf>,
    /// Keep compiled modules on disk for later runs (unchanged code re-graded, the course's
    /// own modules). A batch grades each module once, so its modules are kept in memory only.
    pub module_cache: bool,
}

impl GraderOptions {
    pub fn new(work_dir: impl Into<PathBuf>, guest_crate: impl Into<PathBuf>) -> GraderOptions {
        GraderOptions {
            work_dir: work_dir.into(),
            guest_crate: guest_crate.into(),
            limits: Limits::default(),
            build_timeout: Duration::from_secs(300),
            seed: None,
            isolation: build::Isolation::default(),
            rustc_recorder: build::recorder(),
            module_cache: true,
        }
    }
}

/// A grading session: engines and caches shared by every submission it grades.
#[derive(Debug)]
pub struct Grader {
    sandbox: Sandbox,
    dirs: build::BuildDirs,
    seed: Option<u64>,
}

/// The module and what else later steps need from the build.
struct Loaded {
    module: wasmtime::Module,
    /// The raw module, to explain a signature mismatch with its TypeScript, and, when it has
    /// line tables (a batch member), to find a leak's source line.
    raw: Option<Vec<u8>>,
    /// Where the module with line tables comes from when a leak needs its source line.
    lines: Option<LinesFrom>,
    /// Where the module puts its stack and static data, for the memory map.
    layout: Option<memmap::Layout>,
    /// The JavaScript glue's imports, which the grader's shims run.
    glue: js::Glue,
    /// Whether the module's allocation reports can be trusted.
    accounting: accounting::Accounting,
    facts: run::ModuleFacts,
    /// The module graded, as bytes, for its size budget.
    wasm: Vec<u8>,
}

/// Where a leak's source line is read from.
enum LinesFrom {
    /// The raw module carries DWARF line tables (a batch builds its members with them), whose
    /// file names start with this folder: nothing is built again.
    Raw(PathBuf),
    /// The staging slot and the student's `src/`, built again with line tables.
    Rebuild(String, Vec<(PathBuf, String)>),
}

/// Addresses below this are the dangling pointers of empty buffers, not stack frames.
const DANGLING_LIMIT: u32 = 4096;

/// What the checks need to know of a module before it runs: wasm-bindgen's runtime allocator
/// (by function index) and where the stack lies.
fn module_facts(
    wasm: &[u8],
    layout: Option<&memmap::Layout>,
) -> (accounting::Verified, run::ModuleFacts) {
    let verified = accounting::verify(wasm);
    let stack = layout.and_then(|l| {
        let high = l.stack_pointer?;
        // The stack grows down from its pointer to the end of whatever static data lies below.
        let low = l
            .segments
            .iter()
            .map(|s| s.start.saturating_add(s.len))
            .chain(l.data_end)
            .filter(|end| *end <= high)
            .max()
            .unwrap_or(0)
            // Rust's dangling pointers for empty buffers are small multiples of an alignment
            // (`Vec::new().as_ptr()` is 1, 4 or 8): never a frame of the stack, which lives at
            // its top end.
            .max(DANGLING_LIMIT);
        (low < high).then_some((low, high))
    });
    let facts = run::ModuleFacts {
        runtime_functions: verified.runtime_functions.clone(),
        stack,
    };
    (verified, facts)
}

impl Grader {
    pub fn new(options: GraderOptions) -> Result<Grader, HarnessError> {
        let guest_crate = std::path::absolute(&options.guest_crate)
            .map_err(|e| HarnessError::io(&options.guest_crate, e))?;
        let work = std::path::absolute(&options.work_dir)
            .map_err(|e| HarnessError::io(&options.work_dir, e))?;
        let cache_dir = options.module_cache.then(|| work.join("modules"));
        let sandbox = Sandbox::new(options.limits, cache_dir)
            .map_err(|e| HarnessError::Engine(format!("{e:#}")))?;
        let dirs = build::BuildDirs {
            staging: work.join("staging"),
            target: work.join("target"),
            guest_crate,
            timeout: options.build_timeout,
            isolation: options.isolation,
            rustc_recorder: options.rustc_recorder,
        };
        Ok(Grader {
            sandbox,
            dirs,
            seed: options.seed,
        })
    }

    /// Builds many submissions in one generated workspace (see [`build::build_batch`]).
    pub fn build_batch(
        &self,
        batch: &str,
        members: &[build::Member],
        jobs: usize,
        isolation: &build::Isolation,
        profile: build::Profile,
    ) -> Result<Vec<Result<build::Built, Failure>>, HarnessError> {
        build::build_batch(&self.dirs, batch, members, jobs, isolation, profile)
    }

    /// Prepares batch `batch` to be built in chunks: its dependencies resolved, fetched and
    /// built once (see [`build::Batch`]).
    pub fn prepare_batch(
        &self,
        batch: &str,
        jobs: usize,
        isolation: &build::Isolation,
        profile: build::Profile,
    ) -> Result<build::Batch, HarnessError> {
        build::Batch::prepare(&self.dirs, batch, jobs, isolation, profile)
    }

    /// Writes batch `batch`'s generated workspace for `members` without building it, and
    /// returns its folder (see [`build::write_batch`]).
    pub fn write_batch(
        &self,
        batch: &str,
        members: &[build::Member],
    ) -> Result<PathBuf, HarnessError> {
        build::write_batch(&self.dirs, batch, members)
    }

    /// The target directory every build of this grader goes to.
    pub fn target_dir(&self) -> &Path {
        &self.dirs.target
    }

    /// Frees the space the build of batch members `ids` took (see [`build::discard`]), and
    /// the compiled modules kept in memory.
    pub fn discard(&self, ids: &[String]) {
        build::discard(&self.dirs, ids);
        self.sandbox.forget_modules();
    }

    /// Grades one submission against one exercise's spec. `slot` names the staging folder (one
    /// per exercise keeps each exercise's incremental build warm).
    pub fn grade(
        &self,
        exercise: &str,
        slot: &str,
        submission: &Submission,
        spec: &Spec,
    ) -> Result<Report, HarnessError> {
        let mut timings = Timings::default();
        let mut report = Report::new(exercise, spec.points());
        let loaded = match self.load(slot, submission, &mut timings, &mut report.notes)? {
            Ok(loaded) => loaded,
            Err(check) => {
                report.preflight.push(check);
                report.timings = timings;
                return Ok(report);
            }
        };
        let t = Instant::now();
        report
            .preflight
            .push(check::imports(&loaded.module, &loaded.glue));
        let mut exports = check::exports(&loaded.module, &spec.exports, "");
        if exports.failure().is_some()
            && let Some(raw) = &loaded.raw
            && let Ok(processed) = bindgen::process(raw, false, true)
        {
            // Explain the mismatch the way JavaScript sees the student's exports.
            exports = check::exports(&loaded.module, &spec.exports, &processed.typescript);
        }
        report.preflight.push(exports);
        if let Some(check) = accounting_check(&loaded.accounting, spec) {
            report.preflight.push(check);
        }
        if spec.budget.is_set() {
            let breakdown = size::analyse(&loaded.wasm);
            report
                .preflight
                .push(check::module_size(breakdown.as_ref(), &spec.budget));
        }
        timings.checks += t.elapsed();
        // A module over its size budget still runs its scenarios, so the report shows what
        // works, but earns nothing (below).
        let over_budget = |c: &CheckResult| c.check == CheckName::ModuleSize;
        if report
            .preflight
            .iter()
            .any(|c| c.failure().is_some() && !over_budget(c))
        {
            report.timings = timings;
            return Ok(report);
        }
        // Guest code runs on a thread with a native stack far larger than the wasm stack limit.
        let scenarios = std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("guest".into())
                .stack_size(engine::GUEST_THREAD_STACK)
                .spawn_scoped(scope, || self.run_scenarios(&loaded, spec, &mut timings))
                .map_err(|e| {
                    HarnessError::Engine(format!("could not start the guest thread: {e}"))
                })?
                .join()
                .expect("the guest thread does not panic")
        })?;
        let mut scenarios = scenarios;
        if report
            .preflight
            .iter()
            .any(|c| c.failure().is_some() && over_budget(c))
        {
            for scenario in &mut scenarios {
                scenario.earned = 0.0;
            }
        }
        report.earned = scenarios.iter().map(|s| s.earned).sum();
        report.scenarios = scenarios;
        report.timings = timings;
        Ok(report)
    }

    /// What wasm-bindgen makes of a submission: the processed module and its JavaScript glue,
    /// as a browser (or node) would load them. `None` when the crate does not build or its
    /// module is not a wasm-bindgen module.
    pub fn bindgen_output(
        &self,
        slot: &str,
        submission: &Submission,
    ) -> Result<Option<bindgen::Processed>, HarnessError> {
        let raw = match submission {
            Submission::Crate(dir) => {
                let Ok(taken) = intake::take(dir, None, &intake::Caps::default()) else {
                    return Ok(None);
                };
                match build::build(&self.dirs, slot, &taken.files, build::Profile::Grading)? {
                    Ok(built) => built.wasm,
                    Err(_) => return Ok(None),
                }
            }
            Submission::Built { built, .. } => built.wasm.clone(),
            Submission::Module(path) => {
                std::fs::read(path).map_err(|e| HarnessError::io(path, e))?
            }
        };
        Ok(bindgen::process(&raw, false, false).ok())
    }

    /// What a submission's module is made of, as `size` reads it (see [`size::analyse`]).
    /// `None` when the submission does not build into a wasm-bindgen module.
    pub fn module_size(
        &self,
        slot: &str,
        submission: &Submission,
    ) -> Result<Option<size::Breakdown>, HarnessError> {
        Ok(self
            .bindgen_output(slot, submission)?
            .and_then(|p| size::analyse(&p.wasm)))
    }

    /// How the grader would serve each import of a submission's module: the guest crate's
    /// own, a function of the JavaScript glue it runs, or one that needs a browser. `None`
    /// when the submission does not build into a wasm-bindgen module.
    pub fn describe_imports(
        &self,
        slot: &str,
        submission: &Submission,
    ) -> Result<Option<Vec<ImportInfo>>, HarnessError> {
        let Some(processed) = self.bindgen_output(slot, submission)? else {
            return Ok(None);
        };
        let glue = js::Glue::with_snippets(&processed.js, processed.snippets.clone());
        let Ok(module) = self.sandbox.module(&processed.wasm, Detail::Names) else {
            return Ok(None);
        };
        let unsupported = run::unsupported_imports(&module, &glue);
        let infos = module
            .imports()
            .map(|i| {
                let unknown = unsupported
                    .iter()
                    .any(|u| u.module == i.module() && u.name == i.name());
                let served = match glue.import(i.module(), i.name()) {
                    _ if unknown => Served::Unknown,
                    _ if i.module() == course_guest::abi::MODULE => Served::Guest,
                    None => Served::Unknown,
                    Some(import) if import.browser.is_empty() => Served::Glue(import.text.clone()),
                    Some(import) => Served::NeedsBrowser {
                        needs: import.browser.clone(),
                        js: import.text.clone(),
                    },
                };
                ImportInfo {
                    module: i.module().to_owned(),
                    name: i.name().to_owned(),
                    served,
                }
            })
            .collect();
        Ok(Some(infos))
    }

    fn run_scenarios(
        &self,
        loaded: &Loaded,
        spec: &Spec,
        timings: &mut Timings,
    ) -> Result<Vec<ScenarioReport>, HarnessError> {
        // Each scenario runs in a fresh store and page of its own, so they run side by side, a
        // few at a time; what comes after (source lines, checks) is taken in order.
        let t = Instant::now();
        let records = self.run_records(loaded, spec)?;
        timings.run += t.elapsed();
        let mut out = Vec::new();
        let lines = std::cell::OnceCell::new();
        for (scenario, mut record) in spec.scenarios.iter().zip(records) {
            timings.reconcile += record.reconcile;
            let wants_lines = record.leaked.as_ref().is_some_and(|l| !l.is_empty())
                || !record.overflows.is_empty()
                || record
                    .steps
                    .iter()
                    .any(|s| matches!(s.problem, Some(run::Problem::Allocated { .. })));
            if wants_lines {
                let t = Instant::now();
                let lines = lines.get_or_init(|| self.lines_module(loaded));
                self.locate_leaks(lines.as_ref(), spec, scenario, &mut record);
                timings.rerun += t.elapsed();
            }
            let t = Instant::now();
            name_shims(&mut record, &spec.exports);
            let mut report = check::scenario(scenario, &record);
            if let Some(layout) = &loaded.layout {
                attach_map(&mut report, memmap::MemoryMap::new(layout, &record));
            }
            out.push(report);
            timings.checks += t.elapsed();
        }
        Ok(out)
    }

    /// The record of every scenario (and of its re-run up to the last completed step, when an
    /// expected fault ended it), in the spec's order, run on a few guest threads at once.
    fn run_records(&self, loaded: &Loaded, spec: &Spec) -> Result<Vec<RunRecord>, HarnessError> {
        let record_of = |scenario: &Scenario| -> Result<RunRecord, HarnessError> {
            let mut record = self.run_one(
                &loaded.module,
                &loaded.glue,
                Detail::Names,
                spec,
                scenario,
                SiteCapture::Names,
                loaded.facts.clone(),
            )?;
            let judges_memory = scenario.checks(spec::MemoryCheck::Leaks)
                || scenario.checks(spec::MemoryCheck::Overflow);
            if record.fault_expected
                && judges_memory
                && let Some((Some(at), _)) = record.fault
            {
                // The expected fault ended the instance: memory is judged as of the last
                // step that completed, by running the scenario again up to it.
                let mut before = scenario.clone();
                before.steps.truncate(at);
                let again = self.run_one(
                    &loaded.module,
                    &loaded.glue,
                    Detail::Names,
                    spec,
                    &before,
                    SiteCapture::Names,
                    loaded.facts.clone(),
                )?;
                if again.fault.is_none() {
                    record.leaked = again.leaked;
                    record.untracked = again.untracked;
                    record.heap_unreadable = again.heap_unreadable;
                    record.overflows.extend(again.overflows);
                    record.live = again.live;
                }
            }
            Ok(record)
        };
        let workers = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, MAX_SCENARIO_THREADS)
            .min(spec.scenarios.len());
        if workers <= 1 {
            return spec.scenarios.iter().map(record_of).collect();
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let slots: Vec<std::sync::Mutex<Option<Result<RunRecord, HarnessError>>>> = spec
            .scenarios
            .iter()
            .map(|_| std::sync::Mutex::new(None))
            .collect();
        std::thread::scope(|scope| -> Result<(), HarnessError> {
            let mut handles = Vec::new();
            for _ in 0..workers {
                let work = || {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(scenario) = spec.scenarios.get(i) else {
                            break;
                        };
                        let record = record_of(scenario);
                        *slots[i].lock().expect("no worker panics") = Some(record);
                    }
                };
                let handle = std::thread::Builder::new()
                    .name("guest".into())
                    .stack_size(engine::GUEST_THREAD_STACK)
                    .spawn_scoped(scope, work)
                    .map_err(|e| {
                        HarnessError::Engine(format!("could not start a guest thread: {e}"))
                    })?;
                handles.push(handle);
            }
            for handle in handles {
                handle.join().expect("the guest thread does not panic");
            }
            Ok(())
        })?;
        slots
            .into_iter()
            .map(|slot| {
                slot.into_inner()
                    .expect("no worker panics")
                    .expect("every scenario was run")
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn run_one(
        &self,
        module: &wasmtime::Module,
        glue: &js::Glue,
        detail: Detail,
        spec: &Spec,
        scenario: &Scenario,
        capture: SiteCapture,
        facts: run::ModuleFacts,
    ) -> Result<RunRecord, HarnessError> {
        let seed = self
            .seed
            .or(scenario.seed)
            .unwrap_or_else(|| default_seed(&scenario.name));
        run::run(
            &self.sandbox,
            module,
            detail,
            &spec.exports,
            scenario,
            capture,
            run::Shims { glue, seed },
            facts,
        )
        .map_err(|source| HarnessError::Scenario {
            scenario: scenario.name.clone(),
            source,
        })
    }

    /// The module with DWARF line tables (a batch member's own, or the student's crate built
    /// again with them), its DWARF cut to the student's units, with the staged crate's path
    /// (which DWARF file names start with); made once per grade, and only when a scenario
    /// leaks.
    fn lines_module(&self, loaded: &Loaded) -> Option<LinesModule> {
        let rebuilt;
        let (raw, source_root) = match loaded.lines.as_ref()? {
            LinesFrom::Raw(root) => (loaded.raw.as_ref()?, root),
            LinesFrom::Rebuild(slot, files) => {
                rebuilt = build::build(&self.dirs, slot, files, build::Profile::Lines)
                    .ok()?
                    .ok()?;
                (&rebuilt.wasm, &rebuilt.source_root)
            }
        };
        let root = slashed(source_root);
        let student = dwarf::student_units(raw, &root);
        let processed = bindgen::process(student.as_deref().unwrap_or(raw), true, false).ok()?;
        let module = self.sandbox.module(&processed.wasm, Detail::Lines).ok()?;
        let layout =
            memmap::Layout::parse(&processed.wasm).map(|l| l.or(memmap::Layout::parse(raw)));
        let (_, facts) = module_facts(&processed.wasm, layout.as_ref());
        Some((
            module,
            root,
            js::Glue::with_snippets(&processed.js, processed.snippets.clone()),
            facts,
        ))
    }

    /// Re-runs a leaking scenario on the module with line tables, capturing a detailed
    /// backtrace only for the leaked allocations (the run is deterministic and the code the
    /// same, so allocation ids repeat), and copies the source locations found onto the record.
    fn locate_leaks(
        &self,
        lines: Option<&LinesModule>,
        spec: &Spec,
        scenario: &Scenario,
        record: &mut RunRecord,
    ) {
        let Some((module, root, glue, facts)) = lines else {
            return;
        };
        let mut empty = Vec::new();
        let leaked = record.leaked.as_mut().unwrap_or(&mut empty);
        // The first block of each allocating function and step first, then the next ones, so
        // every group the report lists gets a line however many blocks one loop leaked.
        let mut groups = BTreeSet::new();
        let firsts = leaked
            .iter()
            .filter(|b| groups.insert((b.site.function.clone(), b.step)));
        let mut ids = BTreeSet::new();
        // Overflowed blocks and the first allocation over a step's budget are located too.
        let others: Vec<u64> = record
            .overflows
            .iter()
            .map(|o| o.block.id)
            .chain(record.steps.iter().filter_map(|s| match &s.problem {
                Some(run::Problem::Allocated { first, .. }) => Some(first.id),
                _ => None,
            }))
            .collect();
        ids.extend(others.iter().take(4));
        for block in firsts.chain(leaked.iter()) {
            if ids.len() == 16 {
                break;
            }
            ids.insert(block.id);
        }
        let capture = SiteCapture::Lines {
            ids: ids.clone(),
            source_root: Some(root.clone()),
        };
        let Ok(again) = self.run_one(
            module,
            glue,
            Detail::Lines,
            spec,
            scenario,
            capture,
            facts.clone(),
        ) else {
            return;
        };
        // Where the overflowed blocks and over-budget allocations were made.
        let traced_site = |id: u64| {
            again
                .overflows
                .iter()
                .map(|o| &o.block)
                .chain(again.live.iter())
                .chain(again.steps.iter().filter_map(|s| match &s.problem {
                    Some(run::Problem::Allocated { first, .. }) => Some(first),
                    _ => None,
                }))
                .find(|b| b.id == id)
                .map(|b| b.site.clone())
        };
        for o in &mut record.overflows {
            if let Some(site) = traced_site(o.block.id) {
                o.block.site.location = site.location.or(o.block.site.location.take());
            }
        }
        for s in &mut record.steps {
            if let Some(run::Problem::Allocated { first, .. }) = &mut s.problem
                && let Some(site) = traced_site(first.id)
            {
                first.site.location = site.location.or(first.site.location.take());
            }
        }
        let Some(again_leaked) = again.leaked else {
            return;
        };
        // A traced block the re-run does not count as leaked was wasm-bindgen's own (its
        // externref free list, made after the first run stopped capturing sites): not a leak.
        leaked.retain(|b| !ids.contains(&b.id) || again_leaked.iter().any(|t| t.id == b.id));
        for block in leaked.iter_mut() {
            if let Some(twin) = again_leaked
                .iter()
                .find(|b| b.id == block.id && b.size == block.size)
            {
                if twin.site.location.is_some() {
                    block.site.location = twin.site.location.clone();
                }
                if block.site.function.is_none() {
                    block.site.function = twin.site.function.clone();
                }
            }
        }
        // A block left untraced takes the line traced for its function and step, when every
        // traced block of that function and step agrees on it.
        let mut traced: BTreeMap<(Option<String>, Option<usize>), Option<String>> = BTreeMap::new();
        for block in leaked.iter() {
            if let Some(line) = &block.site.location {
                traced
                    .entry((block.site.function.clone(), block.step))
                    .and_modify(|one| {
                        if one.as_ref() != Some(line) {
                            *one = None;
                        }
                    })
                    .or_insert_with(|| Some(line.clone()));
            }
        }
        for block in leaked.iter_mut().filter(|b| b.site.location.is_none()) {
            let key = (block.site.function.clone(), block.step);
            block.site.location = traced.get(&key).cloned().flatten();
        }
    }

    /// Build, bindgen and compile. `Ok(Err(check))` is the submission's failure.
    fn load(
        &self,
        slot: &str,
        submission: &Submission,
        timings: &mut Timings,
        notes: &mut Vec<String>,
    ) -> Result<Result<Loaded, CheckResult>, HarnessError> {
        let t = Instant::now();
        let mut lines = None;
        let (wasm, origin) = match submission {
            Submission::Crate(dir) => {
                let taken = match intake::take(dir, None, &intake::Caps::default()) {
                    Ok(taken) => taken,
                    Err(refusal) => return Ok(Err(refusal_check(&refusal))),
                };
                notes.extend(ignored_notes(&taken));
                let built = build::build(&self.dirs, slot, &taken.files, build::Profile::Grading)?;
                lines = Some(LinesFrom::Rebuild(slot.to_owned(), taken.files));
                match built {
                    Ok(built) => {
                        timings.build_fresh = built.fresh;
                        (built.wasm, "your crate".to_owned())
                    }
                    Err(failure) => {
                        timings.build = t.elapsed();
                        return Ok(Err(CheckResult::fail(CheckName::Compile, failure)));
                    }
                }
            }
            Submission::Built { intake, built } => {
                notes.extend(ignored_notes(intake));
                lines = Some(if bindgen::has_line_tables(&built.wasm) {
                    LinesFrom::Raw(built.source_root.clone())
                } else {
                    LinesFrom::Rebuild(slot.to_owned(), intake.files.clone())
                });
                (built.wasm.clone(), "your crate".to_owned())
            }
            Submission::Module(path) => {
                let bytes = std::fs::read(path).map_err(|e| HarnessError::io(path, e))?;
                (bytes, format!("`{}`", path.display()))
            }
        };
        timings.build = t.elapsed();
        let t = Instant::now();
        let is_binary = wasm.starts_with(b"\0asm");
        // rustc's output still carries wasm-bindgen's descriptors; a processed module does not.
        let raw = is_binary
            && bindgen::custom_sections(&wasm)
                .is_some_and(|names| names.contains(&&b"__wasm_bindgen_unstable"[..]));
        let mut glue = js::Glue::default();
        let processed = if raw {
            match bindgen::process(&wasm, false, false) {
                Ok(p) => {
                    glue = js::Glue::with_snippets(&p.js, p.snippets.clone());
                    p.wasm
                }
                Err(e) => {
                    return Ok(Err(CheckResult::fail(
                        CheckName::Module,
                        Failure::new(
                            Verdict::InvalidModule,
                            format!("wasm-bindgen could not process {origin}: {e}"),
                        )
                        .hint(format!(
                            "the crate must use wasm-bindgen {}",
                            build::WASM_BINDGEN_VERSION
                        )),
                    )));
                }
            }
        } else {
            // An already processed module may come with its glue beside it, as wasm-bindgen
            // writes them: `x_bg.wasm` and `x.js`.
            if let Submission::Module(path) = submission {
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                let beside =
                    path.with_file_name(format!("{}.js", stem.strip_suffix("_bg").unwrap_or(stem)));
                if let Ok(js) = std::fs::read_to_string(&beside) {
                    glue = js::Glue::parse(&js);
                }
            }
            wasm.clone()
        };
        timings.bindgen = t.elapsed();
        let t = Instant::now();
        let module = match self.sandbox.module(&processed, Detail::Names) {
            Ok(m) => m,
            Err(e) => {
                let what = if is_binary {
                    "is not a valid wasm module"
                } else {
                    "is neither a wasm binary nor valid wasm text"
                };
                return Ok(Err(CheckResult::fail(
                    CheckName::Module,
                    Failure::new(Verdict::InvalidModule, format!("{origin} {what}")).detail(e),
                )));
            }
        };
        timings.compile = t.elapsed();
        // wasm-bindgen drops the `__heap_base` and `__data_end` exports rustc's module has.
        let layout = memmap::Layout::parse(&processed)
            .map(|l| l.or(raw.then(|| memmap::Layout::parse(&wasm)).flatten()));
        let binary = if is_binary {
            processed.clone()
        } else {
            std::fs::read_to_string(match submission {
                Submission::Module(path) => path,
                _ => unreachable!("only a module file can be text"),
            })
            .ok()
            .and_then(|text| wat::parse_str(text).ok())
            .unwrap_or_default()
        };
        // Reading who reports allocations is part of checking the module.
        let t = Instant::now();
        let (verified, facts) = module_facts(&binary, layout.as_ref());
        timings.checks += t.elapsed();
        Ok(Ok(Loaded {
            module,
            raw: raw.then_some(wasm),
            lines,
            layout,
            glue,
            accounting: verified.accounting,
            facts,
            wasm: binary,
        }))
    }
}

/// wasm-bindgen names a method's export shim `class_method`, and an allocation made in the
/// shim itself (a constructor's struct, a returned value) is found there: the student knows it
/// as `Class::method`.
fn name_shims(record: &mut RunRecord, exports: &spec::Exports) {
    let names: BTreeMap<String, String> = exports
        .structs
        .iter()
        .flat_map(|(class, s)| {
            s.constructor.iter().chain(&s.methods).map(move |m| {
                (
                    abi::method_export(class, &m.name),
                    format!("{class}::{}", m.name),
                )
            })
        })
        .collect();
    let rename = |site: &mut heap::Site| {
        if let Some(name) = site.function.as_ref().and_then(|f| names.get(f)) {
            site.function = Some(name.clone());
        }
    };
    let blocks = record
        .leaked
        .iter_mut()
        .flatten()
        .chain(record.live.iter_mut())
        .chain(record.overflows.iter_mut().map(|o| &mut o.block))
        .chain(
            record
                .steps
                .iter_mut()
                .filter_map(|s| match &mut s.problem {
                    Some(run::Problem::Allocated { first, .. }) => Some(first),
                    _ => None,
                }),
        );
    for block in blocks {
        rename(&mut block.site);
    }
    for event in &mut record.misuse {
        rename(&mut event.site);
    }
}

/// Puts the memory map on a scenario's report: the data for `cargo xtask memmap`, and its
/// compact drawing under a failed leak or growth check.
fn attach_map(report: &mut ScenarioReport, map: memmap::MemoryMap) {
    for check in &mut report.checks {
        if let (CheckName::Leaks | CheckName::Growth, Status::Fail(failure)) =
            (check.check, &mut check.status)
        {
            failure.map = Some(memmap::render_compact(&map));
        }
    }
    report.memory = Some(map);
}

/// The module built with line tables, its staged crate's path, its glue and facts.
type LinesModule = (wasmtime::Module, String, js::Glue, run::ModuleFacts);

/// The preflight check on the module's allocation reports: forged reports always fail;
/// a module that does not report its allocations fails when a scenario needs them.
fn accounting_check(accounting: &accounting::Accounting, spec: &Spec) -> Option<CheckResult> {
    use spec::MemoryCheck;
    match accounting {
        accounting::Accounting::Tracked => None,
        accounting::Accounting::Forged { function, how } => Some(CheckResult::fail(CheckName::Accounting,
            Failure::new(
                Verdict::ForgedAccounting,
                format!("`{function}` {how}: only the grader's allocator may report allocations to the grader"),
            )
            .hint("allocate with `Vec`, `Box` or `std::alloc::alloc` and free the same way; never import the grader's `wasm_course` functions yourself"),
        )),
        accounting::Accounting::Untracked(why) => {
            let needed = spec
                .scenarios
                .iter()
                .any(|s| s.checks(MemoryCheck::Leaks) || s.checks(MemoryCheck::Allocator));
            needed.then(|| {
                CheckResult::fail(CheckName::Accounting,
                    Failure::new(
                        Verdict::UntrackedMemory,
                        format!("the grader cannot account for this module's memory: {why}"),
                    )
                    .hint("grade the crate itself (`cargo xtask grade`), so the grader builds it with its allocator"),
                )
            })
        }
    }
}

/// One import of a module, and how the grader serves it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportInfo {
    pub module: String,
    pub name: String,
    pub served: Served,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Served {
    /// The guest support crate's reporting (allocations, panics, `log!`).
    Guest,
    /// The glue's function, run on the grader's page: its source text.
    Glue(String),
    /// A glue function that names what only a browser has: a step that reaches it and then
    /// goes wrong is reported as needing a browser.
    NeedsBrowser { needs: Vec<String>, js: String },
    /// Nothing defines it.
    Unknown,
}

/// Most guest threads one grade runs its scenarios on.
const MAX_SCENARIO_THREADS: usize = 4;

/// The seed `Math.random` starts from in a scenario, unless the spec or the grader sets one:
/// FNV-1a of the scenario's name, so a scenario draws the same numbers on every machine.
pub fn default_seed(scenario: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in scenario.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // Short enough to read out of a report and type back in.
    hash % 1_000_000
}

/// The report's notes on what the grader ignored in a submission.
pub fn ignored_notes(taken: &intake::Intake) -> impl Iterator<Item = String> + '_ {
    taken.ignored.iter().map(|name| ignored_note(name))
}

/// The note on one ignored file or folder (`Cargo.toml`), so a caller that knows the file is
/// as the course shipped it can leave the note out.
pub fn ignored_note(name: &str) -> String {
    format!(
        "your `{name}` was ignored: the grader builds only `src/`, with its own `Cargo.toml` and settings"
    )
}

fn refusal_check(refusal: &intake::Refusal) -> CheckResult {
    CheckResult::fail(
        CheckName::Intake,
        Failure::new(
            Verdict::Refused,
            format!("the submission was refused: {refusal}"),
        )
        .hint("submit only Rust source files under `src/`"),
    )
}

/// The report of a submission refused at intake: nothing was built or run.
pub fn refused_report(exercise: &str, spec: &Spec, refusal: &intake::Refusal) -> Report {
    let mut report = Report::new(exercise, spec.points());
    report.preflight.push(refusal_check(refusal));
    report
}
