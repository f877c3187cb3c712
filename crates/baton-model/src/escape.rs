//! Escaping control characters in user strings before baton prints them, so that a
//! name, reason or warning can never move the cursor, recolour the terminal or
//! fake a line of baton's own.
//!
//! `\n`, `\r` and `\t` are written as those two-character escapes; every other
//! control character (C0, DEL, C1) as `\u{XX}` (ESC is `\u{1b}`). Everything else,
//! including non-ASCII letters, is left as it is. This is for display only: file
//! names use [`crate::layout::file_name`].

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with its control characters escaped (borrowed when it has none).
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The first control character of `text`, if any: names must have none.
pub fn first_control(text: &str) -> Option<char> {
    text.chars().find(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_as_it_is() {
        assert!(matches!(escape_control("build — tëst"), Cow::Borrowed(_)));
    }

    #[test]
    fn control_characters_are_escaped_visibly() {
        assert_eq!(escape_control("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(escape_control("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(
            escape_control("nul\0del\u{7f}c1\u{9b}"),
            "nul\\u{0}del\\u{7f}c1\\u{9b}"
        );
        assert_eq!(first_control("ok"), None);
        assert_eq!(first_control("a\u{1b}b"), Some('\u{1b}'));
    }
}
