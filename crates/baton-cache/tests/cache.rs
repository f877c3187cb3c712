//! The cache end to end on real files: keys (stability, sensitivity, secrets,
//! gitignore), the stat cache, store and restore, ttl, corruption, concurrent
//! stores (threads and processes), explanations, prune and clear.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use baton_cache::{
    Cache, CacheError, ComputedKey, EntryLog, KeySpec, Lookup, ProducedBy, Published, ShellSpec,
    explain,
};

/// Longer than the stat cache's racy margin: files written before it are trusted.
const SETTLE: Duration = Duration::from_millis(120);

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let fixture = Self {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        fs::create_dir(fixture.root().join(".git")).expect("a git repository");
        fixture
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn state(&self) -> PathBuf {
        self.root().join(".baton")
    }

    fn cache(&self) -> Cache {
        Cache::open(&self.state()).expect("cache opens")
    }

    fn write(&self, rel: &str, content: &str) {
        let path = self.root().join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, content).expect("write");
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.root().join(rel)).expect("read")
    }

    fn spec(&self) -> KeySpec {
        spec_for(self.root())
    }

    /// Sources and outputs of a typical beat.
    fn project(&self) {
        self.write("src/a.rs", "fn a() {}");
        self.write("src/b.rs", "fn b() {}");
        self.write("Cargo.lock", "lock");
        self.write("dist/app", "binary");
        self.write("dist/sub/lib.js", "js");
        fs::set_permissions(
            self.root().join("dist/app"),
            fs::Permissions::from_mode(0o755),
        )
        .expect("chmod");
    }

    /// The project written, its cache, its spec and key, and an entry stored for them.
    fn stored(&self) -> (Cache, KeySpec, ComputedKey) {
        self.project();
        let cache = self.cache();
        let spec = self.spec();
        let k = key(&cache, &spec);
        cache.store(&spec, &k, None, false).expect("stores");
        (cache, spec, k)
    }

    fn log(&self, text: &str) -> PathBuf {
        let path = self.root().join("build.log");
        fs::write(&path, text).expect("write log");
        path
    }
}

fn spec_for(root: &Path) -> KeySpec {
    KeySpec {
        pipeline_id: "pipe".into(),
        beat: "build".into(),
        root: root.to_owned(),
        command: "make".into(),
        shell: ShellSpec {
            program: "sh".into(),
            args: vec!["-c".into()],
        },
        env: BTreeMap::from([("MODE".into(), "release".into())]),
        secrets: vec!["TOKEN".into()],
        key_env: BTreeMap::from([("CC".into(), Some("gcc".into()))]),
        inputs: vec!["src/**".into(), "Cargo.lock".into()],
        outputs: vec!["dist/**".into()],
        ttl: None,
    }
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn key(cache: &Cache, spec: &KeySpec) -> ComputedKey {
    cache.compute_key(spec).expect("key")
}

fn hit(lookup: Lookup) -> baton_cache::Hit {
    match lookup {
        Lookup::Hit(hit) => hit,
        other => panic!("expected a hit, got {other:?}"),
    }
}

/// One way of changing a spec.
type Change = fn(&mut KeySpec);

#[test]
fn keys_are_stable_and_every_component_changes_them() {
    let f = Fixture::new();
    f.project();
    let cache = f.cache();
    let base = key(&cache, &f.spec());
    assert_eq!(base.key.len(), 64);
    assert_eq!(
        key(&f.cache(), &f.spec()).key,
        base.key,
        "stable across handles"
    );
    assert_eq!(
        base.components.inputs.keys().collect::<Vec<_>>(),
        ["Cargo.lock", "src/a.rs", "src/b.rs"]
    );

    let variants: Vec<(&str, Change)> = vec![
        ("command", |s| s.command = "make all".into()),
        ("shell program", |s| s.shell.program = "bash".into()),
        ("shell args", |s| s.shell.args.insert(0, "-e".into())),
        ("env value", |s| {
            drop(s.env.insert("MODE".into(), "debug".into()))
        }),
        ("env added", |s| {
            drop(s.env.insert("NEW".into(), "1".into()))
        }),
        ("secret name", |s| s.secrets.push("OTHER".into())),
        ("key_env value", |s| {
            drop(s.key_env.insert("CC".into(), Some("clang".into())))
        }),
        ("key_env unset", |s| {
            drop(s.key_env.insert("CC".into(), None))
        }),
        ("outputs", |s| s.outputs.push("out/**".into())),
        ("input globs", |s| s.inputs.push("dist/**".into())),
    ];
    for (what, change) in variants {
        let mut spec = f.spec();
        change(&mut spec);
        assert_ne!(key(&cache, &spec).key, base.key, "{what} changes the key");
    }

    f.write("src/a.rs", "fn a() { changed }");
    assert_ne!(key(&cache, &f.spec()).key, base.key, "content");
    f.write("src/a.rs", "fn a() {}");
    assert_eq!(key(&cache, &f.spec()).key, base.key, "content back");
    f.write("src/c.rs", "new");
    assert_ne!(key(&cache, &f.spec()).key, base.key, "file added");
    fs::remove_file(f.root().join("src/c.rs")).expect("rm");
    fs::remove_file(f.root().join("src/b.rs")).expect("rm");
    assert_ne!(key(&cache, &f.spec()).key, base.key, "file removed");

    let mut other_version = base.components.clone();
    other_version.format_version += 1;
    assert_ne!(
        other_version.key().expect("key"),
        base.key,
        "format version"
    );
}

#[test]
fn secret_values_never_enter_a_key() {
    let f = Fixture::new();
    f.project();
    let cache = f.cache();
    let mut spec = f.spec();
    // A secret also set in the beat's env, and named in key_env.
    spec.env.insert("TOKEN".into(), "hunter2-in-env".into());
    spec.key_env
        .insert("TOKEN".into(), Some("hunter2-in-environment".into()));
    let with_secret = key(&cache, &spec);
    let json = with_secret.components.to_json().expect("json");
    assert!(!json.contains("hunter2"), "{json}");
    spec.env.insert("TOKEN".into(), "another-value".into());
    spec.key_env
        .insert("TOKEN".into(), Some("another-value".into()));
    assert_eq!(key(&cache, &spec).key, with_secret.key);

    // Stored and recorded: still nowhere on disk.
    cache
        .store(&spec, &with_secret, None, false)
        .expect("stores");
    cache
        .record_run_key("run-1", &spec, &with_secret)
        .expect("records");
    for path in walk(&f.state()) {
        let bytes = fs::read(&path).expect("read");
        assert!(
            !String::from_utf8_lossy(&bytes).contains("hunter2"),
            "{} holds the secret",
            path.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("list").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn git_ignored_inputs_do_not_count_unless_named() {
    let f = Fixture::new();
    f.project();
    f.write(".gitignore", "*.tmp\n");
    f.write("src/scratch.tmp", "1");
    f.write("config.tmp", "1");
    let cache = f.cache();
    let mut spec = f.spec();
    spec.inputs.push("config.tmp".into());
    let before = key(&cache, &spec);
    assert!(!before.components.inputs.contains_key("src/scratch.tmp"));
    assert!(before.components.inputs.contains_key("config.tmp"));
    f.write("src/scratch.tmp", "2");
    assert_eq!(key(&cache, &spec).key, before.key, "ignored file changed");
    f.write("config.tmp", "2");
    assert_ne!(key(&cache, &spec).key, before.key, "named file changed");
}

#[test]
fn unchanged_files_are_not_hashed_again_even_by_another_process() {
    let f = Fixture::new();
    f.project();
    thread::sleep(SETTLE);
    let cache = f.cache();
    let first = key(&cache, &f.spec());
    assert_eq!(cache.files_hashed(), 3);
    assert_eq!(key(&cache, &f.spec()).key, first.key);
    assert_eq!(cache.files_hashed(), 3, "nothing hashed the second time");

    // A new handle (another run) reads the stat cache from index.db.
    let again = f.cache();
    assert_eq!(key(&again, &f.spec()).key, first.key);
    assert_eq!(again.files_hashed(), 0);

    f.write("src/b.rs", "fn b() { changed }");
    let changed = key(&again, &f.spec());
    assert_ne!(changed.key, first.key);
    assert_eq!(again.files_hashed(), 1, "only the changed file");
}

#[test]
fn a_file_changed_right_after_hashing_is_hashed_again() {
    let f = Fixture::new();
    f.project();
    let cache = f.cache();
    // Written just now: too fresh to trust by stat alone.
    let first = key(&cache, &f.spec());
    assert_eq!(cache.files_hashed(), 3);
    // Same size, possibly the same mtime tick.
    f.write("src/a.rs", "fn x() {}");
    let second = key(&cache, &f.spec());
    assert_ne!(second.key, first.key);
}

#[test]
fn a_hit_restores_outputs_and_the_log() {
    let f = Fixture::new();
    f.project();
    let cache = f.cache();
    let spec = f.spec();
    let k = key(&cache, &spec);
    assert!(matches!(
        cache.lookup(&k.key, None).expect("lookup"),
        Lookup::Miss
    ));
    let log = f.log("compiling\ndone\n");
    let stored = cache.store(&spec, &k, Some(&log), false).expect("stores");
    assert_eq!(stored.published, Published::Stored);
    let paths: Vec<&str> = stored.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(paths, ["dist/app", "dist/sub/lib.js"]);

    fs::remove_dir_all(f.root().join("dist")).expect("rm outputs");
    let found = hit(cache.lookup(&k.key, None).expect("lookup"));
    let restored = cache.restore(&found, f.root()).expect("restores");
    assert_eq!(restored.files_restored, 2);
    assert_eq!(restored.artifacts, stored.artifacts);
    assert_eq!(f.read("dist/app"), "binary");
    assert_eq!(f.read("dist/sub/lib.js"), "js");
    let mode = fs::metadata(f.root().join("dist/app"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "mode kept");
    assert_eq!(
        fs::read_to_string(&restored.log).expect("log"),
        "compiling\ndone\n"
    );

    // A restored file is a copy: changing it leaves the cache intact.
    f.write("dist/app", "tampered");
    let again = cache
        .restore(&hit(cache.lookup(&k.key, None).expect("lookup")), f.root())
        .expect("restores");
    assert_eq!(again.files_restored, 1, "only the changed file");
    assert_eq!(again.files_up_to_date, 1);
    assert_eq!(f.read("dist/app"), "binary");
}

#[test]
fn an_entry_remembers_the_run_that_stored_it_and_its_stderr_lines() {
    let f = Fixture::new();
    f.project();
    let cache = f.cache();
    let spec = f.spec();
    let k = key(&cache, &spec);
    let log = f.log("out\nerr\n");
    let by = ProducedBy {
        run_id: "0190".into(),
        run_label: "build-20261203-101500".into(),
    };
    let entry_log = EntryLog {
        path: Some(&log),
        stderr: &[[4, 8]],
        produced_by: Some(&by),
    };
    cache
        .store_entry(&spec, &k, &entry_log, false)
        .expect("stores");
    let restored = cache
        .restore(&hit(cache.lookup(&k.key, None).expect("lookup")), f.root())
        .expect("restores");
    assert_eq!(restored.produced_by, Some(by));
    assert_eq!(restored.log_stderr, [[4, 8]]);

    // An entry stored before baton kept these still restores, without them.
    let manifest = f
        .state()
        .join("cache/entries")
        .join(&k.key)
        .join("manifest.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&fs::read(&manifest).expect("read")).expect("json");
    let head = json.as_object_mut().expect("an object");
    head.remove("produced_by").expect("stored with its run");
    head["log"]
        .as_object_mut()
        .expect("log")
        .remove("stderr")
        .expect("stored with its stderr ranges");
    fs::write(&manifest, serde_json::to_vec(&json).expect("json")).expect("write");
    let restored = cache
        .restore(&hit(cache.lookup(&k.key, None).expect("lookup")), f.root())
        .expect("an older entry restores");
    assert_eq!(restored.produced_by, None);
    assert!(restored.log_stderr.is_empty());
}

#[test]
fn entries_older_than_the_ttl_expire_and_are_replaced() {
    let f = Fixture::new();
    let (cache, spec, k) = f.stored();
    let first = hit(cache
        .lookup(&k.key, Some(Duration::from_secs(3600)))
        .expect("lookup"));
    thread::sleep(Duration::from_millis(5));
    match cache
        .lookup(&k.key, Some(Duration::from_millis(1)))
        .expect("lookup")
    {
        Lookup::Expired { age } => assert!(age >= Duration::from_millis(1)),
        other => panic!("expected expired, got {other:?}"),
    }
    // Without replace the old entry stays; with it, a new one takes its place.
    let kept = cache.store(&spec, &k, None, false).expect("stores");
    assert_eq!(kept.published, Published::AlreadyPresent);
    let replaced = cache.store(&spec, &k, None, true).expect("stores");
    assert_eq!(replaced.published, Published::Stored);
    let second = hit(cache.lookup(&k.key, None).expect("lookup"));
    assert!(second.created_at > first.created_at);
    assert_eq!(cache.ls().expect("ls").len(), 1);
}

#[test]
fn a_truncated_entry_is_detected_dropped_and_missed() {
    let f = Fixture::new();
    let (cache, spec, k) = f.stored();
    let entry = f.state().join("cache/entries").join(&k.key);
    let stream = fs::read(entry.join("files.zst")).expect("read");
    fs::write(entry.join("files.zst"), &stream[..stream.len() / 2]).expect("truncate");
    fs::remove_file(f.root().join("dist/app")).expect("rm output");
    let found = hit(cache.lookup(&k.key, None).expect("lookup"));
    let err = cache.restore(&found, f.root()).expect_err("corrupt");
    assert!(err.is_corrupt(), "{err}");
    assert!(
        err.to_string()
            .starts_with("failed to verify the cache entry"),
        "{err}"
    );
    assert!(!entry.exists(), "dropped");
    assert!(!f.root().join("dist/app").exists(), "nothing half restored");
    assert!(matches!(
        cache.lookup(&k.key, None).expect("lookup"),
        Lookup::Miss
    ));
    assert!(cache.ls().expect("ls").is_empty());

    // A manifest that cannot be read is dropped at lookup.
    f.write("dist/app", "binary");
    cache.store(&spec, &k, None, false).expect("stores");
    fs::write(entry.join("manifest.json"), "{ not json").expect("corrupt");
    let err = cache.lookup(&k.key, None).expect_err("corrupt manifest");
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err}");
    assert!(!entry.exists());
}

/// Every file of the entry holds what its manifest says.
fn assert_entry_valid(f: &Fixture, cache: &Cache, key: &str) {
    let found = hit(cache.lookup(key, None).expect("lookup"));
    fs::remove_dir_all(f.root().join("dist")).expect("rm outputs");
    let restored = cache.restore(&found, f.root()).expect("a valid entry");
    assert_eq!(restored.files_restored, 2);
    assert_eq!(f.read("dist/app"), "binary");
}

fn entry_dirs(f: &Fixture) -> usize {
    fs::read_dir(f.state().join("cache/entries"))
        .expect("list")
        .count()
}

fn tmp_leftovers(f: &Fixture) -> usize {
    fs::read_dir(f.state().join("cache/tmp"))
        .expect("list")
        .count()
}

#[test]
fn threads_filling_one_entry_at_once_leave_one_valid_entry() {
    let f = Fixture::new();
    f.project();
    let spec = f.spec();
    let k = key(&f.cache(), &spec);
    let log = f.log("log\n");
    for round in 0..3 {
        let n = 8;
        let barrier = Arc::new(Barrier::new(n));
        let published: Vec<Published> = thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .map(|_| {
                    let (barrier, spec, k, log, state) =
                        (Arc::clone(&barrier), &spec, &k, &log, f.state());
                    scope.spawn(move || {
                        let cache = Cache::open(&state).expect("opens");
                        barrier.wait();
                        cache
                            .store(spec, k, Some(log), round == 2)
                            .expect("stores")
                            .published
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .collect()
        });
        let stored = published
            .iter()
            .filter(|p| **p == Published::Stored)
            .count();
        if round < 2 {
            // Round 0 has a winner; in round 1 the entry was there already.
            assert_eq!(
                stored,
                usize::from(round == 0),
                "round {round}: {published:?}"
            );
        } else {
            assert!(stored >= 1, "replacing: someone's entry is in place");
        }
        assert_eq!(entry_dirs(&f), 1);
        assert_eq!(tmp_leftovers(&f), 0, "no staging or dropped entry left");
        assert_entry_valid(&f, &f.cache(), &k.key);
    }
}

/// A child process of [`processes_filling_one_entry_at_once_leave_one_valid_entry`]:
/// ignored, run explicitly by it (`--ignored --exact child_store`); does nothing
/// unless `BATON_CACHE_TEST_CHILD` names a pipeline root.
#[test]
#[ignore = "a child process of processes_filling_one_entry_at_once_leave_one_valid_entry, which runs it explicitly"]
fn child_store() {
    let Ok(root) = std::env::var("BATON_CACHE_TEST_CHILD") else {
        return;
    };
    let root = PathBuf::from(root);
    let spec = spec_for(&root);
    let cache = Cache::open(&root.join(".baton")).expect("opens");
    let k = key(&cache, &spec);
    let start_at: u128 = std::env::var("BATON_CACHE_TEST_START")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    while now_ms() < start_at {
        thread::sleep(Duration::from_millis(1));
    }
    let stored = cache.store(&spec, &k, None, false).expect("stores");
    println!("PUBLISHED {:?}", stored.published);
}

#[test]
fn processes_filling_one_entry_at_once_leave_one_valid_entry() {
    let f = Fixture::new();
    f.project();
    let exe = std::env::current_exe().expect("test binary");
    // They all store at this moment (each has opened the cache and computed its key).
    let start_at = now_ms() + 500;
    let spawned: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "child_store",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("BATON_CACHE_TEST_CHILD", f.root())
                .env("BATON_CACHE_TEST_START", start_at.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("child starts")
        })
        .collect();
    let mut stored = 0;
    for child in spawned {
        let out = child.wait_with_output().expect("child ends");
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("PUBLISHED"), "{text}");
        if text.contains("PUBLISHED Stored") {
            stored += 1;
        }
    }
    assert_eq!(stored, 1, "exactly one process stored the entry");
    assert_eq!(entry_dirs(&f), 1);
    assert_eq!(tmp_leftovers(&f), 0);
    let cache = f.cache();
    let k = key(&cache, &f.spec());
    assert_entry_valid(&f, &cache, &k.key);
}

#[test]
fn a_miss_is_explained_against_the_previous_entry_and_runs() {
    let f = Fixture::new();
    f.project();
    let cache = f.cache();
    let spec = f.spec();
    let first = key(&cache, &spec);
    assert_eq!(
        cache.miss_reason(&spec, &first).expect("reason"),
        None,
        "no entry yet"
    );
    cache.store(&spec, &first, None, false).expect("stores");
    cache
        .record_run_key("run-a", &spec, &first)
        .expect("records");

    f.write("src/a.rs", "fn a() { 2 }");
    f.write("src/new.rs", "new");
    fs::remove_file(f.root().join("src/b.rs")).expect("rm");
    let mut spec2 = f.spec();
    spec2.env.insert("MODE".into(), "debug".into());
    let second = key(&cache, &spec2);
    cache
        .record_run_key("run-b", &spec2, &second)
        .expect("records");
    assert_eq!(
        cache
            .miss_reason(&spec2, &second)
            .expect("reason")
            .as_deref(),
        Some(
            "1 input file changed (src/a.rs), 1 input file added (src/new.rs), \
             1 input file removed (src/b.rs), env MODE changed"
        )
    );

    let now = cache.explain_current(&spec2).expect("explains");
    assert!(!now.would_hit);
    let e = now.explanation.expect("a previous entry");
    assert_eq!(e.inputs.changed, ["src/a.rs"]);
    assert_eq!(e.env.changed, ["MODE"]);

    let runs = cache
        .explain_runs("build", "run-a", "run-b")
        .expect("explains");
    assert_eq!(runs, explain(&first.components, &second.components));
    let err = cache
        .explain_runs("build", "run-a", "run-zzz")
        .expect_err("unknown run");
    assert!(
        err.to_string()
            .starts_with("failed to find the cache key of beat 'build'"),
        "{err}"
    );

    // Components survive the entry being pruned, for runs that recorded them.
    cache.prune(0).expect("prunes");
    assert!(cache.explain_runs("build", "run-a", "run-b").is_ok());
}

#[test]
fn prune_removes_least_recently_used_entries_first() {
    let f = Fixture::new();
    f.project();
    let cache = f.cache();
    let mut keys = Vec::new();
    for command in ["one", "two", "three"] {
        let mut spec = f.spec();
        spec.command = command.into();
        let k = key(&cache, &spec);
        cache.store(&spec, &k, None, false).expect("stores");
        keys.push(k.key);
        thread::sleep(Duration::from_millis(3));
    }
    // Using the oldest makes it the most recently used.
    let used = hit(cache.lookup(&keys[0], None).expect("lookup"));
    cache.restore(&used, f.root()).expect("restores");
    let listed = cache.ls().expect("ls");
    assert_eq!(listed.len(), 3);
    let size = listed[0].size;
    assert!(size > 0);
    assert_eq!(
        listed.last().map(|e| e.key.as_str()),
        Some(keys[0].as_str())
    );

    let report = cache.prune(2 * size).expect("prunes");
    assert_eq!((report.removed, report.kept), (1, 2));
    let left: Vec<String> = cache.ls().expect("ls").into_iter().map(|e| e.key).collect();
    assert_eq!(
        left,
        [keys[2].clone(), keys[0].clone()],
        "'two' was least recently used"
    );
    assert_eq!(entry_dirs(&f), 2);

    let cleared = cache.clear().expect("clears");
    assert_eq!(cleared.removed, 2);
    assert_eq!(entry_dirs(&f), 0);
    assert!(cache.ls().expect("ls").is_empty());
    // Cleared stat cache: the next key hashes everything again.
    let before = cache.files_hashed();
    key(&cache, &f.spec());
    assert_eq!(cache.files_hashed(), before + 3);
}

#[test]
fn an_entry_the_index_lost_is_adopted_by_prune() {
    let f = Fixture::new();
    let (cache, _, k) = f.stored();
    drop(cache);
    fs::remove_file(f.state().join("cache/index.db")).expect("lose the index");
    let cache = f.cache();
    assert!(cache.ls().expect("ls").is_empty());
    cache.prune(u64::MAX).expect("prunes");
    assert_eq!(cache.ls().expect("ls").len(), 1);
    // Still a hit, and its components are read from the manifest.
    assert!(matches!(
        cache.lookup(&k.key, None).expect("lookup"),
        Lookup::Hit(_)
    ));
    assert_eq!(cache.components(&k.key).expect("reads"), Some(k.components));
}

#[test]
fn outputs_are_stored_as_one_compressed_stream_and_restored_byte_for_byte() {
    let f = Fixture::new();
    f.project();
    let bundle: String = (0..4000)
        .map(|i| format!("export const value{i} = {};\n", i % 17))
        .collect();
    f.write("dist/bundle.js", &bundle);
    f.write("dist/bundle.min.js", &bundle.replace(' ', ""));
    let cache = f.cache();
    let spec = f.spec();
    let k = key(&cache, &spec);
    let stored = cache.store(&spec, &k, None, false).expect("stores");
    let entry = f.state().join("cache/entries").join(&k.key);
    let kept = fs::metadata(entry.join("files.zst")).expect("stream").len();
    assert!(
        kept * 4 < bundle.len() as u64,
        "{kept} bytes kept for two copies of {}",
        bundle.len()
    );
    assert!(!entry.join("files").exists(), "no plain copies");
    assert!(
        stored.size < bundle.len() as u64,
        "the entry's size is what it takes"
    );
    let listed = stored
        .artifacts
        .iter()
        .find(|a| a.path == "dist/bundle.js")
        .expect("listed");
    assert_eq!(
        listed.bytes,
        bundle.len() as u64,
        "artifacts give the real size"
    );

    // Only what is missing is written; what is in place is left alone.
    fs::remove_file(f.root().join("dist/bundle.js")).expect("rm");
    let found = hit(cache.lookup(&k.key, None).expect("lookup"));
    let restored = cache.restore(&found, f.root()).expect("restores");
    assert_eq!((restored.files_restored, restored.files_up_to_date), (1, 3));
    assert_eq!(f.read("dist/bundle.js"), bundle);

    fs::remove_dir_all(f.root().join("dist")).expect("rm outputs");
    let restored = cache.restore(&found, f.root()).expect("restores");
    assert_eq!(restored.files_restored, 4);
    assert_eq!(f.read("dist/bundle.min.js"), bundle.replace(' ', ""));
    assert_eq!(f.read("dist/app"), "binary");
    let mode = fs::metadata(f.root().join("dist/app"))
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn entries_with_plain_copies_from_earlier_versions_still_restore() {
    let f = Fixture::new();
    let (cache, _, k) = f.stored();
    // Rewrite the entry the way baton kept entries before compression: every
    // output as a plain file under files/, no stream in the manifest.
    let entry = f.state().join("cache/entries").join(&k.key);
    let manifest_path = entry.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(&manifest_path).expect("read")).expect("json");
    manifest.as_object_mut().expect("object").remove("stream");
    for output in manifest["outputs"].as_array().expect("outputs") {
        let rel = output["path"].as_str().expect("path");
        let plain = entry.join("files").join(rel);
        fs::create_dir_all(plain.parent().expect("parent")).expect("mkdir");
        fs::copy(f.root().join(rel), plain).expect("copy");
    }
    fs::remove_file(entry.join("files.zst")).expect("rm stream");
    fs::write(&manifest_path, manifest.to_string()).expect("write");

    fs::remove_dir_all(f.root().join("dist")).expect("rm outputs");
    let found = hit(cache.lookup(&k.key, None).expect("lookup"));
    let restored = cache.restore(&found, f.root()).expect("restores");
    assert_eq!(restored.files_restored, 2);
    assert_eq!(f.read("dist/app"), "binary");
    assert_eq!(f.read("dist/sub/lib.js"), "js");
}
