//! The memory map drawn: as text for a terminal, compact under a failed check, and as SVG
//! for slides and web pages. The renderers only draw the map's data.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Row {
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

    pub(super) fn meaning(self) -> &'static str {
        match self {
            Mark::Leaked => "leaked block",
            Mark::Live => "live block",
            Mark::Static => "static data",
            Mark::Stack => "stack",
            Mark::Free => "free",
        }
    }

    pub(super) fn ansi(self) -> &'static str {
        match self {
            Mark::Leaked => "1;31",
            Mark::Live => "32",
            Mark::Static => "35",
            Mark::Stack => "34",
            Mark::Free => "2",
        }
    }

    pub(super) fn paint(self, s: &str, color: bool) -> String {
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

pub(super) fn site_text(site: &Site) -> Option<String> {
    match (&site.location, &site.function) {
        (Some(at), Some(f)) => Some(format!("{at} in `{f}`")),
        (Some(at), None) => Some(at.clone()),
        (None, Some(f)) => Some(format!("in `{f}`")),
        (None, None) => None,
    }
}

pub(super) fn block_line(map: &MemoryMap, b: &MapBlock) -> String {
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

pub(super) fn legend(color: bool) -> String {
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

pub(super) fn fill(kind: RegionKind) -> &'static str {
    match kind {
        RegionKind::Stack => "#8fb3e0",
        RegionKind::Data => "#c39bd3",
        RegionKind::Statics => "#dcc6e6",
        RegionKind::Heap => "#f4f4f4",
        RegionKind::Unused => "#ffffff",
    }
}

pub(super) fn escape(s: &str) -> String {
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
pub(super) fn thousands(n: u64) -> String {
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
