//! The job summary (`$GITHUB_STEP_SUMMARY`): the run's Markdown report, then each
//! failing beat with its exit code, reason and log tail, the regressions and
//! flaky beats this run revealed, the pipeline's SLO budget state and the beats
//! restored from the cache. The
//! runner accepts at most 1 MiB per step: what does not fit is cut, with a note.

use std::fmt::Write as _;

use baton_model::BeatRecord;
use baton_report::RunReport;

/// The most a step's summary may hold (GitHub's limit).
pub(crate) const SUMMARY_LIMIT: usize = 1024 * 1024;

/// What the summary says beyond the report.
#[derive(Debug, Default)]
pub(crate) struct Extras {
    /// `(beat, log tail)` of each failing beat.
    pub tails: Vec<(String, String)>,
    pub regressions: Vec<String>,
    pub flaky: Vec<String>,
    /// The pipeline's SLO budget state: a line for the whole, then the beats
    /// whose budget is exhausted or low.
    pub budget: Vec<String>,
}

/// The summary's Markdown, whole.
pub(crate) fn render(report: &RunReport, extras: &Extras) -> String {
    let mut out = baton_report::render_markdown(report);
    let failing: Vec<&BeatRecord> = report
        .beats
        .iter()
        .filter(|b| b.status.is_failure())
        .collect();
    if !failing.is_empty() {
        out.push_str("\n### Failing beats\n");
        for beat in failing {
            let code = match (beat.exit_code, beat.signal) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                (None, None) => beat.status.to_string(),
            };
            let _ = writeln!(out, "\n#### `{}` — {code}\n", inline_code(&beat.beat));
            if let Some(reason) = &beat.reason {
                let _ = writeln!(out, "{}\n", reason.replace('\n', " "));
            }
            if let Some(tests) = &beat.tests
                && tests.failures + tests.errors > 0
            {
                let _ = writeln!(
                    out,
                    "{} of {} tests failed.\n",
                    tests.failures + tests.errors,
                    tests.total
                );
            }
            if let Some((_, tail)) = extras.tails.iter().find(|(b, _)| *b == beat.beat)
                && !tail.is_empty()
            {
                let fence = fence_for(tail);
                let _ = writeln!(out, "{fence}\n{tail}\n{fence}");
            }
        }
    }
    let list = |out: &mut String, title: &str, lines: &[String]| {
        if !lines.is_empty() {
            let _ = writeln!(out, "\n### {title}\n");
            for line in lines {
                let _ = writeln!(out, "- {}", line.replace('\n', " "));
            }
        }
    };
    list(&mut out, "Regressions", &extras.regressions);
    list(&mut out, "Flaky beats", &extras.flaky);
    list(&mut out, "SLO budget", &extras.budget);
    let restored: Vec<String> = report
        .beats
        .iter()
        .filter(|b| b.restored)
        .map(|b| format!("`{}`", inline_code(&b.beat)))
        .collect();
    if !restored.is_empty() {
        let _ = writeln!(
            out,
            "\n### Restored from the cache\n\n{}",
            restored.join(", ")
        );
    }
    out
}

/// `text` cut to fit in `budget` bytes, with a note saying it was cut; as it is
/// when it fits.
pub(crate) fn fit(text: String, budget: usize, label: &str) -> String {
    if text.len() <= budget {
        return text;
    }
    let note = format!(
        "\n\n> baton: the summary was cut to fit GitHub's 1 MiB limit; \
         `baton report {label} --format markdown` has all of it.\n"
    );
    let mut cut = budget.saturating_sub(note.len());
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = text;
    out.truncate(cut);
    out.push_str(&note);
    out
}

/// A beat name inside backticks: backticks in it would end the span.
pub(crate) fn inline_code(text: &str) -> String {
    text.replace('`', "'")
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat(longest.max(2) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_too_big_is_cut_on_a_character_with_a_note() {
        let text = "é".repeat(600_000);
        let cut = fit(text, SUMMARY_LIMIT, "build-1");
        assert!(cut.len() <= SUMMARY_LIMIT);
        assert!(
            cut.ends_with("has all of it.\n"),
            "{}",
            &cut[cut.len() - 100..]
        );
        assert_eq!(fit("small".to_owned(), 10, "x"), "small");
    }

    #[test]
    fn a_fence_outlasts_the_backticks_of_the_log() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }
}
