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
#[derive(Debug, Clone, Default, PartialEq)]
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

/// A freed block, kept so a later misuse can say where the block went: the part of it
/// `[start, end)` that no block allocated since covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Freed {
    pub block: Block,
    /// The step during which it was freed.
    pub step: Option<usize>,
    pub start: u32,
    pub end: u32,
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
    /// An allocation of zero bytes, which `GlobalAlloc` forbids.
    ZeroSize { ptr: u32, align: u32 },
}

/// A block whose red zone was written: the program wrote past its end (or before its start).
#[derive(Debug, Clone, PartialEq)]
pub struct Overflow {
    pub block: Block,
    /// The first damaged byte, relative to the block's start: `size` is one past its end, a
    /// negative offset lies before it.
    pub offset: i64,
    /// The step during which the damage was found (`None`: after the last step).
    pub found_in: Option<usize>,
    /// Whether it was found when the block was freed (or else at the end of the scenario).
    pub on_free: bool,
}

/// What a range of memory is, as far as the shadow heap knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Region<'a> {
    /// Inside one live block.
    Live(&'a Block),
    /// Starts or ends inside a live block but does not fit in it.
    PastBlock(&'a Block),
    /// Overlaps memory that was freed and not handed out since.
    Freed(&'a Freed),
    /// None of the blocks the shadow heap knows.
    Unknown,
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
    /// Freed memory not handed out again since, by start address; ranges never overlap.
    freed: BTreeMap<u32, Freed>,
    /// The most recent free of each block address, for double frees.
    last_free: BTreeMap<u32, Option<usize>>,
    /// For every freed block id, the step it was freed in, and the block.
    dead: std::collections::HashMap<u64, (Option<usize>, Block)>,
    next_id: u64,
    pub misuse: Vec<MisuseEvent>,
    pub misaligned: Vec<MisalignedAlloc>,
    pub allocations: u64,
    pub peak_live_bytes: u64,
    live_bytes: u64,
    /// Bytes the grader's own placement adds around the live blocks (red zones, alignment
    /// padding), and the most they ever came to: memory the student's code did not ask for.
    padding: u64,
    pub peak_padding: u64,
}

/// What the grader's placement adds around a block aligned to `align`, beyond the block
/// itself: the lead (red zone and alignment), the trailing red zone, and the slack the system
/// allocator needs to align the allocation to more than 8 bytes.
fn padding(align: u32) -> u64 {
    let (lead, system_align) = course_guest::abi::placement(align as usize);
    let slack = if system_align > 8 { system_align } else { 0 };
    (lead + course_guest::abi::RED_ZONE + slack) as u64
}

impl ShadowHeap {
    pub fn on_alloc(
        &mut self,
        ptr: u32,
        size: u32,
        align: u32,
        step: Option<usize>,
        site: Site,
    ) -> u64 {
        self.allocations += 1;
        if align != 0 && !ptr.is_multiple_of(align) {
            self.misaligned.push(MisalignedAlloc { ptr, size, align });
        }
        self.next_id += 1;
        if size == 0 {
            self.misuse.push(MisuseEvent {
                misuse: Misuse::ZeroSize { ptr, align },
                step,
                site: site.clone(),
            });
        }
        self.last_free.remove(&ptr);
        self.carve(ptr, ptr.saturating_add(size.max(1)));
        let replaced = self.live.insert(
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
        // A hand-written module can report an address twice; the first report is gone.
        if let Some(old) = replaced {
            self.live_bytes -= u64::from(old.size);
            self.padding -= padding(old.align);
        }
        self.live_bytes += u64::from(size);
        self.peak_live_bytes = self.peak_live_bytes.max(self.live_bytes);
        self.padding += padding(align);
        self.peak_padding = self.peak_padding.max(self.padding);
        self.next_id
    }

    /// Removes `[start, end)` from the freed ranges: it belongs to a new block now.
    fn carve(&mut self, start: u32, end: u32) {
        let overlapping: Vec<u32> = self
            .freed
            .range(..end)
            .rev()
            .take_while(|(_, f)| f.end > start)
            .map(|(k, _)| *k)
            .collect();
        for key in overlapping {
            let f = self.freed.remove(&key).expect("just found");
            if f.start < start {
                self.freed.insert(
                    f.start,
                    Freed {
                        end: start,
                        ..f.clone()
                    },
                );
            }
            if f.end > end {
                self.freed.insert(end, Freed { start: end, ..f });
            }
        }
    }

    /// Records a free. A sound one (which may reach the real allocator) returns the block.
    pub fn on_dealloc(
        &mut self,
        ptr: u32,
        size: u32,
        align: u32,
        step: Option<usize>,
        site: Site,
    ) -> Option<Block> {
        let misuse = match self.live.get(&ptr) {
            Some(block) if block.size == size && block.align == align => {
                let block = self.live.remove(&ptr).expect("just found");
                self.live_bytes -= u64::from(block.size);
                self.padding -= padding(block.align);
                self.dead.insert(block.id, (step, block.clone()));
                self.last_free.insert(ptr, step);
                let end = ptr.saturating_add(size.max(1));
                self.carve(ptr, end);
                self.freed.insert(
                    ptr,
                    Freed {
                        block: block.clone(),
                        step,
                        start: ptr,
                        end,
                    },
                );
                return Some(block);
            }
            Some(block) => Misuse::LayoutMismatch {
                ptr,
                allocated: (block.size, block.align),
                freed: (size, align),
            },
            None => match self.last_free.get(&ptr) {
                Some(first) => Misuse::DoubleFree {
                    ptr,
                    size,
                    first_freed_step: *first,
                },
                None => Misuse::UnknownFree { ptr, size },
            },
        };
        self.misuse.push(MisuseEvent { misuse, step, site });
        None
    }

    pub fn live(&self) -> impl Iterator<Item = &Block> {
        self.live.values()
    }

    pub fn live_bytes(&self) -> u64 {
        self.live_bytes
    }

    /// The live block that holds all of `[ptr, ptr + len)`.
    pub fn block_containing(&self, ptr: u32, len: u32) -> Option<&Block> {
        let (_, block) = self.live.range(..=ptr).next_back()?;
        block.contains(ptr, len).then_some(block)
    }

    /// A freed range (not handed out since) that `[ptr, ptr + len)` overlaps.
    pub fn freed_overlapping(&self, ptr: u32, len: u32) -> Option<&Freed> {
        let end = u64::from(ptr) + u64::from(len.max(1));
        self.freed
            .range(..end.min(u64::from(u32::MAX)) as u32)
            .rev()
            .map(|(_, f)| f)
            .find(|f| u64::from(f.end) > u64::from(ptr))
    }

    /// A live block that `[ptr, ptr + len)` overlaps.
    pub fn live_overlapping(&self, ptr: u32, len: u32) -> Option<&Block> {
        let end = u64::from(ptr) + u64::from(len.max(1));
        self.live
            .range(..end.min(u64::from(u32::MAX)) as u32)
            .rev()
            .map(|(_, b)| b)
            .find(|b| u64::from(b.ptr) + u64::from(b.size.max(1)) > u64::from(ptr))
    }

    /// What `[ptr, ptr + len)` lies in: one live block, past one, freed memory, or nothing
    /// the shadow heap knows.
    pub fn region(&self, ptr: u32, len: u32) -> Region<'_> {
        if let Some(block) = self.block_containing(ptr, len) {
            return Region::Live(block);
        }
        // The block the range starts in, when it starts in one, else any it runs into.
        if let Some(block) = self
            .block_containing(ptr, 1)
            .or_else(|| self.live_overlapping(ptr, len))
        {
            return Region::PastBlock(block);
        }
        match self.freed_overlapping(ptr, len) {
            Some(freed) => Region::Freed(freed),
            None => Region::Unknown,
        }
    }

    /// Whether the block with this id is still live.
    pub fn is_live(&self, id: u64) -> bool {
        self.live.values().any(|b| b.id == id)
    }

    /// The step in which the block with this id was freed: `None` while it is live,
    /// `Some(None)` when it was freed during setup.
    pub fn freed_in_step(&self, id: u64) -> Option<Option<usize>> {
        self.dead.get(&id).map(|(step, _)| *step)
    }

    /// A block that was freed, by id.
    pub fn dead_block(&self, id: u64) -> Option<Block> {
        self.dead.get(&id).map(|(_, block)| block.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guest places a block at the smallest odd multiple of its alignment that leaves a
    /// whole red zone before it: aligned as asked, never more.
    #[test]
    fn placement_is_the_least_odd_multiple_past_the_red_zone() {
        use course_guest::abi::{RED_ZONE, placement};
        for shift in 0..20 {
            let align = 1usize << shift;
            let (lead, system_align) = placement(align);
            assert!(lead >= RED_ZONE, "{align}: {lead}");
            assert_eq!(lead % align, 0, "{align}: {lead}");
            assert_eq!((lead / align) % 2, 1, "{align}: {lead} is an even multiple");
            assert!(
                lead < RED_ZONE + 2 * align,
                "{align}: {lead} is not the least"
            );
            assert!(
                system_align >= 8 && system_align > align,
                "{align}: {system_align}"
            );
            assert_eq!((system_align + lead) % (2 * align), align % (2 * align));
        }
        assert_eq!(placement(0), placement(1));
    }

    fn site() -> Site {
        Site::default()
    }

    #[test]
    fn sound_frees_pass_and_misuse_is_classified() {
        let mut heap = ShadowHeap::default();
        heap.on_alloc(0x1000, 16, 8, Some(0), site());
        heap.on_alloc(0x2000, 4, 4, Some(0), site());
        assert!(heap.on_dealloc(0x1000, 16, 8, Some(1), site()).is_some());
        assert!(heap.on_dealloc(0x1000, 16, 8, Some(2), site()).is_none());
        assert!(heap.on_dealloc(0x3000, 1, 1, Some(2), site()).is_none());
        assert!(heap.on_dealloc(0x2000, 8, 4, Some(2), site()).is_none());
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
        assert!(heap.on_dealloc(0x1000, 16, 1, Some(3), site()).is_some());
        // A new block at the same address is a different block.
        heap.on_alloc(0x1000, 16, 1, None, site());
        assert!(!heap.is_live(id));
        assert_eq!(heap.freed_in_step(id), Some(Some(3)));
        heap.on_alloc(0x2000, 8, 1, None, site());
        assert!(heap.on_dealloc(0x2000, 8, 1, Some(4), site()).is_some());
        assert_eq!(
            heap.freed_overlapping(0x2004, 2).map(|f| f.step),
            Some(Some(4))
        );
        assert!(heap.freed_overlapping(0x2008, 2).is_none());
        assert!(heap.block_containing(0x1004, 4).is_some());
    }

    #[test]
    fn freed_memory_stays_freed_where_no_new_block_covers_it() {
        let mut heap = ShadowHeap::default();
        heap.on_alloc(0x1000, 64, 1, None, site());
        assert!(heap.on_dealloc(0x1000, 64, 1, Some(1), site()).is_some());
        // A smaller block at the same address covers only the start of the freed memory.
        heap.on_alloc(0x1000, 16, 1, Some(2), site());
        assert!(matches!(heap.region(0x1000, 16), Region::Live(_)));
        assert!(matches!(heap.region(0x1020, 8), Region::Freed(f) if f.step == Some(1)));
        // A range that starts in the live block and runs on is past it, not freed.
        assert!(matches!(heap.region(0x1008, 16), Region::PastBlock(_)));
        assert!(matches!(heap.region(0x5000, 4), Region::Unknown));
        // A double free is known by its address even after a smaller block moved in beside it.
        heap.on_alloc(0x2000, 8, 1, None, site());
        assert!(heap.on_dealloc(0x2000, 8, 1, Some(3), site()).is_some());
        assert!(heap.on_dealloc(0x2000, 8, 1, Some(4), site()).is_none());
        assert!(matches!(
            heap.misuse.last().unwrap().misuse,
            Misuse::DoubleFree {
                first_freed_step: Some(3),
                ..
            }
        ));
        heap.on_alloc(0x3000, 0, 1, Some(5), site());
        assert!(matches!(
            heap.misuse.last().unwrap().misuse,
            Misuse::ZeroSize { .. }
        ));
    }
}
