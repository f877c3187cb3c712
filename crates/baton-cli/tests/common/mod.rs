//! A small builder for integration tests: a temporary project directory with files,
//! and the `baton` binary run inside it.

#![allow(dead_code)]

pub(crate) mod http;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

pub(crate) struct Project {
    dir: TempDir,
}

impl Project {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A project whose `baton.yaml` has the given text.
    pub(crate) fn with_pipeline(yaml: &str) -> Self {
        Self::new().file("baton.yaml", yaml)
    }

    pub(crate) fn file(self, name: &str, contents: impl AsRef<[u8]>) -> Self {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, contents).expect("write fixture");
        self
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.join(name)).unwrap_or_default()
    }

    /// `baton show latest --format json`: the latest run with its beats.
    pub(crate) fn latest_json(&self) -> serde_json::Value {
        let out = self
            .baton(&["show", "latest", "--format", "json"])
            .output()
            .expect("show");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    }

    /// `baton ARGS...` run in the project directory.
    pub(crate) fn baton(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("baton").expect("baton binary");
        cmd.current_dir(self.path())
            .args(args)
            .env_remove("GITHUB_STEP_SUMMARY")
            .env("NO_COLOR", "1");
        cmd
    }

    /// `baton ARGS` with none of the caller's telemetry settings (exporters, the
    /// queue's place, CI and trace context), for the exporter tests to set their own.
    pub(crate) fn baton_without_telemetry(&self, args: &[&str]) -> Command {
        let mut cmd = self.baton(args);
        for (var, _) in std::env::vars() {
            if var.starts_with("OTEL_") || var.starts_with("BATON_TELEMETRY") {
                cmd.env_remove(var);
            }
        }
        for var in [
            "BATON_QUEUE_DIR",
            "BATON_DIR",
            "GITHUB_ACTIONS",
            "CI",
            "TRACEPARENT",
            "TRACESTATE",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }
}

/// The repository root (for examples/ and tests/fixtures/).
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
