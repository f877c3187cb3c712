//! Labelled synthetic histories: duration series with a known change (or none) for
//! `baton regressions`, pass/fail sequences with known flakiness for `baton flaky`.
//!
//! Everything here is plain data drawn from [`Rng`] streams derived from the
//! benchmark's seed and each item's id: the same seed gives the same histories, and
//! adding a cell does not change the draws of the others. [`crate::signals::history`]
//! turns them into baton's run and beat records.

use super::rng::Rng;

/// Misses before the change.
pub(super) const BEFORE: [usize; 3] = [10, 20, 40];
/// Misses after the change at which every changed or stationary series is cut, each
/// cut a beat of its own: recall "within 6" reads the 6-run cut, the delay is the
/// shortest cut that is detected.
pub(super) const AFTER: [usize; 4] = [3, 6, 9, 12];
/// The longest cut: hard negatives are only written at this length.
pub(super) const AFTER_MAX: usize = 12;
/// Lognormal noise of the durations (0.05 is the target's level).
pub(super) const SIGMAS: [f64; 4] = [0.03, 0.05, 0.08, 0.15];
/// Probability that a run is a cache hit (restored, 5-20% of a miss).
pub(super) const HIT_PROBS: [f64; 3] = [0.0, 0.5, 0.9];
/// Relative slowdowns of the misses.
pub(super) const SHIFTS: [f64; 4] = [0.05, 0.10, 0.20, 0.50];
/// Misses a ramp takes to reach its full shift (linear: 1/5, 2/5, ... of it).
pub(super) const RAMP_RUNS: usize = 5;
/// A detection this close (in miss runs) to the true change is a hit.
pub(super) const HIT_TOLERANCE: usize = 2;

/// How a shift arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Form {
    Step,
    Ramp,
}

/// Series that change nothing a user should be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum HardNegative {
    /// The cache hit rate jumps (0.1 to 0.8 or back) with no slowdown of the misses.
    HitRate,
    /// The noise triples (or drops to a third) around the same median.
    Variance,
    /// One run of 3-10x anywhere, and no other outlier.
    Outlier,
    /// Two stable modes (the upper 15-50% slower) drawn at random run by run.
    Banding,
}

impl HardNegative {
    pub(super) const ALL: [Self; 4] = [Self::HitRate, Self::Variance, Self::Outlier, Self::Banding];

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::HitRate => "hit rate changes",
            Self::Variance => "variance changes",
            Self::Outlier => "single outlier",
            Self::Banding => "banding",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Self::HitRate => "hitrate",
            Self::Variance => "variance",
            Self::Outlier => "outlier",
            Self::Banding => "banding",
        }
    }
}

/// What a series is, as the scorer needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum Kind {
    /// No change: only noise, 1-3% outliers and a slow drift.
    Stationary,
    /// The misses get `shift` slower from miss `before` on.
    Change {
        shift: f64,
        form: Form,
    },
    Hard {
        negative: HardNegative,
    },
}

impl Kind {
    fn tag(self) -> String {
        match self {
            Self::Stationary => "flat".to_owned(),
            Self::Change { shift, form } => {
                let form = match form {
                    Form::Step => "step",
                    Form::Ramp => "ramp",
                };
                format!("{form}{:.0}", shift * 100.0)
            }
            Self::Hard { negative } => negative.tag().to_owned(),
        }
    }
}

/// One labelled series before it is cut.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct SeriesSpec {
    pub id: usize,
    pub kind: Kind,
    /// Misses before the change (for series with no change: where one would be).
    pub before: usize,
    pub sigma: f64,
    pub hit_prob: f64,
}

/// One run of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Point {
    pub duration_ms: u64,
    /// A cache hit (restored).
    pub hit: bool,
}

/// A generated series, `before + AFTER_MAX` misses long, with its hits between them.
#[derive(Debug, Clone)]
pub(super) struct Series {
    pub spec: SeriesSpec,
    pub points: Vec<Point>,
}

impl Series {
    /// The runs up to and including the miss `after` misses past the change.
    pub(super) fn cut(&self, after: usize) -> &[Point] {
        let wanted = self.spec.before + after;
        let mut misses = 0;
        for (i, p) in self.points.iter().enumerate() {
            if !p.hit {
                misses += 1;
                if misses == wanted {
                    return &self.points[..=i];
                }
            }
        }
        &self.points
    }

    /// The beat names of its cuts: `step20-00042-a06`.
    pub(super) fn beat_name(&self, after: usize) -> String {
        format!("{}-{:05}-a{after:02}", self.spec.kind.tag(), self.spec.id)
    }

    /// The cuts written for it: every cut for changed and stationary series, the
    /// longest only for hard negatives.
    pub(super) fn cuts(&self) -> &'static [usize] {
        match self.spec.kind {
            Kind::Hard { .. } => &[AFTER_MAX],
            _ => &AFTER,
        }
    }
}

/// Durations of the misses of `points`, in order (what the in-process baselines see).
pub(super) fn miss_durations(points: &[Point]) -> Vec<f64> {
    points
        .iter()
        .filter(|p| !p.hit)
        .map(|p| p.duration_ms as f64)
        .collect()
}

/// How many series per cell.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(super) struct Sizes {
    /// Per (before, sigma, shift, form) cell of changed series.
    pub changed: usize,
    /// Per (before, sigma) cell of stationary series (false alarms need more).
    pub stationary: usize,
    /// Per (before, sigma, hard negative) cell.
    pub hard: usize,
    /// Per (failure probability, repeats) cell of flaky-scenario beats.
    pub flaky: usize,
    /// Beats that end in a breakage, and beats with a fixed breakage.
    pub broken: usize,
}

impl Sizes {
    pub(super) fn full() -> Self {
        Self {
            changed: 20,
            stationary: 60,
            hard: 20,
            flaky: 40,
            broken: 100,
        }
    }

    /// One series per cell: every cell runs, the rates are indicative.
    pub(super) fn quick() -> Self {
        Self {
            changed: 1,
            stationary: 2,
            hard: 1,
            flaky: 4,
            broken: 8,
        }
    }
}

/// Every series spec, cells in a fixed order; the cache-hit probability goes round
/// (0, 0.5, 0.9, 0, ...) over the series of a cell, starting one further in each
/// cell, so each probability gets a third of every kind of series.
pub(super) fn series_specs(sizes: &Sizes) -> Vec<SeriesSpec> {
    let mut specs = Vec::new();
    let mut cells = 0;
    let mut push = |kind: Kind, before: usize, sigma: f64, count: usize| {
        cells += 1;
        for k in 0..count {
            let hit_prob = match kind {
                // Its own hit rates, before and after.
                Kind::Hard {
                    negative: HardNegative::HitRate,
                } => 0.0,
                _ => HIT_PROBS[(k + cells) % HIT_PROBS.len()],
            };
            specs.push(SeriesSpec {
                id: specs.len(),
                kind,
                before,
                sigma,
                hit_prob,
            });
        }
    };
    for &before in &BEFORE {
        for &sigma in &SIGMAS {
            push(Kind::Stationary, before, sigma, sizes.stationary);
            for &shift in &SHIFTS {
                for form in [Form::Step, Form::Ramp] {
                    push(Kind::Change { shift, form }, before, sigma, sizes.changed);
                }
            }
            for negative in HardNegative::ALL {
                push(Kind::Hard { negative }, before, sigma, sizes.hard);
            }
        }
    }
    specs
}

/// Draws one series. Misses: `base x drift x change x lognormal(sigma) x outlier`,
/// with a base of 30 s to 5 min (log-uniform, so that even +5% is over a second), a
/// drift of at most 3% end to end, outliers of 1.5-4x in 1-3% of the runs. Hits:
/// 5-20% of the base with the same noise, untouched by the change. The first run is
/// always a miss (a cold cache).
pub(super) fn series(seed: u64, spec: &SeriesSpec) -> Series {
    let mut rng = Rng::derive(seed, 0x5E21_E500_0000 + spec.id as u64);
    let total_misses = spec.before + AFTER_MAX;
    let base = (rng.range(30_000f64.ln(), 300_000f64.ln())).exp();
    let hit_fraction = rng.range(0.05, 0.20);
    let drift = rng.range(-0.03, 0.03);
    let mut outlier_rate = rng.range(0.01, 0.03);
    let (mut hit_before, mut hit_after) = (spec.hit_prob, spec.hit_prob);
    let (sigma_before, mut sigma_after) = (spec.sigma, spec.sigma);
    let mut lone_outlier = None;
    let mut band = None;
    match spec.kind {
        Kind::Hard { negative } => match negative {
            HardNegative::HitRate => {
                (hit_before, hit_after) = if spec.id.is_multiple_of(2) {
                    (0.1, 0.8)
                } else {
                    (0.8, 0.1)
                };
            }
            HardNegative::Variance => {
                sigma_after = if spec.id.is_multiple_of(2) {
                    spec.sigma * 3.0
                } else {
                    spec.sigma / 3.0
                };
            }
            HardNegative::Outlier => {
                outlier_rate = 0.0;
                lone_outlier = Some((rng.int(0, total_misses - 1), rng.range(3.0, 10.0)));
            }
            HardNegative::Banding => band = Some((rng.range(1.15, 1.5), rng.range(0.2, 0.5))),
        },
        Kind::Stationary | Kind::Change { .. } => {}
    }

    let mut points = Vec::with_capacity(total_misses * 2);
    let mut miss = 0;
    while miss < total_misses {
        let after = miss >= spec.before;
        let hit_prob = if after { hit_after } else { hit_before };
        if miss > 0 && rng.chance(hit_prob) {
            let ms = base * hit_fraction * rng.lognormal(spec.sigma);
            points.push(Point {
                duration_ms: ms.round().max(1.0) as u64,
                hit: true,
            });
            continue;
        }
        let sigma = if after { sigma_after } else { sigma_before };
        let mut factor = (drift * miss as f64 / (total_misses - 1) as f64).exp();
        if let Kind::Change { shift, form } = spec.kind
            && after
        {
            let done = match form {
                Form::Step => 1.0,
                Form::Ramp => ((miss - spec.before + 1) as f64 / RAMP_RUNS as f64).min(1.0),
            };
            factor *= 1.0 + shift * done;
        }
        if let Some((upper, share)) = band
            && rng.chance(share)
        {
            factor *= upper;
        }
        factor *= rng.lognormal(sigma);
        if rng.chance(outlier_rate) {
            factor *= rng.range(1.5, 4.0);
        }
        if let Some((at, size)) = lone_outlier
            && at == miss
        {
            factor *= size;
        }
        points.push(Point {
            duration_ms: (base * factor).round() as u64,
            hit: false,
        });
        miss += 1;
    }
    Series {
        spec: spec.clone(),
        points,
    }
}

// ---------------------------------------------------------------- flaky beats

/// Per-key failure probabilities of the flaky scenario.
pub(super) const FAIL_PROBS: [f64; 5] = [0.0, 0.01, 0.02, 0.05, 0.20];
/// Executed runs per input identity.
pub(super) const REPEATS: [usize; 5] = [1, 2, 3, 4, 5];
/// Runs of every flaky-scenario pipeline (6 a day for 10 days).
pub(super) const FLAKY_RUNS: usize = 60;
pub(super) const FLAKY_RUNS_PER_DAY: usize = 6;
/// Beats per flaky-scenario pipeline.
pub(super) const FLAKY_BEATS_PER_PIPELINE: usize = 20;

/// The truth about a beat of the flaky scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum FlakyLabel {
    Flaky,
    Broken,
    Healthy,
}

impl FlakyLabel {
    pub(super) const ALL: [Self; 3] = [Self::Flaky, Self::Broken, Self::Healthy];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Flaky => "flaky",
            Self::Broken => "broken",
            Self::Healthy => "healthy",
        }
    }
}

/// What happens to a beat besides its background failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(super) enum Breakage {
    None,
    /// The last `runs` executed runs are a new key failing every time: still broken.
    Open {
        runs: usize,
    },
    /// `runs` runs of a new key failing every time from executed run `start`, then a
    /// fix (another new key) and the background again.
    Fixed {
        start: usize,
        runs: usize,
    },
}

#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct FlakySpec {
    pub id: usize,
    /// Per-run failure probability of every key (the background).
    pub fail_prob: f64,
    /// Executed runs per key.
    pub repeats: usize,
    pub breakage: Breakage,
    /// The truth, by the rule in [`flaky_label`].
    pub label: FlakyLabel,
}

/// The labelling rule: **broken** when the history ends inside a breakage (its last
/// 3-10 executed runs are one new key failing every time); otherwise **flaky** when
/// the keys fail at random (p > 0) and each key runs at least twice (so the same
/// inputs can both pass and fail); otherwise **healthy** (p = 0, or every key runs
/// once, or a breakage that was fixed). Outage runs change no label.
pub(super) fn flaky_label(fail_prob: f64, repeats: usize, breakage: Breakage) -> FlakyLabel {
    if matches!(breakage, Breakage::Open { .. }) {
        FlakyLabel::Broken
    } else if fail_prob > 0.0 && repeats >= 2 {
        FlakyLabel::Flaky
    } else {
        FlakyLabel::Healthy
    }
}

/// Every flaky-scenario beat: `sizes.flaky` per (p, repeats) cell, then
/// `sizes.broken` open and `sizes.broken` fixed breakages on a background drawn
/// from the grid.
pub(super) fn flaky_specs(seed: u64, sizes: &Sizes) -> Vec<FlakySpec> {
    let mut specs = Vec::new();
    for &fail_prob in &FAIL_PROBS {
        for &repeats in &REPEATS {
            for _ in 0..sizes.flaky {
                specs.push(FlakySpec {
                    id: specs.len(),
                    fail_prob,
                    repeats,
                    breakage: Breakage::None,
                    label: flaky_label(fail_prob, repeats, Breakage::None),
                });
            }
        }
    }
    for open in [true, false] {
        for _ in 0..sizes.broken {
            let id = specs.len();
            let mut rng = Rng::derive(seed, 0xB20C_E000_0000 + id as u64);
            let fail_prob = FAIL_PROBS[rng.int(0, 3)];
            let repeats = REPEATS[rng.int(0, REPEATS.len() - 1)];
            let runs = rng.int(3, 10);
            let breakage = if open {
                Breakage::Open { runs }
            } else {
                // Ends at least 3 runs before the history does.
                let start = rng.int(5, FLAKY_RUNS - FLAKY_RUNS_PER_DAY - runs - 3);
                Breakage::Fixed { start, runs }
            };
            specs.push(FlakySpec {
                id,
                fail_prob,
                repeats,
                breakage,
                label: flaky_label(fail_prob, repeats, breakage),
            });
        }
    }
    specs
}

/// How a beat ended in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Passed,
    Failed,
    TimedOut,
}

/// One run of a flaky-scenario beat.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Attempt {
    /// The input identity (an index the writer turns into `inputs:<hex>`).
    pub key: u64,
    pub outcome: Outcome,
    pub duration_ms: u64,
}

/// Draws one beat's runs. `outage[i]` says run `i` of its pipeline is in an outage
/// (every beat of the run fails, its key unchanged); the other runs are "executed"
/// runs and count for the repeats and the breakage. Keys are unique per beat
/// (`id << 20 | n`). A tenth of the failures are timeouts.
pub(super) fn flaky_attempts(seed: u64, spec: &FlakySpec, outage: &[bool]) -> Vec<Attempt> {
    let mut rng = Rng::derive(seed, 0xF1A4_7000_0000 + spec.id as u64);
    let base = rng.range(5_000.0, 60_000.0);
    let executed = outage.iter().filter(|o| !**o).count();
    let broken_from = match spec.breakage {
        Breakage::None => usize::MAX,
        Breakage::Open { runs } => executed.saturating_sub(runs),
        Breakage::Fixed { start, .. } => start,
    };
    let broken_until = match spec.breakage {
        Breakage::None => usize::MAX,
        Breakage::Open { .. } => executed,
        Breakage::Fixed { start, runs } => start + runs,
    };
    let mut next_key = (spec.id as u64) << 20;
    let mut key = next_key;
    let mut uses = 0;
    let mut done = 0; // executed runs so far
    let mut attempts = Vec::with_capacity(outage.len());
    for &out in outage {
        let in_breakage = (broken_from..broken_until).contains(&done);
        if !out {
            let rotate = if in_breakage {
                done == broken_from
            } else {
                done == broken_until || uses >= spec.repeats
            };
            if rotate {
                next_key += 1;
                key = next_key;
                uses = 0;
            }
            uses += 1;
        }
        let failed = out || in_breakage || rng.chance(spec.fail_prob);
        let outcome = match (failed, rng.chance(0.1)) {
            (false, _) => Outcome::Passed,
            (true, false) => Outcome::Failed,
            (true, true) => Outcome::TimedOut,
        };
        let ms = base * rng.lognormal(0.05);
        let duration_ms = match outcome {
            Outcome::Passed => ms,
            Outcome::Failed => ms * rng.range(0.1, 1.0),
            Outcome::TimedOut => base * 3.0,
        };
        attempts.push(Attempt {
            key,
            outcome,
            duration_ms: duration_ms.round() as u64,
        });
        if !out {
            done += 1;
        }
    }
    attempts
}

/// The outage mask of a flaky-scenario pipeline: half of them lose one whole day
/// (not the first), every run of it failing.
pub(super) fn outage_days(seed: u64, pipeline: usize) -> Vec<bool> {
    let mut rng = Rng::derive(seed, 0x0DA7_E000_0000 + pipeline as u64);
    let days = FLAKY_RUNS / FLAKY_RUNS_PER_DAY;
    let day = rng.chance(0.5).then(|| rng.int(1, days - 2));
    (0..FLAKY_RUNS)
        .map(|i| Some(i / FLAKY_RUNS_PER_DAY) == day)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: Kind, before: usize, sigma: f64, hit_prob: f64) -> SeriesSpec {
        SeriesSpec {
            id: 3,
            kind,
            before,
            sigma,
            hit_prob,
        }
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    #[test]
    fn the_same_seed_gives_the_same_series() {
        let s = spec(Kind::Stationary, 20, 0.05, 0.5);
        assert_eq!(series(1, &s).points, series(1, &s).points);
        assert_ne!(series(1, &s).points, series(2, &s).points);
    }

    #[test]
    fn a_series_has_its_misses_and_cuts() {
        let s = series(5, &spec(Kind::Stationary, 20, 0.05, 0.9));
        let misses = s.points.iter().filter(|p| !p.hit).count();
        assert_eq!(misses, 20 + AFTER_MAX);
        assert!(!s.points[0].hit, "a cold cache first");
        let hits = s.points.len() - misses;
        assert!(hits > 150, "about 9 hits per miss at 0.9: {hits}");
        for after in AFTER {
            let cut = s.cut(after);
            assert_eq!(miss_durations(cut).len(), 20 + after);
            assert!(!cut[cut.len() - 1].hit, "a cut ends on a miss");
        }
        assert_eq!(s.beat_name(6), "flat-00003-a06");
    }

    #[test]
    fn a_step_shifts_the_misses_and_not_the_hits() {
        let kind = Kind::Change {
            shift: 0.5,
            form: Form::Step,
        };
        let s = series(9, &spec(kind, 40, 0.03, 0.5));
        let misses = miss_durations(&s.points);
        let before = median(misses[..40].to_vec());
        let after = median(misses[40..].to_vec());
        assert!((after / before - 1.5).abs() < 0.1, "{before} -> {after}");
        let hits: Vec<f64> = s
            .points
            .iter()
            .filter(|p| p.hit)
            .map(|p| p.duration_ms as f64)
            .collect();
        assert!(median(hits) < 0.25 * before, "hits are 5-20% of a miss");
    }

    #[test]
    fn a_ramp_reaches_its_shift_after_five_misses() {
        let kind = Kind::Change {
            shift: 0.5,
            form: Form::Ramp,
        };
        let (mut first, mut full) = (Vec::new(), Vec::new());
        for id in 0..60 {
            let s = SeriesSpec {
                id,
                ..spec(kind, 20, 0.01, 0.0)
            };
            let misses = miss_durations(&series(3, &s).points);
            first.push(misses[20] / misses[19]);
            full.push(misses[26] / misses[19]);
        }
        // A fifth of the shift at the first miss after the change, all of it by the fifth.
        assert!((median(first) - 1.1).abs() < 0.02);
        assert!((median(full) - 1.5).abs() < 0.03);
    }

    #[test]
    fn the_noise_has_the_asked_sigma() {
        let s = spec(Kind::Stationary, 40, 0.08, 0.0);
        let mut logs = Vec::new();
        for id in 0..200 {
            let series = series(1, &SeriesSpec { id, ..s.clone() });
            let m = miss_durations(&series.points);
            let center = median(m.iter().map(|x| x.ln()).collect());
            logs.extend(m.iter().map(|x| (x.ln() - center).abs()));
        }
        let mad_sigma = 1.4826 * median(logs);
        assert!((mad_sigma - 0.08).abs() < 0.01, "{mad_sigma}");
    }

    #[test]
    fn hard_negatives_keep_the_median_of_the_misses() {
        for negative in HardNegative::ALL {
            let mut ratios = Vec::new();
            for id in 0..100 {
                let s = SeriesSpec {
                    id,
                    ..spec(Kind::Hard { negative }, 20, 0.05, 0.0)
                };
                let m = miss_durations(&series(4, &s).points);
                ratios.push(median(m[20..].to_vec()) / median(m[..20].to_vec()));
            }
            let typical = median(ratios);
            assert!((typical - 1.0).abs() < 0.03, "{negative:?}: {typical}");
        }
    }

    #[test]
    fn the_hit_rate_negative_changes_the_hit_rate() {
        let s = SeriesSpec {
            id: 0,
            ..spec(
                Kind::Hard {
                    negative: HardNegative::HitRate,
                },
                40,
                0.05,
                0.0,
            )
        };
        let points = series(2, &s).points;
        let change = points
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.hit)
            .nth(40)
            .map(|(i, _)| i)
            .unwrap();
        let rate = |ps: &[Point]| ps.iter().filter(|p| p.hit).count() as f64 / ps.len() as f64;
        assert!(rate(&points[..change]) < 0.3, "even ids go 0.1 -> 0.8");
        assert!(rate(&points[change..]) > 0.5);
    }

    #[test]
    fn specs_cover_every_cell() {
        let sizes = Sizes::quick();
        let specs = series_specs(&sizes);
        let per_cell = sizes.stationary + 8 * sizes.changed + 4 * sizes.hard;
        assert_eq!(specs.len(), BEFORE.len() * SIGMAS.len() * per_cell);
        assert!(specs.iter().enumerate().all(|(i, s)| s.id == i));
        for h in HIT_PROBS {
            for shift in SHIFTS {
                let kind = Kind::Change {
                    shift,
                    form: Form::Step,
                };
                assert!(specs.iter().any(|s| s.hit_prob == h && s.kind == kind));
            }
            assert!(
                specs
                    .iter()
                    .any(|s| s.hit_prob == h && s.kind == Kind::Stationary)
            );
        }
    }

    #[test]
    fn labels_follow_the_rule() {
        assert_eq!(flaky_label(0.05, 3, Breakage::None), FlakyLabel::Flaky);
        assert_eq!(flaky_label(0.05, 1, Breakage::None), FlakyLabel::Healthy);
        assert_eq!(flaky_label(0.0, 5, Breakage::None), FlakyLabel::Healthy);
        let open = Breakage::Open { runs: 4 };
        assert_eq!(flaky_label(0.0, 1, open), FlakyLabel::Broken);
        let fixed = Breakage::Fixed { start: 9, runs: 4 };
        assert_eq!(flaky_label(0.0, 2, fixed), FlakyLabel::Healthy);
        assert_eq!(flaky_label(0.2, 2, fixed), FlakyLabel::Flaky);
    }

    fn attempts_of(spec: &FlakySpec, outage: &[bool]) -> Vec<Attempt> {
        flaky_attempts(7, spec, outage)
    }

    #[test]
    fn keys_repeat_as_asked_and_outages_fail_everything() {
        let mut outage = vec![false; FLAKY_RUNS];
        for o in &mut outage[12..18] {
            *o = true;
        }
        let spec = FlakySpec {
            id: 1,
            fail_prob: 0.0,
            repeats: 3,
            breakage: Breakage::None,
            label: FlakyLabel::Healthy,
        };
        let a = attempts_of(&spec, &outage);
        assert_eq!(a.len(), FLAKY_RUNS);
        for (i, at) in a.iter().enumerate() {
            assert_eq!(at.outcome != Outcome::Passed, outage[i], "run {i}");
        }
        // Executed runs per key: exactly 3.
        let mut per_key = std::collections::BTreeMap::new();
        for (at, out) in a.iter().zip(&outage) {
            if !out {
                *per_key.entry(at.key).or_insert(0) += 1;
            }
        }
        assert!(per_key.values().all(|&n| n == 3), "{per_key:?}");
        assert_eq!(per_key.len(), (FLAKY_RUNS - 6) / 3);
    }

    #[test]
    fn an_open_breakage_ends_the_history_with_one_failing_key() {
        let outage = vec![false; FLAKY_RUNS];
        let spec = FlakySpec {
            id: 2,
            fail_prob: 0.0,
            repeats: 2,
            breakage: Breakage::Open { runs: 4 },
            label: FlakyLabel::Broken,
        };
        let a = attempts_of(&spec, &outage);
        let tail = &a[FLAKY_RUNS - 4..];
        assert!(tail.iter().all(|t| t.outcome != Outcome::Passed));
        assert!(tail.iter().all(|t| t.key == tail[0].key));
        assert_ne!(a[FLAKY_RUNS - 5].key, tail[0].key);
        assert!(
            a[..FLAKY_RUNS - 4]
                .iter()
                .all(|t| t.outcome == Outcome::Passed)
        );
    }

    #[test]
    fn a_fixed_breakage_gets_a_new_key_after_it() {
        let outage = vec![false; FLAKY_RUNS];
        let spec = FlakySpec {
            id: 3,
            fail_prob: 0.0,
            repeats: 5,
            breakage: Breakage::Fixed { start: 10, runs: 3 },
            label: FlakyLabel::Healthy,
        };
        let a = attempts_of(&spec, &outage);
        assert!(a[10..13].iter().all(|t| t.outcome != Outcome::Passed));
        assert!(a[10..13].iter().all(|t| t.key == a[10].key));
        assert_ne!(a[9].key, a[10].key);
        assert_ne!(a[13].key, a[12].key);
        assert!(a[13..].iter().all(|t| t.outcome == Outcome::Passed));
    }

    #[test]
    fn flaky_specs_have_their_cells_and_breakages() {
        let sizes = Sizes::quick();
        let specs = flaky_specs(1, &sizes);
        assert_eq!(specs.len(), 25 * sizes.flaky + 2 * sizes.broken);
        let broken = specs
            .iter()
            .filter(|s| s.label == FlakyLabel::Broken)
            .count();
        assert_eq!(broken, sizes.broken);
        assert!(outage_days(1, 0).len() == FLAKY_RUNS);
        let with_outage = (0..100)
            .filter(|&p| outage_days(1, p).iter().any(|o| *o))
            .count();
        assert!((30..70).contains(&with_outage), "{with_outage}");
    }
}
