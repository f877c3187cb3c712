//! The `baton: ` lines on stderr, written in one place: errors, warnings and notes.
//!
//! A closed stderr is ignored (`eprintln!` would panic): a run must still be
//! recorded when its terminal is gone.

use std::fmt::Display;
use std::io::Write;

/// What a line on stderr is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `baton: error: ...`
    Error,
    /// `baton: warning: ...`
    Warning,
    /// `baton: ...`: something baton did or is doing.
    Note,
}

/// The text of a line without its newline, for writers that must print it
/// themselves (the terminal view, around its progress bars).
pub(crate) fn text(kind: Kind, message: impl Display) -> String {
    match kind {
        Kind::Error => format!("baton: error: {message}"),
        Kind::Warning => format!("baton: warning: {message}"),
        Kind::Note => format!("baton: {message}"),
    }
}

/// Writes one line on stderr.
pub(crate) fn emit(kind: Kind, message: impl Display) {
    let line = text(kind, message);
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `baton: error: {message}` on stderr.
pub(crate) fn error(message: impl Display) {
    emit(Kind::Error, message);
}

/// `baton: warning: {message}` on stderr.
pub(crate) fn warning(message: impl Display) {
    emit(Kind::Warning, message);
}

/// `baton: {message}` on stderr.
pub(crate) fn note(message: impl Display) {
    emit(Kind::Note, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_the_baton_prefix() {
        assert_eq!(text(Kind::Error, "x"), "baton: error: x");
        assert_eq!(text(Kind::Warning, "x"), "baton: warning: x");
        assert_eq!(text(Kind::Note, "x"), "baton: x");
    }
}
