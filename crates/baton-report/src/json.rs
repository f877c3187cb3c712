//! The run report as pretty JSON, the same document as
//! `build-sli-slo-sla-report.json`, for `--format json`.

use crate::report::RunReport;

/// Renders `report` as pretty-printed JSON (no trailing newline).
pub fn render_json(report: &RunReport) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(json) => json,
        // Unreachable with these types (string keys only); kept as valid JSON.
        Err(e) => serde_json::json!({ "error": format!("failed to serialize the report: {e}") })
            .to_string(),
    }
}
