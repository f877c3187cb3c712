//! The table of `baton history`: one row per run, newest first as given.

use baton_model::RunStatus;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::format;

/// One run as `baton history` lists it (and prints with `--format json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub run_id: Uuid,
    pub label: String,
    pub pipeline: String,
    pub status: RunStatus,
    pub started_at: Timestamp,
    /// Wall time; `None` while the run has not finished.
    pub duration_ms: Option<u64>,
    pub beats: u64,
    pub failed: u64,
    /// Beats whose SLA status is breach or critical.
    pub breaches: u64,
}

/// Renders `runs` as a table, in the order given; a sentence when there are none.
pub fn render_history_table(runs: &[HistoryRow]) -> String {
    if runs.is_empty() {
        return "No runs recorded yet.\n".to_string();
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            "Run",
            "Pipeline",
            "Status",
            "Started (UTC)",
            "Duration",
            "Beats",
            "Failed",
            "Breaches",
        ]);
    for r in runs {
        table.add_row(vec![
            r.label.clone(),
            r.pipeline.clone(),
            r.status.to_string(),
            format::timestamp(r.started_at),
            r.duration_ms
                .map(format::duration_ms)
                .unwrap_or_else(|| "-".into()),
            r.beats.to_string(),
            r.failed.to_string(),
            r.breaches.to_string(),
        ]);
    }
    for column in 4..=7 {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = table.to_string();
    out.push('\n');
    out
}
