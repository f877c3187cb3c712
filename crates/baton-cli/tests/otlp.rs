//! OpenTelemetry through the binary, against a real OTLP/HTTP receiver on
//! 127.0.0.1 (a small server thread here): the request bodies are decoded with
//! the official protobuf definitions (the `opentelemetry-proto` prost types) and
//! the span tree, names, kinds, attributes, the parent from `TRACEPARENT`, the
//! beat's span id (the `TRACEPARENT` the beat saw) and the times (the records')
//! are checked; the metrics by name; gzip; a collector that is down changes no
//! exit code and loses nothing; `OTEL_SDK_DISABLED=true` sends nothing.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::time::Duration;

use common::Project;
use common::http::{Answer, Receiver, Request};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

const PARENT_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT_SPAN: &str = "b7ad6b7169203331";

fn project() -> Project {
    Project::with_pipeline(
        "version: 1\nname: traced\nmovements:\n  - name: build\n    beats:\n      \
         - name: compile\n        run: 'echo \"$TRACEPARENT\" > traceparent.txt'\n  \
         - name: check\n    beats:\n      - name: unit\n        run: 'true'\n",
    )
}

/// `baton ARGS` with none of the caller's telemetry settings.
fn baton(project: &Project, args: &[&str]) -> assert_cmd::Command {
    project.baton_without_telemetry(args)
}

fn run_with(project: &Project, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = baton(project, &["run"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("baton run")
}

fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    let value = attrs.iter().find(|kv| kv.key == key)?.value.as_ref()?;
    Some(match value.value.as_ref()? {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::IntValue(i) => i.to_string(),
        any_value::Value::DoubleValue(d) => d.to_string(),
        any_value::Value::BoolValue(b) => b.to_string(),
        other => format!("{other:?}"),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn nanos(rfc3339: &serde_json::Value) -> u64 {
    let t: jiff::Timestamp = rfc3339.as_str().expect("a timestamp").parse().expect("ts");
    u64::try_from(t.as_nanosecond()).expect("positive")
}

fn spans(request: &Request) -> Vec<Span> {
    let decoded = ExportTraceServiceRequest::decode(&request.body()[..]).expect("protobuf");
    decoded
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect()
}

#[test]
fn a_run_is_one_trace_under_the_given_traceparent_with_the_records_times_and_its_metrics() {
    let receiver = Receiver::start(&[Answer::Status(200)]);
    let project = project();
    let traceparent = format!("00-{PARENT_TRACE}-{PARENT_SPAN}-01");
    let out = run_with(
        &project,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url("")),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret-value-1234"),
            ("OTEL_SERVICE_NAME", "ci-baton"),
            ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test"),
            ("TRACEPARENT", &traceparent),
            ("TRACESTATE", "vendor=1"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let traces = receiver.at("/v1/traces");
    assert_eq!(traces.len(), 1, "{:?}", receiver.requests());
    let request = &traces[0];
    assert_eq!(
        request.header("content-type"),
        Some("application/x-protobuf")
    );
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    assert_eq!(request.header("x-api-key"), Some("secret-value-1234"));
    let decoded = ExportTraceServiceRequest::decode(&request.body()[..]).expect("protobuf");
    let resource = decoded.resource_spans[0]
        .resource
        .as_ref()
        .expect("resource");
    assert_eq!(
        attr(&resource.attributes, "service.name").as_deref(),
        Some("ci-baton")
    );
    assert_eq!(
        attr(&resource.attributes, "deployment.environment").as_deref(),
        Some("test")
    );
    let spans = spans(request);
    let by_name: BTreeMap<&str, &Span> = spans.iter().map(|s| (s.name.as_str(), s)).collect();
    assert_eq!(spans.len(), 5, "{:?}", by_name.keys());

    // The records.
    let show = baton(&project, &["show", "latest", "--format", "json"])
        .output()
        .expect("show");
    let record: serde_json::Value = serde_json::from_slice(&show.stdout).expect("show json");
    let run = &record["run"];

    let root = by_name["RUN traced"];
    assert_eq!(root.kind, SpanKind::Server as i32);
    assert_eq!(hex(&root.trace_id), PARENT_TRACE);
    assert_eq!(hex(&root.parent_span_id), PARENT_SPAN);
    assert_eq!(root.trace_state, "vendor=1");
    assert_eq!(
        attr(&root.attributes, "cicd.pipeline.name").as_deref(),
        Some("traced")
    );
    assert_eq!(
        attr(&root.attributes, "cicd.pipeline.run.id").as_deref(),
        run["run_id"].as_str()
    );
    assert_eq!(
        attr(&root.attributes, "cicd.pipeline.result").as_deref(),
        Some("success")
    );
    assert!(attr(&root.attributes, "error.type").is_none());
    assert_eq!(root.start_time_unix_nano, nanos(&run["started_at"]));
    assert_eq!(root.end_time_unix_nano, nanos(&run["finished_at"]));

    for (movement, beat) in [("build", "compile"), ("check", "unit")] {
        let m = by_name[movement];
        assert_eq!(m.parent_span_id, root.span_id, "{movement}");
        assert_eq!(m.kind, SpanKind::Internal as i32);
        let b = by_name[format!("RUN {beat}").as_str()];
        assert_eq!(b.parent_span_id, m.span_id, "{beat}");
        assert_eq!(b.trace_id, root.trace_id);
        assert_eq!(b.kind, SpanKind::Internal as i32);
        assert_eq!(
            attr(&b.attributes, "cicd.pipeline.task.name").as_deref(),
            Some(beat)
        );
        assert_eq!(
            attr(&b.attributes, "cicd.pipeline.task.run.result").as_deref(),
            Some("success")
        );
        assert!(attr(&b.attributes, "cicd.pipeline.task.run.id").is_some());
        assert!(attr(&b.attributes, "baton.beat.cache.state").is_some());
        assert!(attr(&b.attributes, "baton.beat.peak_rss_bytes").is_some());
        let rec = record["beats"]
            .as_array()
            .expect("beats")
            .iter()
            .find(|r| r["beat"] == beat)
            .expect("the beat's record");
        assert_eq!(b.start_time_unix_nano, nanos(&rec["started_at"]), "{beat}");
        let ms = rec["duration_ms"].as_u64().expect("duration_ms");
        assert_eq!(
            b.end_time_unix_nano - b.start_time_unix_nano,
            ms * 1_000_000
        );
        assert!(m.start_time_unix_nano <= b.start_time_unix_nano);
        assert!(m.end_time_unix_nano >= b.end_time_unix_nano);
    }

    // The beat saw its own span as its parent: its tools' spans nest under it.
    let seen = std::fs::read_to_string(project.join("traceparent.txt")).expect("traceparent");
    let compile = by_name["RUN compile"];
    assert_eq!(
        seen.trim(),
        format!("00-{PARENT_TRACE}-{}-01", hex(&compile.span_id))
    );

    let metrics = receiver.at("/v1/metrics");
    assert_eq!(metrics.len(), 1);
    let decoded = ExportMetricsServiceRequest::decode(&metrics[0].body()[..]).expect("protobuf");
    let names: Vec<String> = decoded
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| m.name.clone())
        .collect();
    for name in [
        "cicd.pipeline.run.duration",
        "cicd.pipeline.run.errors",
        "baton.beat.duration",
        "baton.beat.cache_hits",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    let text = format!("{decoded:?}");
    assert!(
        !text.contains(run["run_id"].as_str().expect("id")),
        "no run id in metrics"
    );

    // `baton telemetry` tells about it, the header masked.
    let shown = baton(&project, &["telemetry"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url(""))
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret-value-1234")
        .output()
        .expect("telemetry");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("otlp: active"), "{shown}");
    assert!(
        shown.contains(&format!("{}/v1/traces", receiver.url(""))),
        "{shown}"
    );
    assert!(!shown.contains("secret-value-1234"), "{shown}");
    assert!(
        shown.contains("last export:") && shown.contains("delivered"),
        "{shown}"
    );
}

#[test]
fn per_signal_endpoints_are_used_as_given_and_compression_none_is_honoured() {
    let receiver = Receiver::start(&[Answer::Status(200)]);
    let project = project();
    let out = run_with(
        &project,
        &[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                &format!("{}/custom/traces", receiver.url("")),
            ),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
        ],
    );
    assert!(out.status.success());
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "traces only: {requests:?}");
    assert_eq!(requests[0].path, "/custom/traces");
    assert_eq!(requests[0].header("content-encoding"), None);
    let spans = spans(&requests[0]);
    // No TRACEPARENT: a trace of its own, whose root has no parent.
    let root = spans.iter().find(|s| s.name == "RUN traced").expect("root");
    assert!(root.parent_span_id.is_empty());
}

#[test]
fn a_collector_that_is_down_changes_nothing_and_flush_delivers_later() {
    let project = project();
    // A port nothing listens on, yet.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}");
    let out = run_with(&project, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &url)]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let queued = |project: &Project| -> usize {
        std::fs::read_dir(project.join(".baton/queue"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        n.ends_with(".json") && n.contains("otlp_")
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(queued(&project), 2, "traces and metrics wait in the outbox");

    let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) else {
        return; // the port was taken meanwhile: nothing more to check here
    };
    let receiver = Receiver::on(listener, &[Answer::Status(200)]);
    let flushed = baton(&project, &["telemetry", "flush"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &url)
        .output()
        .expect("flush");
    assert!(
        flushed.status.success(),
        "{}",
        String::from_utf8_lossy(&flushed.stdout)
    );
    assert_eq!(queued(&project), 0);
    assert_eq!(receiver.at("/v1/traces").len(), 1);
    assert_eq!(receiver.at("/v1/metrics").len(), 1);
    assert_eq!(spans(&receiver.at("/v1/traces")[0]).len(), 5);
}

#[test]
fn otel_sdk_disabled_and_no_telemetry_send_nothing() {
    let receiver = Receiver::start(&[Answer::Status(200)]);
    let project = project();
    let out = run_with(
        &project,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url("")),
            ("OTEL_SDK_DISABLED", "true"),
        ],
    );
    assert!(out.status.success());
    let mut cmd = baton(&project, &["run", "--no-telemetry"]);
    cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url(""));
    assert!(cmd.output().expect("run").status.success());
    std::thread::sleep(Duration::from_millis(200));
    assert!(receiver.requests().is_empty());
    assert!(!project.join(".baton/queue").join("otlp.lock").exists());
}

#[test]
fn a_failing_run_keeps_its_exit_code_and_says_failure() {
    let receiver = Receiver::start(&[Answer::Status(200)]);
    let project = Project::with_pipeline(
        "version: 1\nname: broken\nmovements:\n  - name: build\n    beats:\n      \
         - name: compile\n        run: 'exit 3'\n",
    );
    let plain = baton(&project, &["run"]).output().expect("run");
    let exported = run_with(
        &project,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url(""))],
    );
    assert_eq!(plain.status.code(), exported.status.code());
    assert_ne!(exported.status.code(), Some(0));
    let spans = spans(&receiver.at("/v1/traces")[0]);
    let root = spans.iter().find(|s| s.name == "RUN broken").expect("root");
    assert_eq!(
        attr(&root.attributes, "cicd.pipeline.result").as_deref(),
        Some("failure")
    );
    assert_eq!(
        attr(&root.attributes, "error.type").as_deref(),
        Some("failure")
    );
    let beat = spans
        .iter()
        .find(|s| s.name == "RUN compile")
        .expect("beat");
    assert_eq!(
        attr(&beat.attributes, "cicd.pipeline.task.run.result").as_deref(),
        Some("failure")
    );
}

#[test]
fn a_collector_asking_to_retry_later_is_not_called_before_then() {
    let project = project();
    // Every export refused: `429 Too Many Requests`, `Retry-After: 3600`.
    let busy = Receiver::start(&[Answer::RetryAfter(429, 3600)]);
    let url = busy.url("");
    let out = run_with(&project, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &url)]);
    assert!(out.status.success());
    let first = busy.requests().len();
    assert!(first >= 1, "the run tried to export");
    let flushed = baton(&project, &["telemetry", "flush"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &url)
        .output()
        .expect("flush");
    let said = String::from_utf8_lossy(&flushed.stdout).into_owned()
        + &String::from_utf8_lossy(&flushed.stderr);
    assert_eq!(flushed.status.code(), Some(1), "{said}");
    assert!(said.contains("Retry-After"), "{said}");
    assert_eq!(
        busy.requests().len(),
        first,
        "no request before the time the collector named"
    );
}

#[test]
fn a_beat_failing_twice_then_succeeding_has_three_attempt_spans_under_its_span() {
    let receiver = Receiver::start(&[Answer::Status(200)]);
    // Fails on its first two attempts (a counter file), succeeds on the third;
    // each attempt leaves the TRACEPARENT it saw.
    let project = Project::with_pipeline(
        "version: 1\nname: retried\nmovements:\n  - name: build\n    beats:\n      \
         - name: flaky\n        retry: { attempts: 3, backoff: 50ms, factor: 1 }\n        \
         run: 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; \
         echo \"$TRACEPARENT\" >> traceparents.txt; sleep 0.05; [ $n -ge 3 ] || exit 7'\n",
    );
    let out = run_with(
        &project,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url(""))],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let traces = receiver.at("/v1/traces");
    assert_eq!(traces.len(), 1, "{:?}", receiver.requests());
    let spans = spans(&traces[0]);

    let show = baton(&project, &["show", "latest", "--format", "json"])
        .output()
        .expect("show");
    let record: serde_json::Value = serde_json::from_slice(&show.stdout).expect("show json");
    let beat = &record["beats"][0];
    assert_eq!(beat["attempts"], 3);
    let log = beat["attempt_log"].as_array().expect("the attempts, kept");
    assert_eq!(log.len(), 3, "{beat}");

    let beat_span = spans
        .iter()
        .find(|s| s.name == "RUN flaky")
        .expect("beat span");
    assert_eq!(nanos(&beat["started_at"]), beat_span.start_time_unix_nano);
    let attempts: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id == beat_span.span_id && s.name.starts_with("ATTEMPT"))
        .collect();
    assert_eq!(
        attempts.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["ATTEMPT 1 flaky", "ATTEMPT 2 flaky", "ATTEMPT 3 flaky"]
    );
    let seen = project.read("traceparents.txt");
    let seen: Vec<&str> = seen.lines().collect();
    assert_eq!(seen.len(), 3);
    for (n, (span, kept)) in attempts.iter().zip(log).enumerate() {
        assert_eq!(span.kind, SpanKind::Internal as i32);
        assert_eq!(span.trace_id, beat_span.trace_id);
        // The attempt's span is the parent its own tools were given.
        assert_eq!(
            seen[n],
            format!("00-{}-{}-01", hex(&span.trace_id), hex(&span.span_id))
        );
        assert_eq!(kept["attempt"], n + 1);
        let start = nanos(&kept["started_at"]);
        let ms = kept["duration_ms"].as_u64().expect("duration");
        assert_eq!(span.start_time_unix_nano, start);
        assert_eq!(span.end_time_unix_nano, start + ms * 1_000_000);
        assert!(ms >= 50, "each attempt sleeps 50 ms: {ms}");
        assert!(span.start_time_unix_nano >= beat_span.start_time_unix_nano);
        let (result, code) = if n < 2 {
            ("failure", "7")
        } else {
            ("success", "0")
        };
        assert_eq!(
            attr(&span.attributes, "cicd.pipeline.task.run.result").as_deref(),
            Some(result)
        );
        assert_eq!(
            attr(&span.attributes, "baton.attempt.exit_code").as_deref(),
            Some(code)
        );
        assert_eq!(kept["exit_code"], code.parse::<i64>().expect("int"));
        assert_eq!(kept["status"], result);
    }
    // In order, one after the other (the backoff between them).
    for pair in attempts.windows(2) {
        assert!(pair[0].end_time_unix_nano <= pair[1].start_time_unix_nano);
    }
}
