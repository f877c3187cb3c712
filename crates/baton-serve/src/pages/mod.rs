//! The dashboard's pages, rendered on the server: every user-controlled string goes
//! through [`escape`] (or [`Esc`]) or, in a URL, [`path_segment`] / [`query_value`].
//! The only script is `/assets/app.js`; the only stylesheet is `/assets/style.css`
//! (the HTML report's own, and the dashboard's additions).

pub mod beat;
pub mod chart;
pub mod pipelines;
pub mod run;
pub mod runs;

use std::fmt::Write as _;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
pub use baton_report::html::escape::{Esc, escape, path_segment};

use crate::api::Failure;

const DASHBOARD_CSS: &str = include_str!("../../assets/dashboard.css");
const APP_JS: &str = include_str!("../../assets/app.js");

/// Which item of the navigation is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Runs,
    Pipelines,
    None,
}

/// A whole page: the head (the page's own stylesheet and script, nothing inline),
/// the navigation and `body`.
pub fn layout(title: &str, nav: Nav, body: &str) -> Html<String> {
    let mut out = String::with_capacity(body.len() + 1024);
    let current = |item: Nav| {
        if item == nav {
            " aria-current=\"page\""
        } else {
            ""
        }
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} — baton</title>\
         <link rel=\"stylesheet\" href=\"/assets/style.css\">\
         <script src=\"/assets/app.js\" defer></script></head><body>\n\
         <nav class=\"top\"><a class=\"brand\" href=\"/\">baton</a>\
         <a href=\"/runs\"{}>Runs</a><a href=\"/pipelines\"{}>Pipelines</a></nav>\n<main>",
        Esc(title),
        current(Nav::Runs),
        current(Nav::Pipelines),
    );
    out.push_str(body);
    out.push_str("</main><footer>baton serve · read-only</footer></body></html>\n");
    Html(out)
}

/// A failure as a page.
pub fn failure_page(failure: &Failure) -> Response {
    let body = format!(
        "<h1>{}</h1><p class=\"error\">{}</p>",
        failure.status().canonical_reason().unwrap_or("Error"),
        Esc(failure.message())
    );
    (failure.status(), layout("Error", Nav::None, &body)).into_response()
}

/// A page, or its failure as a page.
pub fn respond(
    result: Result<String, Failure>,
    title: impl FnOnce() -> String,
    nav: Nav,
) -> Response {
    match result {
        Ok(body) => layout(&title(), nav, &body).into_response(),
        Err(failure) => failure_page(&failure),
    }
}

pub(crate) async fn not_found() -> Response {
    failure_page(&Failure::NotFound("no such page".into()))
}

/// The page's own files.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "style.css" => (
            [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
            format!("{}\n{DASHBOARD_CSS}", baton_report::html::STYLESHEET),
        )
            .into_response(),
        "app.js" => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            APP_JS,
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
}

/// `s` percent-encoded for a query string value.
pub fn query_value(s: &str) -> String {
    path_segment(s)
}

/// The path of a run's page.
pub fn run_href(run_id: &uuid::Uuid) -> String {
    format!("/runs/{run_id}")
}

/// The path of a beat's page.
pub fn beat_href(pipeline_id: &str, beat: &str) -> String {
    format!(
        "/pipelines/{}/beats/{}",
        path_segment(pipeline_id),
        path_segment(beat)
    )
}

/// A status as a badge.
pub fn status_badge(status: &str) -> String {
    format!("<span class=\"badge run-{0}\">{0}</span>", Esc(status))
}

/// A duration in milliseconds as the reports print it (`-` for none).
pub fn ms(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() && v >= 0.0 => baton_report::format::duration_ms(v.round() as u64),
        _ => "-".into(),
    }
}

/// A rate as a percentage (`-` when nothing was counted).
pub fn rate(p: &baton_analysis::proportion::Proportion) -> String {
    if p.total == 0 {
        "-".into()
    } else {
        baton_report::format::percent(p.rate)
    }
}
