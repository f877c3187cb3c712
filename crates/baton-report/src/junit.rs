//! JUnit XML for one run (`baton report RUN --format junit`), written with
//! `quick-junit`: one test suite per movement, one test case per beat, so that a
//! CI's test view (GitLab's merge request widget, Jenkins, Buildkite...) shows
//! baton's beats natively. A failed or timed-out beat is a failure with its exit
//! code and reason as the message and its log's tail as the text; a cancelled
//! beat is an error; a skipped one is skipped.

use std::time::Duration;

use baton_model::{BeatRecord, BeatStatus};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::report::RunReport;

/// Renders `report` as JUnit XML; `log_tail` gives a failed beat's last lines.
pub fn render_junit(
    report: &RunReport,
    log_tail: impl Fn(&BeatRecord) -> Option<String>,
) -> String {
    let run = &report.run;
    let mut junit = Report::new(format!("baton {} {}", run.pipeline_name, run.label));
    junit.set_time(Duration::from_millis(report.summary.total_duration_ms));
    let mut suites: Vec<TestSuite> = Vec::new();
    for beat in &report.beats {
        let index = match suites.iter().position(|s| s.name.as_str() == beat.movement) {
            Some(index) => index,
            None => {
                let mut suite = TestSuite::new(beat.movement.clone());
                suite.add_property(("baton.run_id", run.run_id.to_string().as_str()));
                suite.add_property(("baton.run_label", run.label.as_str()));
                suites.push(suite);
                suites.len() - 1
            }
        };
        suites[index].add_test_case(test_case(beat, &log_tail));
    }
    for suite in &mut suites {
        let time: u64 = report
            .beats
            .iter()
            .filter(|b| b.movement == suite.name.as_str())
            .map(|b| b.duration_ms)
            .sum();
        suite.set_time(Duration::from_millis(time));
    }
    junit.add_test_suites(suites);
    junit
        .to_string()
        .unwrap_or_else(|err| format!("<!-- failed to write JUnit XML: {err} -->\n"))
}

fn test_case(beat: &BeatRecord, log_tail: &impl Fn(&BeatRecord) -> Option<String>) -> TestCase {
    let status = match beat.status {
        BeatStatus::Success => TestCaseStatus::success(),
        BeatStatus::Skipped => {
            let mut status = TestCaseStatus::skipped();
            if let Some(reason) = &beat.reason {
                status.set_message(reason.as_str());
            }
            status
        }
        BeatStatus::Failure | BeatStatus::Timeout | BeatStatus::Cancelled => {
            let kind = if beat.status == BeatStatus::Cancelled {
                NonSuccessKind::Error
            } else {
                NonSuccessKind::Failure
            };
            let mut status = TestCaseStatus::non_success(kind);
            status.set_type(beat.status.as_str());
            status.set_message(failure_message(beat));
            if let Some(tail) = log_tail(beat).filter(|t| !t.is_empty()) {
                status.set_description(tail);
            }
            status
        }
    };
    let mut case = TestCase::new(beat.beat.clone(), status);
    case.set_classname(beat.movement.clone());
    case.set_time(Duration::from_millis(beat.duration_ms));
    case
}

/// `exit code 3: <reason>`, `killed by signal 9`, `timeout`...
fn failure_message(beat: &BeatRecord) -> String {
    let mut message = match (beat.exit_code, beat.signal) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => beat.status.as_str().to_owned(),
    };
    if let Some(reason) = &beat.reason {
        message.push_str(": ");
        message.push_str(reason);
    }
    message
}
