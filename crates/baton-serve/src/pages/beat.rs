//! The Beat page: its durations over time against its SLO (hits and misses drawn
//! apart, change points marked with their shift), its success and cache rates and
//! p50/p95 (as `baton trends` computes them), its shape changes and its runs.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use baton_analysis::trends::Period;
use baton_model::{BeatStatus, CacheState};
use baton_report::format;
use baton_report::regressions::{SeriesKind, plus_minus, signed_share};
use baton_signals::{regressions, trends, window_start};
use baton_store::{HistoryStore, SeriesQuery};

use super::chart::{self, Mark, Point};
use super::{Esc, Nav, escape, ms, rate, respond, run_href, status_badge};
use crate::AppState;
use crate::api::{self, Failure};

/// How many of the beat's runs the chart shows (the newest).
const CHART_RUNS: usize = 200;
/// How many of its runs the table lists.
const TABLE_RUNS: usize = 30;
/// The window of the rates, as `baton trends` has it by default.
const WINDOW_DAYS: u64 = 14;

pub(crate) async fn page(
    State(state): State<Arc<AppState>>,
    Path((pipeline, beat)): Path<(String, String)>,
) -> Response {
    let title = format!("{beat} · {pipeline}");
    let result = state
        .pool
        .read(move |store| body(store, &pipeline, &beat))
        .await;
    respond(result, || title, Nav::Pipelines)
}

fn body(store: &dyn HistoryStore, pipeline: &str, beat: &str) -> Result<String, Failure> {
    let Some(pipeline_id) = api::pipeline_id(store, Some(pipeline))? else {
        return Err(Failure::NotFound("no pipeline given".into()));
    };
    let set = store.beat_series(&SeriesQuery {
        pipeline: Some(pipeline_id.clone()),
        beats: vec![beat.to_owned()],
        ..SeriesQuery::default()
    })?;
    let Some(series) = set.series.first() else {
        return Err(Failure::NotFound(format!(
            "no beat named '{beat}' in the history of this pipeline"
        )));
    };
    let pipeline_name = set
        .pipelines
        .first()
        .map_or(pipeline_id.as_str(), |p| p.name.as_str())
        .to_owned();
    let scans = regressions::scans(&set, Some(beat));
    let doc = regressions::document(store, &set, &scans)?;
    let recent_runs = store.beat_runs(Some(&pipeline_id), beat, TABLE_RUNS)?;
    let slo_ms = recent_runs.first().map_or(0, |r| {
        u64::try_from(r.slo.duration.as_millis()).unwrap_or(u64::MAX)
    });

    let from = series.points.len().saturating_sub(CHART_RUNS);
    let shown = &series.points[from..];
    let points: Vec<Point> = shown
        .iter()
        .map(|p| Point {
            duration_ms: p.duration_ms,
            failed: matches!(p.status, BeatStatus::Failure | BeatStatus::Timeout),
            hit: p.restored || p.cache_state == CacheState::Hit,
        })
        .collect();
    let mut marks = Vec::new();
    for found in &doc.beats {
        for cp in &found.change_points {
            if let Some(at) = shown
                .iter()
                .position(|p| set.runs[p.run as usize].run_id == cp.first_run.run_id)
            {
                marks.push(Mark {
                    at,
                    label: signed_share(cp.shift),
                    direction: cp.direction,
                });
            }
        }
    }

    let clock = trends::Clock::now();
    let recent = store.beat_series(&SeriesQuery {
        pipeline: Some(pipeline_id.clone()),
        beats: vec![beat.to_owned()],
        since: Some(window_start(clock.now, WINDOW_DAYS)),
        identities: true,
        ..SeriesQuery::default()
    })?;
    let trend = trends::trends(&recent, Period::Day, WINDOW_DAYS, &clock);
    let window = trend
        .pipelines
        .first()
        .and_then(|p| p.beats.iter().find(|b| b.beat == beat))
        .map(|b| b.window.clone());

    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "<h1>{} <span class=\"muted\">in <a href=\"/runs?pipeline={}\">{}</a></span></h1>",
        Esc(beat),
        super::query_value(&pipeline_id),
        Esc(&pipeline_name)
    );
    out.push_str("<dl class=\"cards\">");
    let mut card = |id: &str, name: &str, value: String| {
        let _ = write!(
            out,
            "<div><dt>{name}</dt><dd id=\"{id}\">{value}</dd></div>"
        );
    };
    card(
        "beat-runs",
        "Runs recorded",
        series.points.len().to_string(),
    );
    if let Some(w) = &window {
        card(
            "beat-p50",
            "p50 (executed, 14 days)",
            ms(w.executed.as_ref().map(|d| d.p50_ms)),
        );
        card(
            "beat-p95",
            "p95 (executed, 14 days)",
            ms(w.executed.as_ref().and_then(|d| d.p95_ms)),
        );
        card("beat-success", "Success rate", rate(&w.success_rate));
        card("beat-cache", "Cache hit rate", rate(&w.cache_hit_rate));
    } else {
        card("beat-p50", "p50 (executed, 14 days)", "-".into());
    }
    card(
        "beat-slo",
        "SLO",
        if slo_ms > 0 {
            format::duration_ms(slo_ms)
        } else {
            "-".into()
        },
    );
    out.push_str("</dl>");

    let _ = write!(
        out,
        "<section id=\"durations\"><h2>Durations over time <span class=\"muted\">(last {} runs)</span></h2>{}\
         <p class=\"legend\"><span class=\"key miss\"></span>executed (cache miss)\
         <span class=\"key hit\"></span>cache hit<span class=\"key fail\"></span>failed\
         <span class=\"key slo\"></span>SLO<span class=\"key cp\"></span>change point</p></section>",
        points.len(),
        chart::render(&points, slo_ms, &marks)
    );

    out.push_str("<section id=\"changes\"><h2>Change points</h2>");
    let any = doc.beats.iter().any(|b| !b.change_points.is_empty());
    if any {
        out.push_str(
            "<table><thead><tr><th>Series</th><th>Direction</th><th class=\"num\">Shift</th>\
             <th class=\"num\">Median before</th><th class=\"num\">Median after</th><th>Since</th></tr></thead><tbody>",
        );
        for b in &doc.beats {
            let kind = match b.cache_state {
                SeriesKind::Miss => "executed runs",
                SeriesKind::Hit => "cache restores",
            };
            for cp in &b.change_points {
                let _ = write!(
                    out,
                    "<tr><td>{kind}</td><td>{:?}</td><td class=\"num shift\">{} ({})</td>\
                     <td class=\"num\">{}</td><td class=\"num\">{}</td><td><a href=\"{}\">{}</a></td></tr>",
                    cp.direction,
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
    } else {
        out.push_str("<p class=\"muted\">No change point in this beat's durations.</p>");
    }
    out.push_str("</section>");

    out.push_str("<section id=\"shapes\"><h2>Shape changes</h2>");
    let evolutions = store.beat_shape_evolutions(&pipeline_id, beat)?;
    if evolutions.is_empty() {
        out.push_str("<p class=\"muted\">Its shape never changed.</p>");
    } else {
        out.push_str("<table><thead><tr><th>When (UTC)</th><th>From</th><th>To</th><th>Run</th><th>Why</th></tr></thead><tbody>");
        for e in evolutions.iter().rev() {
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td><a href=\"{}\">run</a></td><td>{}</td></tr>",
                format::timestamp(e.at),
                escape(e.previous_hash.as_deref().map_or("-", format::short_hash)),
                escape(format::short_hash(&e.new_hash)),
                run_href(&e.run_id),
                escape(e.reason.as_deref().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");

    let _ = write!(
        out,
        "<section id=\"runs\"><h2>Its runs <span class=\"muted\">(newest {})</span></h2>\
         <table><thead><tr><th>Run</th><th>Started (UTC)</th><th>Status</th><th class=\"num\">Duration</th>\
         <th>Cache</th><th>SLA</th><th>Shape</th></tr></thead><tbody>",
        recent_runs.len()
    );
    for r in &recent_runs {
        let _ = write!(
            out,
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            run_href(&r.run_id),
            r.run_id.simple().to_string().get(..8).unwrap_or(""),
            format::timestamp(r.started_at),
            status_badge(r.status.as_str()),
            format::duration_ms(r.duration_ms),
            if r.restored {
                "restored"
            } else {
                r.cache_state.as_str()
            },
            if r.status.is_judged() {
                r.sla.overall_status.as_str()
            } else {
                "-"
            },
            format::shape_change(&r.shape),
        );
    }
    out.push_str("</tbody></table></section>");
    Ok(out)
}
