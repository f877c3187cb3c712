//! One run as the reading commands present it: its report with the anomaly rules
//! evaluated against the history before it and what changed in its evolved shapes
//! (`baton report`), the HTML page of it with what the pipeline's history says,
//! and the rows `baton history` lists.

use std::collections::HashMap;

use baton_model::{AnomalySettings, BeatRecord, BeatStatus, RunRecord, SlaStatus};
use baton_report::html::HtmlInput;
use baton_report::html::charts::{CHART_RUNS, DurationPoint};
use baton_report::{HistoryRow, RunReport};
use baton_store::{HistoryStore, PreviousShape, RunFilter, SeriesQuery, SeriesSet};

use crate::{flaky, regressions, window_start};

/// The window of the flaky beats the HTML report lists (`baton flaky`'s default).
pub const FLAKY_WINDOW_DAYS: u64 = 14;

/// How many of a beat's latest records are searched for the one its shape evolved
/// from (they include the runs after it when an older run is read).
const PREVIOUS_SHAPE_SEARCH: usize = 100;

/// A run's report, with the anomaly rules (tuned by `settings`) evaluated against
/// the history before it and what changed in its evolved shapes.
pub fn run_report(
    store: &dyn HistoryStore,
    run: RunRecord,
    beats: Vec<BeatRecord>,
    settings: &AnomalySettings,
) -> baton_store::Result<RunReport> {
    let anomalies = anomalies(store, &run.pipeline_id, &beats, settings)?;
    let previous = previous_shapes(store, &run.pipeline_id, &beats)?;
    let mut report = RunReport::new(run, beats, anomalies);
    report.describe_evolutions(&previous);
    Ok(report)
}

/// The anomaly rules for each beat that ran, over that beat's earlier records (the
/// ones that started before it: a run's report reads the same later as it did then).
pub fn anomalies(
    store: &dyn HistoryStore,
    pipeline_id: &str,
    beats: &[BeatRecord],
    settings: &AnomalySettings,
) -> baton_store::Result<Vec<baton_analysis::Anomaly>> {
    let mut anomalies = Vec::new();
    for record in beats {
        anomalies.extend(anomalies_of(store, pipeline_id, record, settings)?);
    }
    Ok(anomalies)
}

/// The anomalies of one beat record against the records of that beat that started
/// before it (none for a skipped beat).
pub fn anomalies_of(
    store: &dyn HistoryStore,
    pipeline_id: &str,
    record: &BeatRecord,
    settings: &AnomalySettings,
) -> baton_store::Result<Vec<baton_analysis::Anomaly>> {
    if record.status == BeatStatus::Skipped {
        return Ok(Vec::new());
    }
    // Newest first; the window reaches past the record itself and later runs.
    let outcomes = store.beat_outcomes(pipeline_id, &record.beat, 40)?;
    Ok(baton_analysis::detect_before(record, &outcomes, settings))
}

/// The canonical shape string each evolved beat of `beats` evolved from, by beat
/// name: that of the latest earlier record of the beat with the previous shape's
/// hash. A beat whose previous record is gone (collected, or too far back) is
/// absent. One read of the store for all of them, none when no shape evolved.
pub fn previous_shapes(
    store: &dyn HistoryStore,
    pipeline_id: &str,
    beats: &[BeatRecord],
) -> baton_store::Result<HashMap<String, String>> {
    let wanted: Vec<PreviousShape<'_>> = beats
        .iter()
        .filter(|b| b.shape.evolved)
        .filter_map(|b| {
            Some(PreviousShape {
                beat: &b.beat,
                previous: b.shape.previous_hash.as_deref()?,
                before: b.started_at,
            })
        })
        .collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    store.previous_shapes(pipeline_id, &wanted, PREVIOUS_SHAPE_SEARCH)
}

/// What the history of a run's pipeline says about it, for its HTML page: each
/// beat's durations up to this run, the change points and the flaky beats (the
/// same documents `baton regressions` and `baton flaky` print).
#[derive(Debug)]
pub struct HtmlContext {
    pub regressions: baton_report::regressions::RegressionsDoc,
    pub flaky: baton_report::flaky::FlakyDoc,
    pub durations: HashMap<String, Vec<DurationPoint>>,
}

impl HtmlContext {
    /// Reads the history of `report`'s pipeline.
    pub fn read(store: &dyn HistoryStore, report: &RunReport) -> baton_store::Result<Self> {
        let pipeline = report.run.pipeline_id.clone();
        // The scan's bound holds each beat's newest records of every outcome, so
        // the last CHART_RUNS of a recent run too; an older run's may reach
        // further back.
        let set = store.beat_series(&regressions::query(Some(pipeline.clone()), Vec::new()))?;
        let durations = match durations(&set, report) {
            Some(durations) => durations,
            None => durations(
                &store.beat_series(&SeriesQuery {
                    pipeline: Some(pipeline.clone()),
                    ..SeriesQuery::default()
                })?,
                report,
            )
            .unwrap_or_default(),
        };
        let scans = regressions::scans(&set, None);
        let regressions = regressions::document(store, &set, &scans)?;
        drop(set);
        let recent = store.beat_series(&SeriesQuery {
            pipeline: Some(pipeline),
            since: Some(window_start(jiff::Timestamp::now(), FLAKY_WINDOW_DAYS)),
            identities: true,
            ..SeriesQuery::default()
        })?;
        let flaky = flaky::document(&recent, FLAKY_WINDOW_DAYS);
        Ok(Self {
            regressions,
            flaky,
            durations,
        })
    }

    /// The input of [`baton_report::render_html`] for this context.
    pub fn input(&self, ci_url: Option<String>) -> HtmlInput<'_> {
        HtmlInput {
            regressions: Some(&self.regressions),
            flaky: Some(&self.flaky),
            durations: self.durations.clone(),
            ci_url,
            ..HtmlInput::default()
        }
    }
}

/// Each beat's last [`CHART_RUNS`] records up to and including this run, oldest
/// first; `None` when a bounded read of `set` left some of them out.
fn durations(set: &SeriesSet, report: &RunReport) -> Option<HashMap<String, Vec<DurationPoint>>> {
    let current = set.runs.iter().position(|r| r.run_id == report.run.run_id);
    let last = current.unwrap_or(set.runs.len().saturating_sub(1));
    set.series
        .iter()
        .map(|series| {
            let shown = series.points.iter().filter(|p| p.run as usize <= last);
            let complete = series.complete_from == 0
                || shown
                    .clone()
                    .rev()
                    .take(CHART_RUNS)
                    .filter(|p| p.run >= series.complete_from)
                    .count()
                    >= CHART_RUNS;
            if !complete {
                return None;
            }
            let points: Vec<DurationPoint> = shown
                .map(|p| DurationPoint {
                    duration_ms: p.duration_ms,
                    succeeded: p.status == BeatStatus::Success,
                    restored: p.restored,
                    current: Some(p.run as usize) == current,
                })
                .collect();
            let from = points.len().saturating_sub(CHART_RUNS);
            Some((series.beat.clone(), points[from..].to_vec()))
        })
        .collect()
}

/// The runs `baton history` lists for `filter`, newest first.
pub fn history_rows(
    store: &dyn HistoryStore,
    filter: &RunFilter,
) -> baton_store::Result<Vec<HistoryRow>> {
    Ok(store
        .list_runs(filter)?
        .into_iter()
        .map(|s| HistoryRow {
            run_id: s.run.run_id,
            label: s.run.label.clone(),
            pipeline: s.run.pipeline_name.clone(),
            status: s.run.status,
            started_at: s.run.started_at,
            duration_ms: s.duration_ms,
            beats: u64::from(s.beats.total()),
            failed: u64::from(s.beats.failure + s.beats.timeout),
            breaches: s.sla_at_least(SlaStatus::Breach),
        })
        .collect())
}
