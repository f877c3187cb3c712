//! The outbox: every delivery is a file here before it is sent, and is removed
//! only once the endpoint answered 2xx (or refused it for good).
//!
//! ```text
//! queue/
//!   <created, ns, 20 digits>-<webhook-id>.json   one delivery (oldest first by name)
//!   state.json                                   drops, last delivery, 410, warnings
//!   deliver.lock                                 held by whoever is delivering
//!   state.lock                                   held while state.json changes
//! ```
//!
//! Files are written whole (to a temporary name, then renamed), so a reader never
//! sees half a delivery. A delivery is synced to disk unless it is delivered
//! before baton exits (see [`Outbox::enqueue_unsynced`]). At most [`CAP`] deliveries are kept: the oldest go first,
//! and are counted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The most deliveries the outbox holds.
pub const CAP: usize = 50;

const STATE_FILE: &str = "state.json";

/// One delivery waiting in the outbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// What it is and where it goes; absent in entries written before OTLP
    /// (webhook deliveries).
    #[serde(default, skip_serializing_if = "Kind::is_webhook")]
    pub kind: Kind,
    /// `webhook-id` (an OTLP export: `otlp_<signal>_<run id>`).
    pub id: String,
    pub created_at: Timestamp,
    pub attempts: u32,
    pub body: serde_json::Value,
}

/// What an outbox entry is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A webhook delivery: `body` is the JSON payload.
    #[default]
    Webhook,
    /// An OTLP trace export: `body` is `{"protobuf": <base64>}`.
    OtlpTraces,
    /// An OTLP metrics export: `body` is `{"protobuf": <base64>}`.
    OtlpMetrics,
}

impl Kind {
    pub fn is_webhook(&self) -> bool {
        *self == Self::Webhook
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::OtlpTraces => "otlp_traces",
            Self::OtlpMetrics => "otlp_metrics",
        }
    }
}

/// What the outbox remembers besides its deliveries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct State {
    /// Deliveries dropped to keep the outbox at [`CAP`].
    pub drops: u64,
    /// Deliveries the endpoint refused (another 4xx): dropped, not retried.
    pub rejected: u64,
    pub last_delivery: Option<LastDelivery>,
    /// Set by a 410: the webhook is off until its URL changes.
    pub disabled: Option<Disabled>,
    /// The endpoint asked (Retry-After) not to be called before this.
    pub not_before: Option<Timestamp>,
    /// The day (`YYYY-MM-DD`) the plain-`http://` warning was last given.
    pub plain_http_warned_on: Option<String>,
    /// The last OTLP export attempt.
    pub last_otlp_export: Option<LastDelivery>,
    /// The OTLP collector asked (Retry-After) not to be called before this.
    pub otlp_not_before: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastDelivery {
    pub at: Timestamp,
    pub id: String,
    /// `delivered`, `kept` (to be retried), `dropped` (refused) or `disabled`.
    pub outcome: String,
    pub status: Option<u16>,
    pub round_trip_ms: u64,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disabled {
    /// The URL that answered 410 (without credentials).
    pub url: String,
    pub at: Timestamp,
}

/// An outbox directory.
#[derive(Debug, Clone)]
pub struct Outbox {
    pub dir: PathBuf,
}

/// Held while this process delivers; dropping it lets another deliver.
#[derive(Debug)]
pub struct DeliveryLock {
    _file: File,
}

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The deliveries waiting, oldest first (no directory: none).
    pub fn list(&self) -> Vec<PathBuf> {
        let Ok(read) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = read
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| is_entry(p))
            .collect();
        files.sort();
        files
    }

    /// Puts a delivery in the outbox (replacing one with the same id), then drops
    /// the oldest beyond [`CAP`], synced to disk. Returns its file.
    pub fn enqueue(&self, entry: &Entry) -> io::Result<PathBuf> {
        self.put(entry, true)
    }

    /// [`Outbox::enqueue`] without syncing: for a delivery about to be sent, whose
    /// sender calls [`Outbox::sync_waiting`] before it exits. One sent at once
    /// is never synced (on a busy disk a sync costs tens of milliseconds); one
    /// that is not is synced before baton exits, within the end-of-run wait. Until then it is in the page
    /// cache: it survives baton crashing, not the machine losing power in those
    /// seconds (the history's last commits would not survive that either:
    /// `baton-sqlite` does not sync each commit).
    pub fn enqueue_unsynced(&self, entry: &Entry) -> io::Result<PathBuf> {
        self.put(entry, false)
    }

    /// Syncs to disk those of `paths` still in the outbox (not delivered), and the
    /// directory that names them.
    pub fn sync_waiting(&self, paths: &[PathBuf]) -> io::Result<()> {
        let mut synced = false;
        for path in paths {
            // Gone: delivered or refused, nothing to keep.
            if let Ok(file) = File::open(path) {
                file.sync_all()?;
                synced = true;
            }
        }
        if synced {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    fn put(&self, entry: &Entry, durable: bool) -> io::Result<PathBuf> {
        fs::create_dir_all(&self.dir)?;
        for old in self.list() {
            if entry_id(&old).as_deref() == Some(entry.id.as_str()) {
                let _ = fs::remove_file(old);
            }
        }
        let nanos = entry.created_at.as_nanosecond().max(0);
        let name = format!("{nanos:020}-{}.json", safe(&entry.id));
        let path = self.dir.join(name);
        self.write_atomic(
            &path,
            &serde_json::to_vec(entry).map_err(io::Error::other)?,
            durable,
        )?;
        let files = self.list();
        if files.len() > CAP {
            let excess = &files[..files.len() - CAP];
            let mut dropped = 0;
            for old in excess {
                if fs::remove_file(old).is_ok() {
                    dropped += 1;
                }
            }
            self.update_state(|s| s.drops += dropped)?;
        }
        Ok(path)
    }

    /// Reads one delivery (None: gone or unreadable; an unreadable one is removed).
    pub fn read(&self, path: &Path) -> Option<Entry> {
        let data = fs::read(path).ok()?;
        match serde_json::from_slice(&data) {
            Ok(entry) => Some(entry),
            Err(_) => {
                let _ = fs::remove_file(path);
                None
            }
        }
    }

    /// Writes a delivery that is kept back (its attempts counted), synced to disk.
    pub fn rewrite(&self, path: &Path, entry: &Entry) -> io::Result<()> {
        if !path.exists() {
            return Ok(());
        }
        self.write_atomic(
            path,
            &serde_json::to_vec(entry).map_err(io::Error::other)?,
            true,
        )
    }

    pub fn remove(&self, path: &Path) {
        let _ = fs::remove_file(path);
    }

    /// The webhook's delivery lock, if no other process holds it.
    pub fn try_lock_delivery(&self) -> Option<DeliveryLock> {
        self.try_lock_named("deliver.lock")
    }

    /// The OTLP exporter's delivery lock (its own: the webhook and OTLP deliver
    /// side by side), if no other process holds it.
    pub fn try_lock_otlp(&self) -> Option<DeliveryLock> {
        self.try_lock_named("otlp.lock")
    }

    fn try_lock_named(&self, name: &str) -> Option<DeliveryLock> {
        fs::create_dir_all(&self.dir).ok()?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(name))
            .ok()?;
        file.try_lock().ok()?;
        Some(DeliveryLock { _file: file })
    }

    /// The outbox's state (none yet: the default).
    pub fn state(&self) -> State {
        fs::read(self.dir.join(STATE_FILE))
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_default()
    }

    /// Changes the state under its lock.
    pub fn update_state(&self, change: impl FnOnce(&mut State)) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join("state.lock"))?;
        lock.lock()?;
        let mut state = self.state();
        change(&mut state);
        let data = serde_json::to_vec_pretty(&state).map_err(io::Error::other)?;
        let written = self.write_atomic(&self.dir.join(STATE_FILE), &data, false);
        let _ = lock.unlock();
        written
    }

    /// Writes `path` whole: a temporary file renamed into place; `durable`: the
    /// file synced to disk first and the directory after (a delivery kept
    /// survives a power cut; the state need not).
    fn write_atomic(&self, path: &Path, data: &[u8], durable: bool) -> io::Result<()> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("entry");
        let tmp = self.dir.join(format!(".tmp-{}-{name}", std::process::id()));
        let mut file = File::create(&tmp)?;
        file.write_all(data)?;
        if durable {
            file.sync_all()?;
        }
        drop(file);
        fs::rename(&tmp, path).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })?;
        if durable {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

/// Syncs a directory's entries (a rename into it) to disk.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether an entry's file holds an OTLP export (its id, in the name, says).
pub fn is_otlp_file(path: &Path) -> bool {
    entry_id(path).is_some_and(|id| id.starts_with("otlp_"))
}

fn is_entry(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n.ends_with(".json") && n.as_bytes().first().is_some_and(u8::is_ascii_digit)
    })
}

/// The webhook id in an entry's file name.
fn entry_id(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_suffix(".json")?;
    Some(rest.split_once('-')?.1.to_owned())
}

/// An id as part of a file name.
fn safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, at: i64) -> Entry {
        Entry {
            kind: Kind::Webhook,
            id: id.into(),
            created_at: Timestamp::from_second(at).expect("ts"),
            attempts: 0,
            body: serde_json::json!({"id": id}),
        }
    }

    #[test]
    fn the_cap_drops_the_oldest_and_counts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::new(dir.path().join("q"));
        for i in 0..(CAP as i64 + 3) {
            outbox
                .enqueue(&entry(&format!("run_{i}"), 1_700_000_000 + i))
                .expect("enqueue");
        }
        let files = outbox.list();
        assert_eq!(files.len(), CAP);
        assert_eq!(outbox.read(&files[0]).expect("read").id, "run_3");
        assert_eq!(outbox.state().drops, 3);
    }

    #[test]
    fn an_entry_without_a_kind_is_a_webhook_delivery() {
        let old = r#"{"id":"run_x","createdAt":"2026-01-01T00:00:00Z","attempts":1,"body":{}}"#;
        let e: Entry = serde_json::from_str(old).expect("old entry");
        assert_eq!(e.kind, Kind::Webhook);
        let mut otlp = e.clone();
        otlp.kind = Kind::OtlpTraces;
        let text = serde_json::to_string(&otlp).expect("json");
        assert!(text.contains(r#""kind":"otlp_traces""#), "{text}");
        assert!(!serde_json::to_string(&e).expect("json").contains("kind"));
    }

    #[test]
    fn an_unsynced_delivery_is_whole_and_syncing_skips_the_delivered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::new(dir.path().join("q"));
        let kept = outbox
            .enqueue_unsynced(&entry("run_a", 1_700_000_000))
            .expect("enqueue");
        let sent = outbox
            .enqueue_unsynced(&entry("otlp_traces_b", 1_700_000_001))
            .expect("enqueue");
        assert!(is_otlp_file(&sent) && !is_otlp_file(&kept));
        outbox.remove(&sent);
        outbox
            .sync_waiting(&[kept.clone(), sent])
            .expect("a delivered one is skipped");
        assert_eq!(outbox.list(), std::slice::from_ref(&kept));
        assert_eq!(outbox.read(&kept).expect("read").id, "run_a");
    }

    #[test]
    fn the_same_id_replaces() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::new(dir.path());
        outbox
            .enqueue(&entry("run_a", 1_700_000_000))
            .expect("enqueue");
        outbox
            .enqueue(&entry("run_a", 1_700_000_001))
            .expect("enqueue");
        assert_eq!(outbox.list().len(), 1);
    }
}
