//! A finished run's metrics, as delta points (each run is its own export):
//! `cicd.pipeline.run.duration` (histogram, s), `cicd.pipeline.run.errors`
//! (counter), `baton.beat.duration` (histogram, s) and `baton.beat.cache_hits`
//! (counter). Attributes are low-cardinality only: no run ids, no labels.

use baton_model::{BeatRecord, CacheState, RunRecord};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::trace::{beat_result, kv, nanos, run_result, scope};

/// Bucket bounds of the run duration histogram (seconds).
pub const RUN_BOUNDS: [f64; 12] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
];
/// Bucket bounds of the beat duration histogram (seconds).
pub const BEAT_BOUNDS: [f64; 14] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0,
];

pub fn build(
    run: &RunRecord,
    beats: &[BeatRecord],
    resource: Resource,
) -> ExportMetricsServiceRequest {
    let start = nanos(run.started_at);
    let end = nanos(run.finished_at.unwrap_or(run.heartbeat_at));
    let result = run_result(run, beats);
    let run_seconds = (end.saturating_sub(start)) as f64 / 1e9;
    let pipeline = kv("cicd.pipeline.name", &run.pipeline_name);

    let mut metrics = vec![Metric {
        name: "cicd.pipeline.run.duration".into(),
        description: "Duration of a pipeline run.".into(),
        unit: "s".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![histogram_point(
                vec![pipeline.clone(), kv("cicd.pipeline.result", result)],
                start,
                end,
                &[run_seconds],
                &RUN_BOUNDS,
            )],
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Default::default()
    }];
    let mut error_attrs = vec![pipeline.clone()];
    if result != "success" {
        error_attrs.push(kv("error.type", result));
    }
    metrics.push(counter(
        "cicd.pipeline.run.errors",
        "Errors in pipeline runs.",
        "{error}",
        vec![(error_attrs, i64::from(result != "success"))],
        start,
        end,
    ));

    let mut beat_points = Vec::new();
    let mut hits = Vec::new();
    for b in beats {
        let attrs = vec![
            pipeline.clone(),
            kv("cicd.pipeline.task.name", &b.beat),
            kv("cicd.pipeline.task.run.result", beat_result(b.status)),
            kv("baton.beat.type", b.beat_type.as_str()),
            kv("baton.beat.cache.state", b.cache_state.as_str()),
        ];
        beat_points.push(histogram_point(
            attrs,
            start,
            end,
            &[b.duration_ms as f64 / 1e3],
            &BEAT_BOUNDS,
        ));
        hits.push((
            vec![pipeline.clone(), kv("cicd.pipeline.task.name", &b.beat)],
            i64::from(b.cache_state == CacheState::Hit),
        ));
    }
    metrics.push(Metric {
        name: "baton.beat.duration".into(),
        description: "Duration of a beat (a pipeline task).".into(),
        unit: "s".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: beat_points,
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Default::default()
    });
    metrics.push(counter(
        "baton.beat.cache_hits",
        "Beats answered by the step cache.",
        "{hit}",
        hits,
        start,
        end,
    ));

    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn histogram_point(
    attributes: Vec<KeyValue>,
    start: u64,
    end: u64,
    values: &[f64],
    bounds: &[f64],
) -> HistogramDataPoint {
    let mut counts = vec![0u64; bounds.len() + 1];
    for v in values {
        let i = bounds.iter().position(|b| v <= b).unwrap_or(bounds.len());
        counts[i] += 1;
    }
    HistogramDataPoint {
        attributes,
        start_time_unix_nano: start,
        time_unix_nano: end,
        count: values.len() as u64,
        sum: Some(values.iter().sum()),
        bucket_counts: counts,
        explicit_bounds: bounds.to_vec(),
        min: values.iter().copied().reduce(f64::min),
        max: values.iter().copied().reduce(f64::max),
        ..Default::default()
    }
}

fn counter(
    name: &str,
    description: &str,
    unit: &str,
    points: Vec<(Vec<KeyValue>, i64)>,
    start: u64,
    end: u64,
) -> Metric {
    Metric {
        name: name.into(),
        description: description.into(),
        unit: unit.into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: points
                .into_iter()
                .map(|(attributes, v)| NumberDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: end,
                    value: Some(number_data_point::Value::AsInt(v)),
                    ..Default::default()
                })
                .collect(),
            aggregation_temporality: AggregationTemporality::Delta as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }
}
