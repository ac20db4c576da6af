//! Cranelift's per-function compilation cache, kept on disk across grading processes.
//!
//! A student's edit changes a handful of functions; std, dlmalloc, wasm-bindgen's runtime and
//! the guest crate do not change. Cranelift keys each function by a hash of its IR and the
//! target's settings (function indices are outside the key, so a function that only moved
//! still hits), and this store keeps the compiled code under that key.
//!
//! On disk it is one append-only file of records, each `key length, value length, key, value,
//! checksum`. Every record is written with a single `write` on a file opened for appending, so
//! processes grading side by side never interleave their records; a record cut short by a
//! killed process, or damaged, fails its checksum and ends the reading there, and the next
//! flush writes the file over with what was read. What is not read back is only compiled
//! again. The file is started over when it passes [`MAX_FILE`].
//!
//! Trust: the compiled code in this file is run. It lives in the grader's own folder, which no
//! submission's build can write (the same folder as the whole-module cache).

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// Past this size the file is started over (the functions of old edits pile up).
const MAX_FILE: u64 = 256 << 20;

/// The store wasmtime's compiler asks for each function it compiles.
#[derive(Debug)]
pub(crate) struct FunctionCache {
    path: Option<PathBuf>,
    /// Read from disk on the first lookup, then never changed: lookups borrow from it.
    loaded: OnceLock<Entries>,
    /// Compiled by this process.
    added: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    /// Whether the file must be written over whole at the next flush.
    rewrite: std::sync::atomic::AtomicBool,
    /// Records compiled since the last [`FunctionCache::flush`].
    pending: Mutex<Vec<u8>>,
}

impl FunctionCache {
    /// A cache kept in `path` (or only in memory with `None`).
    pub(crate) fn new(path: Option<PathBuf>) -> FunctionCache {
        FunctionCache {
            path,
            loaded: OnceLock::new(),
            added: Mutex::new(HashMap::new()),
            rewrite: std::sync::atomic::AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
        }
    }

    fn loaded(&self) -> &Entries {
        self.loaded.get_or_init(|| {
            let bytes = self
                .path
                .as_ref()
                .and_then(|p| std::fs::read(p).ok())
                .unwrap_or_default();
            let entries = read_records(&bytes);
            if entries.damaged {
                self.rewrite
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            entries
        })
    }

    /// Reads the file now (from a thread of its own, while cargo builds), so the first
    /// compilation does not wait for it.
    pub(crate) fn preload(&self) {
        let _ = self.loaded();
    }

    /// Appends what was compiled since the last flush to the file. A write that fails only
    /// costs a compilation next time.
    pub(crate) fn flush(&self) {
        let pending = std::mem::take(&mut *self.pending.lock().expect("cache lock"));
        let Some(path) = self.path.as_ref().filter(|_| !pending.is_empty()) else {
            return;
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_FILE) {
            let _ = std::fs::remove_file(path);
        }
        if self.rewrite.load(std::sync::atomic::Ordering::Relaxed) {
            // Appending after a damaged record would hide everything appended: write the
            // file over, whole, with what is known.
            let added = self.added.lock().expect("cache lock");
            let mut all = Vec::new();
            for (k, v) in self.loaded().map.iter().chain(added.iter()) {
                all.extend(record(k, v));
            }
            if crate::engine::write_atomically(path, &all).is_ok() {
                self.rewrite
                    .store(false, std::sync::atomic::Ordering::Relaxed);
            }
            return;
        }
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            // Record by record: each is one `write`, so records of processes appending at the
            // same time never interleave.
            let mut rest = &pending[..];
            while let Some(len) = record_len(rest) {
                let _ = file.write_all(&rest[..len]);
                rest = &rest[len..];
            }
        }
    }
}

impl wasmtime::CacheStore for FunctionCache {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        if let Some(v) = self.loaded().map.get(key) {
            return Some(Cow::Borrowed(v));
        }
        let added = self.added.lock().expect("cache lock");
        added.get(key).map(|v| Cow::Owned(v.clone()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let (Ok(_), Ok(_)) = (u32::try_from(key.len()), u32::try_from(value.len())) else {
            return false;
        };
        self.pending
            .lock()
            .expect("cache lock")
            .extend_from_slice(&record(key, &value));
        self.added
            .lock()
            .expect("cache lock")
            .insert(key.to_vec(), value);
        true
    }
}

/// What was read from the file, and whether it ended in a damaged record.
#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Vec<u8>, Vec<u8>>,
    damaged: bool,
}

/// Header: key length and value length, little-endian `u32`s; trailer: the checksum.
const HEADER: usize = 8;
const TRAILER: usize = 8;

fn record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + key.len() + value.len() + TRAILER);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// The length of the whole record at the start of `bytes`, if one is there in full.
fn record_len(bytes: &[u8]) -> Option<usize> {
    let k = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let v = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
    let len = HEADER
        .checked_add(k)?
        .checked_add(v)?
        .checked_add(TRAILER)?;
    (bytes.len() >= len).then_some(len)
}

/// Every sound record from the start of `bytes`, up to the first that is cut short or damaged.
fn read_records(mut bytes: &[u8]) -> Entries {
    let mut out = Entries::default();
    while let Some(len) = record_len(bytes) {
        let (body, sum) = bytes[..len].split_at(len - TRAILER);
        if checksum(body).to_le_bytes() != sum {
            break;
        }
        let k = u32::from_le_bytes(body[0..4].try_into().expect("four bytes")) as usize;
        out.map.insert(
            body[HEADER..HEADER + k].to_vec(),
            body[HEADER + k..].to_vec(),
        );
        bytes = &bytes[len..];
    }
    out.damaged = !bytes.is_empty();
    out
}

/// FNV-1a, 64 bits: enough to tell a record cut short or damaged from a whole one.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::CacheStore;

    #[test]
    fn records_survive_a_reload_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("functions.bin");
        let cache = FunctionCache::new(Some(path.clone()));
        assert!(cache.get(b"a").is_none());
        assert!(cache.insert(b"a", b"first".to_vec()));
        assert!(cache.insert(b"bb", b"second".to_vec()));
        cache.flush();
        // A record cut short, as a killed process leaves it, and garbage after it.
        let mut torn = record(b"c", b"third");
        torn.truncate(torn.len() - 3);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(&torn).unwrap();
        let again = FunctionCache::new(Some(path.clone()));
        assert_eq!(again.get(b"a").as_deref(), Some(&b"first"[..]));
        assert_eq!(again.get(b"bb").as_deref(), Some(&b"second"[..]));
        assert!(again.get(b"c").is_none());
        // What is compiled next is not lost behind the torn record.
        assert!(again.insert(b"d", b"fourth".to_vec()));
        again.flush();
        let third = FunctionCache::new(Some(path));
        assert_eq!(third.get(b"d").as_deref(), Some(&b"fourth"[..]));
        assert_eq!(third.get(b"a").as_deref(), Some(&b"first"[..]));
    }

    #[test]
    fn a_damaged_record_ends_the_reading() {
        let mut bytes = record(b"a", b"one");
        let second = bytes.len();
        bytes.extend(record(b"b", b"two"));
        bytes.extend(record(b"c", b"three"));
        bytes[second + HEADER + 1] ^= 0xff;
        let read = read_records(&bytes);
        assert!(read.damaged);
        assert_eq!(read.map.len(), 1);
        assert_eq!(
            read.map.get(&b"a"[..]).map(Vec::as_slice),
            Some(&b"one"[..])
        );
    }
}
