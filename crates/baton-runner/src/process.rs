//! The real [`Spawner`]: runs a command through the shell in its own process group
//! and measures it from the operating system.
//!
//! - Wall time by the monotonic clock, taken by the thread that reaps the child.
//! - Exit status, user and system CPU and peak RSS from `wait4`, called by one
//!   dedicated thread per child (`std::process::Child::wait` is never used).
//! - stdout and stderr are read by one thread each into [`BeatOutput`]; a beat that
//!   closes its stdout early simply ends that reader.
//! - Timeout: SIGTERM to the process group, SIGKILL after the grace period.
//! - Cancellation: graceful forwards SIGINT to the process group, kill sends SIGKILL.
//! - When the beat's main process ends, whatever is left in its process group is
//!   killed (SIGKILL): **a beat that forks into the background is killed when it
//!   ends**, so nothing outlives the run. A process that moved itself to another
//!   process group or session (`setsid`) escapes this; if it still holds the beat's
//!   output open, baton stops reading it after [`ProcessSpawner::output_grace`] and
//!   says so in [`SpawnResult::output_abandoned`].

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use baton_model::OutputStream;

use crate::cancel::{CancelLevel, CancelToken};
use crate::output::{BeatOutput, CHUNK, StreamWriter};
use crate::spawner::{SpawnRequest, SpawnResult, Spawner};

/// Runs commands as real processes.
#[derive(Debug, Clone)]
pub struct ProcessSpawner {
    /// How often timeouts and cancellation are checked while a child runs.
    pub poll: Duration,
    /// How long to keep reading output once the process group is gone.
    pub output_grace: Duration,
}

impl Default for ProcessSpawner {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(20),
            output_grace: Duration::from_secs(2),
        }
    }
}

/// What `wait4` said about a child.
struct Reaped {
    status: Result<libc::c_int, io::Error>,
    rusage: libc::rusage,
    at: Instant,
}

impl Spawner for ProcessSpawner {
    fn run(
        &self,
        req: &SpawnRequest<'_>,
        output: &BeatOutput,
        cancel: &CancelToken,
    ) -> SpawnResult {
        let mut command = Command::new(&req.shell.program);
        command
            .args(&req.shell.args)
            .arg(req.command)
            .current_dir(req.cwd)
            .envs(req.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // setpgid(0, 0) in the child before exec: the child leads its own group,
            // so signals reach everything it starts and nothing of baton's.
            .process_group(0);

        let start = Instant::now();
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                let error = if req.cwd.is_dir() {
                    format!("failed to start the shell '{}': {err}", req.shell)
                } else {
                    format!(
                        "failed to enter the directory {}: it does not exist",
                        req.cwd.display()
                    )
                };
                return SpawnResult {
                    error: Some(error),
                    ..SpawnResult::default()
                };
            }
        };
        let Ok(pid) = libc::pid_t::try_from(child.id()) else {
            return SpawnResult {
                error: Some("failed to track the process: pid out of range".into()),
                ..SpawnResult::default()
            };
        };
        let pipes = (child.stdout.take(), child.stderr.take());
        // Dropping a Child neither waits for nor kills it: wait4 below reaps it.
        drop(child);

        // The group can be signalled until its leader is reaped; after that its id
        // could be reused, so signalling and reaping are serialised by this lock.
        let group = Arc::new(Group {
            pgid: pid,
            reaped: Mutex::new(false),
        });
        let (reaped_tx, reaped_rx) = mpsc::channel();
        let waiter_group = Arc::clone(&group);
        thread::spawn(move || {
            let _ = reaped_tx.send(wait_for(&waiter_group));
        });

        let stop_reading = Arc::new(AtomicBool::new(false));
        let (readers_tx, readers_rx) = mpsc::channel::<()>();
        let mut readers = 0;
        if let Some(stdout) = pipes.0 {
            readers += 1;
            spawn_reader(
                stdout,
                output.stream(OutputStream::Stdout),
                &stop_reading,
                readers_tx.clone(),
            );
        }
        if let Some(stderr) = pipes.1 {
            readers += 1;
            spawn_reader(
                stderr,
                output.stream(OutputStream::Stderr),
                &stop_reading,
                readers_tx.clone(),
            );
        }
        drop(readers_tx);

        let mut result = SpawnResult::default();
        let deadline = req.timeout.map(|t| start + t);
        let mut term_sent_at: Option<Instant> = None;
        let mut interrupted = false;
        let mut killed = false;
        let reaped = loop {
            let now = Instant::now();
            if let Some(deadline) = deadline
                && now >= deadline
                && term_sent_at.is_none()
            {
                result.timed_out = true;
                group.signal(libc::SIGTERM);
                term_sent_at = Some(now);
            }
            if let Some(sent) = term_sent_at
                && !killed
                && now >= sent + req.kill_grace
            {
                group.signal(libc::SIGKILL);
                killed = true;
            }
            match cancel.level() {
                CancelLevel::None => {}
                CancelLevel::Graceful => {
                    if !interrupted {
                        result.cancelled = true;
                        interrupted = true;
                        group.signal(libc::SIGINT);
                    }
                }
                CancelLevel::Kill => {
                    if !killed {
                        result.cancelled = true;
                        killed = true;
                        group.signal(libc::SIGKILL);
                    }
                }
            }
            let mut wake = self.poll;
            if let Some(deadline) = deadline
                && term_sent_at.is_none()
            {
                wake = wake.min(deadline.saturating_duration_since(now));
            }
            match reaped_rx.recv_timeout(wake) {
                Ok(reaped) => break Some(reaped),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break None,
            }
        };

        match reaped {
            Some(reaped) => {
                // It may have exited on its own just before the deadline passed and
                // SIGTERM was sent: that is not a timeout.
                if let Some(deadline) = deadline
                    && reaped.at < deadline
                {
                    result.timed_out = false;
                }
                result.duration = reaped.at.saturating_duration_since(start);
                match reaped.status {
                    Ok(status) => {
                        if libc::WIFEXITED(status) {
                            result.exit_code = Some(libc::WEXITSTATUS(status));
                        } else if libc::WIFSIGNALED(status) {
                            result.signal = Some(libc::WTERMSIG(status));
                        }
                        result.cpu_user = timeval(reaped.rusage.ru_utime);
                        result.cpu_sys = timeval(reaped.rusage.ru_stime);
                        result.peak_rss_bytes = maxrss_bytes(reaped.rusage.ru_maxrss);
                    }
                    Err(err) => {
                        result.error = Some(format!("failed to wait for the process: {err}"))
                    }
                }
            }
            None => {
                result.duration = start.elapsed();
                result.error =
                    Some("failed to wait for the process: the waiting thread died".into());
            }
        }

        // Readers end on EOF, which comes once every writer of the pipes is gone.
        let until = Instant::now() + self.output_grace;
        for _ in 0..readers {
            if readers_rx
                .recv_timeout(until.saturating_duration_since(Instant::now()))
                .is_err()
            {
                stop_reading.store(true, Ordering::SeqCst);
                result.output_abandoned = true;
                break;
            }
        }
        result
    }
}

fn spawn_reader(
    mut pipe: impl Read + Send + 'static,
    mut writer: StreamWriter,
    stop: &Arc<AtomicBool>,
    done: mpsc::Sender<()>,
) {
    let stop = Arc::clone(stop);
    thread::spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    writer.write(&buf[..n]);
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        drop(writer); // flushes a last line without newline
        let _ = done.send(());
    });
}

/// A beat's process group, led by the beat's main process.
struct Group {
    pgid: libc::pid_t,
    /// Set (under the lock) just before the leader is reaped.
    reaped: Mutex<bool>,
}

impl Group {
    /// Sends `signal` to the whole group unless its leader was reaped already.
    fn signal(&self, signal: libc::c_int) {
        let reaped = self.reaped.lock().unwrap_or_else(PoisonError::into_inner);
        if !*reaped {
            kill_group(self.pgid, signal);
        }
    }
}

/// Waits for the group leader to exit, kills what is left of its group, then reaps
/// it with its resource usage. Until it is reaped the leader is a zombie holding
/// its pid, so the group id cannot have been reused by then.
fn wait_for(group: &Group) -> Reaped {
    let pid = group.pgid;
    loop {
        // SAFETY: siginfo_t is a plain C struct for which all-zero bytes are valid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a live, writable siginfo_t; WNOWAIT leaves the child
        // waitable, so wait4 below still reaps it.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break;
        }
    }
    let at = Instant::now();
    let mut reaped = group.reaped.lock().unwrap_or_else(PoisonError::into_inner);
    // The main process is gone: nothing else of the beat may stay behind.
    kill_group(pid, libc::SIGKILL);
    *reaped = true;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is a plain C struct for which all-zero bytes are valid.
    let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the right types.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        if rc == pid {
            return Reaped {
                status: Ok(status),
                rusage,
                at,
            };
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Reaped {
                status: Err(err),
                rusage,
                at,
            };
        }
    }
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
