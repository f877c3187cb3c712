//! The one escape function every user-controlled string goes through (beat and
//! pipeline names, reasons, metric names, output lines, labels), and the one test of
//! what may be a link.

use std::fmt;

/// `s` made safe as HTML text and as a quoted attribute value: `& < > " '` become
/// character references. Control characters other than tab and newline are dropped
/// (they are not allowed in HTML and are never meaningful in a report).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `s` escaped, to write with `{}`: `write!(out, "<td>{}</td>", Esc(name))`.
#[derive(Debug, Clone, Copy)]
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(self.0))
    }
}

/// `url` when it may be a link: an absolute `http:` or `https:` URL with a host and
/// no whitespace or control characters (anything else is shown as text).
pub fn link_url(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return None;
    };
    let host_ok = rest
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '[');
    let clean = !url.chars().any(|c| c.is_whitespace() || c.is_control());
    (host_ok && clean).then_some(url)
}

/// `s` as one percent-encoded URL path segment: every byte but ASCII letters,
/// digits and `-._~` is `%XX`, so a name cannot end the segment or the path.
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_encode_everything_that_could_escape_them() {
        assert_eq!(path_segment("unit-tests_1.x~"), "unit-tests_1.x~");
        assert_eq!(path_segment("a/b c?\"<"), "a%2Fb%20c%3F%22%3C");
        assert_eq!(path_segment("é"), "%C3%A9");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#""><img src=x onerror='alert(1)'>&"#),
            "&quot;&gt;&lt;img src=x onerror=&#39;alert(1)&#39;&gt;&amp;"
        );
        assert_eq!(
            escape("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(escape("a\u{0}b\u{1b}[31mc\td"), "ab[31mc\td");
        assert_eq!(Esc("é<").to_string(), "é&lt;");
    }

    #[test]
    fn only_http_urls_are_links() {
        assert_eq!(
            link_url("https://ci.example/run/1"),
            Some("https://ci.example/run/1")
        );
        assert_eq!(link_url("HTTP://ci.example"), Some("HTTP://ci.example"));
        assert_eq!(link_url("javascript:alert(1)"), None);
        assert_eq!(link_url("data:text/html,<script>"), None);
        assert_eq!(link_url("https:///x"), None);
        assert_eq!(link_url("https://a b"), None);
        assert_eq!(link_url("//evil.example"), None);
        assert_eq!(link_url(""), None);
    }
}
