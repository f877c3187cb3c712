//! `baton serve`: a read-only web view of a baton history.
//!
//! - pages ([`pages`]): Runs, Run (the HTML report's waterfall and table), Beat and
//!   Pipelines, server-rendered, with one script file of the server's own that
//!   refreshes running runs;
//! - a JSON API under `/api/v1/` ([`api`]) with the documents the reading verbs
//!   print with `--format json`, built by the same functions ([`baton_signals`]);
//! - Prometheus `/metrics` ([`metrics`]).
//!
//! Every request passes [`guard`]: a bearer token when the server listens beyond
//! loopback, a Host check against DNS rebinding on loopback, and headers that let
//! the page run nothing but its own files. The history is read through a small pool
//! of store connections on tokio's blocking threads ([`pool`]).

pub mod api;
pub mod guard;
pub mod metrics;
pub mod pages;
pub mod pool;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use baton_model::AnomalySettings;

/// The address `baton serve` listens on by default.
pub const DEFAULT_BIND: &str = "127.0.0.1:8710";

/// The environment variable a token may come from instead of `--token`.
pub const TOKEN_VAR: &str = "BATON_SERVE_TOKEN";

/// What `baton serve` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub bind: SocketAddr,
    /// Required on every request when set; required to listen beyond loopback.
    pub token: Option<String>,
    /// The history file (`.baton/history.db`).
    pub history: PathBuf,
    /// The pipeline file's anomaly tuning, for runs of `pipeline_id`.
    pub pipeline_id: Option<String>,
    pub anomalies: AnomalySettings,
    /// The pipeline file's SLO objectives, for the budgets of `pipeline_id`.
    pub objectives: Option<baton_signals::budgets::Objectives>,
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub pool: pool::Pool,
    pub guard: guard::Guard,
    pub metrics: metrics::Metrics,
    pub pipeline_id: Option<String>,
    pub anomalies: AnomalySettings,
    pub objectives: Option<Arc<baton_signals::budgets::Objectives>>,
}

impl AppState {
    /// The anomaly tuning for a run of `pipeline_id`.
    pub fn anomalies_for(&self, pipeline_id: &str) -> AnomalySettings {
        if self.pipeline_id.as_deref() == Some(pipeline_id) {
            self.anomalies
        } else {
            AnomalySettings::default()
        }
    }
}

/// Refuses a bind address beyond loopback without a token (an empty token is none).
pub fn check_bind(bind: &SocketAddr, token: Option<&str>) -> anyhow::Result<()> {
    if !bind.ip().is_loopback() && token.is_none_or(str::is_empty) {
        anyhow::bail!(
            "failed to start: {bind} is reachable from other hosts; pass --token or set {TOKEN_VAR} (every request must then carry it)"
        );
    }
    Ok(())
}

/// The application: every route behind the guard.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(pages::runs::page))
        .route("/runs", get(pages::runs::page))
        .route("/runs/{run}", get(pages::run::page))
        .route("/pipelines", get(pages::pipelines::page))
        .route("/pipelines/{pipeline}/beats/{beat}", get(pages::beat::page))
        .route("/assets/{file}", get(pages::asset))
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route("/metrics", get(metrics::handler))
        .nest("/api/v1", api::routes())
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check,
        ))
        .with_state(state)
}

/// Opens the history, binds and serves until SIGINT or SIGTERM. Prints the URL on
/// stderr once it listens.
pub fn serve(options: Options) -> anyhow::Result<()> {
    check_bind(&options.bind, options.token.as_deref())?;
    let pool = pool::Pool::open(&options.history)?;
    let state = Arc::new(AppState {
        pool,
        guard: guard::Guard::new(options.token.clone(), options.bind),
        metrics: metrics::Metrics::default(),
        pipeline_id: options.pipeline_id.clone(),
        anomalies: options.anomalies,
        objectives: options.objectives.map(Arc::new),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(pool::SIZE * 2)
        .enable_all()
        .build()
        .context("failed to start the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(options.bind)
            .await
            .with_context(|| format!("failed to listen on {}", options.bind))?;
        let local = listener
            .local_addr()
            .context("failed to read the address listened on")?;
        eprintln!("baton serve: http://{local}/ (Ctrl-C to stop)");
        axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown())
            .await
            .context("failed to serve")
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
