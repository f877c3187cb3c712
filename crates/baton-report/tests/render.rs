//! Snapshot tests of every renderer over one fixed run.

mod common;

use baton_model::{BeatStatus, RunStatus};
use baton_report::{
    HistoryRow, render_history_table, render_json, render_markdown, render_run, render_shape_log,
    render_text,
};

#[test]
fn text_without_color() {
    insta::assert_snapshot!(render_text(&common::report(), false));
}

#[test]
fn text_with_color_only_adds_ansi_codes() {
    let report = common::report();
    let colored = render_text(&report, true);
    assert!(
        colored.contains("\u{1b}["),
        "no ANSI codes in colored output"
    );
    let plain = render_text(&report, false);
    assert!(!plain.contains('\u{1b}'));
    assert_eq!(strip_ansi(&colored), plain);
}

#[test]
fn show_of_the_run_as_recorded() {
    let mut beats = common::beats();
    beats.sort_by_key(|b| (b.movement_index, b.beat_index));
    let codegen = beats.iter_mut().find(|b| b.beat == "codegen").unwrap();
    codegen.restored = true;
    codegen.restored_from = Some("build-20251125-090000".into());
    codegen.input_identity = Some(format!("inputs:{}", "3f2a9c1b".repeat(8)));
    let compile = beats.iter_mut().find(|b| b.beat == "compile").unwrap();
    compile.input_identity = Some("commit:0123456789abcdef0123456789abcdef01234567".into());
    compile.attempts = 2;
    let previous = [("compile".to_owned(), common::COMPILE_BEFORE.to_owned())].into();
    let shown = render_run(&common::run(), &beats, &previous);
    assert!(
        shown.contains("  cache     hit, restored from build-20251125-090000"),
        "{shown}"
    );
    assert!(
        shown.contains("  inputs    inputs:3f2a9c1b3f2a\n"),
        "{shown}"
    );
    assert!(
        shown.contains("  shape     Δ duration 30s-2m → 2-10m, cache hit → miss"),
        "{shown}"
    );
    insta::assert_snapshot!(shown);
}

#[test]
fn markdown() {
    insta::assert_snapshot!(render_markdown(&common::report()));
}

#[test]
fn markdown_of_a_clean_run_has_no_extra_sections() {
    let mut run = common::run();
    run.status = RunStatus::Success;
    let beats: Vec<_> = common::beats()
        .into_iter()
        .filter(|b| {
            b.status == BeatStatus::Success && b.sla.overall_status < baton_model::SlaStatus::Breach
        })
        .map(|mut b| {
            b.shape.evolved = false;
            b
        })
        .collect();
    let md = render_markdown(&baton_report::RunReport::new(run, beats, vec![]));
    assert!(
        md.starts_with("## ✅ build-pipeline-symphony — success"),
        "{md}"
    );
    assert!(!md.contains("### "), "{md}");
}

#[test]
fn json() {
    let report = common::report();
    let json = render_json(&report);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    insta::assert_json_snapshot!(value);
    // It reads back (floats may differ in the last bit, so compare re-rendered).
    let back: baton_report::RunReport = serde_json::from_str(&json).unwrap();
    assert_eq!(render_json(&back), json);
}

#[test]
fn history_table() {
    let rows = vec![
        HistoryRow {
            run_id: common::RUN_ID.parse().unwrap(),
            label: "build-20251126-123456".into(),
            pipeline: "build-pipeline-symphony".into(),
            status: RunStatus::Failure,
            started_at: common::ts("2025-11-26T12:34:56Z"),
            duration_ms: Some(205_500),
            beats: 6,
            failed: 1,
            breaches: 2,
        },
        HistoryRow {
            run_id: common::uuid_nil(),
            label: "build-20251126-120000".into(),
            pipeline: "build-pipeline-symphony".into(),
            status: RunStatus::Running,
            started_at: common::ts("2025-11-26T12:00:00Z"),
            duration_ms: None,
            beats: 6,
            failed: 0,
            breaches: 0,
        },
    ];
    insta::assert_snapshot!(render_history_table(&rows));
    assert_eq!(render_history_table(&[]), "No runs recorded yet.\n");
}

#[test]
fn shape_log() {
    let beats = common::beats();
    let compile = beats.iter().find(|b| b.beat == "compile").unwrap();
    let mut older = compile.clone();
    older.started_at = common::ts("2025-11-25T09:00:00Z");
    older.duration_ms = 81_000;
    older.sla.overall_status = baton_model::SlaStatus::Compliant;
    older.sla.duration_status = baton_model::SlaStatus::Compliant;
    older.sla.duration_breach_percent = -32.5;
    older.shape.evolved = false;
    older.shape.hash = compile.shape.previous_hash.clone().unwrap();
    older.shape.canonical = common::COMPILE_BEFORE.into();
    older.shape.previous_hash = None;
    // Its cache hit rate, not its duration, made this run a warning.
    let mut cached = older.clone();
    cached.started_at = common::ts("2025-11-24T09:00:00Z");
    cached.sla.overall_status = baton_model::SlaStatus::Warning;
    cached.sla.cache_status = baton_model::SlaStatus::Warning;
    cached.sla.cache_hit_rate = Some(0.6);
    cached.slo.cache_hit_rate = Some(0.9);
    cached.sla.duration_breach_percent = -100.0;
    let log = render_shape_log("compile", &[compile.clone(), older, cached]);
    assert!(
        log.contains("Δ duration 30s-2m → 2-10m, cache hit → miss"),
        "{log}"
    );
    assert!(log.contains("warning cache 60% < 90%"), "{log}");
    assert!(!log.contains("-100.0%"), "{log}");
    insta::assert_snapshot!(log);
    assert_eq!(
        render_shape_log("x", &[]),
        "No recorded runs of beat 'x'.\n"
    );
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn the_sla_detail_names_what_drove_the_verdict() {
    use baton_model::SlaStatus;
    let mut beat = common::beats().remove(0);
    beat.status = baton_model::BeatStatus::Success;
    beat.sla.duration_status = SlaStatus::Compliant;
    beat.sla.duration_breach_percent = -40.0;
    beat.sla.overall_status = SlaStatus::Compliant;
    assert_eq!(baton_report::format::sla_detail(&beat), "-40.0%");
    beat.sla.cache_status = SlaStatus::Warning;
    beat.sla.cache_hit_rate = Some(0.25);
    beat.sla.overall_status = SlaStatus::Warning;
    assert_eq!(baton_report::format::sla_detail(&beat), "cache 25%");
    beat.slo.cache_hit_rate = Some(0.9);
    assert_eq!(baton_report::format::sla_detail(&beat), "cache 25% < 90%");
    beat.errors_count = 3;
    beat.sla.errors_status = SlaStatus::Breach;
    beat.sla.overall_status = SlaStatus::Breach;
    assert_eq!(baton_report::format::sla_detail(&beat), "3 errors > 0");
    // A failure breaks nothing else: its duration was not judged, and says so.
    beat.errors_count = 0;
    beat.sla.errors_status = SlaStatus::Compliant;
    beat.sla.cache_status = SlaStatus::Compliant;
    beat.sla.overall_status = SlaStatus::Compliant;
    beat.sla.duration_breach_percent = -99.3;
    beat.status = baton_model::BeatStatus::Failure;
    assert_eq!(
        baton_report::format::sla_detail(&beat),
        "failed, duration not judged"
    );
    beat.status = baton_model::BeatStatus::Timeout;
    assert_eq!(
        baton_report::format::sla_detail(&beat),
        "timed out, duration not judged"
    );
}
