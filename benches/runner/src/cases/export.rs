//! `export-overhead`: what sending a run costs. `baton run` of 34 no-op beats with
//! no exporter, with the webhook and OTLP (traces and metrics) both sending to a
//! local receiver that answers at once, and with both pointed at an endpoint that
//! accepts connections and never answers (the run waits at most its bound,
//! `BATON_TELEMETRY_WAIT`, 2 s by default, then leaves the deliveries queued).
//!
//! The receiver is a thread of this process on 127.0.0.1: it reads each request
//! whole and answers `200 OK`. Each side has its own pipeline folder, so the
//! never-answering side's outbox (50 deliveries at most) never reaches the others.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};

use super::require_run;
use crate::fixtures::{self, pipeline_yaml, symphony_layout};
use crate::measure::CmdSpec;
use crate::suite::{Case, CaseResult, Ctx, Side, Target, Unit, run_alternating};

const NONE: &str = "no exporter";
const ANSWERING: &str = "webhook + OTLP, receiver answering";
const SILENT: &str = "webhook + OTLP, endpoint never answering";
/// Issue #15: at most 5 ms more than no exporter (median).
const TARGET_MS: f64 = 5.0;
/// Issue #15: a silent endpoint costs at most the wait bound, once per run.
const WAIT_BOUND_MS: f64 = 2_000.0;

#[derive(Debug)]
pub(super) struct Export;

impl Case for Export {
    fn name(&self) -> &'static str {
        "export-overhead"
    }

    fn about(&self) -> &'static str {
        "exporters: 34 no-op beats with the webhook and OTLP sending to a local receiver, \
         or to an endpoint that never answers, vs no exporter"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[CaseResult]) -> Result<CaseResult> {
        require_run(ctx)?;
        if !ctx.has_verb(&["telemetry"]) {
            anyhow::bail!("`baton telemetry` does not exist in this build: no exporters");
        }
        let answering = spawn_receiver(true)?;
        let silent = spawn_receiver(false)?;
        let dir = tempfile::Builder::new()
            .prefix("baton-bench-export-")
            .tempdir()?;
        let yaml = pipeline_yaml("bench-noop-34", &symphony_layout(|_| "true".to_owned()));
        let side = |name: &str, endpoint: Option<&str>| -> Result<Side> {
            let work = dir
                .path()
                .join(name.replace(|c: char| !c.is_alphanumeric(), "-"));
            std::fs::create_dir_all(&work)?;
            fixtures::write(&work.join("baton.yaml"), &yaml)?;
            Ok(Side::new(name, exporting(ctx, &work, endpoint)))
        };
        let sides = vec![
            side(NONE, None)?,
            side(ANSWERING, Some(&answering))?,
            side(SILENT, Some(&silent))?,
        ];
        let measured = run_alternating(self.name(), &sides, ctx.plan)?;
        let mut result = CaseResult::new(self.name(), self.about()).with_sides(measured);
        let more = |name: &str| -> Option<f64> {
            let base = result.sides.iter().find(|s| s.name == NONE)?;
            let side = result.sides.iter().find(|s| s.name == name)?;
            Some(side.wall_ms.median - base.wall_ms.median)
        };
        let (answer_more, silent_more) = (more(ANSWERING), more(SILENT));
        result.targets.push(
            Target::at_most(
                "webhook + OTLP to a receiver answering at once: wall added (medians)",
                answer_more,
                TARGET_MS,
                Unit::Ms,
            )
            .with_note("difference of the medians of alternating rounds"),
        );
        result.targets.push(Target::at_most(
            "an endpoint that never answers: wall added (medians)",
            silent_more,
            WAIT_BOUND_MS + TARGET_MS,
            Unit::Ms,
        ));
        result.note(format!(
            "receiver at {answering}; silent endpoint at {silent} (accepts, never reads)"
        ));
        Ok(result)
    }
}

/// `baton run` of the pipeline in `work`, exporting to `endpoint` (webhook at
/// `/hook`, OTLP under it) or with no exporter at all.
fn exporting(ctx: &Ctx, work: &Path, endpoint: Option<&str>) -> CmdSpec {
    let spec = ctx
        .baton(work)
        .args(["run", "baton.yaml", "--output", "quiet"]);
    let unset = [
        "BATON_TELEMETRY_URL",
        "BATON_TELEMETRY_KEY",
        "BATON_TELEMETRY_SECRET",
        "BATON_TELEMETRY_WAIT",
        "BATON_QUEUE_DIR",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "OTEL_SDK_DISABLED",
        "TRACEPARENT",
    ];
    let spec = unset.iter().fold(spec, |spec, key| spec.env_remove(key));
    match endpoint {
        None => spec,
        Some(base) => spec
            .env("BATON_TELEMETRY_URL", format!("{base}/hook"))
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", base),
    }
}

/// Starts a receiver on 127.0.0.1 and returns its base URL. `answer`: read each
/// request and answer 200; otherwise accept connections and keep them open unread.
fn spawn_receiver(answer: bool) -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").context("failed to bind a receiver")?;
    let url = format!("http://{}", listener.local_addr()?);
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if answer {
                std::thread::spawn(move || serve(stream));
            } else if let Ok(mut held) = held.lock() {
                held.push(stream);
            }
        }
    });
    Ok(url)
}

/// Reads requests on one connection (headers, then `Content-Length` bytes) and
/// answers each with an empty 200.
fn serve(stream: TcpStream) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        let mut started = false;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                if started {
                    break;
                }
                continue;
            }
            started = true;
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let answer =
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Type: application/json\r\n\r\n";
        if writer.write_all(answer).is_err() {
            return;
        }
    }
}
