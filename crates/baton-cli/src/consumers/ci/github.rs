//! GitHub Actions workflow commands: annotations (`::error`, `::warning`,
//! `::notice`), escaped as the runner requires, and `$GITHUB_OUTPUT` lines.
//!
//! The runner reads a command from one line: in the message, `%`, `\r` and `\n`
//! are written `%25`, `%0D`, `%0A`; in a property value, also `:` (`%3A`) and `,`
//! (`%2C`), which would otherwise end the value.

use std::fmt::Write as _;

/// How bad an annotation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Notice => "notice",
        }
    }
}

/// One annotation on the workflow run's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Annotation {
    pub level: Level,
    pub title: String,
    pub message: String,
    /// The pipeline file, relative to the workspace when it is inside it.
    pub file: Option<String>,
    pub line: Option<usize>,
}

impl Annotation {
    /// The workflow command, one line ending in `\n`.
    pub(crate) fn command(&self) -> String {
        let mut out = format!("::{}", self.level.command());
        let mut properties = Vec::new();
        if let Some(file) = &self.file {
            properties.push(format!("file={}", escape_property(file)));
            if let Some(line) = self.line {
                properties.push(format!("line={line}"));
            }
        }
        properties.push(format!("title={}", escape_property(&self.title)));
        out.push(' ');
        out.push_str(&properties.join(","));
        let _ = writeln!(out, "::{}", escape_data(&self.message));
        out
    }
}

/// A message as a workflow command carries it.
pub(crate) fn escape_data(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\r' => out.push_str("%0D"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
    out
}

/// A property value as a workflow command carries it.
pub(crate) fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `name=value` lines for `$GITHUB_OUTPUT`; a value with a line break (none of
/// baton's should have one) is written with a delimiter that it cannot contain.
pub(crate) fn output_lines(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        if value.contains(['\n', '\r']) {
            let mut delimiter = "BATON_EOF".to_owned();
            while value.contains(&delimiter) {
                delimiter.push('_');
            }
            let _ = writeln!(out, "{name}<<{delimiter}\n{value}\n{delimiter}");
        } else {
            let _ = writeln!(out, "{name}={value}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_and_messages_cannot_break_out_of_the_command() {
        let annotation = Annotation {
            level: Level::Error,
            title: "beat 'a,b::c%0A' failed".to_owned(),
            message: "50% done\r\n::error::forged\nlast".to_owned(),
            file: Some("ci/base,line=9:x.yaml".to_owned()),
            line: Some(12),
        };
        let command = annotation.command();
        assert_eq!(
            command,
            "::error file=ci/base%2Cline=9%3Ax.yaml,line=12,title=beat 'a%2Cb%3A%3Ac%250A' failed::\
             50%25 done%0D%0A::error::forged%0Alast\n"
        );
        // One line: the forged command is part of the message, not a command.
        assert_eq!(command.lines().count(), 1);
    }

    #[test]
    fn without_a_file_there_is_no_line_and_values_with_breaks_get_a_delimiter() {
        let notice = Annotation {
            level: Level::Notice,
            title: "t".to_owned(),
            message: "m".to_owned(),
            file: None,
            line: Some(3),
        };
        assert_eq!(notice.command(), "::notice title=t::m\n");
        assert_eq!(
            output_lines(&[("status", "success".into()), ("odd", "a\nBATON_EOF".into())]),
            "status=success\nodd<<BATON_EOF_\na\nBATON_EOF\nBATON_EOF_\n"
        );
    }
}
