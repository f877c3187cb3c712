//! `baton shape log|annotate|export`: how a beat's behaviour changed, and why.

use anyhow::Context;
use baton_store::{RunSelector, ShapeTarget};

use super::reading;
use crate::cli::{ShapeAnnotateArgs, ShapeCommand, ShapeExportArgs, ShapeLogArgs, TextOrJson};
use crate::exit::Exit;

pub(crate) fn run(cmd: &ShapeCommand) -> anyhow::Result<Exit> {
    match cmd {
        ShapeCommand::Log(args) => log(args),
        ShapeCommand::Annotate(args) => annotate(args),
        ShapeCommand::Export(args) => export(args),
    }
}

fn log(args: &ShapeLogArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let rows = history
        .store
        .beat_runs(history.pipeline_id.as_deref(), &args.beat, args.limit)?;
    if rows.is_empty() {
        crate::usage_bail!("no recorded runs of beat '{}'", args.beat);
    }
    match args.format {
        TextOrJson::Text => print!("{}", baton_report::render_shape_log(&args.beat, &rows)),
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
    }
    Ok(Exit::Success)
}

fn annotate(args: &ShapeAnnotateArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let target = match &args.run {
        Some(run) => ShapeTarget::Run(run.parse().unwrap_or(RunSelector::Latest)),
        None => ShapeTarget::Latest,
    };
    let note = history.store.annotate_shape(
        history.pipeline_id.as_deref(),
        &args.beat,
        &target,
        &args.reason,
        jiff::Timestamp::now(),
    )?;
    println!(
        "annotated shape {} of '{}': {}",
        baton_report::format::short_hash(&note.shape_hash),
        note.beat,
        note.reason
    );
    // The registry next to the history says why from now on; the annotation
    // itself is stored whatever happens to the file.
    if let Err(err) = crate::shape_registry::refresh(&history.state, history.store.as_ref()) {
        crate::notice::warning(format!("{err:#}"));
    }
    Ok(Exit::Success)
}

fn export(args: &ShapeExportArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let evolutions = history
        .store
        .shape_evolutions(history.pipeline_id.as_deref())?;
    let json = crate::shape_registry::to_json(&evolutions);
    if args.output.as_os_str() == "-" {
        print!("{json}");
    } else {
        std::fs::write(&args.output, json)
            .with_context(|| format!("failed to write {}", args.output.display()))?;
        eprintln!(
            "wrote {} shape changes to {}",
            evolutions.len(),
            args.output.display()
        );
    }
    Ok(Exit::Success)
}
