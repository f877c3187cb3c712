//! `baton doctor`: a healthy project scores 100 and exits 0; each problem that can
//! be provoked (an unwritable state directory, a corrupt cache entry, an abandoned
//! run, a deep outbox) is reported with its fix, costs points and exits 1.

mod common;

use common::Project;
use serde_json::{Value, json};

const PIPELINE: &str = r#"
version: 1
name: doc
movements:
  - name: build
    beats:
      - { name: compile, type: build, run: "echo built > out.txt", inputs: ["src/**"], outputs: ["out.txt"], cache: true }
"#;

fn healthy_project() -> Project {
    let p = Project::with_pipeline(PIPELINE).file("src/main.c", "int main;");
    let out = p.baton(&["run"]).output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

fn doctor(p: &Project) -> (i32, Value) {
    let out = p
        .baton(&["doctor", "--format", "json"])
        .env_remove("BATON_WEBHOOK_URL")
        .output()
        .expect("doctor");
    let doc = serde_json::from_slice(&out.stdout).expect("json");
    (out.status.code().unwrap_or(-1), doc)
}

/// The findings that are not ok, as (area, level, message, fix).
fn problems(doc: &Value) -> Vec<(String, String, String, String)> {
    doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["level"] != "ok")
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_owned();
            (s("area"), s("level"), s("message"), s("fix"))
        })
        .collect()
}

#[test]
fn a_healthy_project_scores_100() {
    let p = healthy_project();
    let (code, doc) = doctor(&p);
    assert_eq!(problems(&doc), vec![]);
    assert_eq!(
        (code, doc["score"].as_u64(), doc["healthy"].as_bool()),
        (0, Some(100), Some(true))
    );
    let text = p.baton(&["doctor"]).output().expect("doctor");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("score 100/100: healthy"), "{text}");
    assert!(
        text.contains("1 entries"),
        "the cache entry is counted: {text}"
    );
}

#[test]
fn a_state_directory_that_cannot_be_written_fails() {
    let p = Project::with_pipeline(PIPELINE).file("not-a-dir", "x");
    let out = p
        .baton(&["doctor", "--format", "json"])
        .env("BATON_DIR", p.join("not-a-dir"))
        .output()
        .expect("doctor");
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let found = problems(&doc);
    assert!(
        found
            .iter()
            .any(|(area, level, message, fix)| area == "state"
                && level == "failure"
                && message.contains("is not writable")
                && fix.contains("BATON_DIR")),
        "{found:?}"
    );
    assert_eq!(doc["score"], 75);
}

#[test]
fn a_corrupt_cache_entry_is_found() {
    let p = healthy_project();
    let entries = p.join(".baton/cache/entries");
    let entry = std::fs::read_dir(&entries)
        .expect("entries")
        .filter_map(Result::ok)
        .next()
        .expect("one entry")
        .path();
    std::fs::write(entry.join("manifest.json"), "{ not json").expect("corrupt");
    let (code, doc) = doctor(&p);
    assert_eq!(code, 1);
    let found = problems(&doc);
    assert!(
        found
            .iter()
            .any(|(area, level, message, fix)| area == "cache"
                && level == "failure"
                && message.starts_with("1 corrupt entry")
                && fix.contains("baton cache clear")),
        "{found:?}"
    );
}

#[test]
fn an_abandoned_run_is_reported_with_what_to_do() {
    let p = healthy_project();
    let line = json!({
        "format_version": 1,
        "run": {
            "run_id": "0190a000-0000-7000-8000-0000000000ab", "pipeline_id": "doc",
            "pipeline_name": "doc", "started_at": "2026-01-02T10:00:00Z", "status": "running",
            "heartbeat_at": "2026-01-02T10:00:05Z",
        },
        "beats": [],
    });
    let out = p
        .baton(&["import", "-"])
        .write_stdin(format!("{line}\n"))
        .output()
        .expect("import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, doc) = doctor(&p);
    assert_eq!(code, 1);
    let found = problems(&doc);
    assert_eq!(found.len(), 1, "{found:?}");
    let (area, level, message, fix) = &found[0];
    assert_eq!((area.as_str(), level.as_str()), ("history", "warning"));
    assert!(message.starts_with("1 abandoned run"), "{message}");
    assert!(fix.contains("baton gc"), "{fix}");
    assert_eq!(doc["score"], 90);
}

#[test]
fn a_deep_outbox_is_a_warning() {
    let p = healthy_project();
    let queue = p.join(".baton/queue");
    std::fs::create_dir_all(&queue).expect("queue");
    for i in 0..12 {
        let entry = json!({
            "id": format!("msg_{i}"), "createdAt": "2026-11-02T10:00:00Z", "attempts": 3,
            "body": {"type": "run.finished"},
        });
        std::fs::write(
            queue.join(format!("{i:020}-msg_{i}.json")),
            entry.to_string(),
        )
        .expect("entry");
    }
    let (code, doc) = doctor(&p);
    assert_eq!(code, 1);
    let found = problems(&doc);
    assert!(
        found
            .iter()
            .any(|(area, level, message, fix)| area == "outbox"
                && level == "warning"
                && message
                    .starts_with("12 deliveries waiting, the oldest from 2026-11-02T10:00:00Z")
                && fix.contains("baton telemetry flush")),
        "{found:?}"
    );
}
