//! Sends finished runs off the machine: the telemetry webhook (source document
//! 004), with an outbox that loses nothing.
//!
//! - [`config`]: `BATON_TELEMETRY_*` from the environment and `.env`;
//! - [`payload`]: the JSON a run becomes (`docs/webhook-payload.schema.json`);
//! - [`sign`]: Standard Webhooks signatures;
//! - [`outbox`]: the deliveries waiting under `.baton/queue/`;
//! - [`deliver`]: one HTTP POST and what its answer means;
//! - [`otlp`]: the run as OpenTelemetry traces and metrics, over OTLP/HTTP,
//!   through the same outbox.
//!
//! The shadow rule: nothing here prints, and nothing here can change a run's
//! outcome. A run starts a [`Session`] (which retries the outbox on a thread of
//! its own while the beats run) and hands it the finished run's payload; it then
//! waits at most `BATON_TELEMETRY_WAIT` for deliveries in flight, and what has not
//! finished stays queued for the next run or `baton telemetry flush`.

pub mod config;
pub mod deliver;
pub mod otlp;
pub mod outbox;
pub mod payload;
pub mod sign;
mod worker;

use std::time::Instant;

use jiff::Timestamp;

pub use config::{ArtifactsMode, Config, Secret, Source, Sourced, mask, strip_credentials};
pub use deliver::{Attempt, Endpoint, Outcome};
pub use otlp::{Otlp, OtlpConfig, OtlpSession};
pub use outbox::{Entry, Kind, LastDelivery, Outbox, State};
pub use payload::{ContentInput, Identity, RunInput};

/// A configured webhook (its URL is set) and its outbox.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub config: Config,
    pub endpoint: Endpoint,
    pub outbox: Outbox,
}

/// Whether deliveries may be sent now, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    Active,
    /// Off since this URL answered 410, until the URL changes.
    Gone {
        since: Timestamp,
    },
}

/// What a flush did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flushed {
    pub delivered: usize,
    pub dropped: usize,
    /// Still queued afterwards.
    pub remaining: usize,
    /// Why it stopped before the outbox was empty.
    pub stopped: Option<String>,
}

impl Webhook {
    /// The webhook of `config`: None when no URL is set (then nothing is written
    /// and nothing is sent).
    pub fn new(config: Config) -> Option<Self> {
        let url = config.url()?.to_owned();
        let endpoint = Endpoint {
            url,
            key: config.key.as_ref().map(|k| k.value.clone()),
            secret: config.secret.as_ref().map(|s| s.value.clone()),
            timeout: deliver::TIMEOUT,
        };
        let outbox = Outbox::new(config.queue_dir.value.clone());
        Some(Self {
            config,
            endpoint,
            outbox,
        })
    }

    /// Whether it delivers: off after a 410 from this very URL.
    pub fn activity(&self) -> Activity {
        match self.outbox.state().disabled {
            Some(d) if d.url == strip_credentials(&self.endpoint.url) => {
                Activity::Gone { since: d.at }
            }
            _ => Activity::Active,
        }
    }

    /// The warning about a plain `http://` URL off the loopback, at most once a
    /// day (the day is remembered in the outbox's state).
    pub fn plain_http_warning(&self) -> Option<String> {
        if !config::plain_http_off_loopback(&self.endpoint.url) {
            return None;
        }
        let today = Timestamp::now().strftime("%Y-%m-%d").to_string();
        if self.outbox.state().plain_http_warned_on.as_deref() == Some(today.as_str()) {
            return None;
        }
        self.outbox
            .update_state(|s| s.plain_http_warned_on = Some(today))
            .ok()?;
        Some(format!(
            "{} sends run telemetry over plain http:// to {}; use https://",
            config::URL_VAR,
            strip_credentials(&self.endpoint.url)
        ))
    }

    /// Puts a finished run's payload in the outbox (written whole before any
    /// attempt to send it, and synced to disk).
    pub fn enqueue_run(&self, input: &RunInput<'_>) -> std::io::Result<()> {
        self.outbox.enqueue(&Self::run_entry(input)).map(|_| ())
    }

    fn run_entry(input: &RunInput<'_>) -> Entry {
        Entry {
            kind: outbox::Kind::Webhook,
            id: payload::delivery_id(&input.run.run_id, payload::RUN_FINISHED),
            created_at: Timestamp::now(),
            attempts: 0,
            body: payload::build(input),
        }
    }

    /// Delivers the outbox, oldest first, if no other process is delivering it;
    /// stops at the first delivery to keep (the endpoint is down or asked to
    /// wait), at a 410, or at `deadline`.
    pub fn flush(&self, deadline: Option<Instant>) -> Flushed {
        let Some(_lock) = self.outbox.try_lock_delivery() else {
            return Flushed {
                remaining: self.outbox.list().len(),
                stopped: Some("another baton is delivering the outbox".into()),
                ..Flushed::default()
            };
        };
        self.flush_locked(deadline)
    }

    fn flush_locked(&self, deadline: Option<Instant>) -> Flushed {
        let mut done = Flushed::default();
        let stop = |mut done: Flushed, why: String, outbox: &Outbox| {
            done.remaining = outbox.list().len();
            if done.remaining > 0 {
                done.stopped = Some(why);
            }
            done
        };
        if let Activity::Gone { since } = self.activity() {
            return stop(
                done,
                format!("the endpoint answered 410 Gone at {since}: off until the URL changes"),
                &self.outbox,
            );
        }
        if let Some(at) = self.outbox.state().not_before
            && at > Timestamp::now()
        {
            return stop(
                done,
                format!("the endpoint asked to wait until {at} (Retry-After)"),
                &self.outbox,
            );
        }
        for path in self.outbox.list() {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return stop(done, "out of time".into(), &self.outbox);
            }
            // OTLP exports are the OTLP exporter's (not even read here).
            if outbox::is_otlp_file(&path) {
                continue;
            }
            let Some(mut entry) = self.outbox.read(&path) else {
                continue;
            };
            // OTLP exports are the OTLP exporter's to deliver.
            if !entry.kind.is_webhook() {
                continue;
            }
            let body = serde_json::to_vec(&entry.body).unwrap_or_default();
            let attempt = deliver::send(&self.endpoint, &entry.id, &body);
            self.record(&entry.id, &attempt);
            match attempt.outcome {
                Outcome::Delivered => {
                    self.outbox.remove(&path);
                    done.delivered += 1;
                }
                Outcome::Drop => {
                    self.outbox.remove(&path);
                    done.dropped += 1;
                }
                Outcome::Keep { .. } => {
                    entry.attempts += 1;
                    let _ = self.outbox.rewrite(&path, &entry);
                    return stop(done, attempt.detail, &self.outbox);
                }
                Outcome::Gone => {
                    return stop(done, "the endpoint answered 410 Gone".into(), &self.outbox);
                }
            }
        }
        done.remaining = self.outbox.list().len();
        done
    }

    /// Remembers an attempt in the outbox's state.
    fn record(&self, id: &str, attempt: &Attempt) {
        let now = Timestamp::now();
        let url = strip_credentials(&self.endpoint.url);
        let _ = self.outbox.update_state(|s| {
            let outcome = match &attempt.outcome {
                Outcome::Delivered => {
                    s.not_before = None;
                    "delivered"
                }
                Outcome::Drop => {
                    s.rejected += 1;
                    "dropped"
                }
                Outcome::Keep { retry_after } => {
                    s.not_before = retry_after
                        .and_then(|d| jiff::SignedDuration::try_from(d).ok())
                        .and_then(|d| now.checked_add(d).ok());
                    "kept"
                }
                Outcome::Gone => {
                    s.disabled = Some(outbox::Disabled { url, at: now });
                    "disabled"
                }
            };
            s.last_delivery = Some(LastDelivery {
                at: now,
                id: id.to_owned(),
                outcome: outcome.to_owned(),
                status: attempt.status,
                round_trip_ms: u64::try_from(attempt.round_trip.as_millis()).unwrap_or(u64::MAX),
                detail: attempt.detail.clone(),
            });
        });
    }

    /// Sends a synthetic ping (not through the outbox). A 2xx turns a webhook
    /// that a 410 had turned off back on.
    pub fn ping(&self, pipeline_id: &str, host: &str) -> Attempt {
        let id = format!("ping_{}", uuid::Uuid::now_v7().simple());
        let body = payload::ping(&id, pipeline_id, host);
        let body = serde_json::to_vec(&body).unwrap_or_default();
        let attempt = deliver::send(&self.endpoint, &id, &body);
        if attempt.outcome == Outcome::Delivered {
            let _ = self.outbox.update_state(|s| s.disabled = None);
        }
        attempt
    }
}

/// The webhook during a run: the outbox is retried on a thread of its own from
/// the run's start; [`Session::finish`] queues the run and waits a bounded time.
#[derive(Debug)]
pub struct Session {
    webhook: Webhook,
    worker: worker::FlushWorker,
}

impl Session {
    /// Starts retrying the outbox now, unless the webhook is off (410).
    pub fn start(webhook: Webhook) -> Option<Self> {
        if webhook.activity() != Activity::Active {
            return None;
        }
        let sender = webhook.clone();
        let worker = worker::FlushWorker::spawn("baton-webhook", move |run_queued| {
            // One deliverer per outbox; another process's will send ours.
            if let Some(_lock) = sender.outbox.try_lock_delivery() {
                sender.flush_locked(None);
                if run_queued() {
                    sender.flush_locked(None);
                }
            }
        })?;
        Some(Self { webhook, worker })
    }

    /// Queues the finished run, then waits until `deadline` at most (the end of
    /// the configured wait, counted from the end of the run, shared with OTLP) for
    /// the deliveries in flight; the run's delivery, unless delivered by then, is
    /// synced to disk. Returns whether they all finished in time.
    pub fn finish(self, input: Option<&RunInput<'_>>, deadline: Instant) -> bool {
        let queued = input.and_then(|input| {
            self.webhook
                .outbox
                .enqueue_unsynced(&Webhook::run_entry(input))
                .ok()
        });
        let outbox = &self.webhook.outbox;
        self.worker
            .wait(deadline.saturating_duration_since(Instant::now()), || {
                if let Some(path) = queued {
                    let _ = outbox.sync_waiting(&[path]);
                }
            })
    }
}
