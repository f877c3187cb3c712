//! `baton cache explain|ls|prune|clear`: the answer to "why was this a cache miss?",
//! and the upkeep of `.baton/cache/`.

use anyhow::Context;
use baton_cache::{Cache, EntryInfo, Explanation};
use baton_model::RunRecord;
use serde::Serialize;

use super::reading;
use crate::cli::{CacheCommand, CacheExplainArgs, CacheLsArgs, CachePruneArgs, TextOrJson};
use crate::exit::Exit;
use crate::state::StateDir;

pub(crate) fn run(cmd: &CacheCommand) -> anyhow::Result<Exit> {
    match cmd {
        CacheCommand::Explain(args) => explain(args),
        CacheCommand::Ls(args) => ls(args),
        CacheCommand::Prune(args) => prune(args),
        CacheCommand::Clear(args) => clear(args),
    }
}

fn open_cache(file: Option<&std::path::Path>) -> anyhow::Result<(Cache, std::path::PathBuf)> {
    let path = baton_config::locate(file);
    let state = StateDir::for_pipeline_file(&path);
    let cache = Cache::open(&state.root).context("failed to open the step cache")?;
    Ok((cache, path))
}

/// The `format_version` of [`ExplainJson`].
const EXPLAIN_FORMAT_VERSION: u32 = 1;

/// What `baton cache explain --format json` prints, whichever question it answers
/// (fields that do not apply are null; see the command's help).
#[derive(Debug, Serialize)]
struct ExplainJson {
    format_version: u32,
    beat: String,
    /// `current`: the beat's key now against its newest entry; `runs`: the keys
    /// two runs used (`--run A --vs B`).
    mode: &'static str,
    /// Whether the beat is cached (it has `inputs` and `cache` is on); null when
    /// two runs are compared.
    cacheable: Option<bool>,
    /// The key now (`current`).
    key: Option<String>,
    /// Whether an entry with that key exists (`current`, cacheable beats).
    would_hit: Option<bool>,
    /// The beat's newest entry (`current`).
    previous: Option<EntryInfo>,
    /// The runs compared (`runs`): from, then to.
    runs: Option<[RunRef; 2]>,
    /// What differs between the two keys' components; null when there is nothing
    /// to compare (no entry yet, or its components are no longer known).
    explanation: Option<Explanation>,
    /// The explanation on one line (`2 input files changed (a.rs, b.rs)`), or null.
    summary: Option<String>,
}

#[derive(Debug, Serialize)]
struct RunRef {
    run_id: String,
    label: String,
}

impl From<&RunRecord> for RunRef {
    fn from(run: &RunRecord) -> Self {
        Self {
            run_id: run.run_id.to_string(),
            label: run.label.clone(),
        }
    }
}

impl ExplainJson {
    fn new(beat: &str, mode: &'static str, explanation: Option<Explanation>) -> Self {
        Self {
            format_version: EXPLAIN_FORMAT_VERSION,
            beat: beat.to_owned(),
            mode,
            cacheable: None,
            key: None,
            would_hit: None,
            previous: None,
            runs: None,
            summary: explanation
                .as_ref()
                .filter(|e| !e.is_empty())
                .map(Explanation::summary),
            explanation,
        }
    }

    fn print(&self) -> anyhow::Result<Exit> {
        println!("{}", serde_json::to_string_pretty(self)?);
        Ok(Exit::Success)
    }
}

fn explain(args: &CacheExplainArgs) -> anyhow::Result<Exit> {
    let (cache, path) = open_cache(args.store.file.as_deref())?;
    let json = args.format == TextOrJson::Json;
    if let (Some(a), Some(b)) = (&args.run, &args.vs) {
        let history = reading::open(&args.store)?;
        let (run_a, _) = reading::load_run(&history, a)?;
        let (run_b, _) = reading::load_run(&history, b)?;
        let explanation = cache.explain_runs(
            &args.beat,
            &run_a.run_id.to_string(),
            &run_b.run_id.to_string(),
        )?;
        if json {
            return ExplainJson {
                runs: Some([RunRef::from(&run_a), RunRef::from(&run_b)]),
                ..ExplainJson::new(&args.beat, "runs", Some(explanation))
            }
            .print();
        }
        let heading = format!(
            "'{}' between {} and {}",
            args.beat, run_a.label, run_b.label
        );
        print_explanation(&heading, Some(&explanation));
        return Ok(Exit::Success);
    }
    let loaded = baton_config::load(&path);
    let Some(pipeline) = loaded.pipeline else {
        crate::usage_bail!(
            "failed to read {}: run `baton validate` to see why",
            path.display()
        );
    };
    let Some((_, beat)) = pipeline.beat(&args.beat) else {
        crate::usage_bail!("the pipeline has no beat named '{}'", args.beat);
    };
    if !baton_cache::is_cacheable(beat) {
        if json {
            return ExplainJson {
                cacheable: Some(false),
                ..ExplainJson::new(&args.beat, "current", None)
            }
            .print();
        }
        println!(
            "'{}' is not cached: it has no `inputs` or `cache` is off",
            args.beat
        );
        return Ok(Exit::Success);
    }
    let shell = baton_runner::Shell::for_pipeline(&pipeline);
    let spec = baton_runner::cache_key_spec(&pipeline, beat, &shell);
    let now = cache.explain_current(&spec)?;
    let would_hit = now.would_hit;
    if json {
        return ExplainJson {
            cacheable: Some(true),
            key: Some(now.current.key),
            would_hit: Some(would_hit),
            previous: now.previous,
            ..ExplainJson::new(&args.beat, "current", now.explanation)
        }
        .print();
    }
    match (&now.previous, &now.explanation) {
        (None, _) => println!(
            "'{}' has no cache entry yet: its next run is a miss",
            args.beat
        ),
        _ if would_hit => println!(
            "'{}' would hit: an entry with its current key exists",
            args.beat
        ),
        (Some(_), None) => println!(
            "'{}' would miss: its entry's key components are no longer known",
            args.beat
        ),
        (Some(previous), Some(explanation)) => {
            let heading = format!(
                "'{}' would miss; since its entry of {}",
                args.beat,
                baton_report::format::timestamp(previous.created_at)
            );
            print_explanation(&heading, Some(explanation));
        }
    }
    Ok(Exit::Success)
}

fn print_explanation(heading: &str, explanation: Option<&Explanation>) {
    match explanation {
        Some(e) if !e.is_empty() => {
            println!("{heading}:");
            for line in e.to_string().lines() {
                println!("  {line}");
            }
        }
        _ => println!("{heading}: the keys are the same"),
    }
}

fn ls(args: &CacheLsArgs) -> anyhow::Result<Exit> {
    let (cache, _) = open_cache(args.store.file.as_deref())?;
    let entries = cache.ls()?;
    match args.format {
        TextOrJson::Json => println!("{}", serde_json::to_string_pretty(&entries)?),
        TextOrJson::Text => {
            if entries.is_empty() {
                println!("the cache is empty");
            }
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
            table.set_header(["Beat", "Key", "Size", "Created (UTC)", "Last used (UTC)"]);
            for e in &entries {
                table.add_row([
                    e.beat.clone(),
                    e.key.chars().take(12).collect(),
                    baton_report::format::bytes(e.size),
                    baton_report::format::timestamp(e.created_at),
                    baton_report::format::timestamp(e.last_used),
                ]);
            }
            if !entries.is_empty() {
                println!("{table}");
                let total: u64 = entries.iter().map(|e| e.size).sum();
                println!(
                    "{} entries, {}",
                    entries.len(),
                    baton_report::format::bytes(total)
                );
            }
        }
    }
    Ok(Exit::Success)
}

fn prune(args: &CachePruneArgs) -> anyhow::Result<Exit> {
    let max = match crate::size::parse_size(&args.max_size) {
        Ok(max) => max,
        Err(err) => crate::usage_bail!("--max-size: {err}"),
    };
    let (cache, _) = open_cache(args.store.file.as_deref())?;
    let report = cache.prune(max)?;
    println!(
        "removed {} entries ({}), kept {} ({})",
        report.removed,
        baton_report::format::bytes(report.freed_bytes),
        report.kept,
        baton_report::format::bytes(report.kept_bytes)
    );
    Ok(Exit::Success)
}

fn clear(args: &CacheLsArgs) -> anyhow::Result<Exit> {
    let (cache, _) = open_cache(args.store.file.as_deref())?;
    let report = cache.clear()?;
    println!(
        "removed {} entries ({})",
        report.removed,
        baton_report::format::bytes(report.freed_bytes)
    );
    Ok(Exit::Success)
}
