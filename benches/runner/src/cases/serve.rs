//! `serve`: `baton serve` on the store case's history (30,000 runs x 34 beats, about
//! 1M beat records; 300 runs in quick mode). Every page and API call is requested
//! `rounds` times after one warm-up and its median wall time reported; `/metrics`
//! cold (the first scrape folds the whole history in) and warm; the server's peak
//! RSS (VmHWM) after all of it; and `baton report latest --format html` of a 34-beat
//! run, measured like any side, with the size of the page.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::measure::{CmdSpec, measure};
use crate::suite::{Case, CaseResult, Ctx, Side, Target, Unit, run_alternating};
use crate::tools::release_example;

const PAGE_TARGET_MS: f64 = 200.0;
const METRICS_TARGET_MS: f64 = 100.0;
const RSS_TARGET_BYTES: f64 = 100e6;
const REPORT_TARGET_MS: f64 = 50.0;
const REPORT_TARGET_BYTES: f64 = 300e3;
const PIPELINE: &str = "6f1c2d3e-0000-4000-8000-00000000b470";

#[derive(Debug)]
pub(super) struct Serve;

impl Case for Serve {
    fn name(&self) -> &'static str {
        "serve"
    }

    fn about(&self) -> &'static str {
        "baton serve on ~1M beat records: each page and API call, /metrics, the server's \
         peak RSS, and the HTML report of a 34-beat run"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[crate::suite::CaseResult]) -> Result<CaseResult> {
        if !ctx.has_verb(&["serve"]) {
            bail!("`baton serve` does not exist in this build");
        }
        let fill_store = release_example(&ctx.root, &ctx.target_dir, "baton-store", "fill_store")?;
        let dir = tempfile::Builder::new()
            .prefix("baton-bench-serve-")
            .tempdir()?;
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state)?;
        eprintln!("  serve: filling {} runs x 34 beats", ctx.store_runs);
        measure(
            &CmdSpec::new(&fill_store, dir.path())
                .arg(state.join("history.db"))
                .arg(ctx.store_runs.to_string())
                .arg("--no-queries")
                .capture_stdout()
                .timeout(Duration::from_secs(600)),
        )?;
        let mut result = CaseResult::new(self.name(), self.about());
        let mut server = Server::start(&ctx.baton, dir.path(), &state)?;
        let latest = latest_run(&server)?;
        let beat = "build-step-3";
        let rounds = ctx.plan.rounds.max(3);

        let (cold, _) = server.get("/metrics")?;
        result.metric(
            "/metrics, first scrape (folds the history in)",
            cold,
            Unit::Ms,
        );
        // A scrape Prometheus (or anyone) makes after a restart: it counts too.
        result.targets.push(Target::at_most(
            "/metrics, first scrape after the server starts",
            Some(cold),
            METRICS_TARGET_MS,
            Unit::Ms,
        ));
        let metrics = server.median("/metrics", rounds)?;
        result.metric("/metrics (warm)", metrics, Unit::Ms);
        result.targets.push(Target::at_most(
            "/metrics (median, warm)",
            Some(metrics),
            METRICS_TARGET_MS,
            Unit::Ms,
        ));

        let paths = [
            "/runs".to_owned(),
            format!("/runs?pipeline={PIPELINE}&status=failure"),
            "/runs?branch=main&host=bench".to_owned(),
            format!("/runs/{latest}"),
            format!("/pipelines/{PIPELINE}/beats/{beat}"),
            "/pipelines".to_owned(),
            "/api/v1/runs".to_owned(),
            format!("/api/v1/runs/{latest}"),
            format!("/api/v1/runs/{latest}/record"),
            "/api/v1/pipelines".to_owned(),
            "/api/v1/regressions".to_owned(),
            "/api/v1/flaky".to_owned(),
            "/api/v1/trends".to_owned(),
            "/api/v1/slowest".to_owned(),
            format!("/api/v1/shape-log?beat={beat}"),
        ];
        for path in &paths {
            server.get(path)?;
            let ms = server.median(path, rounds)?;
            result.metric(format!("GET {path}"), ms, Unit::Ms);
            result.targets.push(Target::at_most(
                format!("GET {path} (median)"),
                Some(ms),
                PAGE_TARGET_MS,
                Unit::Ms,
            ));
        }
        let rss = server.peak_rss_bytes();
        if let Some(rss) = rss {
            result.metric("baton serve peak RSS", rss, Unit::Bytes);
        }
        result.targets.push(Target::at_most(
            "baton serve peak RSS (VmHWM)",
            rss,
            RSS_TARGET_BYTES,
            Unit::Bytes,
        ));
        server.stop();

        let page = dir.path().join("report.html");
        let report = ctx
            .baton(dir.path())
            .env("BATON_DIR", &state)
            .args(["report", "latest", "--format", "html", "-o"])
            .arg(&page);
        let sides = run_alternating(
            "serve/report",
            &[Side::new("baton report latest --format html", report)],
            ctx.plan,
        )?;
        let report_ms = sides.first().map(|s| s.wall_ms.median);
        result = result.with_sides(sides);
        let bytes = std::fs::metadata(&page).map(|m| m.len() as f64).ok();
        result.targets.push(
            Target::at_most(
                "HTML report of a 34-beat run (median wall, whole process)",
                report_ms,
                REPORT_TARGET_MS,
                Unit::Ms,
            )
            .with_note("includes process start and opening the history"),
        );
        result.targets.push(Target::at_most(
            "HTML report size",
            bytes,
            REPORT_TARGET_BYTES,
            Unit::Bytes,
        ));
        result.note(format!(
            "{rounds} requests per path after one warm-up, one connection each"
        ));
        Ok(result)
    }
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(baton: &Path, cwd: &Path, state: &Path) -> Result<Self> {
        let mut child = Command::new(baton)
            .current_dir(cwd)
            .env("BATON_DIR", state)
            .env_remove("BATON_SERVE_TOKEN")
            .args(["serve", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("failed to start baton serve")?;
        let mut line = String::new();
        if let Some(stderr) = child.stderr.take() {
            BufReader::new(stderr).read_line(&mut line)?;
        }
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .map(|a| a.trim_end_matches('/').to_owned())
            .with_context(|| format!("baton serve said {line:?}"))?;
        Ok(Self { child, addr })
    }

    /// One GET on a new connection: its wall time and the status line.
    fn get(&self, path: &str) -> Result<(f64, String)> {
        let started = Instant::now();
        let mut stream = TcpStream::connect(&self.addr)?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let text = String::from_utf8_lossy(&response);
        let status = text.lines().next().unwrap_or("").to_owned();
        if !status.contains(" 200 ") {
            bail!("GET {path}: {status}");
        }
        Ok((ms, text.into_owned()))
    }

    fn median(&self, path: &str, rounds: usize) -> Result<f64> {
        let mut times = (0..rounds)
            .map(|_| self.get(path).map(|(ms, _)| ms))
            .collect::<Result<Vec<f64>>>()?;
        times.sort_by(f64::total_cmp);
        Ok(times[times.len() / 2])
    }

    fn peak_rss_bytes(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024.0)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The newest run's id, from `/api/v1/runs?limit=1`.
fn latest_run(server: &Server) -> Result<String> {
    let (_, text) = server.get("/api/v1/runs?limit=1")?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let rows: serde_json::Value = serde_json::from_str(body.trim())
        .or_else(|_| serde_json::from_str(dechunk(body).trim()))
        .context("failed to read /api/v1/runs")?;
    rows[0]["run_id"]
        .as_str()
        .map(str::to_owned)
        .context("no run in the history")
}

/// A chunked body's data.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut lines = body.split("\r\n");
    while let Some(size) = lines.next() {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 {
            break;
        }
        if let Some(data) = lines.next() {
            out.push_str(data);
        }
    }
    out
}
