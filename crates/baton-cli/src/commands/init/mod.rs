//! `baton init`: a starter pipeline with a fresh stable id, beats proposed from the
//! project's own files, a commented `.env` template and `.gitignore` entries. Running
//! it twice changes nothing; it never overwrites a pipeline without `--force`.

mod detect;

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

use crate::cli::InitArgs;
use crate::exit::Exit;

pub(crate) use detect::{Proposal, detect};

/// Where init puts the JSON Schema for editors, relative to the pipeline file.
const SCHEMA_PATH: &str = ".baton/pipeline.schema.json";

const ENV_TEMPLATE: &str = "\
# baton telemetry webhook (read by `baton run`, the environment wins; never commit
# real values; `baton telemetry` shows what is in effect; see docs/webhook.md)
# Where each finished run is POSTed as JSON, e.g. https://hooks.example.com/baton
# BATON_TELEMETRY_URL=
# API key, sent as `Authorization: Bearer <key>`
# BATON_TELEMETRY_KEY=
# Signs each delivery the Standard Webhooks way (whsec_...)
# BATON_TELEMETRY_SECRET=
";

pub(crate) fn run(args: &InitArgs) -> anyhow::Result<Exit> {
    let dir = &args.dir;
    let pipeline_path = dir.join("baton.yaml");
    let existing = ["baton.yaml", "baton.yml", "baton.json"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists());
    match existing {
        Some(path) if !args.force => {
            println!(
                "{} exists; leaving it as it is (use --force to overwrite)",
                path.display()
            );
        }
        _ => {
            let name = dir
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "pipeline".into());
            let proposal = detect(dir);
            let text = render(&name, &uuid::Uuid::now_v7().to_string(), &proposal);
            fs::write(&pipeline_path, text)
                .with_context(|| format!("failed to write {}", pipeline_path.display()))?;
            println!(
                "wrote {} ({} beats from {})",
                pipeline_path.display(),
                proposal.beat_count(),
                proposal.sources()
            );
        }
    }
    let schema_path = dir.join(SCHEMA_PATH);
    if let Some(parent) = schema_path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("failed to create {}", parent.display()))?;
    }
    fs::write(&schema_path, baton_config::schema::PIPELINE_SCHEMA)
        .with_context(|| format!("failed to write {}", schema_path.display()))?;
    if append_if_missing(&dir.join(".env"), "BATON_TELEMETRY_URL", ENV_TEMPLATE)? {
        println!("added the telemetry settings template to .env");
    }
    for entry in [".baton/", ".env"] {
        if add_gitignore_line(&dir.join(".gitignore"), entry)? {
            println!("added {entry} to .gitignore");
        }
    }
    Ok(Exit::Success)
}

fn render(name: &str, id: &str, proposal: &Proposal) -> String {
    let mut out = String::new();
    out.push_str(&format!("# yaml-language-server: $schema={SCHEMA_PATH}\n"));
    out.push_str("# Check it with `baton validate`, run it with `baton run`.\n");
    out.push_str("version: 1\n");
    out.push_str(&format!(
        "id: {id}   # stable: keeps this pipeline's history when it is renamed\n"
    ));
    out.push_str(&format!("name: {}\n", yaml_string(name)));
    out.push_str("movements:\n");
    for movement in &proposal.movements {
        out.push_str(&format!("  - name: {}\n", movement.name));
        if movement.parallel {
            out.push_str("    parallel: true\n");
        }
        out.push_str("    beats:\n");
        for beat in &movement.beats {
            out.push_str(&format!("      - name: {}\n", beat.name));
            out.push_str(&format!("        type: {}\n", beat.beat_type));
            out.push_str(&format!("        run: {}\n", yaml_string(&beat.run)));
            if !beat.inputs.is_empty() {
                let list: Vec<String> = beat.inputs.iter().map(|i| yaml_string(i)).collect();
                out.push_str(&format!("        inputs: [{}]\n", list.join(", ")));
            }
        }
    }
    out
}

/// Quote a YAML scalar when it needs it.
fn yaml_string(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " -_./=".contains(c))
        && !s.starts_with(['-', ' ', '.'])
        && !s.ends_with(' ')
        && !matches!(s, "true" | "false" | "null" | "yes" | "no" | "on" | "off");
    if plain {
        s.to_string()
    } else {
        format!("{:?}", s)
    }
}

/// Append `text` unless the file already mentions `marker`. Returns whether it wrote.
fn append_if_missing(path: &Path, marker: &str, text: &str) -> anyhow::Result<bool> {
    let current = fs::read_to_string(path).unwrap_or_default();
    if current.contains(marker) {
        return Ok(false);
    }
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("failed to open {}", path.display()))?;
    if !current.is_empty() && !current.ends_with('\n') {
        writeln!(file)?;
    }
    file.write_all(text.as_bytes())
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(true)
}

fn add_gitignore_line(path: &Path, entry: &str) -> anyhow::Result<bool> {
    let current = fs::read_to_string(path).unwrap_or_default();
    let bare = entry.trim_end_matches('/');
    let present = current.lines().map(str::trim).any(|l| {
        let l = l.trim_start_matches('/').trim_end_matches('/');
        l == bare
    });
    if present {
        return Ok(false);
    }
    append_if_missing(path, "\u{0}never", &format!("{entry}\n"))
}
