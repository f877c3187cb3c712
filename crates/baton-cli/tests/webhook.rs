//! The telemetry webhook through the binary, against a real HTTP receiver on
//! 127.0.0.1 (a small server thread here, no mock of the client): the body and
//! its headers, the Bearer key, the Standard Webhooks signature checked with an
//! implementation of its own, gzip, retries through the outbox, its cap and
//! order, 410, env over `.env`, the silence, and an exit code that no endpoint
//! (down, silent, closing mid-body) changes.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use base64::Engine;
use common::Project;
use common::http::{Answer, Receiver, closed_port};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const ID: &str = "6c2d9e1a-3b4f-4a7e-8c5d-1e2f3a4b5c6d";
const KEY: &str = "sk-test-abcdef1234";
/// `whsec_` and the base64 of 24 bytes.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn project(run: &str) -> Project {
    Project::with_pipeline(&format!(
        "version: 1\nid: {ID}\nname: hooked\nmovements:\n  - name: build\n    beats:\n      \
         - name: compile\n        run: '{run}'\n        outputs: ['out/**']\n"
    ))
}

fn passing() -> Project {
    project("mkdir -p out && echo hello > out/greeting.txt")
}

/// `baton ARGS` with none of the caller's telemetry settings.
fn baton(project: &Project, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = project.baton(args);
    for var in [
        "BATON_TELEMETRY_URL",
        "BATON_TELEMETRY_KEY",
        "BATON_TELEMETRY_SECRET",
        "BATON_TELEMETRY_ARTIFACTS",
        "BATON_TELEMETRY_WAIT",
        "BATON_QUEUE_DIR",
        "BATON_DIR",
        "GITHUB_ACTIONS",
        "CI",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn run_with(project: &Project, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = baton(project, &["run"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("baton run")
}

fn queue_files(project: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(project.join(".baton/queue"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json") && n.starts_with(|c: char| c.is_ascii_digit()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn telemetry_json(project: &Project, env: &[(&str, &str)]) -> serde_json::Value {
    let mut cmd = baton(project, &["telemetry", "--format", "json"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("baton telemetry");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn git(project: &Project, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(args)
        .current_dir(project.path())
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

/// The Standard Webhooks signature, computed here from the documented recipe.
fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").expect("prefix"))
        .expect("base64 secret");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The body follows docs/webhook-payload.schema.json.
fn assert_schema(body: &serde_json::Value) {
    let text =
        std::fs::read_to_string(common::repo_root().join("docs/webhook-payload.schema.json"))
            .expect("the payload's schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{body:#}");
}

fn assert_silent(out: &std::process::Output, url: &str) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for word in ["webhook", "telemetry", "deliver", url, "127.0.0.1", "queue"] {
        assert!(!all.contains(word), "the run said {word:?}:\n{all}");
    }
}

#[test]
fn a_run_arrives_with_its_fields_headers_key_and_a_signature_that_verifies() {
    let receiver = Receiver::start(&[Answer::Status(200)]);
    let project = passing().file(".gitignore", ".baton/\n");
    git(&project, &["init", "-q", "-b", "main"]);
    git(
        &project,
        &[
            "remote",
            "add",
            "origin",
            "https://ada:s3cret-token@example.com/o/r.git",
        ],
    );
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-q", "-m", "first"]);
    let url = receiver.url("/hook");
    let before = jiff::Timestamp::now().as_second();
    let out = run_with(
        &project,
        &[
            ("BATON_TELEMETRY_URL", &url),
            ("BATON_TELEMETRY_KEY", KEY),
            ("BATON_TELEMETRY_SECRET", SECRET),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_silent(&out, &url);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "one delivery");
    let req = &requests[0];
    assert_eq!(req.path, "/hook");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    // Larger than 1 KiB: gzip.
    assert_eq!(req.header("content-encoding"), Some("gzip"));
    assert!(req.body().len() > 1024);

    let run = project.latest_json();
    let run_id = run["run"]["run_id"].as_str().expect("run id").to_owned();
    let id = req.header("webhook-id").expect("webhook-id");
    assert_eq!(id, format!("run_{}_run_finished", run_id.replace('-', "")));
    let timestamp = req.header("webhook-timestamp").expect("timestamp");
    let ts: i64 = timestamp.parse().expect("seconds");
    assert!(ts >= before && ts <= jiff::Timestamp::now().as_second());
    assert_eq!(
        req.header("webhook-signature"),
        Some(expected_signature(SECRET, id, timestamp, &req.body()).as_str())
    );

    let body = req.json();
    assert_schema(&body);
    assert_eq!(body["version"], 1);
    assert_eq!(body["type"], "run.finished");
    assert_eq!(body["runId"], run_id.as_str());
    assert_eq!(body["featureId"], ID);
    assert_eq!(body["name"], "hooked");
    assert_eq!(body["status"], "success");
    assert_eq!(body["level"], "mf");
    assert!(body["startedAt"].is_string() && body["finishedAt"].is_string());
    assert!(body["durationMs"].is_u64());
    let beat = &body["beats"][0];
    assert_eq!(beat["name"], "compile");
    assert_eq!(beat["movement"], "build");
    assert_eq!(beat["status"], "success");
    assert!(beat["slis"]["durationMs"].is_u64());
    assert!(beat["sla"]["status"].is_string(), "{beat}");
    assert!(beat["shape"]["hash"].is_string());
    let identity = &body["identity"];
    assert_eq!(identity["gitUserName"], "Ada Lovelace");
    assert_eq!(identity["gitUserEmail"], "ada@example.com");
    assert_eq!(identity["repositoryUrl"], "https://example.com/o/r.git");
    assert_eq!(identity["branch"], "main");
    assert_eq!(identity["commit"].as_str().map(str::len), Some(40));
    assert!(identity["host"].is_string());
    let files = body["artifacts"]["manifest"].as_array().expect("manifest");
    assert_eq!(files[0]["path"], "out/greeting.txt");
    assert_eq!(files[0]["bytes"], 6);
    assert_eq!(files[0]["sha256"].as_str().map(str::len), Some(64));
    assert!(body["artifacts"].get("content").is_none());
    let text = String::from_utf8_lossy(&req.body()).to_string();
    assert!(!text.contains("s3cret-token") && !text.contains(KEY));
    // Delivered: nothing left in the outbox.
    assert!(queue_files(&project).is_empty());
}

#[test]
fn content_mode_sends_small_text_artifacts_and_the_report_compressed() {
    let receiver = Receiver::start(&[Answer::Status(204)]);
    let project = passing();
    let url = receiver.url("/hook");
    let out = run_with(
        &project,
        &[
            ("BATON_TELEMETRY_URL", &url),
            ("BATON_TELEMETRY_ARTIFACTS", "content"),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let body = receiver.requests()[0].json();
    assert_schema(&body);
    let content = body["artifacts"]["content"].as_array().expect("content");
    let decode = |path: &str| {
        let file = content
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} in {content:?}"));
        assert_eq!(file["encoding"], "gzip+base64");
        let gz = base64::engine::general_purpose::STANDARD
            .decode(file["content"].as_str().expect("content"))
            .expect("base64");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .expect("gzip");
        text
    };
    assert_eq!(decode("out/greeting.txt"), "hello\n");
    let report: serde_json::Value =
        serde_json::from_str(&decode("build-sli-slo-sla-report.json")).expect("report json");
    assert!(report.is_object());
}

#[test]
fn a_500_stays_queued_and_flush_delivers_the_same_delivery_once() {
    let receiver = Receiver::start(&[Answer::Status(500), Answer::Status(200)]);
    let project = passing();
    let url = receiver.url("/hook");
    let env = [
        ("BATON_TELEMETRY_URL", url.as_str()),
        ("BATON_TELEMETRY_SECRET", SECRET),
    ];
    let out = run_with(&project, &env);
    assert_eq!(out.status.code(), Some(0));
    assert_silent(&out, &url);
    assert_eq!(queue_files(&project).len(), 1, "kept after a 500");
    let status = telemetry_json(&project, &env);
    assert_eq!(status["outbox"]["depth"], 1);
    assert_eq!(status["last_delivery"]["outcome"], "kept");
    assert_eq!(status["last_delivery"]["status"], 500);

    let flush = baton(&project, &["telemetry", "flush"])
        .env("BATON_TELEMETRY_URL", &url)
        .env("BATON_TELEMETRY_SECRET", SECRET)
        .output()
        .expect("flush");
    assert!(
        flush.status.success(),
        "{}",
        String::from_utf8_lossy(&flush.stdout)
    );
    assert!(String::from_utf8_lossy(&flush.stdout).contains("delivered 1"));
    assert!(queue_files(&project).is_empty());
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    // The same delivery: same id and body, a signature of its own attempt.
    assert_eq!(
        requests[0].header("webhook-id"),
        requests[1].header("webhook-id")
    );
    assert_eq!(requests[0].body(), requests[1].body());
    for r in &requests {
        let (id, ts) = (
            r.header("webhook-id").expect("id"),
            r.header("webhook-timestamp").expect("ts"),
        );
        assert_eq!(
            r.header("webhook-signature"),
            Some(expected_signature(SECRET, id, ts, &r.body()).as_str())
        );
    }
    // The next run sends its own delivery only: nothing twice after a 2xx.
    run_with(&project, &env);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    assert_ne!(
        requests[2].header("webhook-id"),
        requests[1].header("webhook-id")
    );
    assert_eq!(
        telemetry_json(&project, &env)["last_delivery"]["outcome"],
        "delivered"
    );
}

#[test]
fn a_410_turns_the_webhook_off_until_the_url_changes() {
    let receiver = Receiver::start(&[Answer::Status(410), Answer::Status(200)]);
    let project = passing();
    let gone = receiver.url("/gone");
    run_with(&project, &[("BATON_TELEMETRY_URL", &gone)]);
    assert_eq!(receiver.requests().len(), 1);
    let out = run_with(&project, &[("BATON_TELEMETRY_URL", &gone)]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(receiver.requests().len(), 1, "off after 410");
    let status = telemetry_json(&project, &[("BATON_TELEMETRY_URL", &gone)]);
    assert_eq!(status["webhook"]["active"], false);
    assert!(
        status["webhook"]["why"]
            .as_str()
            .is_some_and(|w| w.contains("410"))
    );

    let moved = receiver.url("/moved");
    run_with(&project, &[("BATON_TELEMETRY_URL", &moved)]);
    let requests = receiver.requests();
    // The delivery the 410 left queued, then the new run's.
    assert_eq!(requests.len(), 3);
    assert!(requests[1..].iter().all(|r| r.path == "/moved"));
    assert!(queue_files(&project).is_empty());
}

#[test]
fn the_outbox_holds_fifty_drops_the_oldest_counts_and_delivers_in_order() {
    let project = passing();
    let queue = project.join(".baton/queue");
    std::fs::create_dir_all(&queue).expect("mkdir");
    for i in 0..50 {
        let id = format!("fake_{i:02}");
        let entry = serde_json::json!({
            "id": id, "createdAt": format!("2026-01-01T00:00:{i:02}Z"),
            "attempts": 0, "body": {"fake": i},
        });
        std::fs::write(
            queue.join(format!("{:020}-{id}.json", 1_000 + i)),
            entry.to_string(),
        )
        .expect("write");
    }
    let down = format!("http://127.0.0.1:{}/hook", closed_port());
    let out = run_with(&project, &[("BATON_TELEMETRY_URL", &down)]);
    assert_eq!(out.status.code(), Some(0));
    assert_silent(&out, &down);
    let files = queue_files(&project);
    assert_eq!(files.len(), 50);
    assert!(files[0].ends_with("fake_01.json"), "{files:?}");
    assert!(files[49].contains("_run_finished"));
    let status = telemetry_json(&project, &[("BATON_TELEMETRY_URL", &down)]);
    assert_eq!(status["outbox"]["depth"], 50);
    assert_eq!(status["outbox"]["drops"], 1);
    assert_eq!(status["outbox"]["oldest"]["id"], "fake_01");

    let receiver = Receiver::start(&[Answer::Status(200)]);
    let flush = baton(&project, &["telemetry", "flush"])
        .env("BATON_TELEMETRY_URL", receiver.url("/hook"))
        .output()
        .expect("flush");
    assert!(flush.status.success());
    let ids: Vec<String> = receiver
        .requests()
        .iter()
        .map(|r| r.header("webhook-id").unwrap_or("").to_owned())
        .collect();
    assert_eq!(ids.len(), 50);
    assert_eq!(&ids[..3], ["fake_01", "fake_02", "fake_03"]);
    assert!(ids[49].ends_with("_run_finished"));
    assert!(queue_files(&project).is_empty());
}

#[test]
fn the_environment_wins_over_dotenv_value_by_value() {
    let receiver = Receiver::start(&[Answer::Status(200)]);
    let project = passing().file(
        ".env",
        format!(
            "BATON_TELEMETRY_URL={}\nBATON_TELEMETRY_KEY=sk-from-dotenv-5678\n",
            receiver.url("/from-dotenv")
        ),
    );
    let env_url = receiver.url("/from-env");
    run_with(&project, &[("BATON_TELEMETRY_URL", &env_url)]);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/from-env");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer sk-from-dotenv-5678")
    );
    let out = baton(&project, &["telemetry"])
        .env("BATON_TELEMETRY_URL", &env_url)
        .output()
        .expect("telemetry");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("webhook: active"), "{text}");
    assert!(text.contains(&format!("{env_url}  (env)")), "{text}");
    assert!(text.contains("sk-****5678  (.env)"), "{text}");
    assert!(!text.contains("from-dotenv-5678"), "{text}");
    let json = telemetry_json(&project, &[("BATON_TELEMETRY_URL", &env_url)]);
    assert_eq!(json["webhook"]["url"]["source"], "env");
    assert_eq!(json["webhook"]["key"]["value"], "sk-****5678");
    assert_eq!(json["webhook"]["key"]["source"], ".env");
    assert_eq!(json["last_delivery"]["outcome"], "delivered");
}

#[test]
fn without_a_url_nothing_is_written_and_nothing_is_sent() {
    let project = passing().file(".env", "# BATON_TELEMETRY_URL=\n# BATON_TELEMETRY_KEY=\n");
    let out = run_with(&project, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!project.join(".baton/queue").exists());
    let json = telemetry_json(&project, &[]);
    assert_eq!(json["webhook"]["active"], false);
    assert_eq!(json["outbox"]["depth"], 0);
    assert!(!project.join(".baton/queue").exists());
}

#[test]
fn no_endpoint_changes_the_exit_code_and_the_wait_is_bounded() {
    let failing = || project("exit 1");
    let down = format!("http://127.0.0.1:{}/hook", closed_port());
    let silent = Receiver::start(&[Answer::Never]);
    let closing = Receiver::start(&[Answer::CloseMidBody]);
    for (url, expected_wait) in [
        (down, Duration::ZERO),
        (silent.url("/hook"), Duration::from_secs(2)),
        (closing.url("/hook"), Duration::ZERO),
    ] {
        for (project, code) in [(passing(), 0), (failing(), 1)] {
            let started = Instant::now();
            let out = run_with(&project, &[("BATON_TELEMETRY_URL", &url)]);
            let took = started.elapsed();
            assert_eq!(out.status.code(), Some(code), "{url}");
            assert_silent(&out, &url);
            assert!(
                took < expected_wait + Duration::from_secs(3),
                "{url}: {took:?}"
            );
            // Nothing lost: the run waits in the outbox.
            assert_eq!(queue_files(&project).len(), 1, "{url}");
        }
    }
    // BATON_TELEMETRY_WAIT bounds the wait.
    let project = passing();
    let started = Instant::now();
    let out = run_with(
        &project,
        &[
            ("BATON_TELEMETRY_URL", &silent.url("/hook")),
            ("BATON_TELEMETRY_WAIT", "200ms"),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_millis(1800),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn telemetry_test_pings_and_prints_the_status_and_round_trip() {
    let receiver = Receiver::start(&[Answer::Status(204)]);
    let project = passing();
    let out = baton(&project, &["telemetry", "test"])
        .env("BATON_TELEMETRY_URL", receiver.url("/hook"))
        .env("BATON_TELEMETRY_KEY", KEY)
        .output()
        .expect("test");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("HTTP 204 in "), "{text}");
    assert!(text.contains(" ms"), "{text}");
    let req = &receiver.requests()[0];
    assert_eq!(
        req.header("content-encoding"),
        None,
        "small: not compressed"
    );
    let body = req.json();
    assert_schema(&body);
    assert_eq!(body["type"], "ping");
    assert_eq!(body["featureId"], ID);

    let down = baton(&project, &["telemetry", "test"])
        .env(
            "BATON_TELEMETRY_URL",
            format!("http://127.0.0.1:{}/", closed_port()),
        )
        .output()
        .expect("test");
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stdout).contains("no answer"));

    let unset = baton(&project, &["telemetry", "test"])
        .output()
        .expect("test");
    assert_eq!(unset.status.code(), Some(2));
}

#[test]
fn another_4xx_drops_the_delivery_and_says_why() {
    let receiver = Receiver::start(&[Answer::Status(400)]);
    let project = passing();
    let url = receiver.url("/hook");
    let out = run_with(&project, &[("BATON_TELEMETRY_URL", &url)]);
    assert_eq!(out.status.code(), Some(0));
    assert_silent(&out, &url);
    assert_eq!(receiver.requests().len(), 1);
    assert!(queue_files(&project).is_empty(), "refused: not kept");
    let status = telemetry_json(&project, &[("BATON_TELEMETRY_URL", &url)]);
    assert_eq!(status["outbox"]["refused"], 1);
    assert_eq!(status["last_delivery"]["outcome"], "dropped");
    assert_eq!(status["last_delivery"]["detail"], "HTTP 400: ok");
}

#[test]
fn retry_after_is_honoured() {
    let receiver = Receiver::start(&[Answer::RetryAfter(429, 120), Answer::Status(200)]);
    let project = passing();
    let url = receiver.url("/hook");
    run_with(&project, &[("BATON_TELEMETRY_URL", &url)]);
    assert_eq!(queue_files(&project).len(), 1);
    // Asked to wait two minutes: neither the next run nor a flush calls it.
    run_with(&project, &[("BATON_TELEMETRY_URL", &url)]);
    let flush = baton(&project, &["telemetry", "flush"])
        .env("BATON_TELEMETRY_URL", &url)
        .output()
        .expect("flush");
    assert_eq!(flush.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&flush.stdout).contains("Retry-After"));
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(queue_files(&project).len(), 2);
    let status = telemetry_json(&project, &[("BATON_TELEMETRY_URL", &url)]);
    assert!(status["outbox"]["not_before"].is_string());
}

#[test]
fn the_key_does_not_follow_a_redirect_to_another_host() {
    let elsewhere = Receiver::start(&[Answer::Status(200)]);
    let receiver = Receiver::start(&[Answer::RedirectTo(elsewhere.port)]);
    let project = passing();
    let url = receiver.url("/hook");
    run_with(
        &project,
        &[("BATON_TELEMETRY_URL", &url), ("BATON_TELEMETRY_KEY", KEY)],
    );
    assert_eq!(
        receiver.requests()[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let followed = elsewhere.requests();
    assert_eq!(followed.len(), 1, "the redirect is followed");
    assert_eq!(followed[0].path, "/elsewhere");
    assert_eq!(followed[0].header("authorization"), None);
    assert!(queue_files(&project).is_empty());
}

#[test]
fn the_outbox_can_be_moved() {
    let project = passing();
    let moved = project.join("ci-cache/queue");
    let moved_str = moved.display().to_string();
    let down = format!("http://127.0.0.1:{}/hook", closed_port());
    let env = [
        ("BATON_TELEMETRY_URL", down.as_str()),
        ("BATON_QUEUE_DIR", moved_str.as_str()),
    ];
    let out = run_with(&project, &env);
    assert_eq!(out.status.code(), Some(0));
    assert!(queue_files(&project).is_empty());
    let entries = std::fs::read_dir(&moved).expect("the moved outbox").count();
    assert!(entries >= 1);
    let status = telemetry_json(&project, &env);
    assert_eq!(status["webhook"]["queue_dir"]["value"], moved_str.as_str());
    assert_eq!(status["webhook"]["queue_dir"]["source"], "env");
    assert_eq!(status["outbox"]["depth"], 1);
}

#[test]
fn plain_http_off_the_loopback_is_warned_about_once_a_day() {
    let project = passing();
    // TEST-NET-1: never answers; the run does not wait for it.
    let env = [
        ("BATON_TELEMETRY_URL", "http://192.0.2.1/hook"),
        ("BATON_TELEMETRY_WAIT", "0"),
    ];
    let first = run_with(&project, &env);
    assert_eq!(first.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(stderr.matches("plain http://").count(), 1, "{stderr}");
    let second = run_with(&project, &env);
    assert!(!String::from_utf8_lossy(&second.stderr).contains("plain http://"));
}
