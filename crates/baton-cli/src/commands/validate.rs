//! `baton validate`: every problem of a pipeline file in one pass, with a score.

use baton_config::{Loaded, Severity, conformity_band};
use serde_json::json;

use crate::cli::{TextOrJson, ValidateArgs};
use crate::exit::Exit;

pub(crate) fn run(args: &ValidateArgs) -> anyhow::Result<Exit> {
    let path = baton_config::locate(args.file.as_deref());
    let loaded = baton_config::load(&path);
    let failing = if args.strict {
        Severity::Minor
    } else {
        Severity::Major
    };
    let passed = loaded.worst().is_none_or(|w| w < failing);
    match args.format {
        TextOrJson::Text => print_text(&loaded),
        TextOrJson::Json => print_json(&loaded, passed)?,
    }
    Ok(if passed { Exit::Success } else { Exit::Usage })
}

fn print_text(loaded: &Loaded) {
    let file = loaded.display_path();
    for d in &loaded.diagnostics {
        println!(
            "{} [{} {} {}]",
            d.located(&file),
            d.severity,
            d.code.as_str(),
            d.code.name()
        );
        if !d.fix.is_empty() {
            println!("    fix: {}", d.fix);
        }
    }
    let count = |s: Severity| {
        loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == s)
            .count()
    };
    let score = loaded.score();
    println!(
        "{file}: {} critical, {} major, {} minor, {} info; conformity {score:.2} ({})",
        count(Severity::Critical),
        count(Severity::Major),
        count(Severity::Minor),
        count(Severity::Info),
        conformity_band(score),
    );
}

fn print_json(loaded: &Loaded, passed: bool) -> anyhow::Result<()> {
    let score = loaded.score();
    let out = json!({
        "file": loaded.display_path(),
        "valid": passed,
        "score": score,
        "band": conformity_band(score),
        "diagnostics": loaded.diagnostics,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
