//! Faults at the endpoint, with the webhook and OTLP both on, through the binary
//! against a real HTTP receiver on 127.0.0.1 that answers each path from a
//! script: the endpoint down, silent (accepts and never answers), answering an
//! error then 200, asking to wait (`429` with `Retry-After`) then 200, and
//! closing the connection mid-body. Every time: the pipeline's exit code is its
//! own, nothing is lost (a later run or `baton telemetry flush` delivers it), and
//! nothing is sent again once it was answered 2xx.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::Project;
use common::http::{Answer, Receiver, Request, closed_port};

const PATHS: [&str; 3] = ["/hook", "/v1/traces", "/v1/metrics"];

fn project(passes: bool) -> Project {
    Project::with_pipeline(&format!(
        "version: 1\nname: faulty\nmovements:\n  - name: build\n    beats:\n      \
         - name: compile\n        run: '{}'\n",
        if passes { "true" } else { "exit 3" }
    ))
}

/// `baton ARGS` exporting to `base` (the webhook at `/hook`, OTLP under it),
/// with none of the caller's telemetry settings.
fn baton(
    project: &Project,
    base: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = project.baton_without_telemetry(args);
    cmd.env("BATON_TELEMETRY_URL", format!("{base}/hook"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", base);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("baton")
}

/// The deliveries waiting in the outbox.
fn queued(project: &Project) -> usize {
    std::fs::read_dir(project.join(".baton/queue"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.ends_with(".json") && n.starts_with(|c: char| c.is_ascii_digit())
                })
                .count()
        })
        .unwrap_or(0)
}

fn quiet(out: &std::process::Output) {
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    for word in [
        "127.0.0.1",
        "deliver",
        "webhook",
        "otlp",
        "OTLP",
        "warning:",
        "queue",
    ] {
        assert!(
            !said.contains(word),
            "a run says nothing about deliveries ({word}): {said}"
        );
    }
}

/// What identifies one delivery across its attempts: the webhook's id, or an
/// OTLP export's decoded body (the same bytes each time it is sent).
fn delivery(r: &Request) -> (String, Vec<u8>) {
    match r.header("webhook-id") {
        Some(id) => (r.path.clone(), id.as_bytes().to_vec()),
        None => (r.path.clone(), r.body()),
    }
}

/// Each delivery the receiver saw was answered 2xx exactly once, by its last
/// request (nothing sent again after a 2xx); returns how many there were per
/// path.
fn delivered_once(receiver: &Receiver) -> BTreeMap<String, usize> {
    let mut attempts: BTreeMap<(String, Vec<u8>), Vec<Answer>> = BTreeMap::new();
    for r in receiver.requests() {
        attempts.entry(delivery(&r)).or_default().push(r.answer);
    }
    let mut per_path = BTreeMap::new();
    for ((path, _), answers) in attempts {
        let ok = answers
            .iter()
            .filter(|a| matches!(a, Answer::Status(200..=299)))
            .count();
        assert_eq!(ok, 1, "{path}: {answers:?}");
        assert!(
            matches!(answers.last(), Some(Answer::Status(200..=299))),
            "{path}: sent again after a 2xx: {answers:?}"
        );
        *per_path.entry(path).or_insert(0) += 1;
    }
    per_path
}

fn flush(project: &Project, base: &str) -> std::process::Output {
    baton(project, base, &["telemetry", "flush"], &[])
}

/// Delivers what the runs left (every path 200), then checks that each run's
/// three deliveries arrived once and that a second flush sends nothing.
fn flush_delivers_everything(project: &Project, receiver: &Receiver, base: &str, runs: usize) {
    let out = flush(project, base);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(queued(project), 0);
    let seen = receiver.requests().len();
    assert!(flush(project, base).status.success());
    assert_eq!(receiver.requests().len(), seen, "nothing left to send");
    let per_path = delivered_once(receiver);
    for path in PATHS {
        assert_eq!(per_path.get(path), Some(&runs), "{path}: {per_path:?}");
    }
}

#[test]
fn an_endpoint_that_is_down_loses_nothing_and_changes_no_exit_code() {
    let down = format!("http://127.0.0.1:{}", closed_port());
    let receiver = Receiver::scripted(&[]);
    let live = receiver.url("");
    for (passes, code) in [(true, 0), (false, 1)] {
        let project = project(passes);
        let out = baton(&project, &down, &["run"], &[]);
        assert_eq!(out.status.code(), Some(code));
        quiet(&out);
        assert_eq!(queued(&project), 3, "the webhook, traces and metrics wait");
        flush_delivers_everything(&project, &receiver, &live, if passes { 1 } else { 2 });
    }
}

#[test]
fn an_endpoint_that_never_answers_costs_the_wait_bound_and_loses_nothing() {
    let receiver = Receiver::scripted(&[]);
    receiver.answer(&PATHS, Answer::Never);
    let base = receiver.url("");
    let project = project(false);
    let started = Instant::now();
    let out = baton(
        &project,
        &base,
        &["run"],
        &[("BATON_TELEMETRY_WAIT", "500ms")],
    );
    // Far below the 10 s a delivery may take: the run did not wait for them.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(1));
    quiet(&out);
    assert_eq!(queued(&project), 3, "still queued after the wait");
    receiver.answer(&PATHS, Answer::Status(200));
    flush_delivers_everything(&project, &receiver, &base, 1);
}

#[test]
fn an_error_then_200_is_delivered_by_the_next_run_once() {
    // The webhook retries a 500; OTLP retries 502, 503, 504 and 429 only (the
    // OTLP specification: a 500 is dropped).
    let receiver = Receiver::scripted(&[
        ("/hook", &[Answer::Status(500), Answer::Status(200)]),
        ("/v1/traces", &[Answer::Status(503), Answer::Status(200)]),
        ("/v1/metrics", &[Answer::Status(502), Answer::Status(200)]),
    ]);
    let base = receiver.url("");
    let project = project(false);
    let out = baton(&project, &base, &["run"], &[]);
    assert_eq!(out.status.code(), Some(1));
    quiet(&out);
    assert_eq!(queued(&project), 3);
    // The next run sends what the first left, then its own.
    let out = baton(&project, &base, &["run"], &[]);
    assert_eq!(out.status.code(), Some(1));
    quiet(&out);
    assert_eq!(queued(&project), 0);
    let per_path = delivered_once(&receiver);
    for path in PATHS {
        assert_eq!(per_path.get(path), Some(&2), "{path}: {per_path:?}");
    }
    assert_eq!(receiver.requests().len(), 9, "3 refused, 6 delivered");
}

#[test]
fn retry_after_is_waited_for_then_flush_delivers_once() {
    let receiver = Receiver::scripted(&[]);
    receiver.answer(&PATHS, Answer::RetryAfter(429, 1));
    let base = receiver.url("");
    let project = project(true);
    let out = baton(&project, &base, &["run"], &[]);
    assert_eq!(out.status.code(), Some(0));
    quiet(&out);
    assert_eq!(queued(&project), 3);
    let refused = receiver.requests().len();
    assert!(refused >= 1, "the run tried");
    receiver.answer(&PATHS, Answer::Status(200));
    // Flushed until the endpoint's second has passed: a flush told to wait
    // calls nobody (the receiver would have answered 200), a later one sends all.
    let until = Instant::now() + Duration::from_secs(20);
    while queued(&project) > 0 && Instant::now() < until {
        let before = receiver.requests().len();
        let out = flush(&project, &base);
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        if said.contains("exported 0,") && said.contains("delivered 0,") {
            assert!(said.contains("Retry-After"), "{said}");
            assert_eq!(out.status.code(), Some(1), "{said}");
            assert_eq!(
                receiver.requests().len(),
                before,
                "called too early: {said}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    assert_eq!(queued(&project), 0);
    for path in PATHS {
        let answers: Vec<Answer> = receiver
            .requests()
            .iter()
            .filter(|r| r.path == path)
            .map(|r| r.answer)
            .collect();
        let (last, before) = answers.split_last().expect("sent");
        assert_eq!(*last, Answer::Status(200), "{path}");
        assert!(
            before.iter().all(|a| *a == Answer::RetryAfter(429, 1)),
            "{path}: {answers:?}"
        );
    }
    flush_delivers_everything(&project, &receiver, &base, 1);
}

#[test]
fn a_connection_closed_mid_body_keeps_the_delivery_for_a_later_flush() {
    let receiver = Receiver::scripted(&[]);
    let base = receiver.url("");
    for (passes, code) in [(true, 0), (false, 1)] {
        receiver.answer(&PATHS, Answer::CloseMidBody);
        let project = project(passes);
        let out = baton(&project, &base, &["run"], &[]);
        assert_eq!(out.status.code(), Some(code));
        quiet(&out);
        assert_eq!(queued(&project), 3, "cut off: all wait");
        receiver.answer(&PATHS, Answer::Status(200));
        flush_delivers_everything(&project, &receiver, &base, if passes { 1 } else { 2 });
    }
}
