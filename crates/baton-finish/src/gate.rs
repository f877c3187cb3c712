//! The verdict on a finished run, from which `baton run` takes its exit code:
//! the run's status first, then the SLA gate (`--fail-on`), then `--strict`
//! about what could not be recorded.

use baton_model::{Pipeline, RunStatus, SlaStatus};
use baton_report::RunReport;

/// What the run was asked to hold to beyond its beats' success.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gate {
    /// `--fail-on`: a judged beat's verdict at least this bad fails the run.
    pub fail_on: Option<SlaStatus>,
    /// `--strict`: anything not recorded fails the run.
    pub strict: bool,
}

/// How the run ends, in the order the checks are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// Ctrl-C or a signal stopped it.
    Cancelled,
    /// A beat failed for good (not allowed to).
    BeatFailed,
    /// The worst verdict of a judged beat reached `--fail-on`.
    SlaGateFailed {
        worst: SlaStatus,
        threshold: SlaStatus,
    },
    /// `--strict`, and these (one line per kind) could not be recorded.
    NotRecorded {
        failures: Vec<String>,
    },
}

/// The verdict on the run of `report` (of `pipeline`) under `gate`, given what
/// could not be recorded (`not_recorded`, one line per kind).
pub fn verdict(
    pipeline: &Pipeline,
    report: &RunReport,
    gate: &Gate,
    not_recorded: &[String],
) -> Verdict {
    match report.run.status {
        RunStatus::Cancelled => return Verdict::Cancelled,
        RunStatus::Failure => return Verdict::BeatFailed,
        _ => {}
    }
    if let Some(threshold) = gate.fail_on {
        let worst = report
            .beats
            .iter()
            // A beat allowed to fail does not trip the gate with its failure; a
            // cancelled or skipped one is not judged.
            .filter(|b| b.status.is_judged())
            .filter(|b| !(b.status.is_failure() && allowed_to_fail(pipeline, &b.beat)))
            .map(|b| b.sla.overall_status)
            .max()
            .unwrap_or_default();
        if worst >= threshold {
            return Verdict::SlaGateFailed { worst, threshold };
        }
    }
    if gate.strict && !not_recorded.is_empty() {
        return Verdict::NotRecorded {
            failures: not_recorded.to_vec(),
        };
    }
    Verdict::Passed
}

fn allowed_to_fail(pipeline: &Pipeline, beat: &str) -> bool {
    pipeline
        .beat(beat)
        .is_some_and(|(_, spec)| spec.allow_failure)
}

#[cfg(test)]
mod tests {
    use baton_model::{BeatRecord, BeatStatus, CacheState, RunRecord};
    use baton_runner::testing::{PipelineBuilder, beat};
    use baton_store::test_records;

    use super::*;

    fn pipeline() -> Pipeline {
        PipelineBuilder::new("p")
            .movement(
                "m",
                false,
                vec![beat("build"), beat("flaky").allow_failure(), beat("test")],
            )
            .build()
    }

    fn run(status: RunStatus) -> RunRecord {
        test_records::run("p", test_records::at(0), status)
    }

    fn record(
        run: &RunRecord,
        b: u32,
        name: &str,
        status: BeatStatus,
        sla: SlaStatus,
    ) -> BeatRecord {
        let mut r = test_records::beat(run, 0, b, name, status, 10, CacheState::Skip);
        r.sla.overall_status = sla;
        r
    }

    fn report(status: RunStatus, beats: &[(&str, BeatStatus, SlaStatus)]) -> RunReport {
        let run = run(status);
        let records = beats
            .iter()
            .zip(0..)
            .map(|(&(name, st, sla), b)| record(&run, b, name, st, sla))
            .collect();
        RunReport::new(run, records, Vec::new())
    }

    const STRICT_BREACH: Gate = Gate {
        fail_on: Some(SlaStatus::Breach),
        strict: true,
    };

    #[test]
    fn the_runs_status_comes_first() {
        let p = pipeline();
        let breach = [("build", BeatStatus::Failure, SlaStatus::Critical)];
        let failures = ["history: locked".to_owned()];
        let cancelled = report(RunStatus::Cancelled, &breach);
        assert_eq!(
            verdict(&p, &cancelled, &STRICT_BREACH, &failures),
            Verdict::Cancelled
        );
        let failed = report(RunStatus::Failure, &breach);
        assert_eq!(
            verdict(&p, &failed, &STRICT_BREACH, &failures),
            Verdict::BeatFailed
        );
    }

    #[test]
    fn the_sla_gate_takes_the_worst_judged_verdict() {
        let p = pipeline();
        let gate = Gate {
            fail_on: Some(SlaStatus::Breach),
            strict: false,
        };
        let warned = report(
            RunStatus::Success,
            &[
                ("build", BeatStatus::Success, SlaStatus::Warning),
                // Not judged: its verdict does not count.
                ("test", BeatStatus::Cancelled, SlaStatus::Critical),
            ],
        );
        assert_eq!(verdict(&p, &warned, &gate, &[]), Verdict::Passed);
        let breached = report(
            RunStatus::Success,
            &[
                ("build", BeatStatus::Success, SlaStatus::Breach),
                ("test", BeatStatus::Success, SlaStatus::Warning),
            ],
        );
        assert_eq!(
            verdict(&p, &breached, &gate, &[]),
            Verdict::SlaGateFailed {
                worst: SlaStatus::Breach,
                threshold: SlaStatus::Breach
            }
        );
        // Without --fail-on, no gate.
        assert_eq!(
            verdict(&p, &breached, &Gate::default(), &[]),
            Verdict::Passed
        );
    }

    #[test]
    fn a_beat_allowed_to_fail_does_not_trip_the_gate_with_its_failure() {
        let p = pipeline();
        let gate = Gate {
            fail_on: Some(SlaStatus::Breach),
            strict: false,
        };
        let allowed = report(
            RunStatus::Success,
            &[("flaky", BeatStatus::Failure, SlaStatus::Breach)],
        );
        assert_eq!(verdict(&p, &allowed, &gate, &[]), Verdict::Passed);
        let not_allowed = report(
            RunStatus::Success,
            &[("test", BeatStatus::Failure, SlaStatus::Breach)],
        );
        assert!(matches!(
            verdict(&p, &not_allowed, &gate, &[]),
            Verdict::SlaGateFailed { .. }
        ));
    }

    #[test]
    fn strict_fails_a_run_that_could_not_record_everything() {
        let p = pipeline();
        let ok = report(
            RunStatus::Success,
            &[("build", BeatStatus::Success, SlaStatus::Compliant)],
        );
        let failures = ["history: locked".to_owned()];
        assert_eq!(
            verdict(&p, &ok, &Gate::default(), &failures),
            Verdict::Passed
        );
        assert_eq!(
            verdict(&p, &ok, &STRICT_BREACH, &failures),
            Verdict::NotRecorded {
                failures: failures.to_vec()
            }
        );
        assert_eq!(verdict(&p, &ok, &STRICT_BREACH, &[]), Verdict::Passed);
    }
}
