//! `baton doctor`: checks everything baton keeps for a pipeline (state directory,
//! history, cache, outbox, exporters) and what it relies on (git, the shell, the
//! clock), prints each finding with its fix and a score from 0 to 100
//! (docs/doctor.md), and exits 1 when anything is wrong.

mod checks;

use std::path::Path;

use serde::Serialize;

use crate::cli::{DoctorArgs, TextOrJson};
use crate::exit::Exit;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Level {
    Ok,
    /// Works, but will cause trouble or already loses something small.
    Warning,
    /// Broken: baton cannot do part of its job.
    Failure,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Finding {
    /// `state`, `history`, `cache`, `outbox`, `exporters`, `git`, `shell`, `clock`.
    pub area: &'static str,
    pub level: Level,
    /// What was found, one line.
    pub message: String,
    /// What to do about it, when it is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    fn ok(area: &'static str, message: impl Into<String>) -> Self {
        Self {
            area,
            level: Level::Ok,
            message: message.into(),
            fix: None,
        }
    }

    fn problem(
        area: &'static str,
        level: Level,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            area,
            level,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Points a failure costs ...
pub(crate) const FAILURE_COST: u32 = 25;
/// ... and a warning.
pub(crate) const WARNING_COST: u32 = 10;

/// 100, less [`FAILURE_COST`] per failure and [`WARNING_COST`] per warning, never
/// below 0.
pub(crate) fn score(findings: &[Finding]) -> u32 {
    let cost: u32 = findings
        .iter()
        .map(|f| match f.level {
            Level::Ok => 0,
            Level::Warning => WARNING_COST,
            Level::Failure => FAILURE_COST,
        })
        .sum();
    100u32.saturating_sub(cost)
}

#[derive(Serialize)]
struct Document<'a> {
    format_version: u32,
    score: u32,
    healthy: bool,
    findings: &'a [Finding],
}

pub(crate) fn run(args: &DoctorArgs) -> anyhow::Result<Exit> {
    let file = baton_config::locate(args.file.as_deref());
    let root = baton_config::pipeline_root(&file);
    let findings = checks::all(Path::new(&root), args.network);
    let score = score(&findings);
    let healthy = findings.iter().all(|f| f.level == Level::Ok);
    match args.format {
        TextOrJson::Json => {
            let doc = Document {
                format_version: 1,
                score,
                healthy,
                findings: &findings,
            };
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        TextOrJson::Text => print_text(&findings, score),
    }
    Ok(if healthy {
        Exit::Success
    } else {
        Exit::InputRejected
    })
}

fn print_text(findings: &[Finding], score: u32) {
    use baton_model::escape::escape_control;
    for f in findings {
        let mark = match f.level {
            Level::Ok => "ok  ",
            Level::Warning => "warn",
            Level::Failure => "FAIL",
        };
        println!("{mark}  {:<9} {}", f.area, escape_control(&f.message));
        if let Some(fix) = &f.fix {
            println!("      {:<9} fix: {}", "", escape_control(fix));
        }
    }
    let problems = findings.iter().filter(|f| f.level != Level::Ok).count();
    println!();
    if problems == 0 {
        println!("score {score}/100: healthy");
    } else {
        println!(
            "score {score}/100: {problems} {} to fix",
            if problems == 1 { "problem" } else { "problems" }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_score_loses_points_per_problem_and_stops_at_zero() {
        let ok = Finding::ok("git", "fine");
        let warn = Finding::problem("cache", Level::Warning, "x", "y");
        let fail = Finding::problem("history", Level::Failure, "x", "y");
        assert_eq!(score(std::slice::from_ref(&ok)), 100);
        assert_eq!(score(&[ok, warn.clone(), fail.clone()]), 65);
        assert_eq!(score(&vec![fail; 5]), 0);
    }
}
