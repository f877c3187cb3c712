//! The real [`Spawner`]: runs a command in its own process group and measures it
//! from the operating system.
//!
//! - A simple command runs without the shell when [`crate::direct`] allows (saving
//!   the shell's start-up), on Linux started by `crate::posix_spawn` with an
//!   environment built once per run; anything else, or a direct start that fails,
//!   goes through the configured shell (with `std::process::Command`).
//! - One thread per running beat (the scheduler's) does everything: it polls the
//!   child's stdout, stderr and exit (a pidfd on Linux; elsewhere a small waiter
//!   thread that wakes the poll through a pipe), so output, timeouts and
//!   cancellation are served by one loop.
//! - Wall time by the monotonic clock, from just before the spawn to the moment the
//!   exit is seen. Exit status, user and system CPU and peak RSS come from `wait4`
//!   (`std::process::Child::wait` is never used).
//! - Timeout: SIGTERM to the process group, SIGKILL after the grace period.
//! - Cancellation: graceful forwards SIGINT to the process group, kill sends SIGKILL.
//! - When the beat's main process ends, whatever is left in its process group after
//!   [`LEAVE_GRACE`] (100 ms, ended early once the group is empty) is killed
//!   (SIGKILL): **a beat that forks into the background is killed when it ends**,
//!   so nothing outlives the run. A process that moved itself to another process
//!   group or session (`setsid`) within that grace escapes this (see
//!   [`LEAVE_GRACE`] for the exact rule); if it still holds the beat's output open,
//!   baton stops reading it after [`ProcessSpawner::output_grace`] and says so in
//!   [`SpawnResult::output_abandoned`].
//! - A beat that closes its stdout early simply ends that stream.
//!
//! While a consumer is slow the loop waits in [`StreamWriter::write`] (the event
//! queue is bounded), so a beat's output can never grow baton's memory.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use baton_model::OutputStream;

use crate::cancel::{CancelLevel, CancelToken};
use crate::direct::direct_command;
use crate::output::{BeatOutput, CHUNK, StreamWriter};
use crate::spawner::{SpawnRequest, SpawnResult, Spawner};

/// Runs commands as real processes.
#[derive(Debug, Clone)]
pub struct ProcessSpawner {
    /// How often timeouts and cancellation are checked while a child runs.
    pub poll: Duration,
    /// How long to keep reading output once the process group is gone.
    pub output_grace: Duration,
    /// baton's environment, for plain commands (taken at the first start).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    inherited: crate::posix_spawn::InheritedEnv,
}

impl Default for ProcessSpawner {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(20),
            output_grace: Duration::from_secs(2),
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            inherited: Default::default(),
        }
    }
}

impl Spawner for ProcessSpawner {
    fn stop_leftovers(&self, run_id: &str, kill: bool) -> usize {
        crate::leftovers::stop_processes_of_run(run_id, kill)
    }

    fn run(
        &self,
        req: &SpawnRequest<'_>,
        output: &BeatOutput,
        cancel: &CancelToken,
    ) -> SpawnResult {
        let start = Instant::now();
        let child = match self.spawn(req) {
            Ok(child) => child,
            Err(error) => {
                return SpawnResult {
                    error: Some(error),
                    ..SpawnResult::default()
                };
            }
        };
        watch(self, start, child, output, None, true, req, cancel)
    }
}

/// Watches a started child that stays in baton's own process group (see
/// [`crate::passthrough`]): its output is copied to `tees` as it comes, then
/// masked and logged like a beat's; signals go to the child alone.
pub(crate) fn watch_in_own_group(
    spawner: &ProcessSpawner,
    started: Instant,
    child: std::process::Child,
    output: &BeatOutput,
    tees: [Tee; 2],
    req: &SpawnRequest<'_>,
    cancel: &CancelToken,
) -> SpawnResult {
    let child = match Child::from_std(child) {
        Ok(child) => child,
        Err(error) => {
            return SpawnResult {
                error: Some(error),
                ..SpawnResult::default()
            };
        }
    };
    watch(
        spawner,
        started,
        child,
        output,
        Some(tees),
        false,
        req,
        cancel,
    )
}

/// Copies a started child's output (through `tees`, when given) into the beat's
/// output and waits for it to end. `own_group`: the child leads a process group of
/// its own, which signals and leftovers are sent to; otherwise only the child is
/// signalled.
#[allow(clippy::too_many_arguments)]
fn watch(
    spawner: &ProcessSpawner,
    start: Instant,
    child: Child,
    output: &BeatOutput,
    tees: Option<[Tee; 2]>,
    own_group: bool,
    req: &SpawnRequest<'_>,
    cancel: &CancelToken,
) -> SpawnResult {
    let pid = child.pid;
    let [out_tee, err_tee] = tees.map_or([None, None], |[out, err]| [Some(out), Some(err)]);
    let streams = [
        Some(Stream::new(
            child.stdout,
            output.stream(OutputStream::Stdout),
            out_tee,
        )),
        Some(Stream::new(
            child.stderr,
            output.stream(OutputStream::Stderr),
            err_tee,
        )),
    ];
    if let Some(on_started) = req.on_started {
        on_started();
    }
    let exit = match ExitWatch::new(pid) {
        Ok(exit) => exit,
        Err(err) => {
            // Nothing can tell us when it ends: do not leave it running.
            if own_group {
                kill_group(pid, libc::SIGKILL);
            } else {
                signal_process(pid, libc::SIGKILL);
            }
            let _ = reap(pid);
            return SpawnResult {
                error: Some(format!("failed to watch the process: {err}")),
                ..SpawnResult::default()
            };
        }
    };
    Watch {
        pid,
        own_group,
        start,
        timeout: req.timeout,
        kill_grace: req.kill_grace,
        poll: spawner.poll,
        output_grace: spawner.output_grace,
        streams,
        exit: Some(exit),
    }
    .run(cancel)
}

/// Where a pass-through stream's bytes are copied, as they come: baton's own
/// stdout or stderr, written through and flushed at once (nothing is held back,
/// not even a partial line: a prompt shows before its answer is typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tee {
    Stdout,
    Stderr,
}

impl Tee {
    fn write(self, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        match self {
            Self::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)?;
                out.flush()
            }
            Self::Stderr => io::stderr().lock().write_all(bytes),
        }
    }
}

/// A started child: its pid and the read ends of its stdout and stderr. It is
/// reaped by `wait4` (no `std::process::Child` is kept).
struct Child {
    pid: libc::pid_t,
    stdout: std::fs::File,
    stderr: std::fs::File,
}

impl Child {
    fn from_std(mut child: std::process::Child) -> Result<Self, String> {
        let pid = libc::pid_t::try_from(child.id())
            .map_err(|_| "failed to track the process: pid out of range".to_owned())?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err("failed to read the process's output: no pipes".to_owned());
        };
        // Dropping a std Child neither waits for nor kills it: wait4 reaps it.
        Ok(Self {
            pid,
            stdout: OwnedFd::from(stdout).into(),
            stderr: OwnedFd::from(stderr).into(),
        })
    }
}

impl ProcessSpawner {
    /// Starts `req` directly when [`direct_command`] allows (falling back to the
    /// shell if that start fails), else through the shell; in its own process
    /// group.
    fn spawn(&self, req: &SpawnRequest<'_>) -> Result<Child, String> {
        if let Some(direct) = direct_command(req.command, req.shell, req.env)
            && let Some(child) = self.spawn_direct(req, &direct)
        {
            return Ok(child);
        }
        let mut command = Command::new(&req.shell.program);
        command.args(&req.shell.args).arg(req.command);
        configure(&mut command, req);
        let started = command.spawn().map_err(|err| {
            if req.cwd.is_dir() {
                format!("failed to start the shell '{}': {err}", req.shell)
            } else {
                format!(
                    "failed to enter the directory {}: it does not exist",
                    req.cwd.display()
                )
            }
        })?;
        Child::from_std(started)
    }

    /// A plain command started without its shell; `None` when that fails.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn spawn_direct(
        &self,
        req: &SpawnRequest<'_>,
        direct: &crate::direct::DirectCommand,
    ) -> Option<Child> {
        use std::ffi::OsStr;
        let pwd = shell_pwd(req);
        let mut env: Vec<(&str, &OsStr)> = req
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), OsStr::new(v)))
            .collect();
        env.push(("PWD", pwd.as_os_str()));
        // What bash exports for the command it runs (baton's own path otherwise).
        env.push(("_", direct.program.as_os_str()));
        let argv: Vec<&OsStr> = std::iter::once(OsStr::new(&direct.argv0))
            .chain(direct.args.iter().map(OsStr::new))
            .collect();
        let started =
            crate::posix_spawn::spawn(&direct.program, &argv, req.cwd, &env, &self.inherited)
                .ok()?;
        Some(Child {
            pid: started.pid,
            stdout: started.stdout,
            stderr: started.stderr,
        })
    }

    /// A plain command started without its shell; `None` when that fails.
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    fn spawn_direct(
        &self,
        req: &SpawnRequest<'_>,
        direct: &crate::direct::DirectCommand,
    ) -> Option<Child> {
        let mut command = Command::new(&direct.program);
        command.arg0(&direct.argv0).args(&direct.args);
        configure(&mut command, req);
        command.env("PWD", shell_pwd(req));
        command.env("_", &direct.program);
        Child::from_std(command.spawn().ok()?).ok()
    }
}

/// The `PWD` a shell started in the beat's directory would export: the inherited
/// one when it names that directory (it may be a logical path through a symlink),
/// else the directory's absolute path.
fn shell_pwd(req: &SpawnRequest<'_>) -> std::path::PathBuf {
    use std::os::unix::fs::MetadataExt;
    let inherited = match req.env.iter().rev().find(|(k, _)| k == "PWD") {
        Some((_, v)) => Some(std::path::PathBuf::from(v)),
        None => std::env::var_os("PWD").map(std::path::PathBuf::from),
    };
    let same_dir = |a: &Path, b: &Path| match (a.metadata(), b.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    };
    match inherited {
        Some(pwd) if pwd.is_absolute() && same_dir(&pwd, req.cwd) => pwd,
        _ => std::path::absolute(req.cwd).unwrap_or_else(|_| req.cwd.to_owned()),
    }
}

fn configure(command: &mut Command, req: &SpawnRequest<'_>) {
    command
        .current_dir(req.cwd)
        .envs(req.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // setpgid(0, 0) in the child before exec: the child leads its own group,
        // so signals reach everything it starts and nothing of baton's.
        .process_group(0);
}

/// One of the child's output pipes and where its bytes go.
struct Stream {
    pipe: Box<dyn Read + Send>,
    fd: RawFd,
    writer: StreamWriter,
    /// Where the raw bytes are copied first (pass-through); dropped at the first
    /// failed write (a closed pipe), after which the output is only logged.
    tee: Option<Tee>,
}

impl Stream {
    fn new(
        pipe: impl Read + AsRawFd + Send + 'static,
        writer: StreamWriter,
        tee: Option<Tee>,
    ) -> Self {
        Self {
            fd: pipe.as_raw_fd(),
            pipe: Box::new(pipe),
            writer,
            tee,
        }
    }

    /// Reads what is there (poll said so) into the writer; `false` at EOF.
    fn pump(&mut self, buf: &mut [u8]) -> bool {
        loop {
            match self.pipe.read(buf) {
                Ok(0) => return false,
                Ok(n) => {
                    if let Some(tee) = self.tee
                        && tee.write(&buf[..n]).is_err()
                    {
                        self.tee = None;
                    }
                    self.writer.write(&buf[..n]);
                    return true;
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }
}

/// The child's exit as something `poll` can wait on.
enum ExitWatch {
    /// Linux: readable once the process has exited.
    Pidfd(OwnedFd),
    /// Elsewhere (or a kernel without pidfd_open): a thread waits for the exit
    /// (without reaping) and closes the write end of this pipe.
    Pipe(OwnedFd),
}

impl ExitWatch {
    fn new(pid: libc::pid_t) -> io::Result<Self> {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            if let Ok(fd) = RawFd::try_from(fd)
                && fd >= 0
            {
                // SAFETY: the kernel just returned this fd to us; nothing else owns it.
                return Ok(Self::Pidfd(unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        // Close-on-exec, so that no other beat's child inherits the write end.
        let (read, write) = io::pipe()?;
        std::thread::spawn(move || {
            wait_for_exit(pid);
            drop(write);
        });
        Ok(Self::Pipe(read.into()))
    }

    fn fd(&self) -> RawFd {
        match self {
            Self::Pidfd(fd) | Self::Pipe(fd) => fd.as_raw_fd(),
        }
    }
}

/// Blocks until `pid` has exited, leaving it to be reaped (WNOWAIT).
fn wait_for_exit(pid: libc::pid_t) {
    loop {
        // SAFETY: siginfo_t is a plain C struct for which all-zero bytes are valid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a live, writable siginfo_t.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return;
        }
    }
}

thread_local! {
    /// The buffer the beats watched by this thread are read into: made once per
    /// thread, not zeroed anew for every beat.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A started child, watched to its end.
struct Watch {
    pid: libc::pid_t,
    /// The child leads a process group of its own (a beat): signals go to the
    /// whole group, and what is left in it when the child ends is stopped. `false`
    /// for a pass-through command, which stays in baton's group: signals go to it
    /// alone.
    own_group: bool,
    start: Instant,
    timeout: Option<Duration>,
    kill_grace: Duration,
    poll: Duration,
    output_grace: Duration,
    streams: [Option<Stream>; 2],
    /// `None` once the child is reaped: from then on its pid (and group id) may
    /// belong to another process, so it is never signalled again.
    exit: Option<ExitWatch>,
}

impl Watch {
    /// Sends `signal` to the child's group, or to the child alone when it has none.
    fn signal(&self, signal: libc::c_int) {
        if self.own_group {
            kill_group(self.pid, signal);
        } else {
            signal_process(self.pid, signal);
        }
    }

    /// Whether the child has exited, without waiting.
    fn has_exited(&self) -> bool {
        let Some(exit) = &self.exit else {
            return true;
        };
        let mut fd = libc::pollfd {
            fd: exit.fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `fd` is one live, writable pollfd.
        unsafe { libc::poll(&mut fd, 1, 0) == 1 }
    }

    /// The child exited at `at`: reap it, then stop what is left of its group.
    fn reaped(&mut self, at: Instant, deadline: Option<Instant>, result: &mut SpawnResult) {
        self.exit = None;
        let reaped = reap(self.pid);
        // The main process is gone: nothing else of the beat may stay behind, but
        // what is on its way out of the group (`setsid`) gets to leave first.
        match reaped {
            Ok(_) if self.own_group => end_group(self.pid),
            Ok(_) => {}
            // Not reaped here: the group id is only known to be ours at once.
            Err(_) => self.signal(libc::SIGKILL),
        }
        // It may have exited on its own just before the deadline passed and SIGTERM
        // was sent: that is not a timeout.
        if let Some(deadline) = deadline
            && at < deadline
        {
            result.timed_out = false;
        }
        result.duration = at.saturating_duration_since(self.start);
        match reaped {
            Ok((status, rusage)) => {
                if libc::WIFEXITED(status) {
                    result.exit_code = Some(libc::WEXITSTATUS(status));
                } else if libc::WIFSIGNALED(status) {
                    result.signal = Some(libc::WTERMSIG(status));
                }
                result.cpu_user = timeval(rusage.ru_utime);
                result.cpu_sys = timeval(rusage.ru_stime);
                result.peak_rss_bytes = maxrss_bytes(rusage.ru_maxrss);
            }
            Err(err) => {
                result.error = Some(format!("failed to wait for the process: {err}"));
            }
        }
    }

    fn run(self, cancel: &CancelToken) -> SpawnResult {
        READ_BUF.with_borrow_mut(|buf| {
            buf.resize(CHUNK, 0);
            self.watch(cancel, buf)
        })
    }

    fn watch(mut self, cancel: &CancelToken, buf: &mut [u8]) -> SpawnResult {
        let mut result = SpawnResult::default();
        let deadline = self.timeout.map(|t| self.start + t);
        let mut term_sent_at: Option<Instant> = None;
        let mut interrupted = false;
        let mut killed = false;
        let mut output_deadline: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let mut wake = self.poll;
            if self.exit.is_some() {
                // A child that exited while output was being pumped is not late.
                if let Some(deadline) = deadline
                    && now >= deadline
                    && term_sent_at.is_none()
                    && !self.has_exited()
                {
                    result.timed_out = true;
                    self.signal(libc::SIGTERM);
                    term_sent_at = Some(now);
                }
                if let Some(sent) = term_sent_at
                    && !killed
                    && now >= sent + self.kill_grace
                {
                    self.signal(libc::SIGKILL);
                    killed = true;
                }
                match cancel.level() {
                    CancelLevel::None => {}
                    CancelLevel::Graceful if !interrupted => {
                        result.cancelled = true;
                        interrupted = true;
                        self.signal(libc::SIGINT);
                    }
                    CancelLevel::Kill if !killed => {
                        result.cancelled = true;
                        killed = true;
                        self.signal(libc::SIGKILL);
                    }
                    _ => {}
                }
                if let Some(deadline) = deadline
                    && term_sent_at.is_none()
                {
                    wake = wake.min(deadline.saturating_duration_since(now));
                }
            } else if self.streams.iter().all(Option::is_none) {
                break;
            } else if let Some(until) = output_deadline {
                if now >= until {
                    result.output_abandoned = true;
                    break;
                }
                wake = until.saturating_duration_since(now);
            }

            let mut fds: Vec<libc::pollfd> = self
                .streams
                .iter()
                .flatten()
                .map(|s| s.fd)
                .chain(self.exit.as_ref().map(ExitWatch::fd))
                .map(|fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let timeout_ms = libc::c_int::try_from(wake.as_millis().max(1)).unwrap_or(1000);
            let nfds = libc::nfds_t::try_from(fds.len()).unwrap_or(0);
            // SAFETY: `fds` is a live, writable array of `nfds` pollfd structs.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), nfds, timeout_ms) };
            if ready <= 0 {
                // A timeout, or EINTR: go round and check the clocks again.
                continue;
            }
            // The exit first, timed as poll saw it: pumping output can wait on a
            // slow consumer, which must not count in the beat's duration.
            let polled_at = Instant::now();
            if self.exit.is_some() && fds.last().is_some_and(|p| p.revents != 0) {
                self.reaped(polled_at, deadline, &mut result);
                output_deadline = Some(polled_at + self.output_grace);
            }
            let mut revents = fds.iter().map(|p| p.revents);
            for slot in &mut self.streams {
                let Some(stream) = slot.as_mut() else {
                    continue;
                };
                if revents.next().unwrap_or(0) != 0 && !stream.pump(buf) {
                    // EOF: dropping the writer flushes a last line without newline.
                    *slot = None;
                }
            }
        }
        result
    }
}

/// Reaps `pid` with its exit status and resource usage.
fn reap(pid: libc::pid_t) -> io::Result<(libc::c_int, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is a plain C struct for which all-zero bytes are valid.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the right types.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        if rc == pid {
            return Ok((status, rusage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// How long the processes left in a beat's process group after its main process
/// ended get to leave the group (`setsid`) or end before the group is killed.
///
/// The rule: when the beat's main process ends, baton checks its process group
/// every 2 ms; as soon as the group is empty the beat is over; once
/// [`LEAVE_GRACE`] has passed, whatever is still in the group is killed (SIGKILL).
/// A process that is in a session of its own by then (`setsid cmd &`, `setsid -f
/// cmd`, a daemon) outlives the beat; one that is still in the group does not
/// (`cmd &`). A beat whose group is empty when it ends waits for nothing.
pub const LEAVE_GRACE: Duration = Duration::from_millis(100);
/// How often the group is checked during [`LEAVE_GRACE`].
const LEAVE_POLL: Duration = Duration::from_millis(2);

/// Ends the process group `pgid` of a reaped beat: waits up to [`LEAVE_GRACE`] for
/// its members to leave it or end, then kills those still in it.
///
/// Only called once the group's leader is reaped: from then on `kill(-pgid, 0)`
/// succeeds only while the group has members (the group's id, the leader's pid,
/// cannot be given to a new process while the group exists), and a zombie leader
/// would otherwise count as one.
fn end_group(pgid: libc::pid_t) {
    if !group_has_members(pgid) {
        return;
    }
    let deadline = Instant::now() + LEAVE_GRACE;
    while Instant::now() < deadline {
        std::thread::sleep(LEAVE_POLL);
        if !group_has_members(pgid) {
            return;
        }
    }
    kill_group(pgid, libc::SIGKILL);
}

/// Whether the process group `pgid` still has a member this process may signal.
fn group_has_members(pgid: libc::pid_t) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks the group exists.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// Sends `signal` to the process group `pgid` (an error such as "no such process
/// group" means there is nothing left to signal).
fn kill_group(pgid: libc::pid_t, signal: libc::c_int) {
    // kill(-1) would signal every process we may signal: never let that happen.
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill has no memory-safety preconditions; a negative pid addresses the
    // process group, which is the child's own (it was created with process_group(0)).
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Sends `signal` to the process `pid` alone (never to a group, never to all).
fn signal_process(pid: libc::pid_t, signal: libc::c_int) {
    if pid <= 1 {
        return;
    }
    // SAFETY: kill has no memory-safety preconditions; a positive pid addresses
    // one process, the child not yet reaped.
    unsafe {
        libc::kill(pid, signal);
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u64::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// `ru_maxrss` is in KiB on Linux and the BSDs, in bytes on macOS.
fn maxrss_bytes(maxrss: libc::c_long) -> u64 {
    let value = u64::try_from(maxrss).unwrap_or(0);
    if cfg!(target_os = "macos") {
        value
    } else {
        value * 1024
    }
}
