//! `baton ingest github-actions|gitlab|junit`: history a CI system already keeps,
//! brought into baton's history so that every analysis reads it like any run.
//!
//! Every input is read and checked before anything is stored: a file that does
//! not read is reported as `FILE: what is wrong` (with its line and column when
//! there is one) and then nothing at all is stored, so a bad file never leaves
//! half a run behind. Runs are written as import documents (docs/import-format.md)
//! and go through the same checks and the same store path as `baton import`; a run
//! is identified by its provider, its id there and its attempt, so ingesting the
//! same files again changes nothing.

mod github;
mod gitlab;
mod junit;
mod record;

use std::io::{self, Read};
use std::path::Path;

use anyhow::Context;
use baton_model::escape::escape_control;

use super::import::line::{self, Parsed};
use crate::cli::{IngestCommand, IngestFilesArgs, StoreArgs};
use crate::exit::Exit;
use crate::notice;

/// API responses bigger than this are refused rather than read (the largest jobs
/// page GitHub returns is a few megabytes).
const MAX_JSON_BYTES: u64 = 256 << 20;

pub(crate) fn run(cmd: &IngestCommand) -> anyhow::Result<Exit> {
    match cmd {
        IngestCommand::GithubActions(args) => ingest_json(args, github::documents),
        IngestCommand::Gitlab(args) => ingest_json(args, gitlab::documents),
        IngestCommand::Junit(args) => junit::run(args),
    }
}

/// One input read whole: the name it is reported under and its bytes.
pub(super) struct Input {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What reading the inputs gave: the runs as import documents, or the problems
/// (one line each, naming the file), and notes about what was left out.
#[derive(Default)]
pub(super) struct Outcome {
    pub documents: Vec<serde_json::Value>,
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

fn ingest_json(
    args: &IngestFilesArgs,
    documents: fn(Vec<Input>) -> Outcome,
) -> anyhow::Result<Exit> {
    let mut inputs = Vec::with_capacity(args.files.len());
    let mut problems = Vec::new();
    for name in &args.files {
        match read_input(name, MAX_JSON_BYTES) {
            Ok(input) => inputs.push(input),
            Err(problem) => problems.push(problem),
        }
    }
    if !problems.is_empty() {
        return Ok(rejected(&problems));
    }
    let outcome = documents(inputs);
    store_outcome(&args.store, outcome)
}

/// Reads `name` (`-`: stdin) whole, refusing more than `cap` bytes.
pub(super) fn read_input(name: &str, cap: u64) -> Result<Input, String> {
    let (shown, reader): (String, Box<dyn Read>) = if name == "-" {
        ("<stdin>".to_owned(), Box::new(io::stdin()))
    } else {
        let path = Path::new(name);
        if path.is_dir() {
            return Err(format!("{name}: is a directory, not a file"));
        }
        match std::fs::File::open(path) {
            Ok(file) => (name.to_owned(), Box::new(file)),
            Err(err) => return Err(format!("{name}: failed to open: {err}")),
        }
    };
    let mut bytes = Vec::new();
    match reader.take(cap + 1).read_to_end(&mut bytes) {
        Ok(_) if bytes.len() as u64 > cap => Err(format!("{shown}: larger than {} MiB", cap >> 20)),
        Ok(_) => Ok(Input { name: shown, bytes }),
        Err(err) => Err(format!("{shown}: failed to read: {err}")),
    }
}

/// Checks the documents and stores them, or stores nothing when any input or
/// document was rejected.
pub(super) fn store_outcome(store_args: &StoreArgs, outcome: Outcome) -> anyhow::Result<Exit> {
    let Outcome {
        documents,
        mut problems,
        notes,
    } = outcome;
    for note in &notes {
        notice::note(escape_control(note));
    }
    let mut parsed: Vec<Parsed> = Vec::with_capacity(documents.len());
    for doc in &documents {
        let bytes = serde_json::to_vec(doc).context("failed to write a run document")?;
        match line::parse(&bytes) {
            Ok(p) => parsed.push(p),
            Err(why) => problems.push(format!("run {}: {why}", record::describe(doc))),
        }
    }
    if !problems.is_empty() {
        return Ok(rejected(&problems));
    }
    let store = super::import::open_store(store_args)?;
    let (runs, beats): (Vec<_>, Vec<_>) = parsed.into_iter().map(|p| (p.run, p.beats)).unzip();
    let present = store
        .import_runs(&runs, &beats.concat())
        .context("failed to store the runs")?;
    let new: Vec<usize> = runs
        .iter()
        .zip(&beats)
        .filter(|(run, _)| !present.contains(&run.run_id))
        .map(|(_, b)| b.len())
        .collect();
    println!(
        "ingested {} ({}), {} already present",
        plural(new.len(), "run", "runs"),
        plural(new.iter().sum(), "beat", "beats"),
        present.len()
    );
    Ok(Exit::Success)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Each problem on stderr, and the verdict: nothing stored, exit 1.
pub(super) fn rejected(problems: &[String]) -> Exit {
    for problem in problems {
        notice::error(escape_control(problem));
    }
    notice::error(format!(
        "failed to ingest: {}; nothing was stored",
        plural(problems.len(), "problem", "problems")
    ));
    Exit::InputRejected
}

/// `FILE:LINE:COLUMN: what serde_json found`, for a file that is not the JSON
/// expected.
impl Input {
    /// The input parsed as JSON, or its problem added to `problems`.
    pub(super) fn json(&self, problems: &mut Vec<String>) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.bytes)
            .map_err(|err| problems.push(json_problem(&self.name, &err)))
            .ok()
    }
}

pub(super) fn json_problem(name: &str, err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let text = err.to_string();
    let bare = text
        .rfind(" at line ")
        .map_or(text.as_str(), |at| &text[..at]);
    match err.classify() {
        Category::Eof => format!("{name}: truncated: the JSON ends before it is complete"),
        Category::Io => format!("{name}: failed to read: {bare}"),
        Category::Syntax => format!("{name}:{}:{}: not JSON: {bare}", err.line(), err.column()),
        Category::Data => format!("{name}:{}:{}: {bare}", err.line(), err.column()),
    }
}
