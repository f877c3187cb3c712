//! Measures the step cache on the issue's workload: 10,000 input files totalling
//! 100 MB.
//!
//! ```text
//! cargo run --release -p baton-cache --example cache_bench [-- --files N --mb M
//!     --beats B --repeat R --dir PATH --drop-caches]
//! ```
//!
//! Each figure is measured R times (default 5); the best and the median are
//! printed (the machine may be busy with other work). It prints:
//! - cold key: no stat cache, every file read and hashed (BLAKE3, on all cores);
//!   the throughput in MB/s. The files were just written, so they are in the page
//!   cache; with `--drop-caches` (root) the page cache is dropped first and the
//!   figure includes reading the disk.
//! - warm key: every file unchanged, so only stat'ed: in the same process (stat
//!   cache in memory) and in a new one (stat cache loaded from `index.db`).
//! - a fully cached rerun of B beats (default 34) whose inputs split those files
//!   between them, each with one output: for every beat, key + lookup + restore
//!   (outputs already in place) and the run's key recorded, through a new cache
//!   handle as a new `baton run` would, beats one after the other and then two at
//!   a time.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use baton_cache::{Cache, KeySpec, Lookup, ShellSpec};

struct Args {
    files: usize,
    mb: usize,
    beats: usize,
    repeat: usize,
    dir: Option<PathBuf>,
    drop_caches: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        files: 10_000,
        mb: 100,
        beats: 34,
        repeat: 5,
        dir: None,
        drop_caches: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--files" => args.files = parse(&value("--files")?)?,
            "--mb" => args.mb = parse(&value("--mb")?)?,
            "--beats" => args.beats = parse(&value("--beats")?)?.max(1),
            "--repeat" => args.repeat = parse(&value("--repeat")?)?.max(1),
            "--dir" => args.dir = Some(PathBuf::from(value("--dir")?)),
            "--drop-caches" => args.drop_caches = true,
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(args)
}

fn parse(s: &str) -> Result<usize, String> {
    s.parse().map_err(|_| format!("'{s}' is not a number"))
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("cache_bench: {err}");
            std::process::exit(2);
        }
    };
    if let Err(err) = run(&args) {
        eprintln!("cache_bench: {err}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let temp = match &args.dir {
        Some(dir) => {
            fs::create_dir_all(dir)?;
            tempfile::tempdir_in(dir)?
        }
        None => tempfile::tempdir()?,
    };
    let root = temp.path();
    fs::create_dir(root.join(".git"))?;
    let total = args.mb * 1024 * 1024;
    let started = Instant::now();
    write_inputs(root, args.files, total, args.beats)?;
    println!(
        "workload: {} files, {} MB, in {} package directories (written in {:.0} ms) under {}",
        args.files,
        args.mb,
        args.beats,
        ms(started.elapsed()),
        root.display()
    );
    // Older than the stat cache's racy margin, as sources usually are.
    thread::sleep(Duration::from_millis(150));
    let cores = thread::available_parallelism().map_or(1, usize::from);
    println!("cores: {cores}");

    let state = root.join(".baton");
    let all = spec(root, "all", vec!["packages/**".into()], vec![]);

    let mut cold = Vec::new();
    let mut key = String::new();
    let mut hashed_mb = 0.0;
    for i in 0..args.repeat {
        if args.drop_caches {
            drop_page_cache()?;
        }
        // A new cache directory: no stat cache.
        let cache = Cache::open_dir(&root.join(format!(".baton-cold-{i}")))?;
        let t = Instant::now();
        let computed = cache.compute_key(&all)?;
        cold.push(t.elapsed());
        hashed_mb = cache.bytes_hashed() as f64 / 1_048_576.0;
        key = computed.key;
    }
    let (best, median) = best_median(&mut cold);
    println!(
        "cold key{}: {} files, {:.1} MB hashed in {:.1} ms best, {:.1} ms median = {:.0} MB/s best, {:.0} MB/s median",
        if args.drop_caches {
            " (page cache dropped)"
        } else {
            " (files in the page cache)"
        },
        args.files,
        hashed_mb,
        ms(best),
        ms(median),
        hashed_mb / best.as_secs_f64(),
        hashed_mb / median.as_secs_f64(),
    );

    let cache = Cache::open(&state)?;
    cache.compute_key(&all)?;
    let mut same = Vec::new();
    let mut fresh = Vec::new();
    let mut rehashed = 0;
    for _ in 0..args.repeat {
        let t = Instant::now();
        let again = cache.compute_key(&all)?;
        same.push(t.elapsed());
        let t = Instant::now();
        let new_handle = Cache::open(&state)?;
        let from_db = new_handle.compute_key(&all)?;
        fresh.push(t.elapsed());
        rehashed += new_handle.files_hashed();
        if again.key != key || from_db.key != key {
            return Err("the warm key differs from the cold one".into());
        }
    }
    let (same_best, same_median) = best_median(&mut same);
    let (fresh_best, fresh_median) = best_median(&mut fresh);
    println!(
        "warm key, {} files unchanged: {:.1} ms best, {:.1} ms median (same process); {:.1} ms best, {:.1} ms median (new handle, stat cache read from index.db); files hashed again: {rehashed}",
        args.files,
        ms(same_best),
        ms(same_median),
        ms(fresh_best),
        ms(fresh_median),
    );

    // One beat per package, each with one output, stored once.
    let specs: Vec<KeySpec> = (0..args.beats)
        .map(|b| {
            spec(
                root,
                &format!("beat-{b}"),
                vec![format!("packages/p{b}/**")],
                vec![format!("build/p{b}/**")],
            )
        })
        .collect();
    for (b, s) in specs.iter().enumerate() {
        let out = root.join(format!("build/p{b}/out.bin"));
        fs::create_dir_all(out.parent().ok_or("no parent")?)?;
        fs::write(&out, vec![b as u8; 64 * 1024])?;
        let key = cache.compute_key(s)?;
        cache.store(s, &key, None, false)?;
    }
    thread::sleep(Duration::from_millis(150));
    // A first rerun settles the stat cache for the outputs written just now.
    rerun(&Cache::open(&state)?, &specs, 1)?;

    for jobs in [1, 2] {
        let mut times = Vec::new();
        let mut hits = 0;
        let mut rehashed = 0;
        for _ in 0..args.repeat {
            let t = Instant::now();
            let rerun_cache = Cache::open(&state)?;
            hits = rerun(&rerun_cache, &specs, jobs)?;
            times.push(t.elapsed());
            rehashed += rerun_cache.files_hashed();
        }
        let (best, median) = best_median(&mut times);
        println!(
            "fully cached rerun of {} beats ({hits} hits), {jobs} at a time, cache opened anew: {:.1} ms best, {:.1} ms median; files hashed: {rehashed}",
            specs.len(),
            ms(best),
            ms(median),
        );
    }
    Ok(())
}

fn best_median(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    (times[0], times[times.len() / 2])
}

/// Key, lookup and restore for every beat, `jobs` at a time; returns the hits.
fn rerun(cache: &Cache, specs: &[KeySpec], jobs: usize) -> Result<usize, String> {
    let chunks: Vec<&[KeySpec]> = specs.chunks(specs.len().div_ceil(jobs)).collect();
    let results: Vec<Result<usize, String>> = thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                scope.spawn(move || {
                    let mut hits = 0;
                    for s in *chunk {
                        let key = cache.compute_key(s).map_err(|e| e.to_string())?;
                        // As the runner does, for `baton cache explain --run`.
                        cache
                            .record_run_key("bench-rerun", s, &key)
                            .map_err(|e| e.to_string())?;
                        if let Lookup::Hit(hit) =
                            cache.lookup(&key.key, None).map_err(|e| e.to_string())?
                        {
                            cache.restore(&hit, &s.root).map_err(|e| e.to_string())?;
                            hits += 1;
                        }
                    }
                    Ok(hits)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread panicked".into())))
            .collect()
    });
    results.into_iter().sum()
}

fn spec(root: &Path, beat: &str, inputs: Vec<String>, outputs: Vec<String>) -> KeySpec {
    KeySpec {
        pipeline_id: "bench".into(),
        beat: beat.into(),
        root: root.to_owned(),
        command: format!("build {beat}"),
        shell: ShellSpec {
            program: "/bin/sh".into(),
            args: vec!["-c".into()],
        },
        env: BTreeMap::new(),
        secrets: Vec::new(),
        key_env: BTreeMap::new(),
        inputs,
        outputs,
        ttl: None,
    }
}

/// `files` files of pseudo-random bytes totalling `total` bytes, sizes varying
/// from a tenth to twice the mean, in `packages/p<n>/<dir>/` directories.
fn write_inputs(root: &Path, files: usize, total: usize, packages: usize) -> std::io::Result<()> {
    let mean = total / files.max(1);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut sizes: Vec<usize> = (0..files)
        .map(|_| mean / 10 + (next() as usize) % (mean * 19 / 10).max(1))
        .collect();
    // Scale to the exact total.
    let sum: usize = sizes.iter().sum();
    for s in &mut sizes {
        *s = (*s as u128 * total as u128 / sum.max(1) as u128) as usize;
    }
    let mut buf = vec![0u8; 2 * mean + 16];
    for chunk in buf.chunks_mut(8) {
        let bytes = next().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    for (i, size) in sizes.iter().enumerate() {
        let package = i % packages;
        let dir = root.join(format!("packages/p{package}/d{}", (i / packages) % 10));
        if i < packages * 10 {
            fs::create_dir_all(&dir)?;
        }
        let offset = i % 16;
        let end = (offset + size).min(buf.len());
        // A different prefix per file, so no two files are equal.
        let mut content = (i as u64).to_le_bytes().to_vec();
        content.extend_from_slice(&buf[offset..end]);
        fs::write(dir.join(format!("f{i}.dat")), &content)?;
    }
    Ok(())
}

fn drop_page_cache() -> std::io::Result<()> {
    // SAFETY: sync() takes no arguments and cannot fail.
    unsafe { libc_sync() };
    fs::write("/proc/sys/vm/drop_caches", "3\n")
}

unsafe extern "C" {
    #[link_name = "sync"]
    fn libc_sync();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
