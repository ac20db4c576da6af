//! Rust's wasm32 system allocator (dlmalloc), read from the outside.
//!
//! The shadow heap knows what the global allocator reported. Memory taken from
//! `std::alloc::System` directly bypasses it; so would a free that was reported but never
//! happened. Walking dlmalloc's own chunks finds the blocks it really holds, so the grader can
//! reconcile the two at the end of a scenario, and tell a live `System` block from freed
//! memory when a view is made.
//!
//! dlmalloc takes memory with `memory.grow` and lays each segment out as a chain of chunks
//! from its first byte: a 4-byte `prev_foot`, a 4-byte `head` (size | flags), then the bytes
//! handed out. The segment holding the top chunk ends with a foot chunk whose head is exactly
//! the top-foot size with no flags; older segments end with an in-use segment record followed
//! by fenceposts.

/// The size field's flag bits: the previous chunk is in use, this chunk is in use.
const PINUSE: u32 = 1;
const CINUSE: u32 = 2;
const FLAGS: u32 = 7;
/// A fencepost's head: in use, size 4.
const FENCEPOST: u32 = PINUSE | CINUSE | 4;
/// The head of the foot chunk after the top chunk: `top_foot_size` on wasm32, no flags.
const TOP_FOOT: u32 = 40;
/// The segment record's chunk size (`pad_request(size_of::<Segment>())`).
const SEGMENT_RECORD: u32 = 24;
const MIN_CHUNK: u32 = 16;
/// From a chunk's address to the bytes it hands out.
pub(crate) const MEM_OFFSET: u32 = 8;

/// A chunk dlmalloc holds as in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// The address `malloc` returned for it.
    pub mem: u32,
    /// Bytes usable from `mem`.
    pub usable: u32,
}

impl Chunk {
    pub fn contains(&self, ptr: u32, len: u32) -> bool {
        ptr >= self.mem
            && u64::from(ptr) + u64::from(len) <= u64::from(self.mem) + u64::from(self.usable)
    }
}

fn head(memory: &[u8], chunk: u32) -> Option<u32> {
    let at = chunk as usize + 4;
    memory
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

/// The in-use chunks of every dlmalloc segment that starts at the start of one of
/// `grown_at` (byte addresses where the guest's `memory.grow` calls began). `None` when a
/// segment that starts like dlmalloc's does not end like one: the heap is damaged.
pub(crate) fn in_use(memory: &[u8], grown_at: &[u32]) -> Option<Vec<Chunk>> {
    let mut starts = grown_at.to_vec();
    starts.sort_unstable();
    let mut out = Vec::new();
    let mut walked_to = 0u32;
    for start in starts {
        if start < walked_to {
            continue;
        }
        match walk(memory, start) {
            Walk::Segment { chunks, end } => {
                out.extend(chunks);
                walked_to = end;
            }
            Walk::NotDlmalloc => {}
            Walk::Damaged => return None,
        }
    }
    Some(out)
}

enum Walk {
    Segment {
        chunks: Vec<Chunk>,
        end: u32,
    },
    /// The first chunk does not look like a chunk: memory the guest grew for itself.
    NotDlmalloc,
    Damaged,
}

fn walk(memory: &[u8], start: u32) -> Walk {
    let mut chunks: Vec<(u32, u32)> = Vec::new();
    let mut at = start;
    loop {
        let Some(h) = head(memory, at) else {
            return damaged(at == start);
        };
        if h == FENCEPOST {
            // An older segment: its last in-use chunk is the segment record.
            if chunks
                .last()
                .is_some_and(|&(c, size)| size == SEGMENT_RECORD && c + size == at)
            {
                chunks.pop();
            }
            let mut end = at;
            while head(memory, end) == Some(FENCEPOST) {
                end += 4;
            }
            return segment(chunks, end + 4);
        }
        if h == TOP_FOOT && at != start {
            return segment(chunks, at + TOP_FOOT);
        }
        let size = h & !FLAGS;
        let fits = u64::from(at) + u64::from(size) <= memory.len() as u64;
        if size < MIN_CHUNK || !size.is_multiple_of(8) || !fits {
            return damaged(at == start);
        }
        // The first chunk of a segment always has its "previous in use" bit set.
        if at == start && h & PINUSE == 0 {
            return Walk::NotDlmalloc;
        }
        if h & CINUSE != 0 {
            chunks.push((at, size));
        }
        at += size;
    }
}

fn damaged(first: bool) -> Walk {
    if first {
        Walk::NotDlmalloc
    } else {
        Walk::Damaged
    }
}

fn segment(chunks: Vec<(u32, u32)>, end: u32) -> Walk {
    Walk::Segment {
        chunks: chunks
            .into_iter()
            .map(|(c, size)| Chunk {
                mem: c + MEM_OFFSET,
                usable: size - 4,
            })
            .collect(),
        end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(memory: &mut [u8], chunk: u32, head: u32) {
        let at = chunk as usize + 4;
        memory[at..at + 4].copy_from_slice(&head.to_le_bytes());
    }

    #[test]
    fn walks_a_segment_to_its_top_foot() {
        let mut memory = vec![0u8; 0x2_0000];
        let base = 0x1_0000;
        // An in-use chunk of 32 bytes, a free one of 48, an in-use one of 16, then the top.
        put(&mut memory, base, 32 | PINUSE | CINUSE);
        put(&mut memory, base + 32, 48 | PINUSE);
        put(&mut memory, base + 80, 16 | CINUSE);
        let top = base + 96;
        let foot = 0x2_0000 - TOP_FOOT;
        put(&mut memory, top, (foot - top) | PINUSE);
        put(&mut memory, foot, TOP_FOOT);
        let chunks = in_use(&memory, &[base]).unwrap();
        assert_eq!(
            chunks,
            vec![
                Chunk {
                    mem: base + 8,
                    usable: 28
                },
                Chunk {
                    mem: base + 88,
                    usable: 12
                }
            ]
        );
        // Pages the guest grew for itself (zeros) are not a segment.
        assert_eq!(in_use(&vec![0u8; 0x2_0000], &[base]).unwrap(), vec![]);
        // A chunk whose size runs off the end of memory is damage.
        put(&mut memory, base + 32, 0x10_0000 | PINUSE);
        assert!(in_use(&memory, &[base]).is_none());
    }
}
