//! `/api/v1/`: the documents the reading verbs print with `--format json`, built by
//! the same functions (nothing here derives a figure of its own).
//!
//! | route | the same as |
//! |---|---|
//! | `/api/v1/runs?pipeline=&status=&branch=&host=&beat=&limit=` | `baton history` |
//! | `/api/v1/runs/{run}` | `baton report RUN` |
//! | `/api/v1/runs/{run}/record` | `baton show RUN` |
//! | `/api/v1/pipelines` | the pipelines of the history |
//! | `/api/v1/regressions?pipeline=&beat=` | `baton regressions` |
//! | `/api/v1/flaky?pipeline=&window=` | `baton flaky` |
//! | `/api/v1/budget?pipeline=&days=` | `baton budget` |
//! | `/api/v1/trends?pipeline=&period=day\|week&days=` | `baton trends` |
//! | `/api/v1/slowest?pipeline=&days=&limit=` | `baton slowest` |
//! | `/api/v1/shape-log?pipeline=&beat=&limit=` | `baton shape log BEAT` |

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use baton_analysis::trends::Period;
use baton_model::{RUN_DOCUMENT_VERSION, RunDocument, RunStatus};
use baton_report::RunReport;
use baton_signals::{budgets, flaky, regressions, trends, window_start};
use baton_store::{HistoryStore, RunFilter, RunSelector, SeriesQuery, SeriesSet};

use crate::AppState;

/// Query parameters, by name.
pub type Params = HashMap<String, String>;

/// Why a request could not be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    NotFound(String),
    BadRequest(String),
    Internal(String),
}

impl Failure {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m) | Self::BadRequest(m) | Self::Internal(m) => m,
        }
    }
}

impl From<baton_store::StoreError> for Failure {
    fn from(err: baton_store::StoreError) -> Self {
        Self::Internal(format!("failed to read the history: {err}"))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message() });
        (self.status(), json_body(&body)).into_response()
    }
}

/// A JSON document as the verbs print it (pretty, with a final newline).
fn json_body<T: serde::Serialize>(doc: &T) -> Response {
    match serde_json::to_string_pretty(doc) {
        Ok(mut text) => {
            text.push('\n');
            ([(header::CONTENT_TYPE, "application/json")], text).into_response()
        }
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to write JSON: {err}"),
        )
            .into_response(),
    }
}

fn json<T: serde::Serialize>(result: Result<T, Failure>) -> Response {
    match result {
        Ok(doc) => json_body(&doc),
        Err(failure) => failure.into_response(),
    }
}

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/runs", get(runs))
        .route("/runs/{run}", get(report))
        .route("/runs/{run}/record", get(record))
        .route("/pipelines", get(pipelines))
        .route("/regressions", get(regressions_doc))
        .route("/flaky", get(flaky_doc))
        .route("/budget", get(budget_doc))
        .route("/trends", get(trends_doc))
        .route("/slowest", get(slowest_doc))
        .route("/shape-log", get(shape_log))
        .fallback(|| async { Failure::NotFound("no such API route".into()) })
}

/// A parameter as a number, or a clear error.
pub fn number<T: std::str::FromStr>(params: &Params, name: &str, default: T) -> Result<T, Failure> {
    match params.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|_| Failure::BadRequest(format!("'{s}' is not a valid {name}"))),
    }
}

fn text<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// `pipeline=NAME|ID` as the pipeline's id (`None`: every pipeline).
pub fn pipeline_id(
    store: &dyn HistoryStore,
    given: Option<&str>,
) -> Result<Option<String>, Failure> {
    let Some(given) = given else {
        return Ok(None);
    };
    let known = store.pipelines()?;
    known
        .iter()
        .find(|k| k.pipeline_id == given || k.name == given)
        .map(|k| Some(k.pipeline_id.clone()))
        .ok_or_else(|| Failure::NotFound(format!("no pipeline named '{given}' in the history")))
}

/// The run filter of the Runs page and `/api/v1/runs`.
pub fn run_filter(store: &dyn HistoryStore, params: &Params) -> Result<RunFilter, Failure> {
    let status = match text(params, "status") {
        None => None,
        Some(s) => Some(s.parse::<RunStatus>().map_err(|()| {
            Failure::BadRequest(format!(
                "'{s}' is not a run status (success, failure, cancelled, running, abandoned)"
            ))
        })?),
    };
    Ok(RunFilter {
        pipeline: pipeline_id(store, text(params, "pipeline"))?,
        beat: text(params, "beat").map(str::to_owned),
        status,
        limit: Some(number(params, "limit", 50usize)?.min(1000)),
        branch: text(params, "branch").map(str::to_owned),
        host: text(params, "host").map(str::to_owned),
    })
}

/// The run a path names (an id, an id prefix or a label) with its beats.
pub fn load_run(
    store: &dyn HistoryStore,
    selector: &str,
) -> Result<(baton_model::RunRecord, Vec<baton_model::BeatRecord>), Failure> {
    let parsed: RunSelector = selector.parse().unwrap_or(RunSelector::Latest);
    match store.load_run(&parsed) {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(Failure::NotFound(format!(
            "failed to find run '{selector}' in the history"
        ))),
        Err(baton_store::StoreError::AmbiguousRun { .. }) => Err(Failure::BadRequest(format!(
            "'{selector}' names more than one run"
        ))),
        Err(err) => Err(err.into()),
    }
}

/// The report of a run (`baton report RUN`).
pub fn run_report(
    state: &AppState,
    store: &dyn HistoryStore,
    selector: &str,
) -> Result<RunReport, Failure> {
    let (run, beats) = load_run(store, selector)?;
    let settings = state.anomalies_for(&run.pipeline_id);
    Ok(baton_signals::run_view::run_report(
        store, run, beats, &settings,
    )?)
}

async fn runs(State(state): State<Arc<AppState>>, Query(params): Query<Params>) -> Response {
    json(
        state
            .pool
            .read(move |store| {
                let filter = run_filter(store, &params)?;
                Ok(baton_signals::run_view::history_rows(store, &filter)?)
            })
            .await,
    )
}

async fn report(State(state): State<Arc<AppState>>, Path(run): Path<String>) -> Response {
    let shared = Arc::clone(&state);
    let result = state
        .pool
        .read(move |store| run_report(&shared, store, &run))
        .await;
    match result {
        Ok(report) => (
            [(header::CONTENT_TYPE, "application/json")],
            baton_report::render_json(&report) + "\n",
        )
            .into_response(),
        Err(failure) => failure.into_response(),
    }
}

async fn record(State(state): State<Arc<AppState>>, Path(run): Path<String>) -> Response {
    json(
        state
            .pool
            .read(move |store| {
                let (run, beats) = load_run(store, &run)?;
                Ok(RunDocument {
                    format_version: RUN_DOCUMENT_VERSION,
                    run,
                    beats,
                })
            })
            .await,
    )
}

async fn pipelines(State(state): State<Arc<AppState>>) -> Response {
    json(state.pool.read(|store| Ok(store.pipelines()?)).await)
}

async fn regressions_doc(
    State(state): State<Arc<AppState>>,
    Query(params): Query<Params>,
) -> Response {
    json(
        state
            .pool
            .read(move |store| {
                let pipeline = pipeline_id(store, text(&params, "pipeline"))?;
                let beat = text(&params, "beat").map(str::to_owned);
                let set = store.beat_series(&regressions::query(
                    pipeline,
                    beat.iter().cloned().collect(),
                ))?;
                if let Some(beat) = &beat
                    && set.series.is_empty()
                {
                    return Err(Failure::NotFound(format!(
                        "no beat named '{beat}' in the history"
                    )));
                }
                let scans = regressions::scans(&set, beat.as_deref());
                Ok(regressions::document(store, &set, &scans)?)
            })
            .await,
    )
}

async fn flaky_doc(State(state): State<Arc<AppState>>, Query(params): Query<Params>) -> Response {
    json(
        state
            .pool
            .read(move |store| {
                let window = number(&params, "window", 14u64)?;
                let set = window_series(store, &params, window, true)?;
                Ok(flaky::document(&set, window))
            })
            .await,
    )
}

async fn budget_doc(State(state): State<Arc<AppState>>, Query(params): Query<Params>) -> Response {
    let objectives = state.objectives.clone();
    json(
        state
            .pool
            .read(move |store| {
                let days = number(&params, "days", budgets::DEFAULT_DAYS)?;
                let set = window_series(store, &params, days, false)?;
                Ok(budgets::document(&set, days, objectives.as_deref()))
            })
            .await,
    )
}

/// The series of the last `days` days, of `pipeline=` when given (every pipeline
/// otherwise), with the input identities when `identities`.
fn window_series(
    store: &dyn HistoryStore,
    params: &Params,
    days: u64,
    identities: bool,
) -> Result<SeriesSet, Failure> {
    Ok(store.beat_series(&SeriesQuery {
        pipeline: pipeline_id(store, text(params, "pipeline"))?,
        since: Some(window_start(jiff::Timestamp::now(), days)),
        identities,
        ..SeriesQuery::default()
    })?)
}

/// `period=day|week` with its default window.
fn period(params: &Params) -> Result<(Period, u64), Failure> {
    match text(params, "period").unwrap_or("day") {
        "day" => Ok((Period::Day, 14)),
        "week" => Ok((Period::IsoWeek, 84)),
        other => Err(Failure::BadRequest(format!(
            "'{other}' is not a period (day, week)"
        ))),
    }
}

async fn trends_doc(State(state): State<Arc<AppState>>, Query(params): Query<Params>) -> Response {
    json(
        state
            .pool
            .read(move |store| {
                let (period, default_days) = period(&params)?;
                let days = number(&params, "days", default_days)?;
                let clock = trends::Clock::now();
                let set = window_series(store, &params, days, true)?;
                Ok(trends::trends(&set, period, days, &clock))
            })
            .await,
    )
}

async fn slowest_doc(State(state): State<Arc<AppState>>, Query(params): Query<Params>) -> Response {
    json(
        state
            .pool
            .read(move |store| {
                let days = number(&params, "days", 14u64)?;
                let limit = number(&params, "limit", 10usize)?;
                let clock = trends::Clock::now();
                let set = window_series(store, &params, days, false)?;
                Ok(trends::slowest(&set, days, limit, &clock))
            })
            .await,
    )
}

async fn shape_log(State(state): State<Arc<AppState>>, Query(params): Query<Params>) -> Response {
    json(
        state
            .pool
            .read(move |store| {
                let Some(beat) = text(&params, "beat") else {
                    return Err(Failure::BadRequest("the beat parameter is required".into()));
                };
                let pipeline = pipeline_id(store, text(&params, "pipeline"))?;
                let limit = number(&params, "limit", 20usize)?;
                let rows = store.beat_runs(pipeline.as_deref(), beat, limit)?;
                if rows.is_empty() {
                    return Err(Failure::NotFound(format!(
                        "no recorded runs of beat '{beat}'"
                    )));
                }
                Ok(rows)
            })
            .await,
    )
}
