//! JUnit XML reports: the `tests`, `failures`, `errors` and `skipped` attributes of
//! the top-level `<testsuites>` (when it carries them) or of its `<testsuite>`
//! children, summed over every report the beat's `junit` glob matches.

use std::fs;
use std::path::Path;

use baton_model::TestCounts;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// Reports bigger than this are not parsed (and say so).
pub const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

/// The counts of one report.
pub fn parse(xml: &[u8]) -> Result<TestCounts, String> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut root_totals: Option<TestCounts> = None;
    let mut suites = TestCounts::default();
    let mut saw_suite = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.local_name();
                match (depth, name.as_ref()) {
                    (0, "testsuites") => root_totals = counts(e),
                    (0 | 1, "testsuite") => {
                        if let Some(c) = counts(e) {
                            add(&mut suites, c);
                        }
                        saw_suite = true;
                    }
                    (0, other) => {
                        return Err(format!(
                            "the root element is <{}>, not <testsuites> or <testsuite>",
                            other
                        ));
                    }
                    _ => {}
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    match root_totals {
        Some(totals) => Ok(totals),
        None if saw_suite => Ok(suites),
        None => Err("no <testsuites> or <testsuite> element".into()),
    }
}

/// The counts an element's attributes give, `None` when it has none of them.
fn counts(e: &BytesStart<'_>) -> Option<TestCounts> {
    let mut c = TestCounts::default();
    let mut any = false;
    for attr in e.attributes().flatten() {
        let slot = match attr.key.local_name().as_ref() {
            "tests" => &mut c.total,
            "failures" => &mut c.failures,
            "errors" => &mut c.errors,
            "skipped" => &mut c.skipped,
            _ => continue,
        };
        let text = attr.value.trim();
        // Some tools write "3.0"; a garbage value counts as absent.
        if let Some(n) = text
            .parse::<u64>()
            .ok()
            .or_else(|| text.parse::<f64>().ok().map(|f| f.max(0.0) as u64))
        {
            *slot = n;
            any = true;
        }
    }
    any.then_some(c)
}

fn add(sum: &mut TestCounts, c: TestCounts) {
    sum.total += c.total;
    sum.failures += c.failures;
    sum.errors += c.errors;
    sum.skipped += c.skipped;
}

/// Sums the reports matching `glob` under `root`: `None` when none could be
/// read, with a problem per report that could not be.
pub fn collect(root: &Path, glob: &str) -> (Option<TestCounts>, Vec<String>) {
    let found = baton_cache::inputs::find(root, &[glob.to_owned()]);
    let mut problems = found.problems;
    let mut total: Option<TestCounts> = None;
    for file in found.files.values() {
        let (path, size) = (&file.path, file.stat.map_or(0, |s| s.size));
        if size > MAX_REPORT_BYTES {
            problems.push(format!(
                "skipped the JUnit report {}: larger than {MAX_REPORT_BYTES} bytes",
                path.display()
            ));
            continue;
        }
        let parsed = fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|xml| parse(&xml));
        match parsed {
            Ok(c) => add(total.get_or_insert_with(TestCounts::default), c),
            Err(err) => problems.push(format!(
                "failed to read the JUnit report {}: {err}",
                path.display()
            )),
        }
    }
    if found.files.is_empty() {
        problems.push(format!("no JUnit report matched '{glob}'"));
    }
    (total, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn testsuites_totals_win() {
        let xml = br#"<?xml version="1.0"?>
            <testsuites tests="7" failures="2" errors="1" skipped="1">
              <testsuite name="a" tests="100" failures="50"/>
            </testsuites>"#;
        let c = parse(xml).expect("parses");
        assert_eq!(
            c,
            TestCounts {
                total: 7,
                failures: 2,
                errors: 1,
                skipped: 1
            }
        );
    }

    #[test]
    fn suites_are_summed_when_the_root_has_no_totals() {
        let xml = br#"<testsuites>
              <testsuite name="a" tests="3" failures="1" errors="0" skipped="0">
                <testcase name="x"><failure message="boom"/></testcase>
                <testsuite name="nested" tests="99"/>
              </testsuite>
              <testsuite name="b" tests="2" failures="0" errors="1" skipped="1"/>
            </testsuites>"#;
        let c = parse(xml).expect("parses");
        assert_eq!(
            c,
            TestCounts {
                total: 5,
                failures: 1,
                errors: 1,
                skipped: 1
            }
        );
    }

    #[test]
    fn a_single_testsuite_is_a_report() {
        let c =
            parse(br#"<testsuite tests="4" failures="0" errors="0"></testsuite>"#).expect("parses");
        assert_eq!(c.total, 4);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(b"<html><body/></html>").is_err());
        assert!(parse(b"<testsuite tests='1'><unclosed></testsuite>").is_err());
        assert!(parse(b"").is_err());
    }

    #[test]
    fn reports_are_collected_by_glob() {
        let dir = tempfile::tempdir().expect("tempdir");
        let reports = dir.path().join("reports");
        fs::create_dir_all(&reports).expect("mkdir");
        fs::write(
            reports.join("a.xml"),
            r#"<testsuite tests="2" failures="1"/>"#,
        )
        .expect("write");
        fs::write(
            reports.join("b.xml"),
            r#"<testsuite tests="3" errors="2"/>"#,
        )
        .expect("write");
        fs::write(reports.join("c.xml"), "not xml").expect("write");
        let (counts, problems) = collect(dir.path(), "reports/*.xml");
        assert_eq!(
            counts,
            Some(TestCounts {
                total: 5,
                failures: 1,
                errors: 2,
                skipped: 0
            })
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        let (none, problems) = collect(dir.path(), "missing/*.xml");
        assert_eq!(none, None);
        assert_eq!(problems, ["no JUnit report matched 'missing/*.xml'"]);
    }
}
