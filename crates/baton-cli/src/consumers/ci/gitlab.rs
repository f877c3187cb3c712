//! GitLab CI collapsible sections: the job log folds what is between a
//! `section_start` and its `section_end` line under the start's header.

/// A section id GitLab accepts (letters, digits, `_`, `.`, `-`), unique per beat.
pub(crate) fn section_id(index: usize, beat: &str) -> String {
    let name: String = beat
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    format!("baton_{index}_{name}")
}

/// The line that opens a collapsed section titled `header` (control characters
/// in it are dropped: they could end the line or fake another marker).
pub(crate) fn section_start(id: &str, header: &str) -> String {
    let header: String = header.chars().filter(|c| !c.is_control()).collect();
    format!(
        "\x1b[0Ksection_start:{}:{id}[collapsed=true]\r\x1b[0K{header}\n",
        jiff::Timestamp::now().as_second()
    )
}

/// The line that closes section `id`.
pub(crate) fn section_end(id: &str) -> String {
    format!(
        "\x1b[0Ksection_end:{}:{id}\r\x1b[0K\n",
        jiff::Timestamp::now().as_second()
    )
}

/// Whether this is a GitLab CI job.
pub(crate) fn on_gitlab() -> bool {
    std::env::var("GITLAB_CI").is_ok_and(|v| v == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_have_safe_ids_and_headers() {
        let id = section_id(3, "unit tests: fast/☃");
        assert_eq!(id, "baton_3_unit_tests__fast__");
        let start = section_start(&id, "unit\ntests\r");
        assert!(start.contains(&format!(":{id}[collapsed=true]\r\x1b[0Kunittests\n")));
        assert_eq!(start.matches('\n').count(), 1);
        assert!(section_end(&id).starts_with("\x1b[0Ksection_end:"));
    }
}
