//! Running one command and measuring it the same way for every side of a case.
//!
//! The command is spawned with [`std::process::Command`] in its own process group,
//! stdin from /dev/null and stdout/stderr to /dev/null (unless its output is needed).
//! The wall clock ([`Instant`]) starts just before the spawn and stops when the child
//! has exited; `waitid(WNOWAIT)` notices the exit without reaping, then `wait4` reaps
//! the child and returns its `rusage`: user and system CPU time and peak RSS. On Linux
//! those include the descendants the child itself waited for (a shell's commands,
//! baton's beats): CPU times are summed, peak RSS is the largest single process.
//!
//! A watchdog thread kills the process group when a command outlives its timeout; it
//! is stopped before the child is reaped, so it can never signal a recycled pid.

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// A command to measure: what to run, where, and with which environment.
#[derive(Debug, Clone)]
pub(crate) struct CmdSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    pub env: Vec<(String, OsString)>,
    pub env_remove: Vec<String>,
    /// Keep stdout (for commands whose output the case parses); otherwise /dev/null.
    pub capture_stdout: bool,
    pub timeout: Duration,
}

impl CmdSpec {
    pub(crate) fn new(program: impl Into<OsString>, cwd: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.into(),
            env: Vec::new(),
            env_remove: Vec::new(),
            capture_stdout: false,
            timeout: Duration::from_secs(120),
        }
    }

    pub(crate) fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    pub(crate) fn env_remove(mut self, key: &str) -> Self {
        self.env_remove.push(key.to_owned());
        self
    }

    pub(crate) fn capture_stdout(mut self) -> Self {
        self.capture_stdout = true;
        self
    }

    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .process_group(0);
        for key in &self.env_remove {
            cmd.env_remove(key);
        }
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd
    }
}

impl fmt::Display for CmdSpec {
    /// The command line as a user would type it (environment overrides first).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (key, value) in &self.env {
            write!(f, "{key}={} ", value.to_string_lossy())?;
        }
        let program = PathBuf::from(&self.program);
        let name = program
            .file_name()
            .map_or_else(|| self.program.to_string_lossy(), |n| n.to_string_lossy());
        write!(f, "{name}")?;
        for arg in &self.args {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '"') {
                write!(f, " '{arg}'")?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        Ok(())
    }
}

/// The error of a command killed for outliving its timeout (as opposed to one that
/// failed): `err.is::<TimedOut>()` tells them apart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

impl std::error::Error for TimedOut {}

/// One measured execution.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Sample {
    pub wall_ms: f64,
    pub cpu_user_ms: f64,
    pub cpu_sys_ms: f64,
    /// Peak resident set size in bytes (`ru_maxrss` is KiB on Linux).
    pub peak_rss_bytes: u64,
}

impl Sample {
    pub(crate) fn cpu_ms(&self) -> f64 {
        self.cpu_user_ms + self.cpu_sys_ms
    }
}

/// A measured execution and, when asked for, what it wrote to stdout.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub sample: Sample,
    pub stdout: String,
}

/// Runs `spec` once, measures it, and fails unless it exits 0.
pub(crate) fn measure(spec: &CmdSpec) -> Result<Outcome> {
    let mut cmd = spec.command();
    cmd.stdout(if spec.capture_stdout {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stderr(Stdio::null());

    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("failed to start `{spec}`"))?;
    let pid = libc::pid_t::try_from(child.id()).context("child pid out of range")?;
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let timeout = spec.timeout;
    let watchdog = std::thread::spawn(move || {
        if stop_rx.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
            // SAFETY: the child has not been reaped yet (the main thread joins this
            // thread before wait4), so `pid` still names our process group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            true
        } else {
            false
        }
    });

    let mut stdout = String::new();
    let read = match child.stdout.take() {
        Some(mut out) => out.read_to_string(&mut stdout).map(|_| ()),
        None => Ok(()),
    };
    let exited = wait_exited(pid);
    let wall = started.elapsed();
    // Stop the watchdog before reaping: after wait4 the pid may be reused.
    let _ = stop_tx.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let (status, usage) = reap(pid)?;
    exited?;
    read.with_context(|| format!("failed to read the output of `{spec}`"))?;
    if timed_out {
        return Err(anyhow::Error::new(TimedOut).context(format!(
            "`{spec}` did not finish within {} s and was killed",
            spec.timeout.as_secs()
        )));
    }
    check_status(spec, status)?;

    let sample = Sample {
        wall_ms: wall.as_secs_f64() * 1000.0,
        cpu_user_ms: timeval_ms(usage.ru_utime),
        cpu_sys_ms: timeval_ms(usage.ru_stime),
        peak_rss_bytes: u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024,
    };
    Ok(Outcome { sample, stdout })
}

/// Blocks until `pid` has exited, leaving it unreaped (`WNOWAIT`).
fn wait_exited(pid: libc::pid_t) -> Result<()> {
    let id = libc::id_t::try_from(pid).context("child pid out of range")?;
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value for waitid to fill in.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t for the duration of the call.
        let rc = unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("waitid failed");
        }
    }
}

/// Reaps `pid` with wait4 and returns its wait status and resource usage.
fn reap(pid: libc::pid_t) -> Result<(libc::c_int, libc::rusage)> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `status` and `usage` are valid, writable and live across the call.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            return Ok((status, usage));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("wait4 failed");
        }
    }
}

fn check_status(spec: &CmdSpec, status: libc::c_int) -> Result<()> {
    if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        if code != 0 {
            bail!(
                "`{spec}` exited with status {code}{}",
                diagnose(spec)
                    .map(|d| format!("; its stderr ends with:\n{d}"))
                    .unwrap_or_default()
            );
        }
        Ok(())
    } else if libc::WIFSIGNALED(status) {
        bail!("`{spec}` was killed by signal {}", libc::WTERMSIG(status))
    } else {
        bail!("`{spec}` ended with wait status {status:#x}")
    }
}

/// Runs a failed command again, unmeasured, to show the end of its stderr.
fn diagnose(spec: &CmdSpec) -> Option<String> {
    let mut cmd = spec.command();
    let output = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    (!tail.trim().is_empty()).then_some(tail)
}

fn timeval_ms(tv: libc::timeval) -> f64 {
    tv.tv_sec as f64 * 1000.0 + tv.tv_usec as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_sleep_as_wall_time_not_cpu() {
        let spec = CmdSpec::new("sleep", ".").arg("0.2");
        let s = measure(&spec).unwrap().sample;
        assert!(s.wall_ms >= 190.0, "{s:?}");
        assert!(s.cpu_ms() < 100.0, "{s:?}");
        assert!(s.peak_rss_bytes > 0, "{s:?}");
    }

    #[test]
    fn captures_stdout_when_asked() {
        let spec = CmdSpec::new("sh", ".")
            .args(["-c", "echo hello"])
            .capture_stdout();
        assert_eq!(measure(&spec).unwrap().stdout, "hello\n");
    }

    #[test]
    fn a_failing_command_is_an_error() {
        let spec = CmdSpec::new("sh", ".").args(["-c", "echo oops >&2; exit 3"]);
        let err = measure(&spec).unwrap_err().to_string();
        assert!(err.contains("status 3") && err.contains("oops"), "{err}");
    }

    #[test]
    fn a_command_past_its_timeout_is_killed() {
        let spec = CmdSpec::new("sleep", ".")
            .arg("5")
            .timeout(Duration::from_millis(200));
        let started = Instant::now();
        let err = measure(&spec).unwrap_err();
        assert!(err.is::<TimedOut>(), "{err:#}");
        assert!(
            format!("{err:#}").contains("did not finish within"),
            "{err:#}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
