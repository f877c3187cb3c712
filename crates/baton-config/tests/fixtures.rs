//! One fixture per validation case under `tests/fixtures/validate/`, with the
//! expected diagnostics beside it in `<case>.expected`. Run with `BLESS=1` to
//! rewrite the expectations after an intended change, then review the diff.

use std::fs;
use std::path::{Path, PathBuf};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/validate")
}

fn render(path: &Path) -> String {
    let loaded = baton_config::load(path);
    let mut out = String::new();
    for d in &loaded.diagnostics {
        let pos = match (d.line, d.column) {
            (Some(l), Some(c)) => format!("{l}:{c}"),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "{pos} {} {} {}\n    fix: {}\n",
            d.severity,
            d.code.as_str(),
            d.message,
            d.fix
        ));
    }
    out.push_str(&format!(
        "score {:.2} ({}), runnable: {}\n",
        loaded.score(),
        baton_config::conformity_band(loaded.score()),
        loaded.is_runnable()
    ));
    out
}

#[test]
fn every_fixture_matches_its_expected_diagnostics() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut cases: Vec<PathBuf> = fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "json")
            )
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 15, "fixtures are missing");
    let mut failures = Vec::new();
    for case in cases {
        let actual = render(&case);
        let expected_path = case.with_extension("expected");
        if bless {
            fs::write(&expected_path, &actual).expect("write expectation");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{}\n--- expected\n{expected}--- actual\n{actual}",
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
