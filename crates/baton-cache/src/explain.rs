//! Why a key changed: [`explain`] compares two sets of [`KeyComponents`] and lists
//! what differs: command, shell, environment variables and `key_env` (by name,
//! never by value), declared outputs, and input files added, removed or changed
//! (by path).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::key::{EnvValue, KeyComponents};

/// How many paths or names a one-line summary lists before "+N more".
const SUMMARY_LIST: usize = 3;

/// Names added, removed or changed between two maps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl Diff {
    fn of<V: PartialEq>(before: &BTreeMap<String, V>, after: &BTreeMap<String, V>) -> Self {
        let mut diff = Self::default();
        for (name, value) in after {
            match before.get(name) {
                None => diff.added.push(name.clone()),
                Some(old) if old != value => diff.changed.push(name.clone()),
                Some(_) => {}
            }
        }
        diff.removed = before
            .keys()
            .filter(|name| !after.contains_key(*name))
            .cloned()
            .collect();
        diff
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// Every name concerned, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .added
            .iter()
            .chain(&self.removed)
            .chain(&self.changed)
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names
    }
}

/// What differs between two keys' components.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub format_version_changed: bool,
    pub command_changed: bool,
    pub shell_changed: bool,
    /// The beat's `env` and `secrets`, by name.
    pub env: Diff,
    /// `cache.key_env`, by name.
    pub key_env: Diff,
    pub outputs_changed: bool,
    /// Input files by path.
    pub inputs: Diff,
}

/// What changed from `previous` to `current`.
pub fn explain(previous: &KeyComponents, current: &KeyComponents) -> Explanation {
    Explanation {
        format_version_changed: previous.format_version != current.format_version,
        command_changed: previous.command != current.command,
        shell_changed: previous.shell != current.shell,
        env: Diff::of::<EnvValue>(&previous.env, &current.env),
        key_env: Diff::of::<EnvValue>(&previous.key_env, &current.key_env),
        outputs_changed: previous.outputs != current.outputs,
        inputs: Diff::of(&previous.inputs, &current.inputs),
    }
}

impl Explanation {
    /// Nothing differs (the entry was evicted, expired or dropped instead).
    pub fn is_empty(&self) -> bool {
        !self.format_version_changed
            && !self.command_changed
            && !self.shell_changed
            && self.env.is_empty()
            && self.key_env.is_empty()
            && !self.outputs_changed
            && self.inputs.is_empty()
    }

    /// One line: `2 input files changed (src/a.rs, src/b.rs), env CC changed`.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.format_version_changed {
            parts.push("cache format changed".into());
        }
        if self.command_changed {
            parts.push("command changed".into());
        }
        if self.shell_changed {
            parts.push("shell changed".into());
        }
        for (paths, what) in [
            (&self.inputs.changed, "changed"),
            (&self.inputs.added, "added"),
            (&self.inputs.removed, "removed"),
        ] {
            if !paths.is_empty() {
                let files = if paths.len() == 1 { "file" } else { "files" };
                parts.push(format!(
                    "{} input {files} {what} ({})",
                    paths.len(),
                    short_list(paths)
                ));
            }
        }
        for (diff, label) in [(&self.env, "env"), (&self.key_env, "key_env")] {
            for (names, what) in [
                (&diff.changed, "changed"),
                (&diff.added, "added"),
                (&diff.removed, "removed"),
            ] {
                if !names.is_empty() {
                    parts.push(format!("{label} {} {what}", short_list(names)));
                }
            }
        }
        if self.outputs_changed {
            parts.push("outputs changed".into());
        }
        if parts.is_empty() {
            "no key component changed".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Multi-line, every path and name: what `baton cache explain` prints.
impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "no key component changed");
        }
        if self.format_version_changed {
            writeln!(f, "cache format changed")?;
        }
        if self.command_changed {
            writeln!(f, "command changed")?;
        }
        if self.shell_changed {
            writeln!(f, "shell changed")?;
        }
        for (diff, label) in [
            (&self.inputs, "input"),
            (&self.env, "env"),
            (&self.key_env, "key_env"),
        ] {
            for (names, what) in [
                (&diff.added, "added"),
                (&diff.removed, "removed"),
                (&diff.changed, "changed"),
            ] {
                for name in names {
                    writeln!(f, "{label} {what}: {name}")?;
                }
            }
        }
        if self.outputs_changed {
            writeln!(f, "outputs changed")?;
        }
        Ok(())
    }
}

fn short_list(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(SUMMARY_LIST)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SUMMARY_LIST {
        text.push_str(&format!(", +{} more", items.len() - SUMMARY_LIST));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{CACHE_FORMAT_VERSION, ShellSpec};

    fn components() -> KeyComponents {
        KeyComponents {
            format_version: CACHE_FORMAT_VERSION,
            command: "make".into(),
            shell: ShellSpec {
                program: "sh".into(),
                args: vec!["-c".into()],
            },
            env: [
                ("CC".to_owned(), EnvValue::Value("gcc".into())),
                ("TOKEN".to_owned(), EnvValue::Secret),
            ]
            .into(),
            key_env: [("HOME".to_owned(), EnvValue::Value("/h".into()))].into(),
            outputs: vec!["dist/**".into()],
            inputs: [
                ("src/a.rs".to_owned(), "1".to_owned()),
                ("src/b.rs".to_owned(), "2".to_owned()),
                ("src/c.rs".to_owned(), "3".to_owned()),
            ]
            .into(),
        }
    }

    #[test]
    fn lists_files_and_env_names_never_values() {
        let before = components();
        let mut after = components();
        after.inputs.insert("src/a.rs".into(), "changed".into());
        after.inputs.insert("src/b.rs".into(), "changed".into());
        after.inputs.remove("src/c.rs");
        after.inputs.insert("src/d.rs".into(), "4".into());
        after
            .env
            .insert("CC".into(), EnvValue::Value("clang-secretish".into()));
        let e = explain(&before, &after);
        assert_eq!(e.inputs.changed, ["src/a.rs", "src/b.rs"]);
        assert_eq!(e.inputs.added, ["src/d.rs"]);
        assert_eq!(e.inputs.removed, ["src/c.rs"]);
        assert_eq!(e.env.changed, ["CC"]);
        assert!(!e.command_changed && !e.shell_changed && !e.outputs_changed);
        assert_eq!(
            e.summary(),
            "2 input files changed (src/a.rs, src/b.rs), 1 input file added (src/d.rs), \
             1 input file removed (src/c.rs), env CC changed"
        );
        let long = e.to_string();
        assert!(long.contains("input changed: src/a.rs\n"), "{long}");
        assert!(long.contains("env changed: CC\n"), "{long}");
        assert!(!long.contains("clang") && !e.summary().contains("clang"));
    }

    #[test]
    fn command_shell_outputs_key_env_and_nothing() {
        let before = components();
        assert!(explain(&before, &before).is_empty());
        assert_eq!(
            explain(&before, &before).summary(),
            "no key component changed"
        );
        let mut after = components();
        after.command = "make all".into();
        after.shell.args.push("-e".into());
        after.outputs.push("out/**".into());
        after.key_env.insert("HOME".into(), EnvValue::Unset);
        after.env.remove("TOKEN");
        let e = explain(&before, &after);
        assert_eq!(
            e.summary(),
            "command changed, shell changed, env TOKEN removed, key_env HOME changed, outputs changed"
        );
    }

    #[test]
    fn long_lists_are_shortened() {
        let before = components();
        let mut after = components();
        for i in 0..5 {
            after.inputs.insert(format!("new/{i}"), "x".into());
        }
        assert_eq!(
            explain(&before, &after).summary(),
            "5 input files added (new/0, new/1, new/2, +2 more)"
        );
    }
}
