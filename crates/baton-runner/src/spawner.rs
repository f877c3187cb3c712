//! The seam between the scheduler and the operating system: a [`Spawner`] runs one
//! attempt of one command to its end and says what happened. The real one is
//! [`crate::process::ProcessSpawner`]; tests give the scheduler a fake.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::output::BeatOutput;

/// The shell a beat's `run` is handed to: `program args... <run>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shell {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Shell {
    /// `bash -eo pipefail -c` when bash is on the PATH, else `sh -c`.
    pub fn detect() -> Self {
        match find_on_path("bash") {
            Some(bash) => Self {
                program: bash,
                args: vec!["-eo".into(), "pipefail".into(), "-c".into()],
            },
            None => Self::sh(),
        }
    }

    /// `sh -c`.
    pub fn sh() -> Self {
        Self {
            program: resolve("sh"),
            args: vec!["-c".into()],
        }
    }

    /// The shell a pipeline asks for with `shell:`, else [`Shell::detect`].
    pub fn for_pipeline(pipeline: &baton_model::Pipeline) -> Self {
        pipeline
            .shell
            .as_deref()
            .and_then(Self::parse)
            .unwrap_or_else(Self::detect)
    }

    /// A shell given as one string, e.g. `"bash -euo pipefail -c"`, split on spaces.
    pub fn parse(spec: &str) -> Option<Self> {
        let mut words = spec.split_whitespace();
        let program = resolve(words.next()?);
        Some(Self {
            program,
            args: words.map(str::to_owned).collect(),
        })
    }
}

/// A bare program name resolved on the PATH once, so that each beat's spawn does
/// not search the PATH again; left as it is when it has a `/` or is not found.
fn resolve(program: &str) -> PathBuf {
    if program.contains('/') {
        return PathBuf::from(program);
    }
    find_on_path(program).unwrap_or_else(|| PathBuf::from(program))
}

impl Default for Shell {
    fn default() -> Self {
        Self::detect()
    }
}

impl std::fmt::Display for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.program.display())?;
        for arg in &self.args {
            write!(f, " {arg}")?;
        }
        Ok(())
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    find_in(&std::env::var_os("PATH")?, name)
}

/// The first executable `name` in the directories of `path` (a `PATH` value).
pub(crate) fn find_in(path: &std::ffi::OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// One attempt to run: everything a spawner needs, already resolved.
#[derive(Clone)]
pub struct SpawnRequest<'a> {
    /// The beat's name (for messages; the environment carries `BATON_BEAT`).
    pub beat: &'a str,
    /// The shell command line (`run` or `rollback`).
    pub command: &'a str,
    pub shell: &'a Shell,
    pub cwd: &'a Path,
    /// Added to baton's own environment (beat env, secrets, `BATON_*`, `TRACEPARENT`).
    pub env: &'a [(String, String)],
    pub timeout: Option<Duration>,
    /// How long a timed-out beat gets between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Called once the process is started, before the spawner waits for it: the
    /// scheduler finishes the previous beat meanwhile (a bounded bit of work; it
    /// never waits on the history or on the consumers). A spawner that never calls
    /// it is still correct, only slower: the scheduler calls it when the attempt
    /// ends, holding the beat's events until then.
    pub on_started: Option<&'a (dyn Fn() + Sync)>,
}

impl std::fmt::Debug for SpawnRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpawnRequest")
            .field("beat", &self.beat)
            .field("command", &self.command)
            .field("shell", &self.shell)
            .field("cwd", &self.cwd)
            .field("env", &self.env)
            .field("timeout", &self.timeout)
            .field("kill_grace", &self.kill_grace)
            .finish_non_exhaustive()
    }
}

/// How one attempt ended, as measured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpawnResult {
    /// The exit code when the process exited.
    pub exit_code: Option<i32>,
    /// The signal that ended the process, when one did.
    pub signal: Option<i32>,
    /// It ran past its timeout and was stopped.
    pub timed_out: bool,
    /// A cancellation reached it while it ran (it was interrupted or killed).
    pub cancelled: bool,
    /// Wall time by the monotonic clock.
    pub duration: Duration,
    pub cpu_user: Duration,
    pub cpu_sys: Duration,
    pub peak_rss_bytes: u64,
    /// It could not be started (the shell is missing, ...) or waited for.
    pub error: Option<String>,
    /// Output still open after the process group ended (a process that left the
    /// group kept the pipe): reading was abandoned.
    pub output_abandoned: bool,
}

impl SpawnResult {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out && self.error.is_none()
    }

    /// The exit code a shell would report: the code, or 128 + signal.
    pub fn shell_exit_code(&self) -> Option<i32> {
        self.exit_code.or(self.signal.map(|s| 128 + s))
    }
}

/// Runs one attempt of a command to its end.
///
/// A spawner streams the command's output into `output` (which masks and logs it),
/// enforces `timeout` with `kill_grace`, and follows `cancel`: graceful forwards
/// SIGINT to the command, kill kills it. It blocks until the command is done.
pub trait Spawner: Send + Sync {
    fn run(&self, req: &SpawnRequest<'_>, output: &BeatOutput, cancel: &CancelToken)
    -> SpawnResult;

    /// After a cancelled run: stops what its beats started outside their process
    /// groups (`kill`: at once); returns how many processes that was.
    fn stop_leftovers(&self, run_id: &str, kill: bool) -> usize {
        let _ = (run_id, kill);
        0
    }
}
