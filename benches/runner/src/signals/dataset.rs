//! The signal-quality history: every labelled series and flaky-scenario beat laid out
//! as pipelines, runs and beats, with the labels that map baton's answers back.

use jiff::{SignedDuration, Timestamp};

use super::generate::{
    self, Breakage, FLAKY_BEATS_PER_PIPELINE, FLAKY_RUNS, FLAKY_RUNS_PER_DAY, Series, Sizes,
};
use super::history::{Event, Pipeline, Track, pipeline_id, spaced_starts};
use super::rng::Rng;
use super::score::{FlakyBeatLabel, RegressionLabel};
use baton_model::BeatType;

/// Regression beats per generated pipeline (beats of similar length together).
pub(super) const REGRESSION_BEATS_PER_PIPELINE: usize = 100;
/// Seconds between two runs of a regression-scenario pipeline.
const REGRESSION_GAP_S: (i64, i64) = (180, 420);

#[derive(Debug)]
pub(super) struct Quality {
    pub series: Vec<Series>,
    pub regression: Vec<RegressionLabel>,
    pub flaky: Vec<FlakyBeatLabel>,
    pub pipelines: Vec<Pipeline>,
}

impl Quality {
    pub(super) fn pipeline_ids(&self) -> Vec<String> {
        self.pipelines.iter().map(|p| p.id.clone()).collect()
    }
}

/// Lays out the histories of `seed` ending before `end`. Regression cuts are
/// sorted by length and packed [`REGRESSION_BEATS_PER_PIPELINE`] to a pipeline,
/// its runs 3-7 minutes apart; each beat covers the pipeline's first runs. Every
/// miss has new inputs (a new key), every hit restores the last miss's key.
/// Flaky-scenario beats, shuffled, go [`FLAKY_BEATS_PER_PIPELINE`] to a pipeline of
/// [`FLAKY_RUNS`] runs, 6 a day (every 4 hours, up to 30 minutes late) over the
/// 10 days before `end`'s day, with the pipeline's outage day if it has one.
pub(super) fn build(seed: u64, sizes: &Sizes, end: Timestamp) -> Quality {
    let mut rng = Rng::derive(seed, 0x91BE_11AE_0000);
    let series: Vec<Series> = generate::series_specs(sizes)
        .iter()
        .map(|spec| generate::series(seed, spec))
        .collect();

    let mut key = 1u64 << 40;
    let mut cuts: Vec<(usize, usize, Track)> = Vec::new();
    for (i, s) in series.iter().enumerate() {
        for &after in s.cuts() {
            let events = s
                .cut(after)
                .iter()
                .map(|p| {
                    key += u64::from(!p.hit);
                    Event {
                        duration_ms: p.duration_ms,
                        outcome: generate::Outcome::Passed,
                        hit: p.hit,
                        key,
                    }
                })
                .collect();
            let track = Track {
                name: s.beat_name(after),
                beat_type: BeatType::Build,
                events,
            };
            cuts.push((i, after, track));
        }
    }
    cuts.sort_by_key(|(_, _, t)| t.events.len());

    let mut pipelines = Vec::new();
    let mut regression = Vec::new();
    for chunk in cuts.chunks(REGRESSION_BEATS_PER_PIPELINE) {
        let index = pipelines.len();
        let runs = chunk
            .iter()
            .map(|(_, _, t)| t.events.len())
            .max()
            .unwrap_or(0);
        for (series, after, track) in chunk {
            regression.push(RegressionLabel {
                series: *series,
                after: *after,
                pipeline: index,
                beat: track.name.clone(),
                miss_runs: (0..track.events.len())
                    .filter(|&r| !track.events[r].hit)
                    .collect(),
            });
        }
        pipelines.push(Pipeline {
            id: pipeline_id(&mut rng),
            name: format!("signals-regressions-{index:03}"),
            starts: spaced_starts(end, runs, REGRESSION_GAP_S.0, REGRESSION_GAP_S.1, &mut rng),
            tracks: chunk.iter().map(|(_, _, t)| t.clone()).collect(),
        });
    }

    let day_zero = end
        .checked_sub(SignedDuration::from_hours(
            24 * (FLAKY_RUNS / FLAKY_RUNS_PER_DAY) as i64,
        ))
        .unwrap_or(end);
    let mut flaky = Vec::new();
    // Shuffled, so that a pipeline's beats mix the cells: breakages at the end of
    // the history spread over pipelines instead of failing every beat of a run
    // (which is an outage, not a breakage).
    let mut specs = generate::flaky_specs(seed, sizes);
    Rng::derive(seed, 0x5FF1_E000_0000).shuffle(&mut specs);
    for (n, chunk) in specs.chunks(FLAKY_BEATS_PER_PIPELINE).enumerate() {
        let index = pipelines.len();
        let outage = generate::outage_days(seed, n);
        let starts = (0..FLAKY_RUNS)
            .map(|i| {
                let hours = (i / FLAKY_RUNS_PER_DAY * 24 + i % FLAKY_RUNS_PER_DAY * 4) as i64;
                day_zero
                    + SignedDuration::from_hours(hours)
                    + SignedDuration::from_secs(rng.int(0, 1800) as i64)
            })
            .collect();
        let mut tracks = Vec::new();
        for spec in chunk {
            let events: Vec<Event> = generate::flaky_attempts(seed, spec, &outage)
                .iter()
                .map(|a| Event {
                    duration_ms: a.duration_ms,
                    outcome: a.outcome,
                    hit: false,
                    key: a.key,
                })
                .collect();
            let tag = match spec.breakage {
                Breakage::None => "keys",
                Breakage::Open { .. } => "broken",
                Breakage::Fixed { .. } => "fixed",
            };
            let name = format!(
                "{tag}-p{:02.0}-r{}-{:05}",
                spec.fail_prob * 100.0,
                spec.repeats,
                spec.id
            );
            flaky.push(FlakyBeatLabel::new(
                spec.clone(),
                index,
                name.clone(),
                &events,
                &outage,
            ));
            tracks.push(Track {
                name,
                beat_type: BeatType::Test,
                events,
            });
        }
        pipelines.push(Pipeline {
            id: pipeline_id(&mut rng),
            name: format!("signals-flaky-{n:03}"),
            starts,
            tracks,
        });
    }
    Quality {
        series,
        regression,
        flaky,
        pipelines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::generate::FlakyLabel;

    #[test]
    fn the_layout_maps_every_cut_and_flaky_beat() {
        let end: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let sizes = Sizes::quick();
        let q = build(1, &sizes, end);
        let cuts: usize = q.series.iter().map(|s| s.cuts().len()).sum();
        assert_eq!(q.regression.len(), cuts);
        assert_eq!(q.flaky.len(), generate::flaky_specs(1, &sizes).len());
        for label in &q.regression {
            let p = &q.pipelines[label.pipeline];
            let track = p.tracks.iter().find(|t| t.name == label.beat).unwrap();
            assert!(track.events.len() <= p.starts.len());
            let misses = q.series[label.series].spec.before + label.after;
            assert_eq!(label.miss_runs.len(), misses);
            assert!(label.miss_runs.iter().all(|&r| !track.events[r].hit));
        }
        for label in &q.flaky {
            let p = &q.pipelines[label.pipeline];
            assert!(p.tracks.iter().any(|t| t.name == label.beat));
            assert_eq!(p.starts.len(), FLAKY_RUNS);
        }
        for p in &q.pipelines {
            assert!(p.starts.windows(2).all(|w| w[0] < w[1]), "{}", p.name);
            assert!(p.starts.last().is_some_and(|t| *t < end));
        }
        // Only outage days fail every beat of a run.
        for p in q
            .pipelines
            .iter()
            .filter(|p| p.name.starts_with("signals-flaky"))
        {
            let n: usize = p.name.rsplit('-').next().unwrap().parse().unwrap();
            let outage = generate::outage_days(1, n);
            for (run, out) in outage.iter().enumerate() {
                let all_failed = p
                    .tracks
                    .iter()
                    .all(|t| t.events[run].outcome != generate::Outcome::Passed);
                assert_eq!(all_failed, *out, "{} run {run}", p.name);
            }
        }
        // Most flaky-labelled beats at 20% left evidence.
        let strong: Vec<_> = q
            .flaky
            .iter()
            .filter(|l| l.spec.label == FlakyLabel::Flaky && l.spec.fail_prob == 0.2)
            .collect();
        assert!(strong.iter().filter(|l| l.evidence).count() * 10 >= strong.len() * 8);
        // Deterministic.
        let again = build(1, &sizes, end);
        let events = |q: &Quality| -> Vec<Event> {
            q.pipelines
                .iter()
                .flat_map(|p| &p.tracks)
                .flat_map(|t| t.events.iter().copied())
                .collect()
        };
        assert_eq!(events(&again), events(&q));
        assert_eq!(again.pipeline_ids(), q.pipeline_ids());
    }

    #[test]
    fn a_miss_has_new_inputs_and_a_hit_restores_the_last() {
        let end: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let q = build(2, &Sizes::quick(), end);
        for track in q.pipelines.iter().flat_map(|p| &p.tracks) {
            if !track.name.starts_with("flat") {
                continue;
            }
            for w in track.events.windows(2) {
                assert_eq!(w[1].hit, w[1].key == w[0].key, "{}", track.name);
            }
        }
    }
}
