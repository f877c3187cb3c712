//! The Run page: the HTML report's content (waterfall, beat table, breaches,
//! anomalies, regressions, flaky beats, shape changes), its beats linking to their
//! pages.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use baton_signals::run_view::HtmlContext;

use super::{Nav, path_segment, respond};
use crate::AppState;

pub(crate) async fn page(State(state): State<Arc<AppState>>, Path(run): Path<String>) -> Response {
    let shared = Arc::clone(&state);
    let result = state
        .pool
        .read(move |store| {
            let report = crate::api::run_report(&shared, store, &run)?;
            let context = HtmlContext::read(store, &report)?;
            let mut input = context.input(None);
            input.beat_href = Some(format!(
                "/pipelines/{}/beats/",
                path_segment(&report.run.pipeline_id)
            ));
            let title = format!("{} · {}", report.run.pipeline_name, report.run.label);
            Ok((title, baton_report::render_html_body(&report, &input)))
        })
        .await;
    match result {
        Ok((title, body)) => respond(Ok(body), || title, Nav::Runs),
        Err(failure) => respond(Err(failure), String::new, Nav::Runs),
    }
}
