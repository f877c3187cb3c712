//! `cache-footprint`: what the step cache keeps on disk and what a cached rerun
//! costs, side by side with Turborepo on the same monorepo. Ten packages
//! `packages/p0..p9`, each with 40 generated JavaScript modules and a 64 KiB binary
//! asset; every package's build (one shell script, the same for both tools)
//! concatenates its modules into `dist/index.js`, writes a minified copy and a
//! declarations file and copies the asset: about 1.2 MB of outputs per package.
//!
//! Both tools build it cold once (their caches empty), and the bytes their caches
//! take on disk are compared (`.baton/cache` against `.turbo/cache`, counted as `du`
//! does, in allocated blocks). Then, alternating: the fully cached rerun with the
//! outputs in place, and the rerun after `rm -rf packages/*/dist` (every output
//! restored from the cache). Turbo comes from `PATH`, `$BATON_BENCH_TURBO` or
//! `target/bench-tools` (`baton-bench --setup` installs it there with npm); without it
//! baton's figures are reported alone.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::require_run;
use crate::fixtures;
use crate::measure::{CmdSpec, measure};
use crate::suite::{Case, CaseResult, Ctx, Side, SideResult, Target, Unit, run_alternating};
use crate::tools::find_on_path;

const PACKAGES: usize = 10;
const MODULES: usize = 40;
const LINES: usize = 120;
const ASSET_BYTES: usize = 64 * 1024;

const BATON_HITS: &str = "baton run (all hits, outputs in place)";
const TURBO_HITS: &str = "turbo run build (all cached, outputs in place)";
const BATON_RESTORE: &str = "baton run after rm -rf dist (all restored)";
const TURBO_RESTORE: &str = "turbo run build after rm -rf dist (all restored)";

/// Issue #18: the cache of a cold run no larger than Turborepo's on the same monorepo.
const TARGET_SIZE_RATIO: f64 = 1.0;

#[derive(Debug)]
pub(super) struct CacheFootprint;

impl Case for CacheFootprint {
    fn name(&self) -> &'static str {
        "cache-footprint"
    }

    fn about(&self) -> &'static str {
        "step cache: bytes on disk after a cold build of a 10-package monorepo, and the \
         cached rerun with and without the outputs in place, side by side with Turborepo"
    }

    fn run(&self, ctx: &Ctx, _earlier: &[CaseResult]) -> Result<CaseResult> {
        require_run(ctx)?;
        // BATON_BENCH_KEEP=1 leaves the monorepos behind to look into.
        let keep = std::env::var_os("BATON_BENCH_KEEP").is_some();
        let dir = tempfile::Builder::new()
            .prefix("baton-bench-footprint-")
            .disable_cleanup(keep)
            .tempdir()?;
        let baton_root = dir.path().join("baton");
        write_monorepo(&baton_root)?;
        let outputs_bytes = {
            // Outputs are what one build writes; measure them once, built by hand.
            let probe = dir.path().join("probe");
            write_monorepo(&probe)?;
            for p in 0..PACKAGES {
                build_by_hand(&probe.join(format!("packages/p{p}")))?;
            }
            let bytes = (0..PACKAGES)
                .map(|p| usage(&probe.join(format!("packages/p{p}/dist"))))
                .collect::<Result<Vec<_>>>()?
                .into_iter()
                .fold(Usage::default(), Usage::add);
            fs::remove_dir_all(&probe)?;
            bytes
        };
        let turbo = turbo(ctx)?;
        let turbo_root = dir.path().join("turbo");

        if turbo.is_some() {
            fixtures::copy_dir(&baton_root, &turbo_root, &["baton.yaml"])?;
        }

        let mut result = CaseResult::new(self.name(), self.about());
        // Sources a little older than the stat cache's racy margin, as sources are.
        std::thread::sleep(Duration::from_millis(200));

        let baton_run = ctx
            .baton(&baton_root)
            .args(["run", "baton.yaml", "--output", "quiet"])
            .timeout(Duration::from_secs(300));
        eprintln!("  cache-footprint: cold baton build");
        let cold = measure(&baton_run)?;
        result.sides.push(SideResult::new(
            "baton run (cold, empty cache)",
            baton_run.to_string(),
            vec![cold.sample],
        )?);
        let baton_cache = usage(&baton_root.join(".baton/cache"))?;
        let baton_entries = usage(&baton_root.join(".baton/cache/entries"))?;

        let mut sides = vec![Side::new(BATON_HITS, baton_run.clone())];
        let mut turbo_cache = None;
        if let Some(turbo) = &turbo {
            let turbo_run = turbo_spec(turbo, &turbo_root);
            eprintln!("  cache-footprint: cold turbo build");
            let cold = measure(&turbo_run)?;
            result.sides.push(SideResult::new(
                "turbo run build (cold, empty cache)",
                turbo_run.to_string(),
                vec![cold.sample],
            )?);
            turbo_cache = Some(usage(&turbo_root.join(".turbo/cache"))?);
            sides.push(Side::new(TURBO_HITS, turbo_run.clone()));
            sides.push(Side::new(
                BATON_RESTORE,
                after_removing_outputs(&baton_root, &baton_run),
            ));
            sides.push(Side::new(
                TURBO_RESTORE,
                after_removing_outputs(&turbo_root, &turbo_run),
            ));
        } else {
            sides.push(Side::new(
                BATON_RESTORE,
                after_removing_outputs(&baton_root, &baton_run),
            ));
            result.note(
                "turbo not found (PATH, $BATON_BENCH_TURBO, target/bench-tools): baton's \
                 figures alone; `baton-bench --setup` installs it with npm",
            );
        }
        let cold_sides = std::mem::take(&mut result.sides);
        let measured = run_alternating(self.name(), &sides, ctx.plan.scaled(2))?;
        let mut result = result.with_sides(measured);
        result.sides.extend(cold_sides);

        result.metric(
            "outputs of one build (on disk)",
            outputs_bytes.disk as f64,
            Unit::Bytes,
        );
        result.metric(
            "baton cache (on disk)",
            baton_cache.disk as f64,
            Unit::Bytes,
        );
        result.metric(
            "baton cache entries (on disk)",
            baton_entries.disk as f64,
            Unit::Bytes,
        );
        result.metric(
            "baton cache entries (apparent)",
            baton_entries.apparent as f64,
            Unit::Bytes,
        );
        let mut size_ratio = None;
        if let Some(turbo_cache) = turbo_cache {
            result.metric(
                "turbo cache (on disk)",
                turbo_cache.disk as f64,
                Unit::Bytes,
            );
            result.metric(
                "turbo cache (apparent)",
                turbo_cache.apparent as f64,
                Unit::Bytes,
            );
            let ratio = baton_cache.disk as f64 / turbo_cache.disk as f64;
            result.metric("baton cache / turbo cache (on disk)", ratio, Unit::Ratio);
            size_ratio = Some(ratio);
            for (subject, baseline, what) in [
                (BATON_HITS, TURBO_HITS, "cached rerun, outputs in place"),
                (BATON_RESTORE, TURBO_RESTORE, "rerun restoring every output"),
            ] {
                let (Some(s), Some(b)) = (result.side(subject), result.side(baseline)) else {
                    continue;
                };
                let ratio = s.wall_ms.median / b.wall_ms.median;
                result.metric(
                    format!("baton / turbo, {what} (wall, medians)"),
                    ratio,
                    Unit::Ratio,
                );
            }
        }
        let mut target = Target::at_most(
            "baton's cache after a cold build / Turborepo's (bytes on disk)",
            size_ratio,
            TARGET_SIZE_RATIO,
            Unit::Ratio,
        );
        if size_ratio.is_none() {
            target = target.with_note("turbo not found");
        }
        result.targets.push(target);
        Ok(result)
    }
}

/// `spec`, run after deleting every package's `dist/` (by `sh -c`, the same for
/// both tools).
fn after_removing_outputs(root: &Path, spec: &CmdSpec) -> CmdSpec {
    let mut line = String::from("rm -rf packages/*/dist && exec");
    for part in std::iter::once(&spec.program).chain(&spec.args) {
        line.push(' ');
        line.push_str(&shell_quote(&part.to_string_lossy()));
    }
    let mut sh = CmdSpec::new("sh", root)
        .args(["-c", &line])
        .timeout(spec.timeout);
    sh.env = spec.env.clone();
    sh.env_remove = spec.env_remove.clone();
    sh
}

/// `s` as one word for `sh`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn turbo_spec(turbo: &Path, root: &Path) -> CmdSpec {
    CmdSpec::new(turbo, root)
        .args(["run", "build", "--concurrency=2", "--output-logs=none"])
        .env("TURBO_TELEMETRY_DISABLED", "1")
        .env("DO_NOT_TRACK", "1")
        .env("TURBO_NO_UPDATE_NOTIFIER", "1")
        .timeout(Duration::from_secs(300))
}

/// turbo from `$BATON_BENCH_TURBO`, `PATH` or `target/bench-tools`; with `--setup`,
/// installed there by npm when it is nowhere.
fn turbo(ctx: &Ctx) -> Result<Option<PathBuf>> {
    if let Some(path) = std::env::var_os("BATON_BENCH_TURBO") {
        return Ok(Some(PathBuf::from(path)));
    }
    let tools = ctx.target_dir.join("bench-tools");
    let local = tools.join("node_modules/.bin/turbo");
    if let Some(found) = find_on_path("turbo").or_else(|| local.is_file().then(|| local.clone())) {
        return Ok(Some(found));
    }
    if !ctx.setup || ctx.plan.quick {
        return Ok(None);
    }
    fs::create_dir_all(&tools)?;
    eprintln!("$ npm install --prefix {} turbo@2", tools.display());
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&tools)
        .arg("turbo@2")
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .context("failed to start npm")?;
    if !status.success() {
        bail!("`npm install turbo@2` failed ({status})");
    }
    Ok(local.is_file().then_some(local))
}

/// Bytes under a directory: allocated on disk (as `du` counts) and apparent.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    disk: u64,
    apparent: u64,
}

impl Usage {
    fn add(self, other: Usage) -> Usage {
        Usage {
            disk: self.disk + other.disk,
            apparent: self.apparent + other.apparent,
        }
    }
}

fn usage(dir: &Path) -> Result<Usage> {
    let mut total = Usage::default();
    let entries = fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            total = total.add(usage(&entry.path())?);
        } else {
            total = total.add(Usage {
                disk: meta.blocks() * 512,
                apparent: meta.len(),
            });
        }
    }
    Ok(total)
}

/// The build every package runs, for both tools.
const BUILD_SH: &str = "set -e\nmkdir -p dist\ncat src/*.js > dist/index.js\n\
    tr -d ' ' < dist/index.js > dist/index.min.js\n\
    grep -h '^export' src/*.js | sed 's/{.*/;/' > dist/index.d.ts\n\
    cp src/asset.bin dist/asset.bin\n";

/// The monorepo: sources, the build script, a pipeline file for baton and the
/// workspace files for turbo (each tool ignores the other's).
fn write_monorepo(root: &Path) -> Result<()> {
    fs::create_dir_all(root)?;
    fixtures::write(&root.join("build.sh"), BUILD_SH)?;
    fixtures::write(
        &root.join("package.json"),
        r#"{"name":"mono","private":true,"packageManager":"npm@11.0.0","workspaces":["packages/*"]}"#,
    )?;
    fixtures::write(
        &root.join("turbo.json"),
        r#"{"tasks":{"build":{"outputs":["dist/**"],"inputs":["src/**"]}}}"#,
    )?;
    let mut yaml = String::from(
        "version: 1\nname: footprint\nmovements:\n  - name: build\n    parallel: true\n    beats:\n",
    );
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    for p in 0..PACKAGES {
        let pkg = root.join(format!("packages/p{p}"));
        fs::create_dir_all(pkg.join("src"))?;
        fixtures::write(
            &pkg.join("package.json"),
            &format!(
                r#"{{"name":"p{p}","version":"1.0.0","scripts":{{"build":"sh ../../build.sh"}}}}"#
            ),
        )?;
        for m in 0..MODULES {
            fixtures::write(&pkg.join(format!("src/m{m:02}.js")), &module(&mut rng))?;
        }
        let asset: Vec<u8> = (0..ASSET_BYTES).map(|_| rng.next() as u8).collect();
        fs::write(pkg.join("src/asset.bin"), asset)?;
        yaml.push_str(&format!(
            "      - name: p{p}\n        type: build\n        run: cd packages/p{p} && sh ../../build.sh\n        \
             cache: true\n        inputs: [\"packages/p{p}/src/**\", \"build.sh\"]\n        \
             outputs: [\"packages/p{p}/dist/**\"]\n"
        ));
    }
    fixtures::write(&root.join("baton.yaml"), &yaml)
}

fn build_by_hand(pkg: &Path) -> Result<()> {
    let status = Command::new("sh")
        .args(["-c", BUILD_SH])
        .current_dir(pkg)
        .status()?;
    if !status.success() {
        bail!("the build script failed in {}", pkg.display());
    }
    Ok(())
}

/// One generated module: exported functions with pseudo-random names and constants.
fn module(rng: &mut XorShift) -> String {
    let mut text = String::new();
    for _ in 0..LINES {
        let a = rng.ident();
        let b = rng.ident();
        text.push_str(&format!(
            "export function {a}(value, options) {{ return {b}(value * {}, options.{}) + {}; }}\n",
            rng.next() % 1000,
            &a[..3],
            rng.next() % 100
        ));
    }
    text
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn ident(&mut self) -> String {
        (0..6)
            .map(|_| char::from(b'a' + (self.next() % 26) as u8))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monorepo_builds_by_hand_into_about_a_megabyte_per_package() {
        let dir = tempfile::tempdir().unwrap();
        write_monorepo(dir.path()).unwrap();
        let pkg = dir.path().join("packages/p3");
        build_by_hand(&pkg).unwrap();
        let index = fs::metadata(pkg.join("dist/index.js")).unwrap().len();
        assert!(index > 300_000, "{index}");
        assert_eq!(
            fs::metadata(pkg.join("dist/asset.bin")).unwrap().len(),
            ASSET_BYTES as u64
        );
        let yaml = fs::read_to_string(dir.path().join("baton.yaml")).unwrap();
        assert_eq!(yaml.matches("cache: true").count(), PACKAGES);
    }
}
