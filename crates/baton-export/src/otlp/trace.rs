//! A finished run as one OTLP trace, after the OpenTelemetry CI/CD semantic
//! conventions: a root span `RUN <pipeline>` (SERVER), a span per movement, a
//! span per beat (INTERNAL) and, under a beat, a span per attempt when it was
//! retried and its rollback. Span times are the records' times.
//!
//! Span ids are derived, not drawn: a beat's (or, when it was retried, each
//! attempt's) is the one the runner handed it in `TRACEPARENT` (see
//! `baton_runner::trace`), so the spans the beat's own tools make hang under it.

use std::collections::BTreeMap;

use baton_model::{BeatRecord, BeatStatus, BeatType, RunRecord, RunStatus};
use jiff::Timestamp;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span::SpanKind, status::StatusCode,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::payload::Identity;

/// The trace a run joins: `TRACEPARENT` (and `TRACESTATE`) from baton's own
/// environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parent {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits: the root span's parent.
    pub span_id: String,
    pub trace_state: String,
}

impl Parent {
    /// From a `traceparent` value (None unless valid W3C) and a `tracestate`.
    pub fn parse(traceparent: Option<&str>, tracestate: Option<&str>) -> Option<Self> {
        let value = traceparent?.trim().to_ascii_lowercase();
        let parts: Vec<&str> = value.split('-').collect();
        let [version, trace, span, flags, ..] = parts[..] else {
            return None;
        };
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        let zero = |s: &str| s.bytes().all(|b| b == b'0');
        if !hex(version, 2) || version == "ff" || (version == "00" && parts.len() != 4) {
            return None;
        }
        if !hex(trace, 32) || !hex(span, 16) || !hex(flags, 2) || zero(trace) || zero(span) {
            return None;
        }
        Some(Self {
            trace_id: trace.to_owned(),
            span_id: span.to_owned(),
            trace_state: tracestate.unwrap_or_default().trim().to_owned(),
        })
    }
}

/// What a run's trace is made of.
#[derive(Debug, Clone, Copy)]
pub struct TraceInput<'a> {
    pub run: &'a RunRecord,
    pub beats: &'a [BeatRecord],
    pub identity: &'a Identity,
    pub parent: Option<&'a Parent>,
}

/// 32 hex digits: the run id (never all zero). Equal to
/// `baton_runner::trace::trace_id`.
pub fn run_trace_id(run_id: &Uuid) -> String {
    let mut id = run_id.simple().to_string();
    if id.bytes().all(|b| b == b'0') {
        id.replace_range(31.., "1");
    }
    id
}

/// 16 hex digits from `key`: the first 8 bytes of its SHA-256 (never all zero).
/// The same derivation as `baton_runner::trace`.
fn span_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut id: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    if id.bytes().all(|b| b == b'0') {
        id.replace_range(15.., "1");
    }
    id
}

/// The span id the runner gave attempt `attempt` of `beat` in `TRACEPARENT`.
pub fn beat_span_id(run_id: &Uuid, beat: &str, attempt: u32) -> String {
    span_id(&format!("{run_id}/{beat}/{attempt}"))
}

/// The span id of a retried beat's own span: its attempts' spans, under it,
/// carry the ids the runner gave each attempt in `TRACEPARENT`.
pub fn retried_beat_span_id(run_id: &Uuid, beat: &str) -> String {
    span_id(&format!("{run_id}/{beat}/beat"))
}

/// The span id the runner gave the rollback of `beat` in `TRACEPARENT`.
pub fn rollback_span_id(run_id: &Uuid, beat: &str) -> String {
    span_id(&format!("{run_id}/{beat}/rollback"))
}

pub fn root_span_id(run_id: &Uuid) -> String {
    span_id(&format!("{run_id}/run"))
}

pub fn movement_span_id(run_id: &Uuid, movement_index: u32) -> String {
    span_id(&format!("{run_id}/movement/{movement_index}"))
}

/// `cicd.pipeline.result` of a run.
pub fn run_result(run: &RunRecord, beats: &[BeatRecord]) -> &'static str {
    match run.status {
        RunStatus::Success => "success",
        RunStatus::Failure => {
            let timed_out = beats.iter().any(|b| b.status == BeatStatus::Timeout);
            let failed = beats.iter().any(|b| b.status == BeatStatus::Failure);
            if timed_out && !failed {
                "timeout"
            } else {
                "failure"
            }
        }
        RunStatus::Cancelled => "cancellation",
        RunStatus::Abandoned | RunStatus::Running => "error",
    }
}

/// `cicd.pipeline.task.run.result` of a beat.
pub fn beat_result(status: BeatStatus) -> &'static str {
    match status {
        BeatStatus::Success => "success",
        BeatStatus::Failure => "failure",
        BeatStatus::Timeout => "timeout",
        BeatStatus::Cancelled => "cancellation",
        BeatStatus::Skipped => "skip",
    }
}

/// `cicd.pipeline.task.type`, where a beat's type maps to one.
fn task_type(t: BeatType) -> Option<&'static str> {
    match t {
        BeatType::Build | BeatType::Generation => Some("build"),
        BeatType::Test | BeatType::Verification | BeatType::Validation => Some("test"),
        BeatType::Deploy => Some("deploy"),
        BeatType::Observation => None,
    }
}

pub(crate) fn nanos(t: Timestamp) -> u64 {
    u64::try_from(t.as_nanosecond()).unwrap_or(0)
}

fn end_of(start: Timestamp, duration_ms: u64) -> Timestamp {
    let d = jiff::SignedDuration::from_millis(i64::try_from(duration_ms).unwrap_or(i64::MAX));
    start.checked_add(d).unwrap_or(start)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect()
}

pub(crate) fn kv(key: &str, value: impl Into<Attr>) -> KeyValue {
    let value = match value.into() {
        Attr::S(s) => any_value::Value::StringValue(s),
        Attr::I(i) => any_value::Value::IntValue(i),
        Attr::D(d) => any_value::Value::DoubleValue(d),
        Attr::B(b) => any_value::Value::BoolValue(b),
    };
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// An attribute value.
#[derive(Debug, Clone)]
pub(crate) enum Attr {
    S(String),
    I(i64),
    D(f64),
    B(bool),
}

impl From<&str> for Attr {
    fn from(v: &str) -> Self {
        Self::S(v.to_owned())
    }
}
impl From<String> for Attr {
    fn from(v: String) -> Self {
        Self::S(v)
    }
}
impl From<&String> for Attr {
    fn from(v: &String) -> Self {
        Self::S(v.clone())
    }
}
impl From<u64> for Attr {
    fn from(v: u64) -> Self {
        Self::I(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<u32> for Attr {
    fn from(v: u32) -> Self {
        Self::I(i64::from(v))
    }
}
impl From<i32> for Attr {
    fn from(v: i32) -> Self {
        Self::I(i64::from(v))
    }
}
impl From<f64> for Attr {
    fn from(v: f64) -> Self {
        Self::D(v)
    }
}
impl From<bool> for Attr {
    fn from(v: bool) -> Self {
        Self::B(v)
    }
}

/// The resource every export carries: `service.name` (`OTEL_SERVICE_NAME`, else
/// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else `baton`), the service's
/// version, `host.name`, and `OTEL_RESOURCE_ATTRIBUTES`.
pub fn resource(config: &super::OtlpConfig, run: &RunRecord) -> Resource {
    let mut attributes: Vec<KeyValue> = Vec::new();
    let from_env_service = config
        .resource_attributes
        .iter()
        .find(|(k, _)| k == "service.name")
        .map(|(_, v)| v.clone());
    let service = match (config.service_name.source, from_env_service) {
        (crate::config::Source::Default, Some(s)) => s,
        _ => config.service_name.value.clone(),
    };
    attributes.push(kv("service.name", service));
    attributes.push(kv("service.version", &run.baton_version));
    attributes.push(kv("host.name", &run.host));
    for (k, v) in &config.resource_attributes {
        if !matches!(k.as_str(), "service.name" | "service.version" | "host.name") {
            attributes.push(kv(k, v));
        }
    }
    Resource {
        attributes,
        ..Default::default()
    }
}

pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "baton".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

/// The run's trace.
pub fn build(input: &TraceInput<'_>, resource: Resource) -> ExportTraceServiceRequest {
    let run = input.run;
    let run_id = &run.run_id;
    let trace_id = hex_bytes(
        &input
            .parent
            .map_or_else(|| run_trace_id(run_id), |p| p.trace_id.clone()),
    );
    let trace_state = input
        .parent
        .map(|p| p.trace_state.clone())
        .unwrap_or_default();
    let root_id = root_span_id(run_id);
    let result = run_result(run, input.beats);
    let run_end = run.finished_at.unwrap_or(run.heartbeat_at);
    let mut spans = Vec::new();

    let mut root_attrs = vec![
        kv("cicd.pipeline.name", &run.pipeline_name),
        kv("cicd.pipeline.run.id", run_id.to_string()),
        kv("cicd.pipeline.result", result),
    ];
    if let Some(url) = &input.identity.ci_run_url {
        root_attrs.push(kv("cicd.pipeline.run.url.full", url));
    }
    if result != "success" {
        root_attrs.push(kv("error.type", result));
    }
    if let Some(url) = &input.identity.repository_url {
        root_attrs.push(kv("vcs.repository.url.full", url));
    }
    if let Some(branch) = &input.identity.branch {
        root_attrs.push(kv("vcs.ref.head.name", branch));
        root_attrs.push(kv("vcs.ref.head.type", "branch"));
    }
    if let Some(commit) = &input.identity.commit {
        root_attrs.push(kv("vcs.ref.head.revision", commit));
    }
    if let Some(provider) = &input.identity.ci_provider {
        root_attrs.push(kv("baton.ci.provider", provider));
    }
    root_attrs.extend([
        kv("baton.run.label", &run.label),
        kv("baton.run.status", run.status.as_str()),
        kv("baton.pipeline.id", &run.pipeline_id),
        kv("baton.pipeline.file", &run.pipeline_file),
        kv("baton.level", run.level.as_str()),
        kv("baton.beats", u64::try_from(input.beats.len()).unwrap_or(0)),
        kv(
            "baton.errors",
            input.beats.iter().map(|b| b.errors_count).sum::<u64>(),
        ),
        kv(
            "baton.artifacts.count",
            input.beats.iter().map(|b| b.artifacts_count).sum::<u64>(),
        ),
    ]);
    spans.push(Span {
        trace_id: trace_id.clone(),
        span_id: hex_bytes(&root_id),
        trace_state: trace_state.clone(),
        parent_span_id: input
            .parent
            .map(|p| hex_bytes(&p.span_id))
            .unwrap_or_default(),
        name: format!("RUN {}", run.pipeline_name),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: nanos(run.started_at),
        end_time_unix_nano: nanos(run_end),
        attributes: root_attrs,
        status: Some(status(result != "success", result)),
        ..Default::default()
    });

    // Movements, in plan order: from their first beat's start to their last end.
    let mut movements: BTreeMap<u32, (&str, Timestamp, Timestamp, bool)> = BTreeMap::new();
    for b in input.beats {
        let end = end_of(b.started_at, b.duration_ms);
        let m = movements.entry(b.movement_index).or_insert((
            b.movement.as_str(),
            b.started_at,
            end,
            false,
        ));
        m.1 = m.1.min(b.started_at);
        m.2 = m.2.max(end);
        m.3 |= b.status.is_failure();
    }
    for (index, (name, start, end, failed)) in &movements {
        spans.push(Span {
            trace_id: trace_id.clone(),
            span_id: hex_bytes(&movement_span_id(run_id, *index)),
            trace_state: trace_state.clone(),
            parent_span_id: hex_bytes(&root_id),
            name: (*name).to_owned(),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: nanos(*start),
            end_time_unix_nano: nanos(*end),
            attributes: vec![
                kv("baton.movement.name", *name),
                kv("baton.movement.index", *index),
            ],
            status: Some(status(*failed, "a beat failed")),
            ..Default::default()
        });
    }

    for b in input.beats {
        // A beat that ran once is its one attempt: its span has that attempt's
        // id. A retried beat's span has one of its own, with a span per attempt
        // under it.
        let beat_id = if b.attempt_log.is_empty() {
            beat_span_id(run_id, &b.beat, 1)
        } else {
            retried_beat_span_id(run_id, &b.beat)
        };
        let result = beat_result(b.status);
        let mut attrs = vec![
            kv("cicd.pipeline.task.name", &b.beat),
            kv("cicd.pipeline.task.run.id", format!("{run_id}/{}", b.beat)),
            kv("cicd.pipeline.task.run.result", result),
        ];
        if let Some(t) = task_type(b.beat_type) {
            attrs.push(kv("cicd.pipeline.task.type", t));
        }
        if b.status.is_failure() {
            attrs.push(kv("error.type", result));
        }
        attrs.extend([
            kv("baton.beat.type", b.beat_type.as_str()),
            kv("baton.movement.name", &b.movement),
            kv("baton.beat.attempts", b.attempts),
            kv("baton.beat.duration_ms", b.duration_ms),
            kv("baton.beat.cpu_user_ms", b.cpu_user_ms),
            kv("baton.beat.cpu_sys_ms", b.cpu_sys_ms),
            kv("baton.beat.peak_rss_bytes", b.peak_rss_bytes),
            kv("baton.beat.cache.state", b.cache_state.as_str()),
            kv("baton.beat.artifacts.count", b.artifacts_count),
            kv("baton.beat.artifacts.bytes", b.artifacts_bytes),
            kv("baton.beat.errors", b.errors_count),
            kv("baton.beat.shape.hash", &b.shape.hash),
            kv("baton.beat.shape.evolved", b.shape.evolved),
        ]);
        if let Some(sla) = serde_json::to_value(b.sla.overall_status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
        {
            attrs.push(kv("baton.beat.sla", sla));
        }
        attrs.push(kv("baton.beat.sla.duration_ratio", b.sla.duration_ratio));
        if let Some(code) = b.exit_code {
            attrs.push(kv("baton.beat.exit_code", code));
        }
        if let Some(signal) = b.signal {
            attrs.push(kv("baton.beat.signal", signal));
        }
        if let Some(reason) = &b.reason {
            attrs.push(kv("baton.beat.reason", reason));
        }
        if let Some(cost) = b.cost_usd {
            attrs.push(kv("baton.beat.cost_usd", cost));
        }
        spans.push(Span {
            trace_id: trace_id.clone(),
            span_id: hex_bytes(&beat_id),
            trace_state: trace_state.clone(),
            parent_span_id: hex_bytes(&movement_span_id(run_id, b.movement_index)),
            name: format!("RUN {}", b.beat),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: nanos(b.started_at),
            end_time_unix_nano: nanos(end_of(b.started_at, b.duration_ms)),
            attributes: attrs,
            status: Some(status(
                b.status.is_failure(),
                b.reason.as_deref().unwrap_or(result),
            )),
            ..Default::default()
        });
        for a in &b.attempt_log {
            let result = beat_result(a.status);
            let mut attrs = vec![
                kv("cicd.pipeline.task.name", &b.beat),
                kv("cicd.pipeline.task.run.result", result),
                kv("baton.attempt.number", a.attempt),
                kv("baton.attempt.duration_ms", a.duration_ms),
            ];
            if a.status.is_failure() {
                attrs.push(kv("error.type", result));
            }
            if let Some(code) = a.exit_code {
                attrs.push(kv("baton.attempt.exit_code", code));
            }
            if let Some(signal) = a.signal {
                attrs.push(kv("baton.attempt.signal", signal));
            }
            if let Some(reason) = &a.reason {
                attrs.push(kv("baton.attempt.reason", reason));
            }
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: hex_bytes(&beat_span_id(run_id, &b.beat, a.attempt)),
                trace_state: trace_state.clone(),
                parent_span_id: hex_bytes(&beat_id),
                name: format!("ATTEMPT {} {}", a.attempt, b.beat),
                kind: SpanKind::Internal as i32,
                start_time_unix_nano: nanos(a.started_at),
                end_time_unix_nano: nanos(end_of(a.started_at, a.duration_ms)),
                attributes: attrs,
                status: Some(status(
                    a.status.is_failure(),
                    a.reason.as_deref().unwrap_or(result),
                )),
                ..Default::default()
            });
        }
        if let Some(rb) = &b.rollback {
            let result = beat_result(rb.status);
            let mut attrs = vec![
                kv("cicd.pipeline.task.name", format!("{} rollback", b.beat)),
                kv("cicd.pipeline.task.run.result", result),
                kv("baton.rollback.of", &b.beat),
                kv("baton.rollback.duration_ms", rb.duration_ms),
            ];
            if let Some(code) = rb.exit_code {
                attrs.push(kv("baton.rollback.exit_code", code));
            }
            if let Some(reason) = &rb.reason {
                attrs.push(kv("baton.rollback.reason", reason));
            }
            spans.push(Span {
                trace_id: trace_id.clone(),
                span_id: hex_bytes(&rollback_span_id(run_id, &b.beat)),
                trace_state: trace_state.clone(),
                parent_span_id: hex_bytes(&beat_id),
                name: format!("ROLLBACK {}", b.beat),
                kind: SpanKind::Internal as i32,
                start_time_unix_nano: nanos(rb.started_at),
                end_time_unix_nano: nanos(end_of(rb.started_at, rb.duration_ms)),
                attributes: attrs,
                status: Some(status(rb.status.is_failure(), result)),
                ..Default::default()
            });
        }
    }

    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn status(error: bool, message: &str) -> Status {
    if error {
        Status {
            code: StatusCode::Error as i32,
            message: message.to_owned(),
        }
    } else {
        Status::default()
    }
}
