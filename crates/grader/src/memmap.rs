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

/// One wasm page.
pub const PAGE: u64 = 65_536;

/// Where the module's bytes put things, before any code runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Pages of memory the module starts with.
    pub initial_pages: u64,
    /// The initial value of `__stack_pointer`: the stack grows down from here.
    pub stack_pointer: Option<u32>,
    /// Active data segments of memory 0, in module order.
    pub segments: Vec<Segment>,
    /// `__data_end`: the end of static data, zeroed statics (`.bss`) included.
    pub data_end: Option<u32>,
    /// `__heap_base`: where the heap may start.
    pub heap_base: Option<u32>,
}

/// An active data segment: bytes the module copies into memory when it is instantiated.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start: u32,
    pub len: u32,
    /// The segment's name from the `name` section (`.rodata`, `.data`), when it has one.
    pub name: Option<String>,
}

impl Layout {
    /// Reads the layout from a wasm binary; `None` for anything else (a text module, bytes that
    /// are not wasm). Parts the module does not say (a stripped name section, no `__heap_base`
    /// export) are left unknown rather than guessed, except the stack pointer: Rust's linker puts
    /// it first among the globals.
    pub fn parse(wasm: &[u8]) -> Option<Layout> {
        if !wasm.starts_with(b"\0asm") {
            return None;
        }
        wasmparser::Parser::new(0).parse_all(wasm).next()?.ok()?;
        let module = ModuleFacts::read(wasm);
        let global = |index: u32| {
            module
                .globals
                .iter()
                .find(|g| g.index == index)
                .and_then(|g| g.value)
                .map(|v| v as u32)
        };
        let exported = |name: &str| {
            module
                .global_exports
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, i)| global(*i))
        };
        let named = module
            .global_names
            .iter()
            .find(|(_, n)| n.as_str() == "__stack_pointer")
            .and_then(|(i, _)| global(*i));
        let first_mutable = module
            .globals
            .first()
            .filter(|g| g.mutable && g.is_i32)
            .and_then(|g| g.value)
            .map(|v| v as u32)
            .filter(|v| *v > 0 && v % 16 == 0);
        let stack_pointer = named
            .or_else(|| exported("__stack_pointer"))
            .or(first_mutable);
        let segments = module
            .segments
            .iter()
            .map(|&(index, start, len)| Segment {
                start,
                len,
                name: module.data_names.get(&index).cloned(),
            })
            .collect();
        Some(Layout {
            initial_pages: module.initial_pages.unwrap_or(0),
            stack_pointer,
            segments,
            data_end: exported("__data_end"),
            heap_base: exported("__heap_base"),
        })
    }

    /// Fills what this layout does not know from another reading of the same program (wasm-bindgen
    /// drops the `__heap_base` and `__data_end` exports rustc's module has).
    pub fn or(mut self, other: Option<Layout>) -> Layout {
        if let Some(other) = other {
            self.stack_pointer = self.stack_pointer.or(other.stack_pointer);
            self.data_end = self.data_end.or(other.data_end);
            self.heap_base = self.heap_base.or(other.heap_base);
            if self.initial_pages == 0 {
                self.initial_pages = other.initial_pages;
            }
            for (mine, theirs) in self.segments.iter_mut().zip(&other.segments) {
                if mine.name.is_none() && mine.start == theirs.start && mine.len == theirs.len {
                    mine.name = theirs.name.clone();
                }
            }
        }
        self
    }
}

#[derive(Debug, Default)]
struct ModuleFacts {
    imported_globals: u32,
    globals: Vec<GlobalFact>,
    global_exports: Vec<(String, u32)>,
    global_names: Vec<(u32, String)>,
    data_names: HashMap<u32, String>,
    /// (segment index, start, length) of active segments of memory 0 with a constant offset.
    segments: Vec<(u32, u32, u32)>,
    initial_pages: Option<u64>,
}

#[derive(Debug)]
struct GlobalFact {
    index: u32,
    is_i32: bool,
    mutable: bool,
    /// The value of an initializer that is a single constant.
    value: Option<i64>,
}

impl ModuleFacts {
    /// Reads the facts from a wasm binary with `wasmparser`. A part that does not parse ends
    /// the reading; what was read before it still counts.
    fn read(wasm: &[u8]) -> ModuleFacts {
        use wasmparser::{DataKind, ExternalKind, KnownCustom, Name, Parser, Payload, TypeRef};
        let mut facts = ModuleFacts::default();
        for payload in Parser::new(0).parse_all(wasm) {
            let Ok(payload) = payload else {
                break;
            };
            let read = match payload {
                Payload::ImportSection(reader) => reader.into_imports().try_for_each(|import| {
                    match import?.ty {
                        TypeRef::Memory(memory) => {
                            facts.initial_pages.get_or_insert(memory.initial);
                        }
                        TypeRef::Global(_) => facts.imported_globals += 1,
                        _ => {}
                    }
                    Ok(())
                }),
                Payload::MemorySection(reader) => reader.into_iter().take(1).try_for_each(|m| {
                    facts.initial_pages.get_or_insert(m?.initial);
                    Ok(())
                }),
                Payload::GlobalSection(reader) => {
                    reader.into_iter().enumerate().try_for_each(|(i, global)| {
                        let global = global?;
                        facts.globals.push(GlobalFact {
                            index: facts.imported_globals + i as u32,
                            is_i32: global.ty.content_type == wasmparser::ValType::I32,
                            mutable: global.ty.mutable,
                            value: constant(&global.init_expr),
                        });
                        Ok(())
                    })
                }
                Payload::ExportSection(reader) => reader.into_iter().try_for_each(|export| {
                    let export = export?;
                    if export.kind == ExternalKind::Global {
                        facts
                            .global_exports
                            .push((export.name.to_owned(), export.index));
                    }
                    Ok(())
                }),
                Payload::DataSection(reader) => {
                    reader
                        .into_iter()
                        .enumerate()
                        .try_for_each(|(index, data)| {
                            let data = data?;
                            if let DataKind::Active {
                                memory_index: 0,
                                offset_expr,
                            } = data.kind
                                && let Some(start) = constant(&offset_expr)
                            {
                                facts.segments.push((
                                    index as u32,
                                    start as u32,
                                    data.data.len() as u32,
                                ));
                            }
                            Ok(())
                        })
                }
                Payload::CustomSection(section) => match section.as_known() {
                    KnownCustom::Name(reader) => reader.into_iter().try_for_each(|name| {
                        match name? {
                            Name::Global(map) => {
                                for naming in map {
                                    let naming = naming?;
                                    facts
                                        .global_names
                                        .push((naming.index, naming.name.to_owned()));
                                }
                            }
                            Name::Data(map) => {
                                for naming in map {
                                    let naming = naming?;
                                    facts
                                        .data_names
                                        .insert(naming.index, naming.name.to_owned());
                                }
                            }
                            _ => {}
                        }
                        Ok(())
                    }),
                    _ => Ok(()),
                },
                _ => Ok(()),
            };
            // A section that does not parse leaves its facts unknown; the others still count.
            let _: wasmparser::Result<()> = read;
        }
        facts
    }
}

/// The value of a constant expression that is a single integer constant.
fn constant(expr: &wasmparser::ConstExpr<'_>) -> Option<i64> {
    use wasmparser::Operator;
    let mut ops = expr.get_operators_reader();
    let value = match ops.read().ok()? {
        Operator::I32Const { value } => i64::from(value),
        Operator::I64Const { value } => value,
        _ => return None,
    };
    matches!(ops.read().ok()?, Operator::End).then_some(value)
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Page(u64),
    /// Pages `first..=last`, like the pages drawn either side.
    Elided(u64, u64),
}

/// What one cell of a drawing shows, most important first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    Leaked,
    Live,
    Static,
    Stack,
    Free,
}

impl Mark {
    const ALL: [Mark; 5] = [
        Mark::Stack,
        Mark::Static,
        Mark::Live,
        Mark::Leaked,
        Mark::Free,
    ];

    pub fn glyph(self) -> char {
        match self {
            Mark::Leaked => '!',
            Mark::Live => '█',
            Mark::Static => '▓',
            Mark::Stack => '▒',
            Mark::Free => '·',
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            Mark::Leaked => "leaked block",
            Mark::Live => "live block",
            Mark::Static => "static data",
            Mark::Stack => "stack",
            Mark::Free => "free",
        }
    }

    fn ansi(self) -> &'static str {
        match self {
            Mark::Leaked => "1;31",
            Mark::Live => "32",
            Mark::Static => "35",
            Mark::Stack => "34",
            Mark::Free => "2",
        }
    }

    fn paint(self, s: &str, color: bool) -> String {
        if color {
            format!("\x1b[{}m{s}\x1b[0m", self.ansi())
        } else {
            s.to_owned()
        }
    }
}

/// `1 MiB`, `64 KiB`, `1.5 KiB`, `100 bytes`.
pub fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    if bytes >= KIB * KIB && bytes.is_multiple_of(KIB * KIB) {
        format!("{} MiB", bytes / (KIB * KIB))
    } else if bytes >= KIB * KIB {
        format!("{:.2} MiB", bytes as f64 / (KIB * KIB) as f64)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else if bytes >= 10 * KIB {
        format!("{:.1} KiB", bytes as f64 / KIB as f64)
    } else if bytes == 1 {
        "1 byte".into()
    } else {
        format!("{bytes} bytes")
    }
}

fn site_text(site: &Site) -> Option<String> {
    match (&site.location, &site.function) {
        (Some(at), Some(f)) => Some(format!("{at} in `{f}`")),
        (Some(at), None) => Some(at.clone()),
        (None, Some(f)) => Some(format!("in `{f}`")),
        (None, None) => None,
    }
}

fn block_line(map: &MemoryMap, b: &MapBlock) -> String {
    let site = site_text(&b.site)
        .map(|s| format!("{s}, "))
        .unwrap_or_default();
    format!(
        "{:#010x}  {:>11}  allocated {site}{}",
        b.ptr,
        size_text(u64::from(b.size)),
        map.when(b.step)
    )
}

fn legend(color: bool) -> String {
    Mark::ALL
        .iter()
        .map(|m| format!("{} {}", m.paint(&m.glyph().to_string(), color), m.meaning()))
        .collect::<Vec<_>>()
        .join("  ")
}

/// The map for a terminal: one row per 64 KiB page, to scale, with real addresses, who added
/// each page, a legend, then every region and the blocks still live. `width` is the terminal's
/// width in columns; `color` adds ANSI colours.
pub fn render_text(map: &MemoryMap, width: usize, color: bool) -> String {
    const SHOWN_LIVE: usize = 12;
    let cells: u64 = match width {
        w if w >= 100 => 64,
        w if w >= 68 => 32,
        _ => 16,
    };
    let per_cell = PAGE / cells;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "linear memory: {} of 64 KiB = {} bytes ({:#010x}‥{:#010x})",
        plural(map.page_count(), "page"),
        thousands(map.bytes),
        0,
        map.bytes
    );
    let _ = writeln!(
        out,
        "one row is one page, one cell is {} and shows the most important thing in it",
        size_text(per_cell)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "page  address     0{:>w$}",
        "64 KiB",
        w = cells as usize - 1
    );
    for row in map.rows() {
        match row {
            Row::Page(page) => {
                let start = page * PAGE;
                let mut bar = String::new();
                let mut run: Option<(Mark, String)> = None;
                for c in 0..cells {
                    let m = map.mark(start + c * per_cell, start + (c + 1) * per_cell);
                    match &mut run {
                        Some((mark, s)) if *mark == m => s.push(m.glyph()),
                        _ => {
                            if let Some((mark, s)) = run.take() {
                                bar.push_str(&mark.paint(&s, color));
                            }
                            run = Some((m, m.glyph().to_string()));
                        }
                    }
                }
                if let Some((mark, s)) = run {
                    bar.push_str(&mark.paint(&s, color));
                }
                let _ = writeln!(
                    out,
                    "{page:>4}  {start:#010x}  {bar}  {}",
                    map.pages[page as usize].describe()
                );
            }
            Row::Elided(first, last) => {
                let _ = writeln!(
                    out,
                    "   ⋮              {} like the ones either side ({first}‥{last})",
                    plural(last - first + 1, "more page")
                );
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "legend: {}", legend(color));
    let _ = writeln!(
        out,
        "pages: {} initial, {} grown by your program, {} grown by the host",
        map.pages_from(PageOrigin::Initial),
        map.pages_from(PageOrigin::Guest),
        map.pages_from(PageOrigin::Host)
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "regions");
    for r in &map.regions {
        let _ = writeln!(
            out,
            "  {:#010x}‥{:#010x}  {:>11}  {}",
            r.start,
            r.end,
            size_text(r.end - r.start),
            r.label
        );
    }
    let _ = writeln!(out);
    if !map.tracked {
        let _ = writeln!(
            out,
            "heap: unknown, the module does not report its allocations"
        );
        return out;
    }
    let live: u64 = map.blocks.iter().map(|b| u64::from(b.size)).sum();
    let leaked: Vec<&MapBlock> = map.leaked().collect();
    let leaked_bytes: u64 = leaked.iter().map(|b| u64::from(b.size)).sum();
    if map.blocks.is_empty() {
        let _ = writeln!(out, "heap: no block is live");
    } else {
        let _ = writeln!(
            out,
            "heap: {} live ({}), {} of them leaked ({})",
            plural(map.blocks.len() as u64, "block"),
            size_text(live),
            leaked.len(),
            size_text(leaked_bytes)
        );
    }
    if !leaked.is_empty() {
        let _ = writeln!(out, "{}", Mark::Leaked.paint("leaked blocks", color));
        for b in &leaked {
            let _ = writeln!(out, "  {}", block_line(map, b));
        }
    }
    let others: Vec<&MapBlock> = map.blocks.iter().filter(|b| !b.leaked).collect();
    if !others.is_empty() {
        let _ = writeln!(out, "other live blocks");
        for b in others.iter().take(SHOWN_LIVE) {
            let _ = writeln!(out, "  {}", block_line(map, b));
        }
        if others.len() > SHOWN_LIVE {
            let _ = writeln!(out, "  … and {} more", others.len() - SHOWN_LIVE);
        }
    }
    out
}

/// A few lines for under a failed leak or growth check: all of memory as one bar, to scale,
/// the pages' origins under it, and a legend.
pub fn render_compact(map: &MemoryMap) -> String {
    const CELLS: u64 = 48;
    let per_cell = map.bytes.div_ceil(CELLS).max(1);
    let mut bar = String::new();
    let mut pages = String::new();
    for c in 0..CELLS {
        let (start, end) = (c * per_cell, ((c + 1) * per_cell).min(map.bytes));
        if start >= map.bytes {
            break;
        }
        bar.push(map.mark(start, end).glyph());
        pages.push(match map.pages[(start / PAGE) as usize] {
            PageOrigin::Initial => '═',
            PageOrigin::Guest => '+',
            PageOrigin::Host => '^',
        });
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "memory at the end, {} to scale (`cargo xtask memmap` draws it in full):",
        plural(map.page_count(), "page")
    );
    let _ = writeln!(out, "  {:#010x} {bar} {:#010x}", 0, map.bytes);
    let _ = writeln!(
        out,
        "  pages      {pages}  ═ initial  + grown by your program  ^ by the host"
    );
    let _ = write!(out, "  {}", legend(false));
    out
}

/// Width of a page row in the SVG, in pixels: one pixel is 64 bytes.
pub const SVG_ROW_PX: f64 = 1024.0;
/// Left edge of the page rows in the SVG.
pub const SVG_LEFT_PX: f64 = 170.0;

fn fill(kind: RegionKind) -> &'static str {
    match kind {
        RegionKind::Stack => "#8fb3e0",
        RegionKind::Data => "#c39bd3",
        RegionKind::Statics => "#dcc6e6",
        RegionKind::Heap => "#f4f4f4",
        RegionKind::Unused => "#ffffff",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The map as a standalone SVG: the same rows as the terminal's, drawn exactly to scale (one
/// pixel is 64 bytes), for slides and web pages. Every region and block is a `rect` that
/// carries its own addresses (`data-start`, `data-end`), so the picture can be checked against
/// the data.
pub fn render_svg(map: &MemoryMap) -> String {
    const ROW: f64 = 24.0;
    const GAP: f64 = 8.0;
    const ELIDED: f64 = 22.0;
    let scale = SVG_ROW_PX / PAGE as f64;
    let x_of = |offset: u64| SVG_LEFT_PX + offset as f64 * scale;
    let right = SVG_LEFT_PX + SVG_ROW_PX;
    let mut body = String::new();
    let mut y = 78.0;
    // Tick marks every 16 KiB over the rows.
    for k in 0..=4u64 {
        let x = x_of(k * PAGE / 4);
        let _ = writeln!(
            body,
            r##"<line x1="{x:.3}" y1="{:.1}" x2="{x:.3}" y2="{:.1}" stroke="#999"/><text x="{x:.3}" y="{:.1}" text-anchor="middle" class="small">{} KiB</text>"##,
            y - 8.0,
            y - 2.0,
            y - 12.0,
            k * 16
        );
    }
    let mut markers = Vec::new();
    for row in map.rows() {
        match row {
            Row::Page(page) => {
                let (p0, p1) = (page * PAGE, (page + 1) * PAGE);
                let origin = map.pages[page as usize];
                // Room above the row for the markers of the leaks that start in it.
                if map.leaked().any(|b| (p0..p1).contains(&u64::from(b.ptr))) {
                    y += 16.0;
                }
                let _ = writeln!(
                    body,
                    r#"<g class="page" data-page="{page}" data-origin="{origin:?}"><text x="10" y="{:.1}" class="mono">{page:>4}</text><text x="{:.1}" y="{:.1}" class="mono" text-anchor="end">{p0:#010x}</text>"#,
                    y + 16.0,
                    SVG_LEFT_PX - 8.0,
                    y + 16.0
                );
                let first = map.regions.partition_point(|r| r.end <= p0);
                for (i, r) in map.regions.iter().enumerate().skip(first) {
                    if r.start >= p1 {
                        break;
                    }
                    let (s, e) = (r.start.max(p0), r.end.min(p1));
                    let _ = writeln!(
                        body,
                        r#"<rect class="region {}" data-region="{i}" data-start="{s}" data-end="{e}" x="{:.3}" y="{y:.1}" width="{:.3}" height="{ROW}" fill="{}"/>"#,
                        r.kind.name(),
                        x_of(s - p0),
                        (e - s) as f64 * scale,
                        fill(r.kind)
                    );
                }
                let first = map.blocks.partition_point(|b| b.end() <= p0);
                for b in map.blocks[first..]
                    .iter()
                    .take_while(|b| u64::from(b.ptr) < p1)
                {
                    let (s, e) = (u64::from(b.ptr).max(p0), b.end().min(p1));
                    let (class, color) = if b.leaked {
                        ("block leaked", "#d62728")
                    } else {
                        ("block live", "#2ca02c")
                    };
                    let _ = writeln!(
                        body,
                        r#"<rect class="{class}" data-ptr="{}" data-size="{}" data-start="{s}" data-end="{e}" x="{:.3}" y="{:.1}" width="{:.3}" height="{:.1}" fill="{color}"/>"#,
                        b.ptr,
                        b.size,
                        x_of(s - p0),
                        y + 3.0,
                        (e - s) as f64 * scale,
                        ROW - 6.0
                    );
                    if b.leaked && s == u64::from(b.ptr) {
                        markers.push((x_of(s - p0), y, b));
                    }
                }
                let _ = writeln!(
                    body,
                    r##"<rect x="{SVG_LEFT_PX}" y="{y:.1}" width="{SVG_ROW_PX}" height="{ROW}" fill="none" stroke="#555"/><text x="{:.1}" y="{:.1}" class="origin {origin:?}">{}</text></g>"##,
                    right + 12.0,
                    y + 16.0,
                    origin.describe()
                );
                y += ROW + GAP;
            }
            Row::Elided(first, last) => {
                let (s, e) = (first * PAGE, (last + 1) * PAGE);
                // The region under the elided pages (under the block, when one block fills them).
                let i = map.regions.partition_point(|r| r.end <= s);
                let _ = writeln!(
                    body,
                    r#"<g class="elided" data-region="{i}" data-start="{s}" data-end="{e}"><text x="{:.1}" y="{:.1}" class="note">⋮ {} like the ones either side ({first}‥{last})</text></g>"#,
                    SVG_LEFT_PX + 12.0,
                    y + 15.0,
                    plural(last - first + 1, "more page"),
                );
                y += ELIDED;
            }
        }
    }
    // Leaked blocks get a numbered marker, however thin they are; leaks too close together to
    // tell apart share one marker, numbered `first–last`.
    let mut n = 0;
    while n < markers.len() {
        let (x, row_y, _) = markers[n];
        let mut last = n;
        while last + 1 < markers.len()
            && markers[last + 1].1 == row_y
            && markers[last + 1].0 - x < 14.0
        {
            last += 1;
        }
        let label = if last == n {
            (n + 1).to_string()
        } else {
            format!("{}–{}", n + 1, last + 1)
        };
        let _ = writeln!(
            body,
            r##"<path d="M {x:.3} {:.1} l -5 -9 h 10 z" fill="#d62728"/><text x="{:.3}" y="{:.1}" class="marker">{label}</text>"##,
            row_y - 1.0,
            x - 4.0,
            row_y - 12.0,
        );
        n = last + 1;
    }
    y += 10.0;
    // The legend.
    let mut lx = SVG_LEFT_PX;
    let legend = [
        ("stack", fill(RegionKind::Stack)),
        ("static data", fill(RegionKind::Data)),
        ("zeroed statics", fill(RegionKind::Statics)),
        ("heap, free", fill(RegionKind::Heap)),
        ("live block", "#2ca02c"),
        ("leaked block", "#d62728"),
    ];
    for (name, color) in legend {
        let _ = writeln!(
            body,
            r##"<rect x="{lx:.1}" y="{y:.1}" width="14" height="14" fill="{color}" stroke="#555"/><text x="{:.1}" y="{:.1}">{name}</text>"##,
            lx + 20.0,
            y + 12.0
        );
        lx += 40.0 + name.len() as f64 * 8.0;
    }
    y += 34.0;
    let _ = writeln!(
        body,
        r#"<text x="{SVG_LEFT_PX}" y="{y:.1}">pages: {} initial, {} grown by your program, {} grown by the host</text>"#,
        map.pages_from(PageOrigin::Initial),
        map.pages_from(PageOrigin::Guest),
        map.pages_from(PageOrigin::Host)
    );
    y += 30.0;
    let _ = writeln!(
        body,
        r#"<text x="{SVG_LEFT_PX}" y="{y:.1}" class="heading">regions</text>"#
    );
    y += 20.0;
    for r in &map.regions {
        let _ = writeln!(
            body,
            r#"<text x="{SVG_LEFT_PX}" y="{y:.1}" class="mono">{:#010x}‥{:#010x}  {:>11}  {}</text>"#,
            r.start,
            r.end,
            size_text(r.end - r.start),
            escape(&r.label)
        );
        y += 18.0;
    }
    if !markers.is_empty() {
        y += 12.0;
        let _ = writeln!(
            body,
            r#"<text x="{SVG_LEFT_PX}" y="{y:.1}" class="heading leaked-heading">leaked blocks</text>"#
        );
        y += 20.0;
        for (n, (_, _, b)) in markers.iter().enumerate() {
            let _ = writeln!(
                body,
                r#"<text x="{SVG_LEFT_PX}" y="{y:.1}" class="mono">{:>2}  {}</text>"#,
                n + 1,
                escape(&block_line(map, b))
            );
            y += 18.0;
        }
    }
    let height = y + 20.0;
    // Room for the longest line of text (about 8.5 pixels a character in a monospace font).
    let longest = map
        .leaked()
        .map(|b| block_line(map, b).chars().count() + 4)
        .chain(map.regions.iter().map(|r| r.label.chars().count() + 38))
        .max()
        .unwrap_or(0);
    let width = (right + 200.0).max(SVG_LEFT_PX + longest as f64 * 8.5 + 20.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" data-bytes="{}" data-row-px="{SVG_ROW_PX}" data-left-px="{SVG_LEFT_PX}">"#,
        map.bytes
    );
    let _ = writeln!(
        out,
        "<style>text {{ font-family: sans-serif; font-size: 14px; fill: #222; }} .mono {{ font-family: monospace; white-space: pre; }} .small {{ font-size: 11px; fill: #666; }} .note {{ fill: #666; font-style: italic; }} .heading {{ font-weight: bold; }} .leaked-heading {{ fill: #d62728; }} .marker {{ font-size: 11px; font-weight: bold; fill: #d62728; }} .Guest {{ fill: #c76b00; }} .Host {{ fill: #7b3fb0; }} .Initial {{ fill: #666; }}</style>"
    );
    let _ = writeln!(
        out,
        r##"<rect width="100%" height="100%" fill="#fff"/><text x="10" y="28" class="heading">linear memory: {} of 64 KiB = {} bytes, one row per page, one pixel is 64 bytes</text><text x="10" y="66" class="small">page   address</text>"##,
        plural(map.page_count(), "page"),
        thousands(map.bytes)
    );
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

/// `1179648` → `1,179,648`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
