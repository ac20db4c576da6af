//! Paths as reports show them: `/` between components on every system, and the student's
//! files named from their crate's folder (`src/lib.rs`), wherever the grader staged them and
//! whichever separator the compiler wrote.

use std::path::Path;

/// `path` with `/` between its components, so a report reads the same on Windows
/// (`src/lib.rs`, not `src\lib.rs`). A backslash elsewhere is part of a file's name and stays.
pub fn slashed(path: &Path) -> String {
    slashed_with(&path.to_string_lossy(), std::path::MAIN_SEPARATOR)
}

fn slashed_with(text: &str, separator: char) -> String {
    if separator == '/' {
        text.to_owned()
    } else {
        text.replace(separator, "/")
    }
}

/// The folder of a path package from cargo's package id, with `/` separators:
/// `path+file:///…/slot#name@0.0.0` → `/…/slot`, and on Windows
/// `path+file:///C:/…/slot#…` → `C:/…/slot`. Percent escapes (a space in a folder's name)
/// are decoded.
pub(crate) fn package_folder(id: &str) -> Option<String> {
    let url = id.strip_prefix("path+file://")?;
    let url = url.split(['#', '?']).next()?;
    let path = percent_decoded(url);
    // `/C:/…`: a drive letter after the URL's own slash.
    let bytes = path.as_bytes();
    if bytes.len() >= 3 && bytes[0] == b'/' && bytes[1].is_ascii_alphabetic() && bytes[2] == b':' {
        return Some(path[1..].to_owned());
    }
    Some(path)
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` (a compiler message, a location, rendered compiler output) with every path under
/// `root` (a folder with `/` separators, as [`package_folder`] gives) written from inside it
/// with `/` separators: `/…/slot/src/lib.rs` and `C:\…\slot\src\lib.rs` both read
/// `src/lib.rs`. Nothing else in the text changes.
pub(crate) fn from_root(text: &str, root: &str) -> String {
    let backslashed = root.replace('/', "\\");
    let spellings = [(root, '/'), (backslashed.as_str(), '\\')];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let found = spellings
            .iter()
            .filter_map(|&(spelling, separator)| {
                rest.match_indices(spelling)
                    .find(|(at, _)| {
                        let after = &rest[at + spelling.len()..];
                        after.starts_with(['/', '\\'])
                    })
                    .map(|(at, _)| (at, spelling, separator))
            })
            .min_by_key(|(at, ..)| *at);
        let Some((at, spelling, separator)) = found else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        let path = &rest[at + spelling.len() + 1..];
        // The path ends where a location's `:line`, a quote or a space does.
        let end = path
            .find(|c: char| c.is_whitespace() || matches!(c, ':' | '`' | '\'' | '"' | ')' | ','))
            .unwrap_or(path.len());
        out.push_str(&slashed_with(&path[..end], separator));
        rest = &path[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_separators_read_as_slashes() {
        assert_eq!(
            slashed_with(r"src\shapes\mod.rs", '\\'),
            "src/shapes/mod.rs"
        );
        // On Unix a backslash is a character of a name, not a separator.
        assert_eq!(slashed_with(r"src/odd\name.rs", '/'), r"src/odd\name.rs");
        assert_eq!(slashed(Path::new("src/lib.rs")), "src/lib.rs");
    }

    #[test]
    fn a_package_id_names_its_folder_on_every_system() {
        assert_eq!(
            package_folder("path+file:///course/target/grader/staging/slot#submission_slot@0.0.0")
                .as_deref(),
            Some("/course/target/grader/staging/slot")
        );
        assert_eq!(
            package_folder("path+file:///C:/Users/Ada%20L/course/target/grader/staging/slot#0.0.0")
                .as_deref(),
            Some("C:/Users/Ada L/course/target/grader/staging/slot")
        );
        assert_eq!(package_folder("registry+https://x#y@1.0.0"), None);
    }

    #[test]
    fn paths_under_the_root_are_the_students_on_every_system() {
        let unix = "error: couldn't read `/s/slot/src/data.txt`\n --> /s/slot/src/lib.rs:1:17\n";
        assert_eq!(
            from_root(unix, "/s/slot"),
            "error: couldn't read `src/data.txt`\n --> src/lib.rs:1:17\n"
        );
        let windows = "error: couldn't read `C:\\s\\slot\\src\\data.txt`\n --> C:\\s\\slot\\src\\shapes\\mod.rs:1:17\n";
        assert_eq!(
            from_root(windows, "C:/s/slot"),
            "error: couldn't read `src/data.txt`\n --> src/shapes/mod.rs:1:17\n"
        );
        // A folder that merely starts like the root, and text without it, are left alone.
        assert_eq!(
            from_root("/s/slot2/x.rs and C:\\other", "/s/slot"),
            "/s/slot2/x.rs and C:\\other"
        );
    }
}
