//! Pipeline files: read (YAML or JSON) -> node tree with positions -> typed draft with
//! defaults -> semantic checks -> [`baton_model::Pipeline`].
//!
//! Every problem becomes a [`Diagnostic`] with a stable code, a severity and a
//! `file:line:col`; [`load`] collects them all in one pass.

pub mod checks;
pub mod diagnostic;
pub mod duration;
pub mod fields;
mod identity;
pub mod resolve;
pub mod schema;
pub mod source;
pub mod tree;
mod workspace;

use std::path::{Path, PathBuf};

use baton_model::Pipeline;

pub use diagnostic::{Code, Diagnostic, Severity, conformity_band, conformity_score};
pub use duration::parse_duration;
pub use identity::history_key;
pub use source::special_file;

/// The default pipeline file name, and the others looked for in a directory.
pub const DEFAULT_FILE_NAMES: &[&str] = &["baton.yaml", "baton.yml", "baton.json"];

/// The outcome of reading and checking one pipeline file.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    /// Present when nothing critical or major was found.
    pub pipeline: Option<Pipeline>,
    /// The pipeline as far as it could be read, even with errors (for tooling).
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn worst(&self) -> Option<Severity> {
        self.diagnostics.iter().map(|d| d.severity).max()
    }

    pub fn score(&self) -> f64 {
        conformity_score(&self.diagnostics)
    }

    /// Whether the pipeline is good enough to run (nothing critical or major).
    pub fn is_runnable(&self) -> bool {
        self.pipeline.is_some()
    }

    /// The path as the user should see it in messages.
    pub fn display_path(&self) -> String {
        self.path.display().to_string()
    }
}

/// Find the pipeline file: the given path, or a default name in the current directory.
pub fn locate(path: Option<&Path>) -> PathBuf {
    match path {
        Some(p) if p.is_dir() => DEFAULT_FILE_NAMES
            .iter()
            .map(|n| p.join(n))
            .find(|c| c.exists())
            .unwrap_or_else(|| p.join(DEFAULT_FILE_NAMES[0])),
        Some(p) => p.to_path_buf(),
        None => DEFAULT_FILE_NAMES
            .iter()
            .map(PathBuf::from)
            .find(|c| c.exists())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_FILE_NAMES[0])),
    }
}

/// The directory a pipeline file's beats run in and its `.baton/` sits in.
pub fn pipeline_root(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Read, parse and check a pipeline file. Never panics on any input.
pub fn load(path: &Path) -> Loaded {
    load_findings(path, Severity::Info)
}

/// [`load`] for a caller that shows only findings of severity `least` or above
/// (`baton run` shows warnings and errors): those below are left out, which
/// spares a valid file's second parse (see `load_text`).
pub fn load_findings(path: &Path, least: Severity) -> Loaded {
    let text = match source::read_source(path) {
        Ok(text) => text,
        Err(source::Unreadable(d)) => {
            return Loaded {
                path: path.to_path_buf(),
                pipeline: None,
                diagnostics: vec![d],
            };
        }
    };
    load_text(path, &text, Some(&pipeline_root(path)), least)
}

/// Parse and check pipeline text as if read from `path`, without looking at any
/// file (no workspace checks).
pub fn load_str(path: &Path, text: &str) -> Loaded {
    load_text(path, text, None, Severity::Info)
}

/// Parse and check pipeline text; with `workspace`, also check it against the files
/// under that directory (see `workspace.rs`).
///
/// Most files have nothing to report at `least` or above: they are read without
/// positions (the cheaper parse; findings below `least` are dropped), and read
/// again with them only when a check found something to point at, so every
/// finding kept has its `file:line:col`.
fn load_text(path: &Path, text: &str, workspace: Option<&Path>, least: Severity) -> Loaded {
    if let Ok(root) = tree::parse_without_positions(text) {
        let mut loaded = check_tree(path, &root, workspace);
        if loaded.diagnostics.iter().all(|d| d.severity < least) {
            loaded.diagnostics.clear();
            return loaded;
        }
    }
    match tree::parse(text) {
        Ok(root) => check_tree(path, &root, workspace),
        Err(e) => {
            let d = Diagnostic::new(Code::Syntax, Severity::Critical, e.pos, e.message)
                .fix("fix the YAML/JSON syntax at this position");
            Loaded {
                path: path.to_path_buf(),
                pipeline: None,
                diagnostics: vec![d],
            }
        }
    }
}

/// Resolves and checks a parsed pipeline file.
fn check_tree(path: &Path, root: &tree::Node, workspace: Option<&Path>) -> Loaded {
    let mut reader = fields::Reader::default();
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("pipeline");
    let stem = if stem == "baton" {
        path.parent()
            .and_then(|p| p.file_name())
            .and_then(|s| s.to_str())
            .unwrap_or("pipeline")
    } else {
        stem
    };
    let draft = resolve::resolve(root, stem, &mut reader);
    if let Some(draft) = &draft {
        checks::check(draft, &mut reader);
        if let Some(root) = workspace {
            workspace::check(draft, root, &mut reader);
        }
    }
    let mut diagnostics = reader.diagnostics;
    diagnostics.sort_by_key(|d| (d.line.unwrap_or(0), d.column.unwrap_or(0)));
    let blocking = diagnostics.iter().any(|d| d.severity >= Severity::Major);
    let pipeline = match draft {
        Some(draft) if !blocking => Some(draft.into_pipeline(path)),
        _ => None,
    };
    Loaded {
        path: path.to_path_buf(),
        pipeline,
        diagnostics,
    }
}
