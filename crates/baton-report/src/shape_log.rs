//! `baton shape log BEAT`: a beat's shape history with its durations and SLA
//! status side by side, so a change of shape can be read against its effect. An
//! evolved shape says what changed (`Δ memory 50-100MB → 100-500MB`) and the SLA
//! verdict what drove it (see [`format::sla_detail`]).

use std::fmt::Write as _;

use baton_model::BeatRecord;
use baton_telemetry::describe_change;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};

use crate::format;

/// Renders the shape history of `beat` from its records, in the order given
/// (newest first from the store). Run labels are not in a beat record, so rows
/// are identified by their start time.
pub fn render_shape_log(beat: &str, rows: &[BeatRecord]) -> String {
    if rows.is_empty() {
        return format!("No recorded runs of beat '{beat}'.\n");
    }
    let evolutions = rows.iter().filter(|r| r.shape.evolved).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Shape history of '{beat}': {} run{}, {} evolution{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        evolutions,
        if evolutions == 1 { "" } else { "s" }
    );
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            "Started (UTC)",
            "Shape",
            "Change",
            "Duration",
            "Status",
            "SLA",
        ]);
    for (i, r) in rows.iter().enumerate() {
        let judged = r.status.is_judged();
        table.add_row(vec![
            format::timestamp(r.started_at),
            format::short_hash(&r.shape.hash).to_string(),
            change(r, &rows[i + 1..]),
            format::duration_ms(r.duration_ms),
            r.status.to_string(),
            if judged {
                format!("{} {}", r.sla.overall_status, format::sla_detail(r))
            } else {
                "-".into()
            },
        ]);
    }
    if let Some(c) = table.column_mut(3) {
        c.set_cell_alignment(CellAlignment::Right);
    }
    out.push_str(&table.to_string());
    out.push('\n');
    out
}

/// How `row`'s shape compares with its previous run's: `Δ memory <50MB → 50-100MB`
/// when the record it evolved from is among the `older` rows, else `Δ evolved`,
/// `new` or `same`.
fn change(row: &BeatRecord, older: &[BeatRecord]) -> String {
    let from = row
        .shape
        .previous_hash
        .as_deref()
        .filter(|_| row.shape.evolved)
        .and_then(|previous| older.iter().find(|o| o.shape.hash == previous));
    let changes = from
        .map(|from| describe_change(&from.shape.canonical, &row.shape.canonical))
        .unwrap_or_default();
    if changes.is_empty() {
        format::shape_change(&row.shape).to_string()
    } else {
        format!("Δ {}", format::shape_changes(&changes))
    }
}
