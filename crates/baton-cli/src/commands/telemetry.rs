//! `baton telemetry`: the webhook's resolved configuration (where each value came
//! from, the key and secret masked), whether it is active and why, its outbox and
//! its last delivery; `baton telemetry test` pings it; `baton telemetry flush`
//! delivers the outbox now. A key or secret is never printed whole.

use std::path::{Path, PathBuf};

use baton_export::config::URL_VAR;
use baton_export::otlp::config::{SignalEndpoint, masked_headers};
use baton_export::{Activity, Config, Otlp, OtlpConfig, Outcome, Sourced, Webhook};
use serde_json::{Value, json};

use crate::cli::{TelemetryArgs, TelemetryCommand, TextOrJson};
use crate::exit::Exit;
use crate::state::StateDir;

pub(crate) fn run(args: &TelemetryArgs) -> anyhow::Result<Exit> {
    match &args.command {
        None => show(args.file.as_deref(), args.format),
        Some(TelemetryCommand::Test(a)) => test(a.file.as_deref()),
        Some(TelemetryCommand::Flush(a)) => flush(a.file.as_deref()),
    }
}

/// The webhook's configuration for the pipeline whose beats run in `root`: the
/// environment, else the `.env` next to the pipeline file.
pub(crate) fn config_for(root: &Path) -> Config {
    let state = StateDir::for_pipeline(root);
    Config::resolve(
        |k| std::env::var(k).ok(),
        &root.join(".env"),
        state.layout().queue(),
    )
}

/// The OTLP exporter's configuration for the pipeline whose beats run in
/// `root`: `OTEL_*` from the environment, else the `.env` next to the pipeline.
pub(crate) fn otlp_config_for(root: &Path) -> OtlpConfig {
    OtlpConfig::resolve(|k| std::env::var(k).ok(), &root.join(".env"))
}

fn root_of(file: Option<&Path>) -> PathBuf {
    baton_config::pipeline_root(&baton_config::locate(file))
}

fn show(file: Option<&Path>, format: TextOrJson) -> anyhow::Result<Exit> {
    let root = root_of(file);
    let config = config_for(&root);
    let outbox = baton_export::Outbox::new(config.queue_dir.value.clone());
    let webhook = Webhook::new(config.clone());
    let (active, why) = match webhook.as_ref().map(Webhook::activity) {
        None => (
            false,
            format!(
                "{URL_VAR} is not set (environment or {})",
                root.join(".env").display()
            ),
        ),
        Some(Activity::Active) => (true, "the URL is set".to_owned()),
        Some(Activity::Gone { since }) => (
            false,
            format!("the endpoint answered 410 Gone at {since}; off until the URL changes"),
        ),
    };
    let entries = outbox.list();
    let oldest = entries.first().and_then(|p| outbox.read(p));
    let state = outbox.state();
    let url = config.url.as_ref().map(|u| Sourced {
        value: baton_export::strip_credentials(&u.value),
        source: u.source,
    });
    let masked = |s: &Option<Sourced<baton_export::Secret>>| {
        s.as_ref().map(|s| Sourced {
            value: s.value.to_string(),
            source: s.source,
        })
    };
    let (key, secret) = (masked(&config.key), masked(&config.secret));
    let artifacts = match config.artifacts.value {
        baton_export::ArtifactsMode::Manifest => "manifest",
        baton_export::ArtifactsMode::Content => "content",
    };
    let wait_ms = u64::try_from(config.wait.value.as_millis()).unwrap_or(u64::MAX);
    let otlp = otlp_config_for(&root);
    let (otlp_active, otlp_why) = if otlp.disabled {
        (false, "OTEL_SDK_DISABLED=true".to_owned())
    } else if otlp.active() {
        (true, "an OTLP endpoint is set".to_owned())
    } else {
        (
            false,
            format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT (or a per-signal endpoint) is not set (environment or {})",
                root.join(".env").display()
            ),
        )
    };
    let signal_json = |e: &Option<SignalEndpoint>| match e {
        None => Value::Null,
        Some(e) => json!({
            "url": {"value": baton_export::strip_credentials(&e.url.value), "source": e.url.source.as_str()},
            "headers": masked_headers(&e.headers).into_iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "timeout_ms": u64::try_from(e.timeout.as_millis()).unwrap_or(u64::MAX),
            "compression": if e.gzip { "gzip" } else { "none" },
        }),
    };
    let otlp_waiting = entries
        .iter()
        .filter_map(|p| outbox.read(p))
        .filter(|e| !e.kind.is_webhook())
        .count();
    if format == TextOrJson::Json {
        let sourced = |s: &Option<Sourced<String>>| match s {
            Some(s) => json!({"value": s.value, "source": s.source.as_str()}),
            None => Value::Null,
        };
        let out = json!({
            "webhook": {
                "active": active,
                "why": why,
                "url": sourced(&url),
                "key": sourced(&key),
                "secret": sourced(&secret),
                "artifacts": {"value": artifacts, "source": config.artifacts.source.as_str()},
                "wait_ms": {"value": wait_ms, "source": config.wait.source.as_str()},
                "queue_dir": {
                    "value": config.queue_dir.value.display().to_string(),
                    "source": config.queue_dir.source.as_str(),
                },
            },
            "outbox": {
                "depth": entries.len(),
                "cap": baton_export::outbox::CAP,
                "oldest": oldest.as_ref().map(|e| json!({
                    "id": e.id, "created_at": e.created_at.to_string(), "attempts": e.attempts,
                })),
                "drops": state.drops,
                "refused": state.rejected,
                "not_before": state.not_before.map(|t| t.to_string()),
            },
            "last_delivery": state.last_delivery.as_ref().map(|d| json!({
                "at": d.at.to_string(),
                "id": d.id,
                "outcome": d.outcome,
                "status": d.status,
                "round_trip_ms": d.round_trip_ms,
                "detail": d.detail,
            })),
            "otlp": {
                "active": otlp_active,
                "why": otlp_why,
                "traces": signal_json(&otlp.traces),
                "metrics": signal_json(&otlp.metrics),
                "service_name": {"value": otlp.service_name.value, "source": otlp.service_name.source.as_str()},
                "queued": otlp_waiting,
                "last_export": state.last_otlp_export.as_ref().map(|d| json!({
                    "at": d.at.to_string(),
                    "id": d.id,
                    "outcome": d.outcome,
                    "status": d.status,
                    "round_trip_ms": d.round_trip_ms,
                    "detail": d.detail,
                })),
            },
            "warnings": config.warnings.iter().chain(&otlp.warnings).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Exit::Success);
    }
    let mut out = String::new();
    let state_word = if active { "active" } else { "inactive" };
    out.push_str(&format!("webhook: {state_word} ({why})\n"));
    let line = |name: &str, value: Option<&Sourced<String>>| match value {
        Some(v) => format!("  {name:<10} {}  ({})\n", v.value, v.source.as_str()),
        None => format!("  {name:<10} not set\n"),
    };
    out.push_str(&line("url", url.as_ref()));
    out.push_str(&line("key", key.as_ref()));
    out.push_str(&line("secret", secret.as_ref()));
    out.push_str(&format!(
        "  {:<10} {artifacts}  ({})\n",
        "artifacts",
        config.artifacts.source.as_str()
    ));
    out.push_str(&format!(
        "  {:<10} {}  ({})\n",
        "wait",
        format_ms(wait_ms),
        config.wait.source.as_str()
    ));
    out.push_str(&format!(
        "  {:<10} {}  ({})\n",
        "queue",
        config.queue_dir.value.display(),
        config.queue_dir.source.as_str()
    ));
    out.push_str(&format!(
        "outbox: {} waiting (at most {}), {} dropped to keep it so, {} refused by the endpoint\n",
        entries.len(),
        baton_export::outbox::CAP,
        state.drops,
        state.rejected
    ));
    if let Some(e) = &oldest {
        out.push_str(&format!(
            "  oldest: {} ({}, {} attempts)\n",
            e.created_at, e.id, e.attempts
        ));
    }
    if let Some(at) = state.not_before {
        out.push_str(&format!("  the endpoint asked to wait until {at}\n"));
    }
    match &state.last_delivery {
        Some(d) => out.push_str(&format!(
            "last delivery: {} {} in {} ms: {} ({})\n",
            d.at, d.outcome, d.round_trip_ms, d.detail, d.id
        )),
        None => out.push_str("last delivery: none\n"),
    }
    let otlp_word = if otlp_active { "active" } else { "inactive" };
    out.push_str(&format!("otlp: {otlp_word} ({otlp_why})\n"));
    for (name, signal) in [("traces", &otlp.traces), ("metrics", &otlp.metrics)] {
        let Some(e) = signal else { continue };
        out.push_str(&format!(
            "  {name:<10} {}  ({}, {}, timeout {} ms)\n",
            baton_export::strip_credentials(&e.url.value),
            e.url.source.as_str(),
            if e.gzip { "gzip" } else { "uncompressed" },
            e.timeout.as_millis()
        ));
        for (k, v) in masked_headers(&e.headers) {
            out.push_str(&format!("  {:<10} {k}: {v}\n", "header"));
        }
    }
    out.push_str(&format!(
        "  {:<10} {}  ({})\n",
        "service",
        otlp.service_name.value,
        otlp.service_name.source.as_str()
    ));
    out.push_str(&format!(
        "  {:<10} {otlp_waiting} export(s) waiting in the outbox\n",
        "queued"
    ));
    match &state.last_otlp_export {
        Some(d) => out.push_str(&format!(
            "last export: {} {} in {} ms: {} ({})\n",
            d.at, d.outcome, d.round_trip_ms, d.detail, d.id
        )),
        None => out.push_str("last export: none\n"),
    }
    for warning in config.warnings.iter().chain(&otlp.warnings) {
        out.push_str(&format!("warning: {warning}\n"));
    }
    print!("{out}");
    Ok(Exit::Success)
}

fn format_ms(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn configured(file: Option<&Path>) -> anyhow::Result<(PathBuf, Webhook)> {
    let root = root_of(file);
    let config = config_for(&root);
    for warning in &config.warnings {
        crate::notice::warning(warning);
    }
    match Webhook::new(config) {
        Some(w) => Ok((root, w)),
        None => crate::usage_bail!(
            "the webhook is inactive: {URL_VAR} is not set (environment or {})",
            root.join(".env").display()
        ),
    }
}

fn test(file: Option<&Path>) -> anyhow::Result<Exit> {
    let (root, webhook) = configured(file)?;
    let pipeline_id = baton_config::load(&baton_config::locate(file))
        .pipeline
        .map(|p| p.history_key().to_owned())
        .unwrap_or_else(|| root.display().to_string());
    let attempt = webhook.ping(&pipeline_id, &crate::provenance::host_name());
    let ms = attempt.round_trip.as_millis();
    let url = baton_export::strip_credentials(&webhook.endpoint.url);
    match attempt.status {
        Some(status) => println!("ping {url}: HTTP {status} in {ms} ms"),
        None => println!("ping {url}: no answer: {} (after {ms} ms)", attempt.detail),
    }
    if attempt.outcome == Outcome::Delivered {
        Ok(Exit::Success)
    } else {
        if attempt.status.is_some() {
            println!("  {}", attempt.detail);
        }
        // 1: the check failed.
        Ok(Exit::BeatFailed)
    }
}

fn flush(file: Option<&Path>) -> anyhow::Result<Exit> {
    let root = root_of(file);
    let config = config_for(&root);
    let outbox = baton_export::Outbox::new(config.queue_dir.value.clone());
    let otlp_config = otlp_config_for(&root);
    for warning in &otlp_config.warnings {
        crate::notice::warning(warning);
    }
    let otlp = Otlp::new(otlp_config, outbox);
    let mut stopped = false;
    if let Some(otlp) = &otlp {
        let flushed = otlp.flush(None);
        println!(
            "otlp: exported {}, refused {}, {} still queued",
            flushed.delivered, flushed.dropped, flushed.remaining
        );
        if let Some(why) = flushed.stopped {
            println!("stopped: {why}");
            stopped = true;
        }
    }
    if otlp.is_some() && config.url.is_none() {
        return Ok(if stopped {
            Exit::BeatFailed
        } else {
            Exit::Success
        });
    }
    let (_, webhook) = configured(file)?;
    let flushed = webhook.flush(None);
    println!(
        "delivered {}, refused {}, {} still queued",
        flushed.delivered, flushed.dropped, flushed.remaining
    );
    if let Some(why) = flushed.stopped {
        println!("stopped: {why}");
        stopped = true;
    }
    // 1: deliveries remain.
    Ok(if stopped {
        Exit::BeatFailed
    } else {
        Exit::Success
    })
}
