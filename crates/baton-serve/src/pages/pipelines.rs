//! The Pipelines page: per pipeline its runs, success rate and run-time p50/p95
//! over the window, the beats that got slower, the flaky and broken beats and the
//! slowest beats: the documents of `baton trends`, `baton regressions`, `baton
//! flaky` and `baton slowest`.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use baton_analysis::trends::{Durations, Period};
use baton_model::RunStatus;
use baton_report::budget::PipelineBudget;
use baton_report::flaky::FlakyDoc;
use baton_report::regressions::{RegressionsDoc, plus_minus, signed_share};
use baton_report::trends::{PipelineTrend, SlowestDoc};
use baton_signals::budgets::{self, Objectives};
use baton_signals::{flaky, regressions, trends, window_start};
use baton_store::{HistoryStore, SeriesQuery, SeriesSet};

use super::{Esc, Nav, beat_href, ms, query_value, respond, run_href};
use crate::AppState;
use crate::api::Failure;

/// The window of every figure on the page (the verbs' default).
const WINDOW_DAYS: u64 = 14;
/// How many slowest beats each pipeline lists.
const SLOWEST: usize = 5;

pub(crate) async fn page(State(state): State<Arc<AppState>>) -> Response {
    let objectives = state.objectives.clone();
    let result = state
        .pool
        .read(move |store| body(store, objectives.as_deref()))
        .await;
    respond(result, || "Pipelines".into(), Nav::Pipelines)
}

fn body(store: &dyn HistoryStore, objectives: Option<&Objectives>) -> Result<String, Failure> {
    let clock = trends::Clock::now();
    let recent = store.beat_series(&SeriesQuery {
        since: Some(window_start(clock.now, WINDOW_DAYS)),
        identities: true,
        ..SeriesQuery::default()
    })?;
    let trend = trends::trends(&recent, Period::Day, WINDOW_DAYS, &clock);
    let flaky = flaky::document(&recent, WINDOW_DAYS);
    let slowest = trends::slowest(&recent, WINDOW_DAYS, usize::MAX, &clock);
    let run_times = run_times(&recent);
    drop(recent);
    let all = store.beat_series(&SeriesQuery {
        last_runs: Some(regressions::MAX_ANALYZED_RUNS),
        ..SeriesQuery::default()
    })?;
    let scans = regressions::scans(&all, None);
    let regressions = regressions::document(store, &all, &scans)?;
    drop(all);

    let budget_set = store.beat_series(&SeriesQuery {
        since: Some(window_start(clock.now, budgets::DEFAULT_DAYS)),
        ..SeriesQuery::default()
    })?;
    let budgets = budgets::document(&budget_set, budgets::DEFAULT_DAYS, objectives);
    drop(budget_set);

    let pipelines = store.pipelines()?;
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<h1>Pipelines</h1><p class=\"muted\">Figures over the last {WINDOW_DAYS} days; \
         regressions over each beat's newest {} runs.</p>",
        regressions::MAX_ANALYZED_RUNS
    );
    if pipelines.is_empty() {
        out.push_str("<p class=\"muted\">No run in the history yet.</p>");
    }
    for info in &pipelines {
        let pipeline_trend = trend
            .pipelines
            .iter()
            .find(|p| p.pipeline_id == info.pipeline_id);
        let _ = write!(
            out,
            "<section class=\"pipeline\" data-pipeline=\"{}\"><h2><a href=\"/runs?pipeline={}\">{}</a></h2>",
            Esc(&info.pipeline_id),
            query_value(&info.pipeline_id),
            Esc(&info.name)
        );
        let budget = budgets
            .pipelines
            .iter()
            .find(|p| p.pipeline_id == info.pipeline_id);
        summary(
            &mut out,
            info.runs,
            pipeline_trend,
            run_times
                .iter()
                .find(|(id, _)| *id == info.pipeline_id)
                .and_then(|(_, d)| d.as_ref()),
            budget,
        );
        regressions_of(&mut out, &regressions, &info.pipeline_id);
        flaky_of(&mut out, &flaky, &info.pipeline_id);
        budget_of(&mut out, budget);
        slowest_of(&mut out, &slowest, &info.pipeline_id);
        out.push_str("</section>");
    }
    Ok(out)
}

/// The wall times of each pipeline's successful runs in the window.
fn run_times(set: &SeriesSet) -> Vec<(String, Option<Durations>)> {
    set.pipelines
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let values: Vec<u64> = set
                .runs
                .iter()
                .filter(|r| r.pipeline as usize == i && r.status == RunStatus::Success)
                .filter_map(|r| {
                    let end = r.finished_at?;
                    u64::try_from((end.as_millisecond() - r.started_at.as_millisecond()).max(0))
                        .ok()
                })
                .collect();
            (p.pipeline_id.clone(), Durations::of(&values))
        })
        .collect()
}

fn summary(
    out: &mut String,
    runs: u64,
    trend: Option<&PipelineTrend>,
    times: Option<&Durations>,
    budget: Option<&PipelineBudget>,
) {
    let (count, total) = trend.map_or((0, 0), |t| {
        t.buckets.iter().fold((0, 0), |(c, n), b| {
            (c + b.success_rate.count, n + b.success_rate.total)
        })
    });
    let success = if total == 0 {
        "-".to_owned()
    } else {
        baton_report::format::percent(count as f64 / total as f64)
    };
    let _ = write!(
        out,
        "<dl class=\"cards\"><div><dt>Runs recorded</dt><dd class=\"runs\">{runs}</dd></div>\
         <div><dt>Runs, {WINDOW_DAYS} days</dt><dd>{}</dd></div>\
         <div><dt>Success rate</dt><dd class=\"success\">{success}</dd></div>\
         <div><dt>Run time p50</dt><dd class=\"p50\">{}</dd></div>\
         <div><dt>Run time p95</dt><dd class=\"p95\">{}</dd></div>\
         <div><dt>SLO budget, {} days</dt><dd class=\"budget\">{}</dd></div></dl>",
        trend.map_or(0, |t| t.runs),
        ms(times.map(|d| d.p50_ms)),
        ms(times.and_then(|d| d.p95_ms)),
        budgets::DEFAULT_DAYS,
        Esc(&budget.map_or_else(
            || "no runs in the window".to_owned(),
            PipelineBudget::summary
        )),
    );
}

fn regressions_of(out: &mut String, doc: &RegressionsDoc, pipeline_id: &str) {
    out.push_str("<h3>Regressions</h3>");
    let slower: Vec<_> = doc
        .beats
        .iter()
        .filter(|b| b.pipeline_id == pipeline_id && b.slower_now)
        .collect();
    if slower.is_empty() {
        out.push_str("<p class=\"muted\">No beat is slower now.</p>");
        return;
    }
    out.push_str(
        "<table class=\"regressions\"><thead><tr><th>Beat</th><th class=\"num\">Shift</th>\
         <th class=\"num\">Median before → after</th><th>Since</th></tr></thead><tbody>",
    );
    for b in slower {
        if let Some(cp) = b.change_points.last() {
            let _ = write!(
                out,
                "<tr><td class=\"beat\"><a href=\"{}\">{}</a></td><td class=\"num shift\">{} ({})</td>\
                 <td class=\"num\">{} → {}</td><td><a href=\"{}\">{}</a></td></tr>",
                beat_href(&b.pipeline_id, &b.beat),
                Esc(&b.beat),
                signed_share(cp.shift),
                plus_minus(cp.shift_low, cp.shift_high),
                ms(Some(cp.median_before_ms)),
                ms(Some(cp.median_after_ms)),
                run_href(&cp.first_run.run_id),
                Esc(&cp.first_run.label)
            );
        }
    }
    out.push_str("</tbody></table>");
}

fn flaky_of(out: &mut String, doc: &FlakyDoc, pipeline_id: &str) {
    out.push_str("<h3>Flaky and broken beats</h3>");
    let found: Vec<_> = doc
        .beats
        .iter()
        .filter(|b| b.pipeline_id == pipeline_id)
        .collect();
    if found.is_empty() {
        out.push_str("<p class=\"muted\">None.</p>");
        return;
    }
    out.push_str(
        "<table class=\"flaky\"><thead><tr><th>Beat</th><th>Verdict</th><th class=\"num\">Failure rate</th>\
         <th class=\"num\">Runs</th></tr></thead><tbody>",
    );
    for b in found {
        let _ = write!(
            out,
            "<tr><td class=\"beat\"><a href=\"{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            beat_href(&b.pipeline_id, &b.beat),
            Esc(&b.beat),
            Esc(&format!("{:?}", b.verdict).to_lowercase()),
            super::rate(&b.failure_rate),
            b.runs
        );
    }
    out.push_str("</tbody></table>");
}

/// The beats whose SLO budget is exhausted or low, the least left first.
fn budget_of(out: &mut String, budget: Option<&PipelineBudget>) {
    let _ = write!(
        out,
        "<h3>SLO budgets at risk ({} days)</h3>",
        budgets::DEFAULT_DAYS
    );
    let at_risk = budget.map(PipelineBudget::at_risk).unwrap_or_default();
    let Some(budget) = budget.filter(|_| !at_risk.is_empty()) else {
        out.push_str("<p class=\"muted\">None.</p>");
        return;
    };
    out.push_str(
        "<table class=\"budgets\"><thead><tr><th>Beat</th><th class=\"num\">Objective</th>\
         <th class=\"num\">Runs</th><th class=\"num\">Missed</th><th>Budget</th></tr></thead><tbody>",
    );
    for b in at_risk {
        let _ = write!(
            out,
            "<tr><td class=\"beat\"><a href=\"{}\">{}</a></td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            beat_href(&budget.pipeline_id, &b.beat),
            Esc(&b.beat),
            baton_report::format::percent(b.budget.objective),
            b.budget.runs,
            b.budget.missed,
            Esc(&baton_report::budget::describe(&b.budget)),
        );
    }
    out.push_str("</tbody></table>");
}

fn slowest_of(out: &mut String, doc: &SlowestDoc, pipeline_id: &str) {
    out.push_str("<h3>Slowest beats</h3>");
    let found: Vec<_> = doc
        .by_total
        .iter()
        .filter(|b| b.pipeline_id == pipeline_id)
        .take(SLOWEST)
        .collect();
    if found.is_empty() {
        out.push_str("<p class=\"muted\">No run in the window.</p>");
        return;
    }
    out.push_str(
        "<table class=\"slowest\"><thead><tr><th>Beat</th><th class=\"num\">p50</th><th class=\"num\">p95</th>\
         <th class=\"num\">Total time</th><th class=\"num\">Runs</th></tr></thead><tbody>",
    );
    for b in found {
        let _ = write!(
            out,
            "<tr><td class=\"beat\"><a href=\"{}\">{}</a></td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            beat_href(&b.pipeline_id, &b.beat),
            Esc(&b.beat),
            ms(b.executed.as_ref().map(|d| d.p50_ms)),
            ms(b.executed.as_ref().and_then(|d| d.p95_ms)),
            baton_report::format::duration_ms(b.total_ms),
            b.runs
        );
    }
    out.push_str("</tbody></table>");
}
