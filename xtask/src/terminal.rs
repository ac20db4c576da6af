//! What the terminal xtask writes to can show: colours, and the escape sequences that clear
//! `watch`'s screen and redraw the batch's progress bar. Where they would show as garbage
//! (output piped, `TERM=dumb`, a Windows console whose ANSI mode cannot be turned on) the same
//! text is written plain. The variables are the conventions `anstyle-query` reads: `NO_COLOR`,
//! `CLICOLOR=0` and `CLICOLOR_FORCE`.

use std::io::IsTerminal;

/// Whether escape sequences written to `stream` reach a terminal that acts on them. On
/// Windows this turns the console's ANSI mode on (Windows 10 and later have it).
pub fn understands_escapes(stream: &impl IsTerminal) -> bool {
    escapes(
        stream.is_terminal(),
        std::env::var("TERM").ok().as_deref(),
        // `None` off Windows, where terminals need nothing turned on.
        || anstyle_query::windows::enable_ansi_colors().unwrap_or(true),
    )
}

/// Whether text for `stream` is coloured.
pub fn colours(stream: &impl IsTerminal) -> bool {
    colours_when(
        Conventions {
            no_color: anstyle_query::no_color(),
            clicolor: anstyle_query::clicolor(),
            clicolor_force: anstyle_query::clicolor_force(),
        },
        || understands_escapes(stream),
    )
}

fn escapes(is_terminal: bool, term: Option<&str>, ansi_mode: impl FnOnce() -> bool) -> bool {
    is_terminal && term != Some("dumb") && ansi_mode()
}

/// The colour variables of the environment.
struct Conventions {
    no_color: bool,
    clicolor: Option<bool>,
    clicolor_force: bool,
}

fn colours_when(env: Conventions, escapes: impl FnOnce() -> bool) -> bool {
    if env.no_color {
        false
    } else if env.clicolor_force {
        true
    } else if env.clicolor == Some(false) {
        false
    } else {
        escapes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_go_only_to_a_terminal_that_acts_on_them() {
        assert!(escapes(true, Some("xterm-256color"), || true));
        assert!(escapes(true, None, || true));
        assert!(!escapes(true, Some("dumb"), || true));
        assert!(!escapes(false, Some("xterm"), || true));
        // A Windows console that cannot turn its ANSI mode on.
        assert!(!escapes(true, None, || false));
    }

    #[test]
    fn colours_follow_the_conventions_then_the_terminal() {
        let env = |no_color, clicolor, clicolor_force| Conventions {
            no_color,
            clicolor,
            clicolor_force,
        };
        assert!(colours_when(env(false, None, false), || true));
        assert!(!colours_when(env(false, None, false), || false));
        assert!(!colours_when(env(true, None, true), || true));
        assert!(!colours_when(env(false, Some(false), false), || true));
        assert!(colours_when(env(false, None, true), || false));
        assert!(colours_when(env(false, Some(true), false), || true));
    }
}
