//! The Runs page: newest first, filtered by pipeline, status, branch and host (the
//! rows of `baton history`); running runs refresh from the page's script.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use baton_report::format;

use super::{Esc, Nav, escape, query_value, respond, run_href, status_badge};
use crate::AppState;
use crate::api::{self, Params};

const STATUSES: [&str; 5] = ["success", "failure", "cancelled", "running", "abandoned"];

pub(crate) async fn page(
    State(state): State<Arc<AppState>>,
    Query(params): Query<Params>,
) -> Response {
    let result = state
        .pool
        .read(move |store| {
            let filter = api::run_filter(store, &params)?;
            let rows = baton_signals::run_view::history_rows(store, &filter)?;
            let pipelines = store.pipelines()?;
            let total: u64 = pipelines.iter().map(|p| p.runs).sum();
            let mut out = String::with_capacity(4096 + rows.len() * 400);
            out.push_str("<h1>Runs</h1>");
            filters(&mut out, &params, &pipelines);
            let _ = write!(
                out,
                "<p class=\"count\"><strong id=\"runs-count\">{}</strong> shown, newest first · \
                 <span id=\"runs-total\">{total}</span> in the history \
                 <span id=\"live\" class=\"live\" hidden>· live</span></p>",
                rows.len()
            );
            let query: Vec<String> = ["pipeline", "status", "branch", "host", "beat", "limit"]
                .iter()
                .filter_map(|k| {
                    params
                        .get(*k)
                        .filter(|v| !v.trim().is_empty())
                        .map(|v| format!("{k}={}", query_value(v.trim())))
                })
                .collect();
            let _ = write!(
                out,
                "<table class=\"runs\" data-api=\"/api/v1/runs?{}\"><thead><tr><th>Run</th>\
                 <th>Pipeline</th><th>Status</th><th>Started (UTC)</th><th class=\"num\">Duration</th>\
                 <th class=\"num\">Beats</th><th class=\"num\">Failed</th><th class=\"num\">Breaches</th>\
                 </tr></thead><tbody>",
                Esc(&query.join("&"))
            );
            for row in &rows {
                let _ = write!(
                    out,
                    "<tr data-run=\"{id}\" data-status=\"{status}\"><td><a href=\"{href}\">{label}</a></td>\
                     <td>{pipeline}</td><td>{badge}</td><td>{started}</td>\
                     <td class=\"num\" data-field=\"duration\">{duration}</td>\
                     <td class=\"num\" data-field=\"beats\">{beats}</td>\
                     <td class=\"num\" data-field=\"failed\">{failed}</td>\
                     <td class=\"num\" data-field=\"breaches\">{breaches}</td></tr>",
                    id = row.run_id,
                    status = row.status.as_str(),
                    href = run_href(&row.run_id),
                    label = Esc(&row.label),
                    pipeline = Esc(&row.pipeline),
                    badge = status_badge(row.status.as_str()),
                    started = format::timestamp(row.started_at),
                    duration = row
                        .duration_ms
                        .map_or_else(|| "running".to_owned(), format::duration_ms),
                    beats = row.beats,
                    failed = row.failed,
                    breaches = row.breaches,
                );
            }
            out.push_str("</tbody></table>");
            if rows.is_empty() {
                out.push_str("<p class=\"muted\">No run matches these filters.</p>");
            }
            Ok(out)
        })
        .await;
    respond(result, || "Runs".into(), Nav::Runs)
}

fn filters(out: &mut String, params: &Params, pipelines: &[baton_store::PipelineInfo]) {
    let value = |k: &str| params.get(k).map(|v| v.trim()).unwrap_or("");
    out.push_str("<form class=\"filters\" method=\"get\" action=\"/runs\"><label>Pipeline<select name=\"pipeline\"><option value=\"\">all</option>");
    for p in pipelines {
        let selected = if value("pipeline") == p.pipeline_id || value("pipeline") == p.name {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{}\"{selected}>{}</option>",
            Esc(&p.pipeline_id),
            Esc(&p.name)
        );
    }
    out.push_str(
        "</select></label><label>Status<select name=\"status\"><option value=\"\">any</option>",
    );
    for s in STATUSES {
        let selected = if value("status") == s {
            " selected"
        } else {
            ""
        };
        let _ = write!(out, "<option{selected}>{s}</option>");
    }
    let _ = write!(
        out,
        "</select></label><label>Branch<input name=\"branch\" value=\"{}\"></label>\
         <label>Host<input name=\"host\" value=\"{}\"></label>\
         <button type=\"submit\">Filter</button></form>",
        escape(value("branch")),
        escape(value("host"))
    );
}
