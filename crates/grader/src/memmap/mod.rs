//! The memory map: the lesson's picture of linear memory (stack, static data, heap and free
//! space across 64 KiB pages), drawn from one run of the student's own module.
//!
//! Data flows one way, like everywhere else in the grader: [`Layout`] is read from the module's
//! bytes, [`MemoryMap::new`] joins it with what a run observed (a [`RunRecord`]: the blocks still
//! live, the leaked ones with their sites, who grew which page), and the renderers only draw that
//! data: [`render_text`] for a terminal, [`render_compact`] under a failed check, [`render_svg`]
//! for slides and web pages.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::heap::Site;
use crate::report::plural;
use crate::run::RunRecord;

mod layout;
mod render;

pub use layout::{Layout, Segment};
pub use render::{
    Mark, SVG_LEFT_PX, SVG_ROW_PX, render_compact, render_svg, render_text, size_text,
};

use render::*;

/// One wasm page.
pub const PAGE: u64 = 65_536;

/// What a stretch of memory is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// The shadow stack, below the initial `__stack_pointer`.
    Stack,
    /// A data segment: constants and initialised statics.
    Data,
    /// Zeroed statics (`.bss`): static data with no segment.
    Statics,
    /// From `__heap_base` to the end of memory: the allocator's.
    Heap,
    /// Nothing the layout accounts for (padding between segments).
    Unused,
}

impl RegionKind {
    pub fn name(self) -> &'static str {
        match self {
            RegionKind::Stack => "stack",
            RegionKind::Data => "data",
            RegionKind::Statics => "bss",
            RegionKind::Heap => "heap",
            RegionKind::Unused => "unused",
        }
    }
}

/// A stretch `[start, end)` of memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub kind: RegionKind,
    pub start: u64,
    pub end: u64,
    pub label: String,
}

/// A heap block live when the scenario ended.
#[derive(Debug, Clone, PartialEq)]
pub struct MapBlock {
    pub ptr: u32,
    pub size: u32,
    /// Allocated during the scenario and never freed, even after every object was freed.
    pub leaked: bool,
    /// The step it was allocated in (`None`: while the module was set up).
    pub step: Option<usize>,
    pub site: Site,
}

impl MapBlock {
    pub fn end(&self) -> u64 {
        u64::from(self.ptr) + u64::from(self.size.max(1))
    }
}

/// Who added a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageOrigin {
    /// The module's initial memory.
    Initial,
    /// `memory.grow` in the module: its allocator asking for more.
    Guest,
    /// `memory.grow` from the host (JavaScript's `memory.grow`, a scenario's `grow` step).
    Host,
}

impl PageOrigin {
    pub fn describe(self) -> &'static str {
        match self {
            PageOrigin::Initial => "initial",
            PageOrigin::Guest => "grown by your program",
            PageOrigin::Host => "grown by the host",
        }
    }
}

/// Linear memory at the end of one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryMap {
    /// The memory's size in bytes: a whole number of pages.
    pub bytes: u64,
    /// Sorted, without gaps or overlaps, covering `[0, bytes)`.
    pub regions: Vec<Region>,
    /// Live blocks, sorted by address.
    pub blocks: Vec<MapBlock>,
    /// Who added each page, by page number.
    pub pages: Vec<PageOrigin>,
    pub stack_pointer: Option<u32>,
    /// The steps as JavaScript would write them, to say when a block was allocated.
    pub steps: Vec<String>,
    /// Whether the module reports its allocations: without that the heap's blocks are unknown.
    pub tracked: bool,
}

impl MemoryMap {
    /// Joins the module's layout with what a run observed.
    pub fn new(layout: &Layout, record: &RunRecord) -> MemoryMap {
        let page_count = if record.pages_after > 0 {
            record.pages_after
        } else {
            layout.initial_pages.max(record.pages_before)
        };
        let bytes = page_count * PAGE;
        let mut pages = vec![PageOrigin::Guest; page_count as usize];
        for origin in pages.iter_mut().take(layout.initial_pages as usize) {
            *origin = PageOrigin::Initial;
        }
        for &(from, to) in &record.host_grown {
            for origin in pages.iter_mut().take(to as usize).skip(from as usize) {
                *origin = PageOrigin::Host;
            }
        }

        let mut claims = Vec::new();
        for (i, s) in layout.segments.iter().enumerate() {
            let name = s
                .name
                .as_ref()
                .map_or_else(|| format!("segment {i}"), |n| format!("`{n}`"));
            claims.push(Region {
                kind: RegionKind::Data,
                start: u64::from(s.start),
                end: u64::from(s.start) + u64::from(s.len),
                label: format!("static data, {name} (copied in from the module)"),
            });
        }
        let data_top = claims.iter().map(|c| c.end).max();
        if let (Some(top), Some(end)) = (data_top, layout.data_end)
            && u64::from(end) > top
        {
            claims.push(Region {
                kind: RegionKind::Statics,
                start: top,
                end: u64::from(end),
                label: "zeroed statics (`.bss`), up to `__data_end`".into(),
            });
        }
        if let Some(sp) = layout.stack_pointer {
            let sp = u64::from(sp);
            let below = claims
                .iter()
                .map(|c| c.end)
                .filter(|&e| e <= sp)
                .max()
                .unwrap_or(0);
            claims.push(Region {
                kind: RegionKind::Stack,
                start: below,
                end: sp,
                label: format!("stack, grows down from {sp:#010x} (the initial `__stack_pointer`)"),
            });
        }
        let (heap_start, heap_label) = match layout.heap_base {
            Some(base) => (
                u64::from(base),
                "heap, from `__heap_base` to the end of memory",
            ),
            None => (
                claims
                    .iter()
                    .map(|c| c.end)
                    .max()
                    .unwrap_or(0)
                    .next_multiple_of(16),
                "heap, after the static data to the end of memory",
            ),
        };
        if heap_start < bytes {
            claims.push(Region {
                kind: RegionKind::Heap,
                start: heap_start,
                end: bytes,
                label: heap_label.into(),
            });
        }
        claims.sort_by_key(|c| (c.start, c.end));
        let mut regions: Vec<Region> = Vec::new();
        let mut at = 0;
        for mut c in claims {
            c.start = c.start.max(at);
            c.end = c.end.min(bytes);
            if c.start >= c.end {
                continue;
            }
            if c.start > at {
                regions.push(unused(at, c.start));
            }
            at = c.end;
            regions.push(c);
        }
        if at < bytes {
            regions.push(unused(at, bytes));
        }

        let leaked: HashMap<u64, &crate::heap::Block> =
            record.leaked.iter().flatten().map(|b| (b.id, b)).collect();
        let mut blocks: Vec<MapBlock> = record
            .live
            .iter()
            .filter(|b| u64::from(b.ptr) < bytes)
            .map(|b| {
                let leak = leaked.get(&b.id);
                MapBlock {
                    ptr: b.ptr,
                    size: b.size,
                    leaked: leak.is_some(),
                    step: b.step,
                    site: leak.map_or_else(|| b.site.clone(), |l| l.site.clone()),
                }
            })
            .collect();
        blocks.sort_by_key(|b| b.ptr);
        MemoryMap {
            bytes,
            regions,
            blocks,
            pages,
            stack_pointer: layout.stack_pointer,
            steps: record.steps.iter().map(|s| s.text.clone()).collect(),
            tracked: record.tracked,
        }
    }

    pub fn page_count(&self) -> u64 {
        self.pages.len() as u64
    }

    /// How many pages came from `origin`.
    pub fn pages_from(&self, origin: PageOrigin) -> usize {
        self.pages.iter().filter(|p| **p == origin).count()
    }

    pub fn leaked(&self) -> impl Iterator<Item = &MapBlock> {
        self.blocks.iter().filter(|b| b.leaked)
    }

    /// What a stretch of memory shows when it is drawn as one cell: the most important thing in
    /// it, so a 100-byte leak stays visible in a cell of a kibibyte.
    pub fn mark(&self, start: u64, end: u64) -> Mark {
        let first = self.blocks.partition_point(|b| b.end() <= start);
        let mut mark = None;
        for b in self.blocks[first..]
            .iter()
            .take_while(|b| u64::from(b.ptr) < end)
        {
            if b.leaked {
                return Mark::Leaked;
            }
            mark = Some(Mark::Live);
        }
        if let Some(m) = mark {
            return m;
        }
        let first = self.regions.partition_point(|r| r.end <= start);
        self.regions[first..]
            .iter()
            .take_while(|r| r.start < end)
            .map(|r| match r.kind {
                RegionKind::Data | RegionKind::Statics => Mark::Static,
                RegionKind::Stack => Mark::Stack,
                RegionKind::Heap | RegionKind::Unused => Mark::Free,
            })
            .min()
            .unwrap_or(Mark::Free)
    }

    /// When a block was allocated, in words.
    pub fn when(&self, step: Option<usize>) -> String {
        match step {
            None => "while the module was set up".into(),
            Some(i) => match self.steps.get(i) {
                Some(text) => format!("during step {} (`{text}`)", i + 1),
                None if i == self.steps.len() => {
                    "at the end of the scenario, when the host freed its objects".into()
                }
                None => format!("during step {}", i + 1),
            },
        }
    }

    /// How a page row is drawn: pages that one region or one block fills alone look alike, so
    /// a run of them is drawn as its first and last page around a line that says how many.
    fn rows(&self) -> Vec<Row> {
        let key = |page: u64| {
            let (start, end) = (page * PAGE, (page + 1) * PAGE);
            let first = self.blocks.partition_point(|b| b.end() <= start);
            let touching: Vec<(usize, &MapBlock)> = self.blocks[first..]
                .iter()
                .take_while(|b| u64::from(b.ptr) < end)
                .enumerate()
                .collect();
            let origin = self.pages[page as usize];
            match touching.as_slice() {
                [] => {
                    let i = self.regions.partition_point(|r| r.end <= start);
                    let r = self.regions.get(i)?;
                    (r.start <= start && r.end >= end).then_some((false, i, origin))
                }
                [(n, b)] if u64::from(b.ptr) <= start && b.end() >= end => {
                    Some((true, first + n, origin))
                }
                _ => None,
            }
        };
        let mut rows = Vec::new();
        let mut page = 0;
        let count = self.page_count();
        while page < count {
            let k = key(page);
            let mut last = page;
            if k.is_some() {
                while last + 1 < count && key(last + 1) == k {
                    last += 1;
                }
            }
            if last - page >= 2 {
                rows.push(Row::Page(page));
                rows.push(Row::Elided(page + 1, last - 1));
                rows.push(Row::Page(last));
            } else {
                rows.extend((page..=last).map(Row::Page));
            }
            page = last + 1;
        }
        rows
    }
}

fn unused(start: u64, end: u64) -> Region {
    Region {
        kind: RegionKind::Unused,
        start,
        end,
        label: "unused".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::Block;
    use crate::run::StepRecord;

    /// A module with one memory of `pages`, a mutable i32 global `__stack_pointer` at
    /// 0x10000, `__heap_base` exported and two data segments.
    fn module(pages: u8) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        let mut section = |id: u8, body: &[u8]| {
            m.push(id);
            m.push(body.len() as u8);
            m.extend_from_slice(body);
        };
        section(5, &[1, 0, pages]);
        // Two globals: mut i32 = 0x10000, i32 = 0x10210 (`__heap_base`).
        section(
            6,
            &[
                2, 0x7f, 1, 0x41, 0x80, 0x80, 0x04, 0x0b, 0x7f, 0, 0x41, 0x90, 0x84, 0x04, 0x0b,
            ],
        );
        let mut export = vec![1, 11];
        export.extend_from_slice(b"__heap_base");
        export.extend_from_slice(&[3, 1]);
        section(7, &export);
        // Two active segments: 4 bytes at 0x10000 and 2 bytes at 0x10100.
        section(
            11,
            &[
                2, 0, 0x41, 0x80, 0x80, 0x04, 0x0b, 4, 1, 2, 3, 4, 0, 0x41, 0x80, 0x82, 0x04, 0x0b,
                2, 9, 9,
            ],
        );
        m
    }

    fn block(id: u64, ptr: u32, size: u32, step: Option<usize>) -> Block {
        Block {
            id,
            ptr,
            size,
            align: 8,
            step,
            site: Site {
                function: Some("checksum".into()),
                location: Some("src/lib.rs:5".into()),
            },
        }
    }

    fn record() -> RunRecord {
        let leak = block(2, 0x20010, 100, Some(0));
        RunRecord {
            steps: vec![StepRecord {
                text: "checksum(100)".into(),
                result: None,
                problem: None,
            }],
            pages_before: 2,
            pages_after: 4,
            host_grown: vec![(3, 4)],
            live: vec![block(1, 0x20000, 16, None), leak.clone()],
            leaked: Some(vec![leak]),
            tracked: true,
            ..RunRecord::default()
        }
    }

    #[test]
    fn reads_the_layout_from_the_module_bytes() {
        let layout = Layout::parse(&module(2)).unwrap();
        assert_eq!(layout.initial_pages, 2);
        assert_eq!(layout.stack_pointer, Some(0x10000));
        assert_eq!(layout.heap_base, Some(0x10210));
        assert_eq!(
            layout
                .segments
                .iter()
                .map(|s| (s.start, s.len))
                .collect::<Vec<_>>(),
            vec![(0x10000, 4), (0x10100, 2)]
        );
        assert_eq!(Layout::parse(b"(module)"), None);
    }

    #[test]
    fn regions_cover_memory_without_gaps_and_pages_know_who_grew_them() {
        let layout = Layout::parse(&module(2)).unwrap();
        let map = MemoryMap::new(&layout, &record());
        assert_eq!(map.bytes, 4 * PAGE);
        let spans: Vec<(RegionKind, u64, u64)> = map
            .regions
            .iter()
            .map(|r| (r.kind, r.start, r.end))
            .collect();
        assert_eq!(
            spans,
            vec![
                (RegionKind::Stack, 0, 0x10000),
                (RegionKind::Data, 0x10000, 0x10004),
                (RegionKind::Unused, 0x10004, 0x10100),
                (RegionKind::Data, 0x10100, 0x10102),
                (RegionKind::Unused, 0x10102, 0x10210),
                (RegionKind::Heap, 0x10210, 4 * PAGE),
            ]
        );
        assert_eq!(
            map.pages,
            vec![
                PageOrigin::Initial,
                PageOrigin::Initial,
                PageOrigin::Guest,
                PageOrigin::Host
            ]
        );
        assert_eq!(
            map.leaked().map(|b| b.ptr).collect::<Vec<_>>(),
            vec![0x20010]
        );
        // A cell holding a live block and a leaked one shows the leak.
        assert_eq!(map.mark(0x20000, 0x20400), Mark::Leaked);
        assert_eq!(map.mark(0x20400, 0x20800), Mark::Free);
        assert_eq!(map.mark(0, 0x400), Mark::Stack);
    }

    #[test]
    fn text_shows_addresses_origins_and_the_leak_site() {
        let layout = Layout::parse(&module(2)).unwrap();
        let text = render_text(&MemoryMap::new(&layout, &record()), 120, false);
        assert!(text.contains("   2  0x00020000  !"), "{text}");
        assert!(text.contains("grown by the host"), "{text}");
        assert!(
            text.contains("0x00020010    100 bytes  allocated src/lib.rs:5 in `checksum`, during step 1 (`checksum(100)`)"),
            "{text}"
        );
        let compact = render_compact(&MemoryMap::new(&layout, &record()));
        assert!(compact.lines().count() <= 4, "{compact}");
        assert!(compact.contains('!'), "{compact}");
    }

    #[test]
    fn runs_of_alike_pages_are_elided() {
        let layout = Layout {
            initial_pages: 20,
            stack_pointer: Some(16 * PAGE as u32),
            ..Layout::default()
        };
        let record = RunRecord {
            pages_after: 20,
            tracked: true,
            ..RunRecord::default()
        };
        let map = MemoryMap::new(&layout, &record);
        assert_eq!(
            map.rows(),
            vec![
                Row::Page(0),
                Row::Elided(1, 14),
                Row::Page(15),
                Row::Page(16),
                Row::Elided(17, 18),
                Row::Page(19),
            ]
        );
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(size_text(1 << 20), "1 MiB");
        assert_eq!(size_text(65_536), "64 KiB");
        assert_eq!(size_text(100), "100 bytes");
        assert_eq!(size_text(12_800), "12.5 KiB");
        assert_eq!(thousands(1_179_648), "1,179,648");
        assert_eq!(thousands(999), "999");
    }
}
