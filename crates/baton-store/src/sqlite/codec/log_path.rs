//! Log-path compaction: a beat's log at the conventional
//! `{dir}/{run label}/{movement}/{beat}.log` is stored as its `{dir}` alone (the
//! row already holds the rest) and rebuilt from it on reading.

/// The directory of a conventional log path `{dir}/{label}/{movement}/{beat}.log`
/// (names encoded by [`baton_model::layout`]).
pub(super) fn log_dir<'p>(
    path: &'p str,
    label: &str,
    movement: &str,
    beat: &str,
) -> Option<&'p str> {
    let tail = baton_model::layout::beat_log_tail(label, movement, beat);
    let dir = path.strip_suffix(tail.as_str())?.strip_suffix('/')?;
    (!dir.is_empty()).then_some(dir)
}

/// The conventional log path in `dir`, the inverse of [`log_dir`].
pub(super) fn conventional_log_path(dir: &str, label: &str, movement: &str, beat: &str) -> String {
    format!(
        "{dir}/{}",
        baton_model::layout::beat_log_tail(label, movement, beat)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventional_log_paths_keep_only_their_directory() {
        let label = "build-20260101-101010";
        let path = format!("/w/.baton/logs/{label}/build/compile.log");
        assert_eq!(
            log_dir(&path, label, "build", "compile"),
            Some("/w/.baton/logs")
        );
        assert_eq!(log_dir(&path, label, "build", "link"), None);
        assert_eq!(log_dir(&path, "other", "build", "compile"), None);
        assert_eq!(
            log_dir(
                &format!("{label}/build/compile.log"),
                label,
                "build",
                "compile"
            ),
            None
        );
    }
}
