//! How a run stops through the binary: Ctrl-C, SIGTERM and SIGHUP cancel it and
//! leave no process behind, and a beat that fails for good has the rollbacks of its
//! movement's completed beats run and recorded, whatever Ctrl-C does meanwhile.

mod common;

use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use common::Project;

fn pipeline(beats: &str) -> String {
    format!("version: 1\nid: 0b7c4d1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e\nname: t\nmovements:\n{beats}")
}

/// `baton run` in the project, started in the background.
fn start_run(project: &Project) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("baton"))
        .current_dir(project.path())
        .args(["run", "--output", "quiet"])
        .env("NO_COLOR", "1")
        .spawn()
        .expect("spawn baton")
}

fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(path)
        .map(|s| s.trim().is_empty())
        .unwrap_or(true)
    {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pid_in(path: &Path) -> i32 {
    wait_for_file(path);
    std::fs::read_to_string(path)
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid")
}

fn signal(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).expect("pid fits");
    // SAFETY: a plain signal to a child process we own.
    unsafe { libc::kill(pid, signal) };
}

fn wait_with_deadline(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("baton did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `pid` runs (an exited process not yet reaped by its parent does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn beat<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["beats"]
        .as_array()
        .expect("beats")
        .iter()
        .find(|b| b["beat"] == name)
        .unwrap_or_else(|| panic!("no beat {name}"))
}

#[test]
fn ctrl_c_cancels_records_and_leaves_no_process_behind() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: sleepy, run: 'sleep 300 & echo $! > grandchild.pid; wait' }\n",
    ));
    let mut child = start_run(&project);
    let grandchild = pid_in(&project.join("grandchild.pid"));
    signal(&child, libc::SIGINT);
    let status = wait_with_deadline(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(grandchild), "grandchild {grandchild} survived");
    let report = project.latest_json();
    assert_eq!(report["run"]["status"], "cancelled");
    assert_eq!(beat(&report, "sleepy")["status"], "cancelled");
    // A beat cut short is not judged against its SLO.
    let out = project
        .baton(&["report", "latest", "--format", "json"])
        .output()
        .expect("report");
    let judged: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(judged["summary"]["compliant"], 0, "{}", judged["summary"]);
}

#[test]
fn a_hangup_cancels_like_ctrl_c_and_stops_what_left_the_process_group() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: spawner, run: 'setsid sleep 301 & echo $! > daemon.pid; sleep 302 & echo $! > child.pid; wait' }\n",
    ));
    let mut child = start_run(&project);
    let daemon = pid_in(&project.join("daemon.pid"));
    let grandchild = pid_in(&project.join("child.pid"));
    assert!(alive(daemon) && alive(grandchild));
    signal(&child, libc::SIGHUP);
    let status = wait_with_deadline(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(128 + libc::SIGHUP), "128 + SIGHUP");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(grandchild), "the beat's child {grandchild} survived");
    assert!(
        !alive(daemon),
        "the process in its own session {daemon} survived"
    );
    assert_eq!(project.latest_json()["run"]["status"], "cancelled");
}

#[test]
fn rollbacks_run_in_reverse_order_and_are_recorded() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: m\n    beats:\n      - { name: first, run: 'true', rollback: 'echo first >> undone' }\n      - { name: second, run: 'true', rollback: 'echo second >> undone; exit 3' }\n      - { name: bad, run: 'exit 1' }\n",
    ));
    let out = project.baton(&["run"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(project.read("undone"), "second\nfirst\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("↺ second: failure (exit 3)") && stdout.contains("↺ first: undone"),
        "{stdout}"
    );
    let report = project.latest_json();
    assert_eq!(beat(&report, "first")["rollback"]["status"], "success");
    assert_eq!(beat(&report, "second")["rollback"]["status"], "failure");
    assert_eq!(beat(&report, "second")["rollback"]["exit_code"], 3);
    assert!(beat(&report, "bad")["rollback"].is_null());
}

#[test]
fn ctrl_c_during_a_rollback_lets_it_finish_and_cancels_the_run() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: m\n    beats:\n      - { name: deploy, run: 'true', rollback: 'echo $$ > rolling.pid; sleep 1; touch undone' }\n      - { name: bad, run: 'exit 1' }\n",
    ));
    let mut child = start_run(&project);
    pid_in(&project.join("rolling.pid"));
    signal(&child, libc::SIGINT);
    let status = wait_with_deadline(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
    assert!(
        project.join("undone").exists(),
        "the rollback was cut short"
    );
    let report = project.latest_json();
    assert_eq!(report["run"]["status"], "cancelled");
    assert_eq!(beat(&report, "deploy")["rollback"]["status"], "success");
}

#[test]
fn a_failure_then_ctrl_c_still_runs_the_rollbacks() {
    let project = Project::with_pipeline(&pipeline(
        "  - name: m\n    parallel: true\n    beats:\n      - { name: ok, run: 'true', rollback: 'touch undone' }\n      - { name: bad, run: 'sleep 0.2; echo $$ > failed.pid; exit 1' }\n      - { name: slow, run: 'sleep 30' }\n",
    ));
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("baton"))
        .current_dir(project.path())
        .args(["run", "--output", "quiet", "-j", "3"])
        .spawn()
        .expect("spawn baton");
    pid_in(&project.join("failed.pid"));
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGINT);
    let status = wait_with_deadline(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
    assert!(project.join("undone").exists(), "ok's rollback did not run");
    let report = project.latest_json();
    assert_eq!(beat(&report, "slow")["status"], "cancelled");
    assert_eq!(beat(&report, "ok")["rollback"]["status"], "success");
}

#[test]
fn closing_the_terminal_stops_the_run_and_records_it() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;

    let project = Project::with_pipeline(&pipeline(
        "  - name: a\n    beats:\n      - { name: waits, run: 'sleep 303 & echo $! > child.pid; wait' }\n",
    ));
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 30,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: valid out-pointers; a null name and termios are allowed.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(opened, 0, "openpty");
    // SAFETY: fcntl on the descriptor openpty just returned. Without close-on-exec
    // baton would inherit the master side and closing it here would hang up nothing.
    unsafe { libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC) };
    // SAFETY: openpty returned these two open descriptors, now owned here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("baton"));
    cmd.current_dir(project.path())
        .arg("run")
        .env("TERM", "xterm")
        .env_remove("BATON_NO_PROGRESS")
        .stdin(slave.try_clone().expect("dup"))
        .stdout(slave.try_clone().expect("dup"))
        .stderr(slave.try_clone().expect("dup"));
    // SAFETY: setsid and ioctl are async-signal-safe; the terminal becomes the
    // controlling terminal of baton's new session, as in a real login.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn baton on a pty");
    drop(slave);
    let grandchild = pid_in(&project.join("child.pid"));
    std::thread::sleep(Duration::from_millis(300));
    // The terminal goes away: the kernel hangs up baton's session.
    drop(master);
    let status = wait_with_deadline(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(128 + libc::SIGHUP), "{status:?}");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(grandchild), "the beat's child {grandchild} survived");
    let report = project.latest_json();
    assert_eq!(report["run"]["status"], "cancelled");
    assert_eq!(beat(&report, "waits")["status"], "cancelled");
}
