//! The shadow heap: the host's exact copy of the guest's live allocations, fed by the counting
//! allocator's `on_alloc`/`on_dealloc` imports.
//!
//! It answers the memory checks' questions: what is live (leaks), was this free sound
//! (allocator misuse), is this allocation aligned, and is a host pointer still inside the block
//! it was taken from (use-after-free).

use std::collections::BTreeMap;

/// Where an allocation was made: the innermost frame of the student's code, and the full
/// function-name stack for context.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Site {
    /// The student's function, when one is on the stack.
    pub function: Option<String>,
    /// `src/lib.rs:LINE`, when the module carries line tables and details were on.
    pub location: Option<String>,
}

/// One live (or dead) block.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// A number unique in this run, so a pointer taken into one block is never mistaken for a
    /// pointer into a later block at the same address.
    pub id: u64,
    pub ptr: u32,
    pub size: u32,
    pub align: u32,
    /// The scenario step during which the block was allocated (`None` during setup).
    pub step: Option<usize>,
    pub site: Site,
}

impl Block {
    pub fn contains(&self, ptr: u32, len: u32) -> bool {
        let end = u64::from(ptr) + u64::from(len);
        ptr >= self.ptr && end <= u64::from(self.ptr) + u64::from(self.size)
    }
}

/// A freed block, kept so a later misuse can say where the block went.
#[derive(Debug, Clone, PartialEq)]
pub struct Freed {
    pub block: Block,
    /// The step during which it was freed.
    pub step: Option<usize>,
}

/// An unsound free, found before it reached the real allocator (which then skips it).
#[derive(Debug, Clone, PartialEq)]
pub enum Misuse {
    /// The block was freed already.
    DoubleFree {
        ptr: u32,
        size: u32,
        first_freed_step: Option<usize>,
    },
    /// The pointer was never returned by the allocator (or points inside a block).
    UnknownFree { ptr: u32, size: u32 },
    /// Freed with another size or alignment than it was allocated with.
    LayoutMismatch {
        ptr: u32,
        allocated: (u32, u32),
        freed: (u32, u32),
    },
}

/// An allocation whose address is not a multiple of the alignment it asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct MisalignedAlloc {
    pub ptr: u32,
    pub size: u32,
    pub align: u32,
}

/// A misuse with the step it happened in and the site of the offending free.
#[derive(Debug, Clone, PartialEq)]
pub struct MisuseEvent {
    pub misuse: Misuse,
    pub step: Option<usize>,
    pub site: Site,
}

#[derive(Debug, Default)]
pub struct ShadowHeap {
    live: BTreeMap<u32, Block>,
    /// The most recent free of each address not allocated again since.
    freed: BTreeMap<u32, Freed>,
    /// For every freed block id, the step it was freed in.
    dead: std::collections::HashMap<u64, Option<usize>>,
    next_id: u64,
    pub misuse: Vec<MisuseEvent>,
    pub misaligned: Vec<MisalignedAlloc>,
    pub allocations: u64,
    pub peak_live_bytes: u64,
}

impl ShadowHeap {
    pub fn on_alloc(&mut self, ptr: u32, size: u32, align: u32, step: Option<usize>, site: Site) {
        self.allocations += 1;
        if align != 0 && !ptr.is_multiple_of(align) {
            self.misaligned.push(MisalignedAlloc { ptr, size, align });
        }
        self.next_id += 1;
        self.freed.remove(&ptr);
        self.live.insert(
            ptr,
            Block {
                id: self.next_id,
                ptr,
                size,
                align,
                step,
                site,
            },
        );
        let live = self.live_bytes();
        self.peak_live_bytes = self.peak_live_bytes.max(live);
    }

    /// Records a free; returns whether it is sound (and so may reach the real allocator).
    pub fn on_dealloc(
        &mut self,
        ptr: u32,
        size: u32,
        align: u32,
        step: Option<usize>,
        site: Site,
    ) -> bool {
        let misuse = match self.live.get(&ptr) {
            Some(block) if block.size == size && block.align == align => {
                let block = self.live.remove(&ptr).expect("just found");
                self.dead.insert(block.id, step);
                self.freed.insert(ptr, Freed { block, step });
                return true;
            }
            Some(block) => Misuse::LayoutMismatch {
                ptr,
                allocated: (block.size, block.align),
                freed: (size, align),
            },
            None => match self.freed.get(&ptr) {
                Some(freed) => Misuse::DoubleFree {
                    ptr,
                    size,
                    first_freed_step: freed.step,
                },
                None => Misuse::UnknownFree { ptr, size },
            },
        };
        self.misuse.push(MisuseEvent { misuse, step, site });
        false
    }

    pub fn live(&self) -> impl Iterator<Item = &Block> {
        self.live.values()
    }

    pub fn live_bytes(&self) -> u64 {
        self.live.values().map(|b| u64::from(b.size)).sum()
    }

    pub fn live_ids(&self) -> std::collections::BTreeSet<u64> {
        self.live.values().map(|b| b.id).collect()
    }

    /// The live block that holds all of `[ptr, ptr + len)`.
    pub fn block_containing(&self, ptr: u32, len: u32) -> Option<&Block> {
        let (_, block) = self.live.range(..=ptr).next_back()?;
        block.contains(ptr, len).then_some(block)
    }

    /// A freed block (not since reused at its address) that `[ptr, ptr + len)` overlaps.
    pub fn freed_overlapping(&self, ptr: u32, len: u32) -> Option<&Freed> {
        let end = u64::from(ptr) + u64::from(len.max(1));
        self.freed
            .range(..end.min(u64::from(u32::MAX)) as u32)
            .rev()
            .map(|(_, f)| f)
            .find(|f| u64::from(f.block.ptr) + u64::from(f.block.size) > u64::from(ptr))
    }

    /// Whether the block with this id is still live.
    pub fn is_live(&self, id: u64) -> bool {
        self.live.values().any(|b| b.id == id)
    }

    /// The step in which the block with this id was freed: `None` while it is live,
    /// `Some(None)` when it was freed during setup.
    pub fn freed_in_step(&self, id: u64) -> Option<Option<usize>> {
        self.dead.get(&id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Site {
        Site::default()
    }

    #[test]
    fn sound_frees_pass_and_misuse_is_classified() {
        let mut heap = ShadowHeap::default();
        heap.on_alloc(0x1000, 16, 8, Some(0), site());
        heap.on_alloc(0x2000, 4, 4, Some(0), site());
        assert!(heap.on_dealloc(0x1000, 16, 8, Some(1), site()));
        assert!(!heap.on_dealloc(0x1000, 16, 8, Some(2), site()));
        assert!(!heap.on_dealloc(0x3000, 1, 1, Some(2), site()));
        assert!(!heap.on_dealloc(0x2000, 8, 4, Some(2), site()));
        let kinds: Vec<_> = heap.misuse.iter().map(|m| &m.misuse).collect();
        assert_eq!(
            kinds,
            vec![
                &Misuse::DoubleFree {
                    ptr: 0x1000,
                    size: 16,
                    first_freed_step: Some(1)
                },
                &Misuse::UnknownFree {
                    ptr: 0x3000,
                    size: 1
                },
                &Misuse::LayoutMismatch {
                    ptr: 0x2000,
                    allocated: (4, 4),
                    freed: (8, 4)
                },
            ]
        );
        // The mismatched free was refused, so the block is still live.
        assert_eq!(heap.live().count(), 1);
    }

    #[test]
    fn misaligned_allocations_are_recorded() {
        let mut heap = ShadowHeap::default();
        heap.on_alloc(0x1004, 8, 8, None, site());
        heap.on_alloc(0x1010, 8, 8, None, site());
        assert_eq!(
            heap.misaligned,
            vec![MisalignedAlloc {
                ptr: 0x1004,
                size: 8,
                align: 8
            }]
        );
    }

    #[test]
    fn containment_and_liveness_by_id() {
        let mut heap = ShadowHeap::default();
        heap.on_alloc(0x1000, 16, 1, None, site());
        let id = heap.block_containing(0x1004, 12).unwrap().id;
        assert!(heap.block_containing(0x1004, 13).is_none());
        assert!(heap.on_dealloc(0x1000, 16, 1, Some(3), site()));
        // A new block at the same address is a different block.
        heap.on_alloc(0x1000, 16, 1, None, site());
        assert!(!heap.is_live(id));
        assert_eq!(heap.freed_in_step(id), Some(Some(3)));
        heap.on_alloc(0x2000, 8, 1, None, site());
        assert!(heap.on_dealloc(0x2000, 8, 1, Some(4), site()));
        assert_eq!(
            heap.freed_overlapping(0x2004, 2).map(|f| f.step),
            Some(Some(4))
        );
        assert!(heap.freed_overlapping(0x2008, 2).is_none());
        assert!(heap.block_containing(0x1004, 4).is_some());
    }
}
