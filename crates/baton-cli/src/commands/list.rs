//! `baton list`: the beats of a pipeline file, grouped by movement, with what
//! decides when and how each runs (type, level, needs, cache, timeout).

use baton_config::Severity;
use baton_model::{BeatSpec, MovementSpec, Pipeline};
use serde::Serialize;

use crate::cli::{ListArgs, TextOrJson};
use crate::exit::Exit;
use crate::notice;

/// One beat as `baton list --format json` prints it. The field names are stable.
#[derive(Debug, Serialize)]
struct ListedBeat<'a> {
    name: &'a str,
    movement: &'a str,
    /// Whether the beat's movement runs its beats in parallel.
    parallel: bool,
    #[serde(rename = "type")]
    beat_type: &'a str,
    level: &'a str,
    needs: &'a [String],
    /// Whether the beat is cached (`cache: true` and some `inputs`).
    cache: bool,
    timeout_ms: Option<u128>,
}

pub(crate) fn run(args: &ListArgs) -> anyhow::Result<Exit> {
    let path = baton_config::locate(args.file.as_deref());
    let loaded = baton_config::load(&path);
    let file = loaded.display_path();
    let blocking: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity >= Severity::Major)
        .collect();
    let pipeline = match &loaded.pipeline {
        Some(pipeline) if blocking.is_empty() => pipeline,
        _ => {
            for d in blocking {
                notice::error(format!("{} [{}]", d.located(&file), d.code.as_str()));
            }
            notice::error(format!(
                "{file} is not a valid pipeline: see `baton validate {file}`"
            ));
            return Ok(Exit::Usage);
        }
    };
    match args.format {
        TextOrJson::Text => print!("{}", render_text(pipeline)),
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&listed(pipeline))?),
    }
    Ok(Exit::Success)
}

fn listed(pipeline: &Pipeline) -> Vec<ListedBeat<'_>> {
    pipeline
        .movements
        .iter()
        .flat_map(|movement| movement.beats.iter().map(move |beat| (movement, beat)))
        .map(|(movement, beat)| ListedBeat {
            name: &beat.name,
            movement: &movement.name,
            parallel: movement.parallel,
            beat_type: beat.beat_type.as_str(),
            level: beat.level.as_str(),
            needs: &beat.needs,
            cache: baton_cache::is_cacheable(beat),
            timeout_ms: beat.timeout.map(|t| t.as_millis()),
        })
        .collect()
}

const HEADER: [&str; 6] = ["BEAT", "TYPE", "LEVEL", "NEEDS", "CACHE", "TIMEOUT"];

/// The cells of one beat's row, in the order of [`HEADER`].
fn row(beat: &BeatSpec) -> [String; 6] {
    let or_dash = |s: String| if s.is_empty() { "-".to_owned() } else { s };
    [
        beat.name.clone(),
        beat.beat_type.as_str().to_owned(),
        beat.level.as_str().to_owned(),
        or_dash(beat.needs.join(",")),
        if baton_cache::is_cacheable(beat) {
            "yes"
        } else {
            "-"
        }
        .to_owned(),
        beat.timeout
            .map_or_else(|| "-".to_owned(), baton_model::format_duration),
    ]
}

fn movement_heading(movement: &MovementSpec) -> String {
    if movement.parallel {
        format!("{} (parallel)", movement.name)
    } else {
        movement.name.clone()
    }
}

/// A compact aligned table: a header, then each movement's name and its beats,
/// indented under it.
fn render_text(pipeline: &Pipeline) -> String {
    const INDENT: &str = "  ";
    let rows: Vec<Vec<[String; 6]>> = pipeline
        .movements
        .iter()
        .map(|m| m.beats.iter().map(row).collect())
        .collect();
    let mut widths = HEADER.map(str::len);
    // The first column holds the indented beat names.
    widths[0] = widths[0].saturating_sub(INDENT.len());
    for cells in rows.iter().flatten() {
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |first_indent: &str, cells: [&str; 6]| {
        let mut out = String::from(first_indent);
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let width = if i == 0 && first_indent.is_empty() {
                width + INDENT.len()
            } else {
                width
            };
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let beats = rows.iter().map(Vec::len).sum::<usize>();
    let mut out = format!(
        "{}: {beats} beat{} in {} movement{}\n",
        pipeline.name,
        if beats == 1 { "" } else { "s" },
        pipeline.movements.len(),
        if pipeline.movements.len() == 1 {
            ""
        } else {
            "s"
        },
    );
    out.push_str(&line("", HEADER));
    for (movement, cells) in pipeline.movements.iter().zip(&rows) {
        out.push_str(&movement_heading(movement));
        out.push('\n');
        for cells in cells {
            out.push_str(&line(INDENT, cells.each_ref().map(String::as_str)));
        }
    }
    out
}
