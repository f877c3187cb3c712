//! External programs the suite needs: finding them on `PATH`, building baton and the
//! store example with cargo, installing `just` on request.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The first executable named `name` on `PATH`.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs cargo in the workspace with its output on stderr (stdout is the report).
pub(crate) fn cargo(root: &Path, args: &[&str]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("failed to start {}", OsStr::new(&cargo).to_string_lossy()))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Builds `package`'s example program `example` in release mode and returns the
/// path of its binary.
pub(crate) fn release_example(
    ctx_root: &Path,
    target_dir: &Path,
    package: &str,
    example: &str,
) -> Result<PathBuf> {
    cargo(
        ctx_root,
        &["build", "--release", "-p", package, "--example", example],
    )?;
    Ok(target_dir.join("release/examples").join(example))
}

/// `just`, from `PATH` or `~/.cargo/bin`; with `install`, `cargo install just` first
/// when it is nowhere to be found.
pub(crate) fn just(root: &Path, install: bool) -> Result<Option<PathBuf>> {
    let cargo_bin = || {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        Some(home.join("bin").join("just")).filter(|p| is_executable(p))
    };
    if let Some(found) = find_on_path("just").or_else(cargo_bin) {
        return Ok(Some(found));
    }
    if !install {
        return Ok(None);
    }
    cargo(root, &["install", "just", "--locked"])?;
    Ok(find_on_path("just").or_else(cargo_bin))
}

/// The first line a program prints for `--version`, if it runs.
pub(crate) fn version_of(program: &Path) -> Option<String> {
    let out = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    out.status
        .success()
        .then(|| text.lines().next().unwrap_or_default().trim().to_owned())
}
