//! Prometheus `/metrics`: what the history holds, as counters, histograms and
//! gauges in base units. Labels are pipelines, movements, beats and results only
//! (never run ids, commits or branches: each value would be a new series).
//!
//! The figures are folded in run by run: the first scrape reads the whole history
//! (in pages), each later one only the runs that finished since. A run still
//! running is left for a later scrape, which reads it again from where the last
//! fully folded page ended. Runs that `baton import` adds with start times before
//! the last scrape are counted after a restart of the server.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use baton_model::{BeatRecord, BeatStatus, CacheState, RunRecord, RunStatus, SlaStatus};
use baton_store::{HistoryStore, RunCursor, RunPageFilter};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use uuid::Uuid;

use crate::AppState;
use crate::api::Failure;

/// Runs read per page while folding.
const PAGE_RUNS: usize = 200;

/// Upper bounds of the duration buckets, in seconds: 10 ms to an hour.
const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

/// A label value escaped as the exposition formats require (`\\`, `\"`, `\n`):
/// the encoder writes label values as they are, and a beat name may hold any of
/// these.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Text(String);

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl EncodeLabelValue for Text {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineLabels {
    pipeline: Text,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    pipeline: Text,
    result: Text,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BeatLabels {
    pipeline: Text,
    movement: Text,
    beat: Text,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BeatResultLabels {
    pipeline: Text,
    movement: Text,
    beat: Text,
    result: Text,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The metric families and where the folding stopped.
struct Folded {
    registry: Registry,
    runs: Family<RunLabels, Counter>,
    beats: Family<BeatResultLabels, Counter>,
    run_duration: Family<PipelineLabels, Histogram, fn() -> Histogram>,
    beat_duration: Family<BeatLabels, Histogram, fn() -> Histogram>,
    breaches: Family<BeatLabels, Counter>,
    cache_hits: Family<BeatLabels, Counter>,
    last_run: Family<PipelineLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// The page where the next read starts (`None`: the beginning).
    cursor: Option<RunCursor>,
    /// Runs after `cursor` already folded in (the page there had a running run).
    folded: HashSet<Uuid>,
}

impl Default for Folded {
    fn default() -> Self {
        let mut registry = Registry::default();
        let runs = Family::<RunLabels, Counter>::default();
        let beats = Family::<BeatResultLabels, Counter>::default();
        let run_duration: Family<PipelineLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        let beat_duration: Family<BeatLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        let breaches = Family::<BeatLabels, Counter>::default();
        let cache_hits = Family::<BeatLabels, Counter>::default();
        let last_run =
            Family::<PipelineLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "baton_runs",
            "Finished runs, by pipeline and result (success, failure, cancelled, abandoned)",
            runs.clone(),
        );
        registry.register(
            "baton_beats",
            "Recorded beats, by pipeline, movement, beat and result",
            beats.clone(),
        );
        registry.register(
            "baton_run_duration_seconds",
            "Wall time of finished runs",
            run_duration.clone(),
        );
        registry.register(
            "baton_beat_duration_seconds",
            "Duration of beats that ran (skipped beats are left out)",
            beat_duration.clone(),
        );
        registry.register(
            "baton_sla_breaches",
            "Beats whose SLA verdict was breach or critical",
            breaches.clone(),
        );
        registry.register(
            "baton_cache_hits",
            "Beats whose cache lookup was a hit",
            cache_hits.clone(),
        );
        registry.register(
            "baton_last_run_timestamp_seconds",
            "Start of the newest finished run, in seconds since the Unix epoch",
            last_run.clone(),
        );
        Self {
            registry,
            runs,
            beats,
            run_duration,
            beat_duration,
            breaches,
            cache_hits,
            last_run,
            cursor: None,
            folded: HashSet::new(),
        }
    }
}

impl Folded {
    fn fold_run(&self, run: &RunRecord, beats: &[BeatRecord]) {
        let pipeline = Text::from(run.pipeline_name.as_str());
        self.runs
            .get_or_create(&RunLabels {
                pipeline: pipeline.clone(),
                result: Text::from(run.status.as_str()),
            })
            .inc();
        let labels = PipelineLabels {
            pipeline: pipeline.clone(),
        };
        if let Some(end) = run.finished_at {
            let seconds =
                (end.as_millisecond() - run.started_at.as_millisecond()).max(0) as f64 / 1000.0;
            self.run_duration.get_or_create(&labels).observe(seconds);
        }
        let started = run.started_at.as_millisecond() as f64 / 1000.0;
        let gauge = self.last_run.get_or_create(&labels);
        if started > gauge.get() {
            gauge.set(started);
        }
        for beat in beats {
            let labels = BeatLabels {
                pipeline: pipeline.clone(),
                movement: Text::from(beat.movement.as_str()),
                beat: Text::from(beat.beat.as_str()),
            };
            self.beats
                .get_or_create(&BeatResultLabels {
                    pipeline: pipeline.clone(),
                    movement: labels.movement.clone(),
                    beat: labels.beat.clone(),
                    result: Text::from(beat.status.as_str()),
                })
                .inc();
            if beat.status != BeatStatus::Skipped {
                self.beat_duration
                    .get_or_create(&labels)
                    .observe(beat.duration_ms as f64 / 1000.0);
            }
            if beat.status.is_judged() && beat.sla.overall_status >= SlaStatus::Breach {
                self.breaches.get_or_create(&labels).inc();
            }
            if beat.cache_state == CacheState::Hit {
                self.cache_hits.get_or_create(&labels).inc();
            }
        }
    }

    /// Reads the runs after the cursor and folds the finished ones in.
    fn catch_up(&mut self, store: &dyn HistoryStore) -> baton_store::Result<()> {
        loop {
            let page = store.runs_page(&RunPageFilter::default(), self.cursor, PAGE_RUNS)?;
            let mut complete = true;
            for (run, beats) in &page.runs {
                if self.folded.contains(&run.run_id) {
                    continue;
                }
                if run.status == RunStatus::Running {
                    complete = false;
                    continue;
                }
                self.fold_run(run, beats);
                self.folded.insert(run.run_id);
            }
            match page.next {
                Some(next) if complete => {
                    self.cursor = Some(next);
                    self.folded.clear();
                }
                _ => return Ok(()),
            }
        }
    }
}

/// The folded figures, shared by the scrapes (one folds at a time).
#[derive(Default)]
pub struct Metrics {
    folded: Arc<Mutex<Folded>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Folds in what finished since the last call and encodes every metric.
    pub fn scrape(&self, store: &dyn HistoryStore) -> Result<String, Failure> {
        let mut folded = self.folded.lock().unwrap_or_else(PoisonError::into_inner);
        folded.catch_up(store)?;
        let mut out = String::with_capacity(64 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &folded.registry)
            .map_err(|err| Failure::Internal(format!("failed to encode the metrics: {err}")))?;
        Ok(out)
    }
}

/// OpenMetrics text, for a scraper that asks for it.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Prometheus' classic text format, for everything else (`promtool check metrics`,
/// curl).
const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// OpenMetrics text as Prometheus' classic text format: a counter's HELP and TYPE
/// name its `_total` series, and there is no `# EOF`.
pub fn classic_text(openmetrics: &str) -> String {
    let mut counters: HashSet<&str> = HashSet::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some(name) = rest.strip_suffix(" counter")
        {
            counters.insert(name);
        }
    }
    let mut out = String::with_capacity(openmetrics.len() + counters.len() * 16);
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

pub(crate) async fn handler(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let shared = Arc::clone(&state);
    match state
        .pool
        .read(move |store| shared.metrics.scrape(store))
        .await
    {
        Ok(text) if openmetrics => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Ok(text) => ([(header::CONTENT_TYPE, CLASSIC)], classic_text(&text)).into_response(),
        Err(failure) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}\n", failure.message()),
        )
            .into_response(),
    }
}
