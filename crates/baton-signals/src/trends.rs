//! Trends per pipeline and per beat ([`baton_analysis::trends`]), and the slowest
//! beats, over the runs of a window.
//!
//! A beat's record counts as flaky when it failed on an input identity that also
//! passed in the window. The time it lost is the whole of a failed (or timed out)
//! run, and for a run that passed after retries the share of its duration before
//! its last attempt, taken as `(attempts - 1) / attempts` of it (a record keeps
//! one duration for all its attempts and their backoff, so this assumes the
//! attempts took equally long). A pipeline's
//! durations are its runs' wall times, its success rate that of its runs, its
//! cache hit rate that of its beats' records, and a run is flaky when one of its
//! beats was.

use std::collections::{BTreeMap, HashMap, HashSet};

use baton_analysis::proportion::Proportion;
use baton_analysis::trends::{self, Bucket, Durations, Period, TrendPoint};
use baton_model::RunStatus;
use baton_report::regressions::{SIGNALS_FORMAT_VERSION, SeriesKind};
use baton_report::trends::{
    BeatTrend, ChangeMark, PipelineTrend, SPARKLINE_DAYS, SlowBeat, SlowestDoc, TrendsDoc,
};
use baton_store::{BeatSeries, SeriesSet};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::flaky::outcome;
use super::regressions::{MAX_ANALYZED_RUNS, scan};
use super::run_ref;

/// When the window ends and which days it counts in.
pub struct Clock {
    pub now: Timestamp,
    pub tz: TimeZone,
}

impl Clock {
    /// Now, in the local time zone.
    pub fn now() -> Self {
        Self {
            now: Timestamp::now(),
            tz: super::local_time_zone(),
        }
    }
}

/// A beat's records as trend points.
fn trend_points(series: &BeatSeries) -> Vec<TrendPoint> {
    let passed_keys: HashSet<u32> = series
        .points
        .iter()
        .filter(|p| !p.restored && outcome(p) == Some(true))
        .filter_map(|p| p.identity)
        .collect();
    series
        .points
        .iter()
        .map(|p| {
            let passed = outcome(p);
            let failed = passed == Some(false);
            TrendPoint {
                at: p.started_at,
                duration_ms: p.duration_ms,
                restored: p.restored,
                passed,
                flaky: failed
                    && !p.restored
                    && p.identity.is_some_and(|k| passed_keys.contains(&k)),
                lost_ms: lost_ms(p, failed),
            }
        })
        .collect()
}

/// The daily median of the executed runs that passed, the last
/// [`SPARKLINE_DAYS`] days up to today, oldest first.
fn daily_p50(series: &BeatSeries, clock: &Clock) -> Vec<Option<f64>> {
    let today = clock.now.to_zoned(clock.tz.clone()).date();
    let first = today
        .checked_sub(jiff::Span::new().days(SPARKLINE_DAYS as i64 - 1))
        .unwrap_or(today);
    // Cheap bound first (a day is at most 26 hours in any zone), dates after.
    let early = super::window_start(clock.now, SPARKLINE_DAYS as u64 + 2);
    let mut days: Vec<Vec<u64>> = vec![Vec::new(); SPARKLINE_DAYS];
    for p in &series.points {
        if p.started_at < early || p.restored || outcome(p) != Some(true) {
            continue;
        }
        let date = p.started_at.to_zoned(clock.tz.clone()).date();
        let Ok(span) = first.until(date) else {
            continue;
        };
        if let Ok(day) = usize::try_from(span.get_days())
            && day < SPARKLINE_DAYS
        {
            days[day].push(p.duration_ms);
        }
    }
    days.iter()
        .map(|d| baton_analysis::median(d).filter(|m| m.is_finite()))
        .collect()
}

/// The label of the period `at` falls in.
fn period_of(at: Timestamp, period: Period, tz: &TimeZone) -> String {
    let date = at.to_zoned(tz.clone()).date();
    match period {
        Period::Day => date.to_string(),
        Period::IsoWeek => {
            let week = date.iso_week_date();
            format!("{:04}-W{:02}", week.year(), week.week())
        }
    }
}

/// The change points of a beat's executed runs in the set.
fn change_marks(set: &SeriesSet, series: usize, period: Period, tz: &TimeZone) -> Vec<ChangeMark> {
    let scan = scan(set, series, SeriesKind::Miss, MAX_ANALYZED_RUNS);
    let none = HashMap::new();
    scan.change_points()
        .iter()
        .filter_map(|cp| {
            let run = *scan.runs.get(cp.index)?;
            let first_run = run_ref(set, run, &none);
            Some(ChangeMark {
                period: period_of(first_run.started_at, period, tz),
                direction: cp.direction,
                shift: cp.shift,
                shift_low: cp.shift_low,
                shift_high: cp.shift_high,
                first_run,
            })
        })
        .collect()
}

/// The document of `baton trends` over every run of `set` (read for the window).
pub fn trends(set: &SeriesSet, period: Period, days: u64, clock: &Clock) -> TrendsDoc {
    let mut pipelines = Vec::with_capacity(set.pipelines.len());
    for (index, pipeline) in set.pipelines.iter().enumerate() {
        let mut run_flaky: HashMap<u32, bool> = HashMap::new();
        let mut run_lost: HashMap<u32, u64> = HashMap::new();
        let mut hits: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut beats = Vec::new();
        for (i, series) in set.series.iter().enumerate() {
            if series.pipeline as usize != index {
                continue;
            }
            let points = trend_points(series);
            for (p, t) in series.points.iter().zip(&points) {
                *run_flaky.entry(p.run).or_default() |= t.flaky;
                *run_lost.entry(p.run).or_default() += t.lost_ms;
            }
            let buckets = trends::buckets(&points, period, &clock.tz);
            for b in &buckets {
                let slot = hits.entry(b.period.clone()).or_default();
                slot.0 += b.cache_hit_rate.count;
                slot.1 += b.cache_hit_rate.total;
            }
            let daily = daily_p50(series, clock);
            beats.push(BeatTrend {
                beat: series.beat.clone(),
                runs: series.points.len(),
                window: trends::summary(format!("last {days} days"), &points),
                buckets,
                sparkline: trends::sparkline(&daily),
                daily_p50_ms: daily,
                change_points: change_marks(set, i, period, &clock.tz),
            });
        }
        let run_points: Vec<TrendPoint> = set
            .runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.pipeline as usize == index)
            .map(|(i, r)| {
                let i = i as u32;
                let wall = r
                    .finished_at
                    .and_then(|end| end.duration_since(r.started_at).as_millis().try_into().ok());
                TrendPoint {
                    at: r.started_at,
                    duration_ms: wall.unwrap_or(0),
                    restored: false,
                    passed: match (r.status, wall) {
                        (RunStatus::Success, Some(_)) => Some(true),
                        (RunStatus::Failure, _) => Some(false),
                        _ => None,
                    },
                    flaky: run_flaky.get(&i).copied().unwrap_or(false),
                    lost_ms: run_lost.get(&i).copied().unwrap_or(0),
                }
            })
            .collect();
        let buckets: Vec<Bucket> = trends::buckets(&run_points, period, &clock.tz)
            .into_iter()
            .map(|mut b| {
                let (count, total) = hits.get(&b.period).copied().unwrap_or((0, 0));
                b.cache_hit_rate = Proportion::wilson(count, total, 0.95);
                b
            })
            .collect();
        pipelines.push(PipelineTrend {
            pipeline_id: pipeline.pipeline_id.clone(),
            pipeline: pipeline.name.clone(),
            runs: run_points.len(),
            buckets,
            beats,
        });
    }
    TrendsDoc {
        format_version: SIGNALS_FORMAT_VERSION,
        period,
        days,
        pipelines,
    }
}

/// The document of `baton slowest`: the `limit` beats with the slowest median
/// executed run, and the `limit` that took the most time, over `set` (read for
/// the window).
pub fn slowest(set: &SeriesSet, days: u64, limit: usize, clock: &Clock) -> SlowestDoc {
    struct Ranked {
        series: usize,
        executed: Option<Durations>,
        total_ms: u64,
    }
    let ranked: Vec<Ranked> = set
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let executed: Vec<u64> = s
                .points
                .iter()
                .filter(|p| !p.restored && outcome(p) == Some(true))
                .map(|p| p.duration_ms)
                .collect();
            Ranked {
                series: i,
                executed: Durations::of(&executed),
                total_ms: s.points.iter().map(|p| p.duration_ms).sum(),
            }
        })
        .collect();
    let p50 = |r: &Ranked| r.executed.map_or(f64::NEG_INFINITY, |d| d.p50_ms);
    let mut by_p50: Vec<&Ranked> = ranked.iter().filter(|r| r.executed.is_some()).collect();
    by_p50.sort_by(|a, b| p50(b).total_cmp(&p50(a)));
    let mut by_total: Vec<&Ranked> = ranked.iter().collect();
    by_total.sort_by_key(|r| std::cmp::Reverse(r.total_ms));
    let mut cache: HashMap<usize, SlowBeat> = HashMap::new();
    let mut entry = |r: &Ranked| -> SlowBeat {
        cache
            .entry(r.series)
            .or_insert_with(|| {
                let series = &set.series[r.series];
                let pipeline = &set.pipelines[series.pipeline as usize];
                let daily = daily_p50(series, clock);
                SlowBeat {
                    pipeline_id: pipeline.pipeline_id.clone(),
                    pipeline: pipeline.name.clone(),
                    beat: series.beat.clone(),
                    runs: series.points.len(),
                    executed: r.executed,
                    total_ms: r.total_ms,
                    sparkline: trends::sparkline(&daily),
                    daily_p50_ms: daily,
                    last_change: change_marks(set, r.series, Period::Day, &clock.tz).pop(),
                }
            })
            .clone()
    };
    let by_p50: Vec<SlowBeat> = by_p50.into_iter().take(limit).map(&mut entry).collect();
    let by_total: Vec<SlowBeat> = by_total.into_iter().take(limit).map(&mut entry).collect();
    SlowestDoc {
        format_version: SIGNALS_FORMAT_VERSION,
        days,
        by_p50,
        by_total,
    }
}

/// The time a record lost: all of a failed run; the attempts before the last of
/// a run that passed after retries (as an equal share of its duration).
fn lost_ms(p: &baton_store::SeriesPoint, failed: bool) -> u64 {
    if failed {
        p.duration_ms
    } else if p.attempts > 1 && !p.restored {
        p.duration_ms / u64::from(p.attempts) * u64::from(p.attempts - 1)
    } else {
        0
    }
}
