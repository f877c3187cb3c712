//! OpenTelemetry: a finished run as an OTLP trace and OTLP metrics, sent over
//! OTLP/HTTP (protobuf, gzip) to the collector the standard `OTEL_*` variables
//! name. The messages are the official protobuf definitions (the
//! `opentelemetry-proto` crate's prost types); no SDK, no gRPC runtime.
//!
//! - [`config`]: `OTEL_EXPORTER_OTLP_*`, `OTEL_SERVICE_NAME`, ...;
//! - [`trace`]: the run's span tree;
//! - [`metrics`]: the run's metrics;
//! - [`send`]: one POST and what its answer means.
//!
//! Exports go through the webhook's outbox (entries of their own [`Kind`]): a
//! collector that is down loses nothing; the next run or `baton telemetry flush`
//! sends them. The shadow rule holds: nothing here prints or changes a run.

pub mod config;
pub mod metrics;
pub mod send;
pub mod trace;

use std::time::{Duration, Instant};

use base64::Engine;
use jiff::Timestamp;
use prost::Message;

pub use config::OtlpConfig;
pub use trace::{Parent, TraceInput};

use crate::deliver::{Attempt, Outcome};
use crate::outbox::{Entry, Kind, LastDelivery, Outbox};
use crate::{Flushed, strip_credentials};

/// A configured, enabled OTLP exporter and its outbox.
#[derive(Debug, Clone)]
pub struct Otlp {
    pub config: OtlpConfig,
    pub outbox: Outbox,
}

impl Otlp {
    /// None when the exporter is off (`OTEL_SDK_DISABLED=true`, or no endpoint).
    pub fn new(config: OtlpConfig, outbox: Outbox) -> Option<Self> {
        config.active().then_some(Self { config, outbox })
    }

    /// Puts the run's trace and metrics in the outbox (each written whole before
    /// any attempt to send it, and synced to disk).
    pub fn enqueue_run(&self, input: &TraceInput<'_>) -> std::io::Result<()> {
        for entry in self.run_entries(input) {
            self.outbox.enqueue(&entry)?;
        }
        Ok(())
    }

    /// The run's trace and metrics as outbox entries (those signals exported).
    fn run_entries(&self, input: &TraceInput<'_>) -> Vec<Entry> {
        let resource = trace::resource(&self.config, input.run);
        let run_id = input.run.run_id;
        let mut entries = Vec::new();
        if self.config.traces.is_some() {
            let request = trace::build(input, resource.clone());
            entries.push(entry(
                Kind::OtlpTraces,
                &format!("otlp_traces_{run_id}"),
                &request.encode_to_vec(),
            ));
        }
        if self.config.metrics.is_some() {
            let request = metrics::build(input.run, input.beats, resource);
            entries.push(entry(
                Kind::OtlpMetrics,
                &format!("otlp_metrics_{run_id}"),
                &request.encode_to_vec(),
            ));
        }
        entries
    }

    /// Sends the outbox's OTLP exports, oldest first, if no other process is;
    /// stops at the first one to keep (the collector is down or busy) or at
    /// `deadline`.
    pub fn flush(&self, deadline: Option<Instant>) -> Flushed {
        let Some(_lock) = self.outbox.try_lock_otlp() else {
            return Flushed {
                remaining: self.waiting(),
                stopped: Some("another baton is exporting the outbox".into()),
                ..Flushed::default()
            };
        };
        self.flush_locked(deadline)
    }

    /// The OTLP exports waiting in the outbox.
    pub fn waiting(&self) -> usize {
        self.outbox
            .list()
            .iter()
            .filter(|p| crate::outbox::is_otlp_file(p))
            .count()
    }

    fn flush_locked(&self, deadline: Option<Instant>) -> Flushed {
        let mut done = Flushed::default();
        if let Some(at) = self.outbox.state().otlp_not_before
            && at > Timestamp::now()
        {
            done.remaining = self.waiting();
            if done.remaining > 0 {
                done.stopped = Some(format!(
                    "the collector asked to wait until {at} (Retry-After)"
                ));
            }
            return done;
        }
        let mut last: Option<(String, String, Attempt)> = None;
        let mut rejected = 0;
        for path in self.outbox.list() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                done.stopped = Some("out of time".into());
                break;
            }
            // Webhook deliveries are the webhook's (not even read here).
            if !crate::outbox::is_otlp_file(&path) {
                continue;
            }
            let Some(mut entry) = self.outbox.read(&path) else {
                continue;
            };
            let endpoint = match entry.kind {
                Kind::Webhook => continue,
                Kind::OtlpTraces => self.config.traces.as_ref(),
                Kind::OtlpMetrics => self.config.metrics.as_ref(),
            };
            // That signal is no longer exported: the entry waits for it.
            let Some(endpoint) = endpoint else { continue };
            let Some(protobuf) = entry
                .body
                .get("protobuf")
                .and_then(|v| v.as_str())
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            else {
                self.outbox.remove(&path);
                continue;
            };
            let attempt = send::send(endpoint, &protobuf);
            let outcome = attempt.outcome.clone();
            let detail = attempt.detail.clone();
            last = Some((entry.id.clone(), endpoint.url.value.clone(), attempt));
            match outcome {
                Outcome::Delivered => {
                    self.outbox.remove(&path);
                    done.delivered += 1;
                }
                Outcome::Drop | Outcome::Gone => {
                    self.outbox.remove(&path);
                    done.dropped += 1;
                    rejected += 1;
                }
                Outcome::Keep { .. } => {
                    entry.attempts += 1;
                    let _ = self.outbox.rewrite(&path, &entry);
                    done.stopped = Some(detail);
                    break;
                }
            }
        }
        // The state is written once per flush, not per export (each write
        // replaces a file: milliseconds on a busy disk).
        if let Some((id, url, attempt)) = &last {
            self.record(id, url, attempt, rejected);
        }
        done.remaining = self.waiting();
        if done.remaining == 0 {
            done.stopped = None;
        }
        done
    }

    /// Remembers a flush in the outbox's state: its last attempt, and how many
    /// exports the collector refused.
    fn record(&self, id: &str, url: &str, attempt: &Attempt, rejected: u64) {
        let outcome = match attempt.outcome {
            Outcome::Delivered => "delivered",
            Outcome::Keep { .. } => "kept",
            Outcome::Drop | Outcome::Gone => "dropped",
        };
        let _ = self.outbox.update_state(|s| {
            s.rejected += rejected;
            s.otlp_not_before = match attempt.outcome {
                Outcome::Keep {
                    retry_after: Some(wait),
                } => jiff::SignedDuration::try_from(wait)
                    .ok()
                    .and_then(|d| Timestamp::now().checked_add(d).ok()),
                _ => None,
            };
            s.last_otlp_export = Some(LastDelivery {
                at: Timestamp::now(),
                id: id.to_owned(),
                outcome: outcome.to_owned(),
                status: attempt.status,
                round_trip_ms: u64::try_from(attempt.round_trip.as_millis()).unwrap_or(u64::MAX),
                detail: if attempt.status.is_some() {
                    format!("{} ({})", attempt.detail, strip_credentials(url))
                } else {
                    attempt.detail.clone()
                },
            });
        });
    }
}

fn entry(kind: Kind, id: &str, protobuf: &[u8]) -> Entry {
    Entry {
        kind,
        id: id.to_owned(),
        created_at: Timestamp::now(),
        attempts: 0,
        body: serde_json::json!({
            "protobuf": base64::engine::general_purpose::STANDARD.encode(protobuf),
        }),
    }
}

/// The exporter during a run: the outbox's OTLP exports are retried on a thread
/// of their own from the run's start; [`OtlpSession::queue`] adds the finished
/// run, [`OtlpSession::wait`] waits a bounded time.
#[derive(Debug)]
pub struct OtlpSession {
    otlp: Otlp,
    worker: crate::worker::FlushWorker,
    /// The run's exports, synced to disk after the wait unless delivered.
    queued: Vec<std::path::PathBuf>,
}

impl OtlpSession {
    pub fn start(otlp: Otlp) -> Option<Self> {
        let sender = otlp.clone();
        let worker = crate::worker::FlushWorker::spawn("baton-otlp", move |run_queued| {
            if let Some(_lock) = sender.outbox.try_lock_otlp() {
                sender.flush_locked(None);
                if run_queued() {
                    sender.flush_locked(None);
                }
            }
        })?;
        Some(Self {
            otlp,
            worker,
            queued: Vec::new(),
        })
    }

    /// Queues the finished run's exports and lets the worker send them.
    pub fn queue(&mut self, input: Option<&TraceInput<'_>>) {
        if let Some(input) = input {
            for entry in self.otlp.run_entries(input) {
                if let Ok(path) = self.otlp.outbox.enqueue_unsynced(&entry) {
                    self.queued.push(path);
                }
            }
        }
        self.worker.run_queued();
    }

    /// Waits until `deadline` at most for the exports in flight; whether they
    /// all finished in time (what has not stays queued, synced to disk).
    pub fn wait(self, deadline: Instant) -> bool {
        let (outbox, queued) = (&self.otlp.outbox, &self.queued);
        self.worker
            .wait(deadline.saturating_duration_since(Instant::now()), || {
                let _ = outbox.sync_waiting(queued);
            })
    }
}

/// How long the end of a run waits, at most, when only OTLP is on.
pub const DEFAULT_WAIT: Duration = crate::config::DEFAULT_WAIT;
