//! `baton serve` through the binary, on a history made by really running a pipeline
//! (with hostile beat names) and importing older runs (a beat that got 50% slower):
//! the JSON API returns what the verbs print, every page keeps hostile names as
//! text, the token guards every route, /metrics passes `promtool check metrics`,
//! and headless Chromium clicks through the pages (tests/browser/).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{Project, repo_root};
use scraper::{Html, Selector};

const PIPELINE_ID: &str = "5d0c9e2a-7b1f-4c3d-9e8a-6f5b4a3c2d10";
const HOSTILE: [&str; 2] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(2)>",
];
const IMPORTED_RUNS: usize = 30;

fn pipeline() -> String {
    format!(
        "version: 1\nid: {PIPELINE_ID}\nname: serve-demo\nmovements:\n  - name: check\n    beats:\n\
         \x20     - name: '{}'\n        run: 'echo \"<b>hi</b>\"'\n\
         \x20     - name: '{}'\n        run: 'true'\n\
         \x20     - name: lint\n        run: sleep 0.05\n",
        HOSTILE[0], HOSTILE[1]
    )
}

/// One imported run: `compile` at about 1 s for 18 runs, then about 1.5 s.
fn import_line(i: usize, start: jiff::Timestamp) -> String {
    let at = start + jiff::SignedDuration::from_mins(i as i64 * 30);
    let compile_ms = if i < 18 { 1000 } else { 1500 } + (i % 3) as u64 * 10;
    let run_id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        at.as_second() as u64,
        0,
    ));
    let beat = |name: &str, movement: &str, mi: u32, bi: u32, ms: u64| {
        serde_json::json!({
            "beat": name, "movement": movement, "movement_index": mi, "beat_index": bi,
            "status": "success", "duration_ms": ms, "started_at": at.to_string(),
            "cache_state": "miss",
        })
    };
    serde_json::json!({
        "format_version": 1,
        "run": {
            "run_id": run_id, "pipeline_id": PIPELINE_ID, "pipeline_name": "serve-demo",
            "started_at": at.to_string(), "status": "success", "host": "imported-host",
            "git": {"commit": format!("{i:040x}"), "branch": "main"},
        },
        "beats": [
            beat(HOSTILE[0], "check", 0, 0, 20),
            beat(HOSTILE[1], "check", 0, 1, 10),
            beat("compile", "build", 1, 0, compile_ms),
        ],
    })
    .to_string()
}

/// The project: 30 imported runs over the last day, then 3 real runs.
fn history() -> Project {
    let project = Project::with_pipeline(&pipeline());
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(20);
    let lines: Vec<String> = (0..IMPORTED_RUNS).map(|i| import_line(i, start)).collect();
    let project = project.file("runs.jsonl", lines.join("\n") + "\n");
    project.baton(&["import", "runs.jsonl"]).assert().success();
    for _ in 0..3 {
        project.baton(&["run"]).assert().success();
    }
    project
}

/// A running `baton serve`, stopped when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("baton"));
        cmd.current_dir(project.path())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .env_remove("BATON_SERVE_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start baton serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut line = String::new();
        BufReader::new(stderr).read_line(&mut line).expect("read");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Self { child, url }
    }

    fn get(&self, path: &str) -> Response {
        self.get_with(path, &[])
    }

    fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut request = agent.get(format!("{}{path}", self.url));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let mut response = request.call().expect("request");
        let status = response.status().as_u16();
        let csp = response
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.body_mut().read_to_string().expect("body");
        Response { status, csp, body }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    csp: String,
    body: String,
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn verb_json(project: &Project, args: &[&str]) -> serde_json::Value {
    let out = project.baton(args).output().expect("run verb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&String::from_utf8_lossy(&out.stdout))
}

/// The path of a beat's page.
fn beat_path(beat: &str) -> String {
    format!(
        "/pipelines/{PIPELINE_ID}/beats/{}",
        baton_report::html::escape::path_segment(beat)
    )
}

/// No live markup from the hostile names: the only script is the page's own
/// file, no element has an event handler, no img, and the names are there as text.
fn assert_no_live_markup(path: &str, html: &str) {
    let doc = Html::parse_document(html);
    let scripts: Vec<_> = doc
        .select(&Selector::parse("script").expect("selector"))
        .collect();
    for s in &scripts {
        assert_eq!(
            s.value().attr("src"),
            Some("/assets/app.js"),
            "{path}: {}",
            s.html()
        );
        assert!(s.inner_html().is_empty(), "{path}: inline script");
    }
    assert_eq!(
        doc.select(&Selector::parse("img").expect("selector"))
            .count(),
        0,
        "{path}: an img element"
    );
    for element in doc.select(&Selector::parse("*").expect("selector")) {
        for (name, _) in element.value().attrs() {
            assert!(!name.starts_with("on"), "{path}: attribute {name}");
        }
    }
}

#[test]
fn the_api_returns_what_the_verbs_print() {
    let project = history();
    let server = Server::start(&project, &[], &[]);
    let api = json(&server.get("/api/v1/runs?limit=50").body);
    let verb = verb_json(
        &project,
        &["history", "--all", "--limit", "50", "--format", "json"],
    );
    assert_eq!(api, verb);
    assert_eq!(api.as_array().map(Vec::len), Some(IMPORTED_RUNS + 3));

    let api = json(
        &server
            .get(&format!("/api/v1/regressions?pipeline={PIPELINE_ID}"))
            .body,
    );
    assert_eq!(
        api,
        verb_json(&project, &["regressions", "--format", "json"])
    );
    let compile = api["beats"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["beat"] == "compile"))
        .expect("compile scanned");
    assert_eq!(compile["slower_now"], true);

    let latest = verb_json(&project, &["show", "latest", "--format", "json"]);
    let run_id = latest["run"]["run_id"].as_str().expect("run id");
    let api = json(&server.get(&format!("/api/v1/runs/{run_id}")).body);
    assert_eq!(
        api,
        verb_json(&project, &["report", run_id, "--format", "json"])
    );
    let api = json(&server.get(&format!("/api/v1/runs/{run_id}/record")).body);
    assert_eq!(api, latest);
    let api = json(&server.get("/api/v1/shape-log?beat=lint&limit=5").body);
    assert_eq!(
        api,
        verb_json(
            &project,
            &["shape", "log", "lint", "--limit", "5", "--format", "json"]
        )
    );

    let api = json(
        &server
            .get(&format!("/api/v1/budget?pipeline={PIPELINE_ID}"))
            .body,
    );
    assert_eq!(api, verb_json(&project, &["budget", "--format", "json"]));
    assert_eq!(api["pipelines"][0]["objectives_from"], "pipeline_file");

    let filtered = json(
        &server
            .get("/api/v1/runs?host=imported-host&branch=main")
            .body,
    );
    assert_eq!(filtered.as_array().map(Vec::len), Some(IMPORTED_RUNS));
    let missing = server.get("/api/v1/runs/ffffffff");
    assert_eq!(missing.status, 404);
    assert!(
        json(&missing.body)["error"]
            .as_str()
            .is_some_and(|e| e.contains("ffffffff"))
    );
    assert_eq!(server.get("/api/v1/runs?status=sideways").status, 400);
    assert_eq!(server.get("/api/v1/trends?pipeline=nope").status, 404);
}

#[test]
fn every_page_keeps_hostile_names_as_text_under_a_strict_policy() {
    let project = history();
    let server = Server::start(&project, &[], &[]);
    let latest = verb_json(&project, &["show", "latest", "--format", "json"]);
    let run_id = latest["run"]["run_id"].as_str().expect("run id").to_owned();
    let mut paths = vec![
        "/".to_owned(),
        "/runs?pipeline=serve-demo&status=success".to_owned(),
        format!("/runs/{run_id}"),
        "/pipelines".to_owned(),
        beat_path("compile"),
    ];
    paths.extend(HOSTILE.iter().map(|b| beat_path(b)));
    for path in &paths {
        let page = server.get(path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(
            page.csp.contains("script-src 'self'"),
            "{path}: {}",
            page.csp
        );
        assert!(!page.csp.contains("unsafe-inline"), "{path}");
        assert_no_live_markup(path, &page.body);
    }
    let run_page = server.get(&format!("/runs/{run_id}")).body;
    assert!(run_page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        run_page.contains(&beat_path(HOSTILE[0])),
        "the beat links to its page"
    );
    let hostile = server.get(&beat_path(HOSTILE[1])).body;
    assert!(hostile.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));

    // The report file too.
    let out = project
        .baton(&["report", "latest", "--format", "html"])
        .output()
        .expect("report");
    assert_no_live_markup(
        "report",
        &String::from_utf8_lossy(&out.stdout).replace(
            // The report has no script at all; the check allows only the dashboard's.
            "/assets/app.js",
            "",
        ),
    );

    // Read-only, and unknown pages are 404 pages.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let post = agent
        .post(format!("{}/runs", server.url))
        .send("x")
        .expect("post");
    assert_eq!(post.status().as_u16(), 405);
    assert_eq!(server.get("/nope").status, 404);
    // DNS rebinding: a foreign Host gets nothing.
    assert_eq!(
        server.get_with("/", &[("host", "evil.example")]).status,
        421
    );
}

#[test]
fn beyond_loopback_a_token_is_required_on_every_request() {
    let project = history();
    project
        .baton(&["serve", "--bind", "0.0.0.0:0"])
        .env_remove("BATON_SERVE_TOKEN")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--token"));
    project
        .baton(&["serve", "--bind", "not-an-address"])
        .assert()
        .code(2);
    let server = Server::start(&project, &[], &[("BATON_SERVE_TOKEN", "s3cret-token")]);
    for path in [
        "/",
        "/runs",
        "/pipelines",
        "/metrics",
        "/api/v1/runs",
        "/assets/app.js",
    ] {
        assert_eq!(server.get(path).status, 401, "{path}");
        assert_eq!(
            server
                .get_with(path, &[("authorization", "Bearer wrong")])
                .status,
            401
        );
        let ok = server.get_with(path, &[("authorization", "Bearer s3cret-token")]);
        assert_eq!(ok.status, 200, "{path}");
    }
    // A browser's Basic authentication, with the token as the password.
    let basic = format!("Basic {}", base64_of("me:s3cret-token"));
    assert_eq!(
        server
            .get_with("/runs", &[("authorization", &basic)])
            .status,
        200
    );
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Whether a check that needs installed tools must run (`.ci/run` sets it).
fn required() -> bool {
    std::env::var_os("BATON_REQUIRE_BROWSER").is_some_and(|v| !v.is_empty() && v != "0")
}

fn skip_or_fail(why: &str) {
    assert!(!required(), "BATON_REQUIRE_BROWSER is set but {why}");
    eprintln!("skipped: {why} (set BATON_REQUIRE_BROWSER=1 to require it)");
}

#[test]
fn metrics_count_the_history_and_pass_promtool() {
    let project = history();
    let server = Server::start(&project, &[], &[]);
    let page = server.get("/metrics");
    assert_eq!(page.status, 200);
    let text = page.body;
    assert!(
        text.contains("baton_runs_total{pipeline=\"serve-demo\",result=\"success\"} 33"),
        "{text}"
    );
    assert!(text.contains("baton_beats_total{pipeline=\"serve-demo\",movement=\"build\",beat=\"compile\",result=\"success\"} 30"));
    assert!(text.contains("# TYPE baton_run_duration_seconds histogram"));
    assert!(text.contains("# TYPE baton_beat_duration_seconds histogram"));
    assert!(text.contains("baton_last_run_timestamp_seconds{pipeline=\"serve-demo\"}"));
    assert!(text.contains("baton_sla_breaches_total") || !text.contains("breach"));
    for forbidden in ["run_id", "commit", "branch", "imported-host"] {
        assert!(!text.contains(forbidden), "{forbidden} in the metrics");
    }
    // The label values are escaped for the exposition format.
    assert!(
        text.contains("beat=\"\\\"><img src=x onerror=alert(2)>\""),
        "{text}"
    );
    // Scraped again, nothing is counted twice.
    assert_eq!(server.get("/metrics").body, text);
    let om = server.get_with("/metrics", &[("accept", "application/openmetrics-text")]);
    assert!(om.body.trim_end().ends_with("# EOF"));

    let Ok(mut promtool) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        return skip_or_fail("promtool is not installed (Debian package prometheus)");
    };
    std::io::Write::write_all(&mut promtool.stdin.take().expect("stdin"), text.as_bytes())
        .expect("write");
    let out = promtool.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn headless_chromium_clicks_through_the_dashboard() {
    let browser_dir = repo_root().join("tests/browser");
    if !Path::new("/usr/bin/chromium").exists() {
        return skip_or_fail("/usr/bin/chromium is missing (Debian package chromium)");
    }
    if !browser_dir.join("node_modules/playwright-core").exists() {
        return skip_or_fail("tests/browser/node_modules is missing (run `npm ci` there)");
    }
    let project = history();
    let server = Server::start(&project, &[], &[]);

    // What the pages must show, from the API (the verbs' documents).
    let regressions = json(
        &server
            .get(&format!("/api/v1/regressions?pipeline={PIPELINE_ID}"))
            .body,
    );
    let shift = regressions["beats"]
        .as_array()
        .and_then(|b| {
            b.iter()
                .find(|b| b["beat"] == "compile" && b["cache_state"] == "miss")
        })
        .and_then(|b| b["change_points"].as_array()?.last()?["shift"].as_f64())
        .expect("a change point of compile");
    let trends = json(
        &server
            .get(&format!("/api/v1/trends?pipeline={PIPELINE_ID}"))
            .body,
    );
    let p50 = trends["pipelines"][0]["beats"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["beat"] == "compile"))
        .and_then(|b| b["window"]["executed"]["p50_ms"].as_f64())
        .expect("compile's p50");
    let expect = serde_json::json!({
        "runsShown": IMPORTED_RUNS + 3,
        "runsTotal": IMPORTED_RUNS + 3,
        "pipeline": PIPELINE_ID,
        "beat": "compile",
        "p50": baton_report::format::duration_ms(p50.round() as u64),
        "shift": baton_report::regressions::signed_share(shift),
        "hostileBeats": HOSTILE,
    });
    let report = project.join("report.html");
    project
        .baton(&["report", "latest", "--format", "html", "-o"])
        .arg(&report)
        .assert()
        .success();
    let shots: PathBuf = repo_root().join("target/browser-artifacts");
    let mut node = Command::new("node");
    node.arg(browser_dir.join("dashboard.mjs"))
        .current_dir(&browser_dir)
        .env("BATON_URL", &server.url)
        .env("BATON_EXPECT", expect.to_string())
        .env("BATON_REPORT", &report)
        .env("BATON_SHOTS", &shots);
    if std::env::var_os("BATON_UPDATE_DOCS_IMAGES").is_some() {
        node.env(
            "BATON_DOCS_SHOT",
            repo_root().join("docs/images/dashboard.png"),
        );
    }
    let out = node.output().expect("run node");
    assert!(
        out.status.success(),
        "the browser found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("screenshots in {}", shots.display());
}
