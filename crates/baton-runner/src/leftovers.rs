//! Processes a cancelled run leaves behind outside its beats' process groups.
//!
//! Each beat runs in its own process group, and whatever is still in that group
//! shortly after the beat ends is killed (see [`crate::process::LEAVE_GRACE`]). A
//! process that starts its own session (`setsid`, a
//! daemon) leaves the group: after a normal run that is how a beat starts a service
//! on purpose, but a cancelled run must leave nothing behind. Every process a beat
//! starts inherits `BATON_RUN_ID`, so when a run is cancelled the processes of this
//! user whose environment carries this run's id are stopped too (what CI runners do
//! with their own tracking variable). What a rollback starts carries
//! [`ROLLBACK_MARK`] too and is left alone: it may be the service the rollback put
//! back. Linux only (`/proc`); a process that cleared its environment is not found.

use std::time::{Duration, Instant};

/// In the environment of a rollback (`BATON_ROLLBACK=1`).
pub const ROLLBACK_MARK: &str = "BATON_ROLLBACK";

/// How long the leftovers get to end after SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(1);

/// Stops every process (but this one) whose environment has `BATON_RUN_ID=run_id`:
/// SIGTERM, then SIGKILL for those still there after a short grace (at once when
/// `kill`). Returns how many were found.
pub fn stop_processes_of_run(run_id: &str, kill: bool) -> usize {
    let pids = processes_of_run(run_id);
    if pids.is_empty() {
        return 0;
    }
    let first = if kill { libc::SIGKILL } else { libc::SIGTERM };
    for &pid in &pids {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid, first) };
    }
    if !kill {
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline && pids.iter().any(|&pid| alive(pid)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Looked up again, not from `pids`: a pid that ended may have been reused
        // by another process, and a leftover may have forked meanwhile.
        for pid in processes_of_run(run_id) {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    pids.len()
}

/// The pids whose environment holds exactly `BATON_RUN_ID=run_id` and not the
/// rollback mark.
#[cfg(target_os = "linux")]
fn processes_of_run(run_id: &str) -> Vec<libc::pid_t> {
    let needle = format!("BATON_RUN_ID={run_id}");
    let rollback = format!("{ROLLBACK_MARK}=1");
    let own = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != own)
        .filter(|pid| {
            // Another user's process, or one that ended meanwhile, cannot be read.
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                let mut vars = env.split(|&b| b == 0);
                vars.clone().any(|v| v == needle.as_bytes())
                    && !vars.any(|v| v == rollback.as_bytes())
            })
        })
        .filter_map(|pid| libc::pid_t::try_from(pid).ok())
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn processes_of_run(_run_id: &str) -> Vec<libc::pid_t> {
    Vec::new()
}

/// Whether `pid` still runs (a zombie waiting for its parent counts as ended).
fn alive(pid: libc::pid_t) -> bool {
    #[cfg(target_os = "linux")]
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        return stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'));
    }
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::process::{Command, Stdio};

    use super::*;

    #[test]
    fn a_process_carrying_the_run_id_is_stopped_and_others_and_rollbacks_are_not() {
        let run_id = format!("test-{}", std::process::id());
        let mut ours = Command::new("sleep")
            .arg("30")
            .env("BATON_RUN_ID", &run_id)
            .stdout(Stdio::null())
            .spawn()
            .expect("sleep starts");
        let mut other = Command::new("sleep")
            .arg("30")
            .env("BATON_RUN_ID", format!("{run_id}-other"))
            .spawn()
            .expect("sleep starts");
        let mut restored = Command::new("sleep")
            .arg("30")
            .env("BATON_RUN_ID", &run_id)
            .env(ROLLBACK_MARK, "1")
            .spawn()
            .expect("sleep starts");
        assert_eq!(stop_processes_of_run(&run_id, false), 1);
        let status = ours.wait().expect("waits");
        assert!(!status.success(), "stopped by a signal");
        for (what, child) in [
            ("another run's", &mut other),
            ("a rollback's", &mut restored),
        ] {
            assert_eq!(child.try_wait().expect("try_wait"), None, "{what}: alive");
            child.kill().expect("kills");
            let _ = child.wait();
        }
    }
}
