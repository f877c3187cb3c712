//! The terminal view of `baton run` through the binary: `--output grouped` prints
//! every beat's output whole, in one block, without growing baton's memory, and a
//! rollback's output in a block of its own.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::Project;

const MIB: usize = 1024 * 1024;
/// The big beat's one line without a newline, and its numbered lines.
const LONG_LINE: usize = 96 * MIB;
const LINES: usize = 10_000;
const PAD: usize = 1_000;

#[test]
fn grouped_output_is_whole_in_order_and_keeps_baton_small() {
    let project = Project::with_pipeline(&format!(
        "version: 1\nid: 3e0f6c2a-1b7d-4e59-9c0a-5d2e8f7a1b3c\nname: t\nmovements:\n  \
         - name: a\n    parallel: true\n    beats:\n      \
         - name: big\n        run: |\n          \
           echo first\n          \
           head -c {LONG_LINE} /dev/zero | tr '\\0' x\n          \
           echo\n          \
           awk 'BEGIN {{ pad = sprintf(\"%{PAD}s\", \"\"); for (i = 1; i <= {LINES}; i++) print i pad }}'\n          \
           echo last\n      \
         - {{ name: small, run: 'for i in $(seq 1 20); do echo small $i; sleep 0.01; done' }}\n"
    ));
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("baton"))
        .current_dir(project.path())
        .args(["run", "--output", "grouped", "--no-telemetry"])
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn baton");
    let stdout = child.stdout.take().expect("stdout");

    let mut big = Check::Outside;
    let mut small: Option<usize> = None;
    let mut blocks = Vec::new();
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    let pad = " ".repeat(PAD);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).expect("read") == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(header) = text.strip_prefix("── ") {
            blocks.push(header.split(' ').next().unwrap_or_default().to_owned());
        }
        // The small beat's block: its 20 lines, together.
        if let Some(n) = small.as_mut()
            && *n < 20
        {
            *n += 1;
            assert_eq!(text, format!("small {n}"), "the small block is broken");
            continue;
        }
        if text.starts_with("── small (success") {
            small = Some(0);
            continue;
        }
        assert!(
            !text.starts_with("small "),
            "a small line outside its block"
        );
        big = match big {
            Check::Outside if text.starts_with("── big (success") => Check::Header,
            Check::Outside => Check::Outside,
            Check::Header => {
                assert_eq!(text, "first");
                Check::LongLine(0)
            }
            // The long line comes in pieces, one line each.
            Check::LongLine(n) if !line.is_empty() && line.iter().all(|&b| b == b'x') => {
                Check::LongLine(n + line.len())
            }
            Check::LongLine(n) => {
                assert_eq!(n, LONG_LINE, "the long line is whole");
                assert_eq!(text, format!("1{pad}"));
                Check::Numbered(1)
            }
            Check::Numbered(n) if n < LINES => {
                assert_eq!(text, format!("{}{pad}", n + 1), "the lines are in order");
                Check::Numbered(n + 1)
            }
            Check::Numbered(_) => {
                assert_eq!(text, "last");
                Check::Done
            }
            Check::Done => Check::Done,
        };
    }
    assert_eq!(big, Check::Done, "the big block ended early");
    assert_eq!(small, Some(20));
    assert_eq!(blocks, ["small", "big"]);

    let (status, peak) = wait_with_peak_rss(child);
    assert_eq!(status, 0, "baton failed");
    if cfg!(target_os = "linux") {
        // Before: the first 2,000 lines of a block in memory, 64 KiB each here.
        assert!(
            peak < 50 * MIB,
            "baton's peak RSS grew to {} MiB",
            peak / MIB
        );
    }
}

#[test]
fn grouped_output_shows_a_rollbacks_output_in_its_own_block() {
    let project = Project::with_pipeline(
        "version: 1\nid: 3e0f6c2a-1b7d-4e59-9c0a-5d2e8f7a1b3c\nname: t\nmovements:\n  \
         - name: a\n    beats:\n      \
         - { name: made, run: 'echo making', rollback: 'echo unmaking' }\n      \
         - { name: broken, run: 'echo breaking; exit 1', needs: [made] }\n",
    );
    let out = project
        .baton(&["run", "--output", "grouped", "--no-telemetry"])
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("baton runs");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let blocks: Vec<&str> = stdout.split("── ").skip(1).collect();
    assert!(blocks[0].starts_with("made (success, "), "{stdout}");
    assert!(blocks[0].contains(")\nmaking\n"), "{stdout}");
    assert!(blocks[1].starts_with("broken (failure, "), "{stdout}");
    assert!(
        blocks[2].starts_with("made rollback (success, "),
        "{stdout}"
    );
    assert!(blocks[2].contains(")\nunmaking\n"), "{stdout}");
}

#[derive(Debug, PartialEq, Eq)]
enum Check {
    Outside,
    Header,
    /// Bytes of the long line seen so far.
    LongLine(usize),
    /// The last numbered line seen.
    Numbered(usize),
    Done,
}

/// Waits for the child: its exit code and its peak RSS in bytes (`ru_maxrss`, in
/// KiB on Linux; it also covers the beats baton waited for, all small here).
fn wait_with_peak_rss(child: std::process::Child) -> (i32, usize) {
    let pid = i32::try_from(child.id()).expect("pid");
    let mut status = 0;
    // SAFETY: rusage is a plain C struct for which all-zero bytes are valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our unwaited child; `status` and `usage` are live and writable.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let peak = usize::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    (code, peak)
}
