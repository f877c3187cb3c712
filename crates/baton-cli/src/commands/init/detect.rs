//! Propose beats from what a project already has: Cargo.toml, package.json scripts,
//! Makefile targets, go.mod, pyproject.toml.

use std::fs;
use std::path::Path;

#[derive(Debug, Default)]
pub(crate) struct Proposal {
    pub movements: Vec<ProposedMovement>,
    found: Vec<&'static str>,
}

#[derive(Debug)]
pub(crate) struct ProposedMovement {
    pub name: &'static str,
    pub parallel: bool,
    pub beats: Vec<ProposedBeat>,
}

#[derive(Debug)]
pub(crate) struct ProposedBeat {
    pub name: String,
    pub beat_type: &'static str,
    pub run: String,
    pub inputs: Vec<String>,
}

impl Proposal {
    pub(crate) fn beat_count(&self) -> usize {
        self.movements.iter().map(|m| m.beats.len()).sum()
    }

    pub(crate) fn sources(&self) -> String {
        if self.found.is_empty() {
            "a template".into()
        } else {
            self.found.join(", ")
        }
    }

    fn add(&mut self, movement: &'static str, beat: ProposedBeat) {
        if self
            .movements
            .iter()
            .flat_map(|m| &m.beats)
            .any(|b| b.name == beat.name)
        {
            return;
        }
        match self.movements.iter_mut().find(|m| m.name == movement) {
            Some(m) => m.beats.push(beat),
            None => self.movements.push(ProposedMovement {
                name: movement,
                parallel: movement == "check",
                beats: vec![beat],
            }),
        }
    }
}

fn beat(name: &str, beat_type: &'static str, run: &str, inputs: &[&str]) -> ProposedBeat {
    ProposedBeat {
        name: name.into(),
        beat_type,
        run: run.into(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
    }
}

pub(crate) fn detect(dir: &Path) -> Proposal {
    let mut p = Proposal::default();
    if dir.join("Cargo.toml").is_file() {
        p.found.push("Cargo.toml");
        p.add(
            "check",
            beat("fmt", "validation", "cargo fmt --all --check", &[]),
        );
        p.add(
            "check",
            beat(
                "clippy",
                "verification",
                "cargo clippy --all-targets -- -D warnings",
                &[],
            ),
        );
        p.add(
            "build",
            beat("build", "build", "cargo build --release", &[]),
        );
        p.add("test", beat("test", "test", "cargo test", &[]));
    }
    if let Some(scripts) = package_scripts(dir) {
        p.found.push("package.json");
        for (script, movement, beat_type) in [
            ("lint", "check", "validation"),
            ("typecheck", "check", "verification"),
            ("build", "build", "build"),
            ("test", "test", "test"),
        ] {
            if scripts.iter().any(|s| s == script) {
                p.add(
                    movement,
                    beat(
                        &format!("npm-{script}"),
                        beat_type,
                        &format!("npm run {script}"),
                        &[],
                    ),
                );
            }
        }
    }
    let targets = make_targets(dir);
    if !targets.is_empty() {
        p.found.push("Makefile");
        for target in targets.iter().take(12) {
            let (movement, beat_type) = classify(target);
            p.add(
                movement,
                beat(
                    &format!("make-{target}"),
                    beat_type,
                    &format!("make {target}"),
                    &[],
                ),
            );
        }
    }
    if dir.join("go.mod").is_file() {
        p.found.push("go.mod");
        p.add("check", beat("go-vet", "verification", "go vet ./...", &[]));
        p.add("build", beat("go-build", "build", "go build ./...", &[]));
        p.add("test", beat("go-test", "test", "go test ./...", &[]));
    }
    if let Ok(text) = fs::read_to_string(dir.join("pyproject.toml")) {
        p.found.push("pyproject.toml");
        if text.contains("ruff") {
            p.add("check", beat("ruff", "validation", "ruff check .", &[]));
        }
        if text.contains("mypy") {
            p.add("check", beat("mypy", "verification", "mypy .", &[]));
        }
        p.add("test", beat("pytest", "test", "python3 -m pytest", &[]));
    }
    if p.movements.is_empty() {
        p.add(
            "build",
            beat("hello", "build", "echo \"hello from baton\"", &[]),
        );
    }
    // Movements in pipeline order whatever the detection order was.
    let rank = |name: &str| {
        ["check", "build", "test"]
            .iter()
            .position(|n| *n == name)
            .unwrap_or(3)
    };
    p.movements.sort_by_key(|m| rank(m.name));
    p
}

fn package_scripts(dir: &Path) -> Option<Vec<String>> {
    let text = fs::read_to_string(dir.join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(json.get("scripts")?.as_object()?.keys().cloned().collect())
}

/// Explicit targets of a Makefile (no patterns, no special or private targets).
fn make_targets(dir: &Path) -> Vec<String> {
    let Some(text) = ["Makefile", "makefile", "GNUmakefile"]
        .iter()
        .find_map(|n| fs::read_to_string(dir.join(n)).ok())
    else {
        return Vec::new();
    };
    let mut targets = Vec::new();
    for line in text.lines() {
        if line.starts_with(['\t', ' ', '#', '.']) {
            continue;
        }
        let Some((head, rest)) = line.split_once(':') else {
            continue;
        };
        if rest.starts_with('=') || head.contains(['$', '%', '=']) {
            continue;
        }
        for t in head.split_whitespace() {
            if !t.starts_with('_') && !targets.iter().any(|x| x == t) {
                targets.push(t.to_string());
            }
        }
    }
    targets
}

fn classify(target: &str) -> (&'static str, &'static str) {
    match target {
        t if t.contains("lint")
            || t.contains("fmt")
            || t.contains("format")
            || t.contains("check") =>
        {
            ("check", "validation")
        }
        t if t.contains("test") => ("test", "test"),
        t if t.contains("deploy") || t.contains("release") || t.contains("publish") => {
            ("deploy", "deploy")
        }
        t if t.contains("doc") || t.contains("gen") => ("build", "generation"),
        _ => ("build", "build"),
    }
}
