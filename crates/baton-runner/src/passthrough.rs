//! The spawner of `baton exec`: one command given as its argument vector (no
//! shell), run as a drop-in for the bare command.
//!
//! - stdin is the command's own (inherited, never read by baton); stdout and
//!   stderr are pipes whose bytes baton copies to its own stdout and stderr as
//!   they arrive (no prefix, nothing held back), then masks and logs them like a
//!   beat's output: one read buffer per stream, so baton's memory does not grow
//!   with the output.
//! - The command stays in baton's process group, so a terminal's Ctrl-C and job
//!   control reach it as they would the bare command (a command in a group of its
//!   own would be stopped when it reads the terminal); a cancellation baton is
//!   told of is sent to the command alone.
//! - Measured like a beat (monotonic wall time, `wait4` for status, CPU and peak
//!   RSS). A command that cannot be started exits 127 (not found) or 126 (not
//!   executable), as a shell says.

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::cancel::CancelToken;
use crate::output::BeatOutput;
use crate::process::{ProcessSpawner, Tee, watch_in_own_group};
use crate::spawner::{SpawnRequest, SpawnResult, Spawner};

/// Runs one argument vector with its output passed through; the request's
/// `command` (the vector as a display string) is not run by a shell.
#[derive(Debug, Clone, Default)]
pub struct PassThroughSpawner {
    pub argv: Vec<OsString>,
    process: ProcessSpawner,
}

impl PassThroughSpawner {
    pub fn new(argv: Vec<OsString>) -> Self {
        Self {
            argv,
            process: ProcessSpawner::default(),
        }
    }
}

impl Spawner for PassThroughSpawner {
    fn run(
        &self,
        req: &SpawnRequest<'_>,
        output: &BeatOutput,
        cancel: &CancelToken,
    ) -> SpawnResult {
        let Some((program, args)) = self.argv.split_first() else {
            return not_started(127, "failed to start the command: it is empty".to_owned());
        };
        let started = Instant::now();
        let mut command = Command::new(program);
        command
            .args(args)
            .current_dir(req.cwd)
            .envs(req.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::inherit())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                let code = match err.kind() {
                    std::io::ErrorKind::NotFound => 127,
                    _ => 126,
                };
                return not_started(
                    code,
                    format!("failed to start '{}': {err}", program.to_string_lossy()),
                );
            }
        };
        watch_in_own_group(
            &self.process,
            started,
            child,
            output,
            [Tee::Stdout, Tee::Stderr],
            req,
            cancel,
        )
    }
}

/// A command that never started, with the code a shell gives it; the message is
/// also written to stderr, where the shell would have said it.
fn not_started(code: i32, error: String) -> SpawnResult {
    eprintln!("baton: error: {error}");
    SpawnResult {
        exit_code: Some(code),
        error: Some(error),
        ..SpawnResult::default()
    }
}
