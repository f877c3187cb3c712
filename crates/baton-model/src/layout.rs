//! The layout of baton's state directory (`.baton/` next to the pipeline file, or
//! `$BATON_DIR`): every path under it is made here, and nowhere else.
//!
//! ```text
//! .baton/
//!   history.db                                          the history store
//!   logs/<run>/<movement>/<beat>.log                     one log per beat
//!   logs/<run>/beat-<n>.output                           a beat's $BATON_OUTPUT
//!   telemetry/<run>/movement-<m>/beat-<b>-<beat>.json    one file per beat (1-based)
//!   telemetry/<run>/build-sli-slo-sla-report.json        the run report
//!   telemetry/<run>/artifacts.json                       the artifact manifest
//!   archive/<run>/{logs,telemetry,artifacts}/            level ff's copy of a run
//!   cache/                                               the step cache
//!   queue/                                               the webhook's outbox
//! ```
//!
//! Every user-chosen name (run label, movement, beat) becomes a path component
//! through one encoding, [`file_name`], which is injective: two different names
//! never share a file, whether the file is a log, a telemetry file or an archive.
//!
//! # The name encoding
//!
//! - ASCII letters, digits, `-`, `_` and `.` are kept as they are, so plain names
//!   stay readable (`lint-fmt` is `lint-fmt`);
//! - every other byte of the name's UTF-8 is written `%XX` (upper-case hex), `%`
//!   itself included: `a/b` is `a%2Fb`, `a b` is `a%20b`, `a_b` stays `a_b`;
//! - a leading `.` is written `%2E`, so no name is hidden, `.` or `..`;
//! - the empty name is `%` (no other name encodes to a lone `%`);
//! - an encoding longer than [`MAX_COMPONENT`] bytes is cut at an escape boundary
//!   and ends with `~` and a 16-digit hash of the whole name (`~` is never kept,
//!   so a cut name never equals an uncut one).
//!
//! Nothing here does I/O: these are pure functions of their arguments.

use std::path::{Path, PathBuf};

/// The state directory's name next to the pipeline file.
pub const STATE_DIR_NAME: &str = ".baton";
/// The environment variable that puts the state directory elsewhere.
pub const STATE_DIR_ENV: &str = "BATON_DIR";
/// The run report's file name in a run's telemetry directory.
pub const REPORT_FILE_NAME: &str = "build-sli-slo-sla-report.json";
/// The artifact manifest's file name in a run's telemetry directory.
pub const ARTIFACT_MANIFEST_FILE_NAME: &str = "artifacts.json";
/// The environment variable that puts the webhook's outbox elsewhere (a CI
/// runner's cache, say): read with the other telemetry settings, which may also
/// come from `.env` (see `baton-export`).
pub const QUEUE_DIR_ENV: &str = "BATON_QUEUE_DIR";
/// Longest path component this module makes, in bytes (file systems allow 255;
/// room is left for `beat-<n>-` and `.json` around a name).
pub const MAX_COMPONENT: usize = 200;

/// The state directory of a pipeline whose beats run in `pipeline_root`, given the
/// value of `$BATON_DIR` (when set, it wins).
pub fn state_dir(pipeline_root: &Path, baton_dir_env: Option<&std::ffi::OsStr>) -> PathBuf {
    match baton_dir_env {
        Some(dir) => PathBuf::from(dir),
        None => pipeline_root.join(STATE_DIR_NAME),
    }
}

/// A state directory and the paths under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateLayout {
    pub root: PathBuf,
}

impl StateLayout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `history.db`.
    pub fn history_db(&self) -> PathBuf {
        self.root.join("history.db")
    }

    /// `logs/`.
    pub fn logs(&self) -> PathBuf {
        logs_dir(&self.root)
    }

    /// `telemetry/`.
    pub fn telemetry(&self) -> PathBuf {
        telemetry_dir(&self.root)
    }

    /// `archive/`.
    pub fn archive(&self) -> PathBuf {
        self.root.join("archive")
    }

    /// `cache/`.
    pub fn cache(&self) -> PathBuf {
        cache_dir(&self.root)
    }

    /// `queue/`: the webhook's outbox.
    pub fn queue(&self) -> PathBuf {
        queue_dir(&self.root)
    }

    /// `logs/<run>/`.
    pub fn run_logs(&self, run_label: &str) -> PathBuf {
        run_dir(&self.logs(), run_label)
    }

    /// `telemetry/<run>/`.
    pub fn run_telemetry(&self, run_label: &str) -> PathBuf {
        run_dir(&self.telemetry(), run_label)
    }

    /// `archive/<run>/`.
    pub fn run_archive(&self, run_label: &str) -> PathBuf {
        run_dir(&self.archive(), run_label)
    }

    /// `archive/<run>/logs`, `archive/<run>/telemetry` and `archive/<run>/artifacts`:
    /// where level ff copies the run's logs, its telemetry files and its artifacts
    /// (under their paths relative to the pipeline root).
    pub fn run_archive_parts(&self, run_label: &str) -> ArchiveParts {
        let dir = self.run_archive(run_label);
        ArchiveParts {
            logs: dir.join("logs"),
            telemetry: dir.join("telemetry"),
            artifacts: dir.join("artifacts"),
        }
    }

    /// `telemetry/<run>/artifacts.json`.
    pub fn artifact_manifest(&self, run_label: &str) -> PathBuf {
        self.run_telemetry(run_label)
            .join(ARTIFACT_MANIFEST_FILE_NAME)
    }

    /// Every directory of a run (logs, telemetry, archive): what `gc` removes.
    pub fn run_dirs(&self, run_label: &str) -> [PathBuf; 3] {
        [
            self.run_logs(run_label),
            self.run_telemetry(run_label),
            self.run_archive(run_label),
        ]
    }
}

/// The folders of one archived run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveParts {
    pub logs: PathBuf,
    pub telemetry: PathBuf,
    pub artifacts: PathBuf,
}

/// `<state>/logs`.
pub fn logs_dir(state_root: &Path) -> PathBuf {
    state_root.join("logs")
}

/// `<state>/telemetry`.
pub fn telemetry_dir(state_root: &Path) -> PathBuf {
    state_root.join("telemetry")
}

/// `<state>/cache`.
pub fn cache_dir(state_root: &Path) -> PathBuf {
    state_root.join("cache")
}

/// `<state>/queue`.
pub fn queue_dir(state_root: &Path) -> PathBuf {
    state_root.join("queue")
}

/// `<dir>/<run>`: a run's directory under `logs/`, `telemetry/` or `archive/`.
pub fn run_dir(dir: &Path, run_label: &str) -> PathBuf {
    dir.join(file_name(run_label))
}

/// The base of a run label: `build-YYYYmmdd-HHMMSS`, from the local start time.
pub fn run_label_base(local_start: &jiff::Zoned) -> String {
    format!("build-{}", local_start.strftime("%Y%m%d-%H%M%S"))
}

/// The `n`th label tried for runs started in the same second: the base, then
/// `-2`, `-3`...
pub fn run_label_candidate(base: &str, n: u32) -> String {
    if n <= 1 {
        base.to_owned()
    } else {
        format!("{base}-{n}")
    }
}

/// `<movement>/<beat>.log`, relative to a run's log directory.
pub fn beat_log_relative(movement: &str, beat: &str) -> PathBuf {
    Path::new(&file_name(movement)).join(format!("{}.log", file_name(beat)))
}

/// `<logs>/<run>/<movement>/<beat>.log`.
pub fn beat_log(logs: &Path, run_label: &str, movement: &str, beat: &str) -> PathBuf {
    run_dir(logs, run_label).join(beat_log_relative(movement, beat))
}

/// `<run>/<movement>/<beat>.log` with `/` separators: the part of a log path the
/// history store can rebuild from a record's own fields.
pub fn beat_log_tail(run_label: &str, movement: &str, beat: &str) -> String {
    format!(
        "{}/{}/{}.log",
        file_name(run_label),
        file_name(movement),
        file_name(beat)
    )
}

/// The `$BATON_OUTPUT` file of the beat at position `index` of the plan, in its
/// run's log directory.
pub fn beat_output_file(run_logs: &Path, index: usize) -> PathBuf {
    run_logs.join(format!("beat-{index}.output"))
}

/// `movement-<m>/beat-<b>-<beat>.json` relative to a run's telemetry directory;
/// the indexes are 0-based here and 1-based in the path.
pub fn beat_telemetry_relative(movement_index: u32, beat_index: u32, beat: &str) -> PathBuf {
    Path::new(&format!("movement-{}", u64::from(movement_index) + 1)).join(format!(
        "beat-{}-{}.json",
        u64::from(beat_index) + 1,
        file_name(beat)
    ))
}

/// A name (run label, movement, beat) as one path component; see the module's
/// documentation for the encoding. Injective, never empty, never `.` or `..`,
/// never holds a `/`.
pub fn file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    if name.is_empty() {
        out.push('%');
        return out;
    }
    // Where the encoding may be cut: after a kept character or a whole escape.
    let mut cut_at = 0;
    for (i, byte) in name.bytes().enumerate() {
        let kept =
            byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_') || (byte == b'.' && i > 0);
        if kept {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0xF));
        }
        if out.len() <= MAX_COMPONENT - 17 {
            cut_at = out.len();
        }
    }
    if out.len() > MAX_COMPONENT {
        out.truncate(cut_at);
        out.push('~');
        out.push_str(&format!("{:016x}", fnv1a(name.as_bytes())));
    }
    out
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(nibble & 0xF)])
}

/// FNV-1a, 64 bits: stable across releases and platforms (std's hasher is not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn plain_names_stay_readable() {
        for name in [
            "lint-fmt",
            "build_web",
            "v1.2",
            "build-20251126-123456",
            "A9",
        ] {
            assert_eq!(file_name(name), name);
        }
    }

    #[test]
    fn names_that_used_to_collide_get_their_own_file() {
        assert_eq!(file_name("a/b"), "a%2Fb");
        assert_eq!(file_name("a_b"), "a_b");
        assert_eq!(file_name("a b"), "a%20b");
        assert_eq!(file_name("a%20b"), "a%2520b");
        assert_eq!(file_name("tëst"), "t%C3%ABst");
    }

    #[test]
    fn no_name_escapes_its_directory_or_hides() {
        assert_eq!(file_name(""), "%");
        assert_eq!(file_name("."), "%2E");
        assert_eq!(file_name(".."), "%2E.");
        assert_eq!(file_name(".hidden"), "%2Ehidden");
        assert_eq!(file_name("../../etc/passwd"), "%2E.%2F..%2Fetc%2Fpasswd");
        assert_eq!(file_name("x\0y\n"), "x%00y%0A");
    }

    #[test]
    fn the_encoding_is_injective_on_tricky_names() {
        let names = [
            "",
            ".",
            "..",
            "%",
            "%2E",
            ".x",
            "%2Ex",
            "a/b",
            "a_b",
            "a b",
            "a%2Fb",
            "a-b",
            "a.b",
            "A/B",
            "~",
            "a~",
            "\u{1b}[31m",
            "%1B[31m",
        ];
        let encoded: HashSet<String> = names.iter().map(|n| file_name(n)).collect();
        assert_eq!(encoded.len(), names.len(), "{encoded:?}");
    }

    #[test]
    fn long_names_are_cut_with_a_hash_and_stay_distinct() {
        let a = "x".repeat(500);
        let b = format!("{}y", "x".repeat(499));
        let (ea, eb) = (file_name(&a), file_name(&b));
        assert!(ea.len() <= MAX_COMPONENT && eb.len() <= MAX_COMPONENT);
        assert_ne!(ea, eb);
        let escapes = "/".repeat(100);
        let e = file_name(&escapes);
        assert!(e.len() <= MAX_COMPONENT, "{e}");
        // Cut between escapes, never inside one.
        assert!(e.split('~').next().is_some_and(|s| s.len() % 3 == 0));
    }

    #[test]
    fn paths_use_the_same_encoding_everywhere() {
        let state = StateLayout::new("/w/.baton");
        assert_eq!(
            beat_log(&state.logs(), "build-1", "lint", "lint/fmt"),
            Path::new("/w/.baton/logs/build-1/lint/lint%2Ffmt.log")
        );
        assert_eq!(
            beat_log_tail("build-1", "lint", "lint/fmt"),
            "build-1/lint/lint%2Ffmt.log"
        );
        assert_eq!(
            state
                .run_telemetry("build-1")
                .join(beat_telemetry_relative(0, 1, "lint/fmt")),
            Path::new("/w/.baton/telemetry/build-1/movement-1/beat-2-lint%2Ffmt.json")
        );
        assert_eq!(
            state.artifact_manifest("build-1"),
            Path::new("/w/.baton/telemetry/build-1/artifacts.json")
        );
        assert_eq!(
            state.run_archive("a/b"),
            Path::new("/w/.baton/archive/a%2Fb")
        );
        assert_eq!(run_label_candidate("build-1", 1), "build-1");
        assert_eq!(run_label_candidate("build-1", 3), "build-1-3");
    }
}
