//! Reading the verbs' JSON and scoring it (and the baselines) against the labels.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::baselines::Found;
use super::generate::{
    AFTER, FlakyLabel, FlakySpec, Form, HIT_TOLERANCE, HardNegative, Kind, Outcome, Series,
};
use super::history::Event;

// ---------------------------------------------------------------- the verbs' JSON

/// `baton regressions --all --format json`, the fields scored.
#[derive(Debug, Deserialize)]
pub(super) struct RegressionsOut {
    pub format_version: u32,
    pub beats: Vec<RegressionBeat>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RegressionBeat {
    pub pipeline_id: String,
    pub beat: String,
    pub cache_state: String,
    #[serde(default)]
    pub change_points: Vec<ChangePointOut>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChangePointOut {
    pub direction: String,
    pub first_run: FirstRun,
}

#[derive(Debug, Deserialize)]
pub(super) struct FirstRun {
    pub run_id: String,
}

/// `baton flaky --all --format json`, the fields scored.
#[derive(Debug, Deserialize)]
pub(super) struct FlakyOut {
    pub format_version: u32,
    pub beats: Vec<FlakyBeatOut>,
}

#[derive(Debug, Deserialize)]
pub(super) struct FlakyBeatOut {
    pub pipeline_id: String,
    pub beat: String,
    pub verdict: String,
}

/// Parses a verb's output, checking its format version.
pub(super) fn parse_regressions(text: &str) -> Result<RegressionsOut> {
    let out: RegressionsOut =
        serde_json::from_str(text).context("`baton regressions` printed unexpected JSON")?;
    if out.format_version != 1 {
        bail!(
            "`baton regressions` printed format_version {}",
            out.format_version
        );
    }
    Ok(out)
}

pub(super) fn parse_flaky(text: &str) -> Result<FlakyOut> {
    let out: FlakyOut =
        serde_json::from_str(text).context("`baton flaky` printed unexpected JSON")?;
    if out.format_version != 1 {
        bail!(
            "`baton flaky` printed format_version {}",
            out.format_version
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------- labels

/// A cut of a series written as a beat: where it is and which runs are its misses.
#[derive(Debug, Clone, Serialize)]
pub(super) struct RegressionLabel {
    pub series: usize,
    pub after: usize,
    pub pipeline: usize,
    pub beat: String,
    /// The pipeline runs (indices) that are this beat's misses, in order.
    pub miss_runs: Vec<usize>,
}

/// A beat of the flaky scenario.
#[derive(Debug, Clone, Serialize)]
pub(super) struct FlakyBeatLabel {
    pub spec: FlakySpec,
    pub pipeline: usize,
    pub beat: String,
    /// Some key both passed and failed among executed runs (outages left out): the
    /// flakiness left evidence in this history.
    pub evidence: bool,
    /// Its last 5 executed runs passed (a flaky verdict would have cleared).
    pub last_five_passed: bool,
}

impl FlakyBeatLabel {
    pub(super) fn new(
        spec: FlakySpec,
        pipeline: usize,
        beat: String,
        events: &[Event],
        outage: &[bool],
    ) -> Self {
        let executed: Vec<&Event> = events
            .iter()
            .zip(outage)
            .filter(|(_, out)| !**out)
            .map(|(e, _)| e)
            .collect();
        let mut keys: HashMap<u64, (bool, bool)> = HashMap::new();
        for e in &executed {
            let seen = keys.entry(e.key).or_default();
            if e.outcome == Outcome::Passed {
                seen.0 = true;
            } else {
                seen.1 = true;
            }
        }
        let last_five_passed = executed.len() >= 5
            && executed[executed.len() - 5..]
                .iter()
                .all(|e| e.outcome == Outcome::Passed);
        Self {
            spec,
            pipeline,
            beat,
            evidence: keys.values().any(|&(p, f)| p && f),
            last_five_passed,
        }
    }
}

/// Where each run id is: (pipeline, run).
pub(super) type RunIndex = HashMap<String, (usize, usize)>;

// ---------------------------------------------------------------- detections

/// What one method said about every regression beat (indexed like the labels):
/// change points by position in the beat's miss series; `None` when it said
/// nothing about the beat (absent from its output).
#[derive(Debug, Clone, Serialize)]
pub(super) struct Detections {
    pub method: String,
    pub beats: Vec<Option<Vec<Found>>>,
    /// Change points whose first run is not one of the beat's misses.
    pub unmapped: usize,
}

/// baton's change points, mapped back to positions in each beat's miss series.
pub(super) fn baton_detections(
    out: &RegressionsOut,
    labels: &[RegressionLabel],
    pipeline_ids: &[String],
    runs: &RunIndex,
) -> Detections {
    let by_name: HashMap<(&str, &str), usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| ((pipeline_ids[l.pipeline].as_str(), l.beat.as_str()), i))
        .collect();
    let mut beats: Vec<Option<Vec<Found>>> = vec![None; labels.len()];
    let mut unmapped = 0;
    for beat in out.beats.iter().filter(|b| b.cache_state == "miss") {
        let Some(&i) = by_name.get(&(beat.pipeline_id.as_str(), beat.beat.as_str())) else {
            continue;
        };
        let label = &labels[i];
        let found = beats[i].get_or_insert_with(Vec::new);
        for cp in &beat.change_points {
            let position = runs
                .get(&cp.first_run.run_id)
                .filter(|(pipeline, _)| *pipeline == label.pipeline)
                .and_then(|(_, run)| label.miss_runs.binary_search(run).ok());
            match position {
                Some(index) => found.push(Found {
                    index,
                    slower: cp.direction == "slower",
                }),
                None => unmapped += 1,
            }
        }
    }
    Detections {
        method: "baton".to_owned(),
        beats,
        unmapped,
    }
}

// ---------------------------------------------------------------- regression scores

/// One series as a method saw it, over its cuts.
#[derive(Debug, Clone)]
struct Seen {
    series: usize,
    /// Per cut (misses after the change): a slower change point within the
    /// tolerance of the true change, and any change point at all.
    hit: BTreeMap<usize, bool>,
    alarm: BTreeMap<usize, bool>,
}

/// A rate and what it rests on.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct Rate {
    pub count: usize,
    pub of: usize,
}

impl Rate {
    pub(super) fn value(self) -> Option<f64> {
        (self.of > 0).then(|| self.count as f64 / self.of as f64)
    }

    pub(super) fn percent(self) -> String {
        self.value()
            .map_or("–".to_owned(), |v| format!("{:.0}%", v * 100.0))
    }

    /// With one decimal, for false alarms.
    pub(super) fn percent1(self) -> String {
        self.value()
            .map_or("–".to_owned(), |v| format!("{:.1}%", v * 100.0))
    }
}

/// A method's results, to filter and count.
#[derive(Debug, Clone)]
pub(super) struct RegressionScore {
    pub method: String,
    seen: Vec<Seen>,
    /// Beats the method reported on (the baselines: all).
    pub reported: usize,
    pub unmapped: usize,
}

impl RegressionScore {
    pub(super) fn new(
        detections: &Detections,
        series: &[Series],
        labels: &[RegressionLabel],
    ) -> Self {
        let mut seen: Vec<Seen> = series
            .iter()
            .enumerate()
            .map(|(i, _)| Seen {
                series: i,
                hit: BTreeMap::new(),
                alarm: BTreeMap::new(),
            })
            .collect();
        let mut reported = 0;
        for (label, said) in labels.iter().zip(&detections.beats) {
            reported += usize::from(said.is_some());
            let found = said.as_deref().unwrap_or_default();
            let change = series[label.series].spec.before;
            let hit = found
                .iter()
                .any(|f| f.slower && f.index.abs_diff(change) <= HIT_TOLERANCE);
            seen[label.series].hit.insert(label.after, hit);
            seen[label.series]
                .alarm
                .insert(label.after, !found.is_empty());
        }
        Self {
            method: detections.method.clone(),
            seen,
            reported,
            unmapped: detections.unmapped,
        }
    }

    /// Share of the changed series matching `filter` detected within `after` misses.
    pub(super) fn recall(
        &self,
        series: &[Series],
        after: usize,
        filter: impl Fn(&Series) -> bool,
    ) -> Rate {
        let mut rate = Rate { count: 0, of: 0 };
        for s in &self.seen {
            let spec = &series[s.series];
            if !matches!(spec.spec.kind, Kind::Change { .. }) || !filter(spec) {
                continue;
            }
            if let Some(&hit) = s.hit.get(&after) {
                rate.of += 1;
                rate.count += usize::from(hit);
            }
        }
        rate
    }

    /// Median of the shortest cut detected, over the series matching `filter` that
    /// were detected at some cut; with how many that is.
    pub(super) fn median_delay(
        &self,
        series: &[Series],
        filter: impl Fn(&Series) -> bool,
    ) -> (Option<f64>, usize) {
        let mut delays: Vec<f64> = self
            .seen
            .iter()
            .filter(|s| {
                matches!(series[s.series].spec.kind, Kind::Change { .. })
                    && filter(&series[s.series])
            })
            .filter_map(|s| AFTER.iter().find(|a| s.hit.get(a) == Some(&true)))
            .map(|&a| a as f64)
            .collect();
        delays.sort_by(f64::total_cmp);
        let n = delays.len();
        let median = match n {
            0 => None,
            _ if n % 2 == 1 => Some(delays[n / 2]),
            _ => Some((delays[n / 2 - 1] + delays[n / 2]) / 2.0),
        };
        (median, n)
    }

    /// Share of the beats (every cut) of the series matching `filter` with any change
    /// point: false alarms when the filter picks series with no change.
    pub(super) fn alarms(&self, series: &[Series], filter: impl Fn(&Series) -> bool) -> Rate {
        let mut rate = Rate { count: 0, of: 0 };
        for s in &self.seen {
            if !filter(&series[s.series]) {
                continue;
            }
            for &alarm in s.alarm.values() {
                rate.of += 1;
                rate.count += usize::from(alarm);
            }
        }
        rate
    }
}

/// Filters the tables use.
pub(super) fn is_step(shift: f64) -> impl Fn(&Series) -> bool {
    move |s| matches!(s.spec.kind, Kind::Change { shift: x, form: Form::Step } if x == shift)
}

pub(super) fn is_ramp(shift: f64) -> impl Fn(&Series) -> bool {
    move |s| matches!(s.spec.kind, Kind::Change { shift: x, form: Form::Ramp } if x == shift)
}

pub(super) fn is_stationary(s: &Series) -> bool {
    s.spec.kind == Kind::Stationary
}

pub(super) fn is_hard(negative: Option<HardNegative>) -> impl Fn(&Series) -> bool {
    move |s| match s.spec.kind {
        Kind::Hard { negative: n } => negative.is_none_or(|want| want == n),
        _ => false,
    }
}

// ---------------------------------------------------------------- flaky scores

/// A verdict as the scorer counts it.
pub(super) fn verdict_of(
    out: &FlakyOut,
    pipeline_ids: &[String],
    labels: &[FlakyBeatLabel],
) -> Vec<Option<String>> {
    let by_name: HashMap<(&str, &str), &str> = out
        .beats
        .iter()
        .map(|b| {
            (
                (b.pipeline_id.as_str(), b.beat.as_str()),
                b.verdict.as_str(),
            )
        })
        .collect();
    labels
        .iter()
        .map(|l| {
            by_name
                .get(&(pipeline_ids[l.pipeline].as_str(), l.beat.as_str()))
                .map(|v| (*v).to_owned())
        })
        .collect()
}

/// Precision and recall of one class.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct ClassScore {
    pub precision: Rate,
    pub recall: Rate,
}

/// The flaky verdicts against the labels.
#[derive(Debug, Clone, Serialize)]
pub(super) struct FlakyScore {
    /// (label, verdict) -> count; a beat missing from the output counts as "missing".
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
    pub classes: BTreeMap<String, ClassScore>,
    /// Recall of "flaky" for beats labelled flaky with p >= 5% and >= 3 repeats.
    pub target_recall: Rate,
    /// The same, over those the issue's own rules leave flaky at the end of the
    /// history: a key both passed and failed, and the last 5 executed runs did not
    /// all pass (which clears a beat).
    pub target_recall_standing: Rate,
    /// The same beats: the share that left evidence, and the share whose last 5
    /// executed runs passed.
    pub target_evidence: Rate,
    pub target_last_five_passed: Rate,
}

pub(super) fn score_flaky(labels: &[FlakyBeatLabel], verdicts: &[Option<String>]) -> FlakyScore {
    let verdict = |i: usize| verdicts[i].as_deref().unwrap_or("missing");
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        *confusion
            .entry(l.spec.label.as_str().to_owned())
            .or_default()
            .entry(verdict(i).to_owned())
            .or_default() += 1;
    }
    let mut classes = BTreeMap::new();
    for class in FlakyLabel::ALL {
        let name = class.as_str();
        let said = (0..labels.len()).filter(|&i| verdict(i) == name);
        let precision = Rate {
            count: said
                .clone()
                .filter(|&i| labels[i].spec.label == class)
                .count(),
            of: said.count(),
        };
        let truly = (0..labels.len()).filter(|&i| labels[i].spec.label == class);
        let recall = Rate {
            count: truly.clone().filter(|&i| verdict(i) == name).count(),
            of: truly.count(),
        };
        classes.insert(name.to_owned(), ClassScore { precision, recall });
    }
    let target = flaky_recall(labels, verdicts, |l| {
        l.spec.fail_prob >= 0.05 && l.spec.repeats >= 3
    });
    let targeted: Vec<&FlakyBeatLabel> = labels.iter().filter(|l| is_target(l)).collect();
    let share = |f: fn(&FlakyBeatLabel) -> bool| Rate {
        count: targeted.iter().filter(|l| f(l)).count(),
        of: targeted.len(),
    };
    let standing = flaky_recall(labels, verdicts, |l| {
        l.spec.fail_prob >= 0.05 && l.spec.repeats >= 3 && l.evidence && !l.last_five_passed
    });
    FlakyScore {
        confusion,
        classes,
        target_recall: target,
        target_recall_standing: standing,
        target_evidence: share(|l| l.evidence),
        target_last_five_passed: share(|l| l.last_five_passed),
    }
}

/// The beats the recall target is about: labelled flaky, p >= 5%, >= 3 repeats.
fn is_target(l: &FlakyBeatLabel) -> bool {
    l.spec.label == FlakyLabel::Flaky && l.spec.fail_prob >= 0.05 && l.spec.repeats >= 3
}

/// Recall of the flaky verdict over the flaky-labelled beats matching `filter`.
pub(super) fn flaky_recall(
    labels: &[FlakyBeatLabel],
    verdicts: &[Option<String>],
    filter: impl Fn(&FlakyBeatLabel) -> bool,
) -> Rate {
    let mut rate = Rate { count: 0, of: 0 };
    for (l, v) in labels.iter().zip(verdicts) {
        if l.spec.label == FlakyLabel::Flaky && filter(l) {
            rate.of += 1;
            rate.count += usize::from(v.as_deref() == Some("flaky"));
        }
    }
    rate
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::generate::{Breakage, SeriesSpec, series};

    fn change_series(id: usize, before: usize) -> Series {
        series(
            1,
            &SeriesSpec {
                id,
                kind: Kind::Change {
                    shift: 0.2,
                    form: Form::Step,
                },
                before,
                sigma: 0.05,
                hit_prob: 0.0,
            },
        )
    }

    fn flat_series(id: usize) -> Series {
        series(
            1,
            &SeriesSpec {
                id,
                kind: Kind::Stationary,
                before: 10,
                sigma: 0.05,
                hit_prob: 0.0,
            },
        )
    }

    /// Labels for every cut of `series`, each cut its own pipeline with runs
    /// 0.. (all misses).
    fn labels(series: &[Series]) -> Vec<RegressionLabel> {
        let mut out = Vec::new();
        for (i, s) in series.iter().enumerate() {
            for &after in s.cuts() {
                out.push(RegressionLabel {
                    series: i,
                    after,
                    pipeline: out.len(),
                    beat: s.beat_name(after),
                    miss_runs: (0..s.spec.before + after).collect(),
                });
            }
        }
        out
    }

    #[test]
    fn hits_need_the_right_place_and_direction() {
        let series = vec![change_series(0, 10), flat_series(1)];
        let labels = labels(&series);
        // Series 0: found 2 late at cut 3, 3 late at cut 6 (a miss), right at 9,
        // faster at 12 (a miss). Series 1: one false alarm at cut 6.
        let f = |index, slower| Some(vec![Found { index, slower }]);
        let beats = vec![
            f(12, true),
            f(13, true),
            f(10, true),
            f(10, false),
            None,
            f(4, true),
            Some(vec![]),
            Some(vec![]),
        ];
        let d = Detections {
            method: "m".to_owned(),
            beats,
            unmapped: 0,
        };
        let score = RegressionScore::new(&d, &series, &labels);
        let all = |_: &Series| true;
        assert_eq!(score.recall(&series, 3, all).count, 1);
        assert_eq!(score.recall(&series, 6, all).count, 0);
        assert_eq!(score.recall(&series, 9, all).count, 1);
        assert_eq!(score.recall(&series, 12, all).count, 0);
        assert_eq!(score.recall(&series, 6, all).of, 1);
        assert_eq!(score.median_delay(&series, all), (Some(3.0), 1));
        let fa = score.alarms(&series, is_stationary);
        assert_eq!((fa.count, fa.of), (1, 4));
        assert_eq!(score.reported, 7);
    }

    #[test]
    fn baton_output_maps_back_to_miss_positions() {
        let series = vec![change_series(0, 10)];
        let mut labels = labels(&series);
        // The 6-run cut sits in pipeline 1 with a hit at run 3: misses are runs
        // 0,1,2,4,5,...
        labels[1].miss_runs = (0..17).filter(|&r| r != 3).collect();
        let pipeline_ids: Vec<String> = (0..4).map(|i| format!("p{i}")).collect();
        let mut runs = RunIndex::new();
        runs.insert("r-11".to_owned(), (1, 11));
        runs.insert("r-3".to_owned(), (1, 3));
        runs.insert("r-elsewhere".to_owned(), (2, 11));
        let text = r#"{"format_version":1,"beats":[
            {"pipeline_id":"p1","pipeline":"x","beat":"step20-00000-a06","cache_state":"miss",
             "runs":16,"result":"analyzed","outliers":0,"detectable_shift":0.1,
             "change_points":[
               {"direction":"slower","shift":0.2,"shift_low":0.1,"shift_high":0.3,
                "runs_before":10,"runs_after":6,"median_before_ms":1,"median_after_ms":1.2,
                "p_adjusted":0.001,"first_run":{"run_id":"r-11","label":"b","started_at":"t"}},
               {"direction":"slower","shift":0.2,"shift_low":0.1,"shift_high":0.3,
                "runs_before":10,"runs_after":6,"median_before_ms":1,"median_after_ms":1.2,
                "p_adjusted":0.001,"first_run":{"run_id":"r-3","label":"b","started_at":"t"}},
               {"direction":"faster","shift":0.2,"shift_low":0.1,"shift_high":0.3,
                "runs_before":10,"runs_after":6,"median_before_ms":1,"median_after_ms":1.2,
                "p_adjusted":0.001,"first_run":{"run_id":"r-elsewhere","label":"b","started_at":"t"}}]},
            {"pipeline_id":"p1","pipeline":"x","beat":"step20-00000-a06","cache_state":"hit",
             "runs":1,"result":"insufficient","outliers":0,"detectable_shift":null,"change_points":[]},
            {"pipeline_id":"p0","pipeline":"x","beat":"step20-00000-a03","cache_state":"miss",
             "runs":13,"result":"analyzed","outliers":0,"detectable_shift":null,"change_points":[]}
        ]}"#;
        let out = parse_regressions(text).unwrap();
        let d = baton_detections(&out, &labels, &pipeline_ids, &runs);
        // Run 11 is miss number 10 (run 3 was a hit).
        assert_eq!(
            d.beats[1],
            Some(vec![Found {
                index: 10,
                slower: true
            }])
        );
        assert_eq!(d.unmapped, 2, "a hit run and another pipeline's run");
        assert_eq!(d.beats[0], Some(vec![]));
        assert_eq!(d.beats[2], None);
        assert!(parse_regressions(r#"{"format_version":2,"beats":[]}"#).is_err());
        assert!(parse_regressions("warning: text").is_err());
    }

    fn flaky_label(id: usize, p: f64, repeats: usize, breakage: Breakage) -> FlakyBeatLabel {
        let label = crate::signals::generate::flaky_label(p, repeats, breakage);
        FlakyBeatLabel {
            spec: FlakySpec {
                id,
                fail_prob: p,
                repeats,
                breakage,
                label,
            },
            pipeline: 0,
            beat: format!("b{id}"),
            evidence: true,
            last_five_passed: false,
        }
    }

    #[test]
    fn flaky_precision_recall_and_confusion() {
        let labels = vec![
            flaky_label(0, 0.2, 3, Breakage::None),             // flaky
            flaky_label(1, 0.05, 4, Breakage::None),            // flaky
            flaky_label(2, 0.0, 3, Breakage::None),             // healthy
            flaky_label(3, 0.0, 1, Breakage::Open { runs: 4 }), // broken
            flaky_label(4, 0.01, 2, Breakage::None),            // flaky, not targeted
        ];
        let v = |s: &str| Some(s.to_owned());
        let verdicts = vec![v("flaky"), v("healthy"), v("flaky"), v("broken"), None];
        let score = score_flaky(&labels, &verdicts);
        let flaky = score.classes["flaky"];
        assert_eq!((flaky.precision.count, flaky.precision.of), (1, 2));
        assert_eq!((flaky.recall.count, flaky.recall.of), (1, 3));
        let broken = score.classes["broken"];
        assert_eq!((broken.precision.count, broken.precision.of), (1, 1));
        assert_eq!((score.target_recall.count, score.target_recall.of), (1, 2));
        assert_eq!(score.confusion["flaky"]["missing"], 1);
        assert_eq!(score.confusion["healthy"]["flaky"], 1);
        assert_eq!(score.target_evidence.of, 2);
    }

    #[test]
    fn evidence_and_clearing_are_read_from_the_events() {
        let e = |key, passed| Event {
            duration_ms: 1,
            outcome: if passed {
                Outcome::Passed
            } else {
                Outcome::Failed
            },
            hit: false,
            key,
        };
        let spec = flaky_label(0, 0.2, 2, Breakage::None).spec;
        // Key 1 fails only in an outage run: no evidence.
        let events = [
            e(1, true),
            e(1, false),
            e(2, true),
            e(2, true),
            e(3, true),
            e(3, true),
        ];
        let outage = [false, true, false, false, false, false];
        let l = FlakyBeatLabel::new(spec.clone(), 0, "b".to_owned(), &events, &outage);
        assert!(!l.evidence);
        assert!(l.last_five_passed);
        let l = FlakyBeatLabel::new(spec, 0, "b".to_owned(), &events, &[false; 6]);
        assert!(l.evidence);
        assert!(!l.last_five_passed);
    }
}
