//! A module's DWARF cut down to the student's own compile units, before wasm-bindgen rewrites it
//! for the processed module.
//!
//! A build with line tables links in the DWARF of std and of every dependency: well over a
//! megabyte, against a few kilobytes for the student's crate. wasm-bindgen converts all of it
//! when it keeps debug info (about 40 ms a module), yet a leak's source line is only ever looked
//! for in the student's files. Every other unit is replaced by an empty one of the same length,
//! so no offset into `.debug_info` moves: the student's units, their references to their own
//! entries included, are kept byte for byte. Code inlined from std into the student's functions
//! is described in the student's units, so it keeps its lines.

use gimli::{EndianSlice, LittleEndian};

/// Sections whose entries describe the dropped units: stale once they are emptied, and not
/// needed to map code to lines.
const INDEXES: [&str; 4] = [
    ".debug_aranges",
    ".debug_pubnames",
    ".debug_pubtypes",
    ".debug_names",
];

/// The abbreviation table appended to `.debug_abbrev` for the empty units: code 1, a compile
/// unit with no children and no attributes.
const EMPTY_UNIT_ABBREVIATIONS: [u8; 6] = [1, 0x11, 0, 0, 0, 0];

/// An empty unit's header (DWARF 4, 32-bit) and its one entry.
const EMPTY_UNIT_SIZE: usize = 4 + 2 + 4 + 1 + 1;

/// `wasm` with every compile unit whose source file does not lie under `root` (the staged
/// crate's folder, `/`-separated) emptied. `None` when there is nothing to cut, or the DWARF is
/// not what the cut relies on (64-bit DWARF, type units, a student's unit referring to an entry
/// of another unit, DWARF that does not parse): the caller then keeps the whole of it.
pub fn student_units(wasm: &[u8], root: &str) -> Option<Vec<u8>> {
    let sections = crate::bindgen::sections(wasm)?;
    let custom = |name: &str| -> &[u8] {
        sections
            .iter()
            .find(|s| s.name == Some(name))
            .map_or(&[][..], |s| s.data)
    };
    if !custom(".debug_types").is_empty() {
        return None;
    }
    let dwarf = gimli::Dwarf::load(|id| -> Result<_, gimli::Error> {
        Ok(EndianSlice::new(custom(id.name()), LittleEndian))
    })
    .ok()?;
    let mut info = custom(".debug_info").to_vec();
    let mut abbrev = custom(".debug_abbrev").to_vec();
    let empty_abbrev = u32::try_from(abbrev.len()).ok()?;
    abbrev.extend_from_slice(&EMPTY_UNIT_ABBREVIATIONS);
    let mut students = Vec::new();
    let mut emptied = false;
    let mut headers = dwarf.units();
    while let Some(header) = headers.next().ok()? {
        let start = header.debug_info_offset()?.0;
        let length = header.length_including_self();
        if header.format() != gimli::Format::Dwarf32 || length < EMPTY_UNIT_SIZE {
            return None;
        }
        let unit = dwarf.unit(header).ok()?;
        if is_under(&unit, root) {
            students.push(unit);
        } else {
            let bytes = &mut info[start..start + length];
            bytes.fill(0);
            bytes[..4].copy_from_slice(&u32::try_from(length - 4).ok()?.to_le_bytes());
            bytes[4..6].copy_from_slice(&4u16.to_le_bytes());
            bytes[6..10].copy_from_slice(&empty_abbrev.to_le_bytes());
            // The address size, then the one entry's abbreviation code.
            bytes[10] = 4;
            bytes[11] = 1;
            emptied = true;
        }
    }
    if !emptied {
        return None;
    }
    // A reference out of a student's unit would now land in an emptied one.
    let ranges: Vec<std::ops::Range<usize>> = students
        .iter()
        .filter_map(|u| {
            let start = u.header.debug_info_offset()?.0;
            Some(start..start + u.header.length_including_self())
        })
        .collect();
    for unit in &students {
        if !refers_within(unit, &ranges)? {
            return None;
        }
    }
    let mut out = wasm[..8].to_vec();
    for section in &sections {
        match section.name {
            Some(".debug_info") => push_custom(&mut out, ".debug_info", &info),
            Some(".debug_abbrev") => push_custom(&mut out, ".debug_abbrev", &abbrev),
            Some(name) if INDEXES.contains(&name) => {}
            _ => out.extend_from_slice(&wasm[section.range.clone()]),
        }
    }
    Some(out)
}

/// Whether a unit's source file (its name, joined to its compilation folder when relative) lies
/// under `root`.
fn is_under(unit: &gimli::Unit<EndianSlice<'_, LittleEndian>>, root: &str) -> bool {
    let text = |s: Option<EndianSlice<'_, LittleEndian>>| {
        s.map(|s| String::from_utf8_lossy(s.slice()).replace('\\', "/"))
    };
    let Some(name) = text(unit.name) else {
        return false;
    };
    let full = match text(unit.comp_dir) {
        Some(dir) if !name.starts_with('/') && !name.contains(":/") => {
            format!("{}/{name}", dir.trim_end_matches('/'))
        }
        _ => name,
    };
    let root = root.trim_end_matches('/');
    full.strip_prefix(root)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether every reference of the unit's entries by `.debug_info` offset lands in one of
/// `kept`. `None` when the unit does not parse.
fn refers_within(
    unit: &gimli::Unit<EndianSlice<'_, LittleEndian>>,
    kept: &[std::ops::Range<usize>],
) -> Option<bool> {
    let mut entries = unit.entries();
    while let Some(entry) = entries.next_dfs().ok()? {
        for attr in entry.attrs() {
            match attr.value() {
                gimli::AttributeValue::DebugInfoRef(offset)
                    if !kept.iter().any(|r| r.contains(&offset.0)) =>
                {
                    return Some(false);
                }
                gimli::AttributeValue::DebugTypesRef(_) => return Some(false),
                _ => {}
            }
        }
    }
    Some(true)
}

fn push_custom(out: &mut Vec<u8>, name: &str, payload: &[u8]) {
    let mut body = Vec::new();
    crate::bindgen::push_leb128(&mut body, name.len() as u64);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(payload);
    out.push(0);
    crate::bindgen::push_leb128(out, body.len() as u64);
    out.extend_from_slice(&body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_section_round_trips() {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        let payload = vec![7u8; 300];
        push_custom(&mut module, ".debug_info", &payload);
        let sections = crate::bindgen::sections(&module).unwrap();
        assert_eq!(sections.len(), 1);
        assert_eq!(sections[0].name, Some(".debug_info"));
        assert_eq!(sections[0].data, &payload[..]);
    }

    #[test]
    fn a_module_without_dwarf_has_nothing_to_cut() {
        let module = wat::parse_str("(module (func))").unwrap();
        assert_eq!(student_units(&module, "/nowhere"), None);
    }
}
