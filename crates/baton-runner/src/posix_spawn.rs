//! Starting a plain command (see [`crate::direct`]) with `posix_spawn`, its
//! environment built from a copy of baton's own made once per run.
//!
//! `std::process::Command` also uses `posix_spawn`, but a command whose
//! environment is changed at all (every beat's is: `BATON_RUN_ID`, `TRACEPARENT`,
//! ...) first copies baton's whole environment into a map and then into C strings:
//! about 90,000 instructions, 18 us of the 100 us a start costs here, on the path
//! from one beat to the next. Here the inherited variables are C strings already,
//! and a start only adds the beat's own.
//!
//! The child gets what `Command` gives it: its own process group, stdin from
//! `/dev/null`, stdout and stderr to pipes, the beat's directory, an empty signal
//! mask and SIGPIPE at its default action (baton ignores it; its beats must not;
//! other ignored signals, as under `nohup`, stay ignored, and handlers are reset
//! by `exec`). A start that fails (a program the kernel will not exec) is an error
//! for the caller, which then goes through the shell.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A started process: its pid and the read ends of its stdout and stderr.
pub(crate) struct Started {
    pub(crate) pid: libc::pid_t,
    pub(crate) stdout: File,
    pub(crate) stderr: File,
}

/// baton's environment as `KEY=value` C strings, taken once per spawner.
#[derive(Debug, Default, Clone)]
pub(crate) struct InheritedEnv {
    entries: std::sync::OnceLock<Vec<CString>>,
}

impl InheritedEnv {
    fn get(&self) -> &[CString] {
        self.entries.get_or_init(|| {
            std::env::vars_os()
                .filter_map(|(k, v)| {
                    let mut entry = k.into_encoded_bytes();
                    entry.push(b'=');
                    entry.extend(v.into_encoded_bytes());
                    CString::new(entry).ok()
                })
                .collect()
        })
    }
}

/// Starts `program` (a path) with `argv` in `cwd`, with baton's environment and
/// `env` over it (a later pair wins over an earlier one with the same name).
pub(crate) fn spawn(
    program: &Path,
    argv: &[&OsStr],
    cwd: &Path,
    env: &[(&str, &OsStr)],
    inherited: &InheritedEnv,
) -> io::Result<Started> {
    let program = c_string(program.as_os_str().as_bytes())?;
    let cwd = c_string(cwd.as_os_str().as_bytes())?;
    let argv: Vec<CString> = argv
        .iter()
        .map(|a| c_string(a.as_bytes()))
        .collect::<io::Result<_>>()?;
    let own: Vec<CString> = env
        .iter()
        .enumerate()
        // Only the last of the pairs with one name counts.
        .filter(|(i, (k, _))| !env[i + 1..].iter().any(|(later, _)| later == k))
        .map(|(_, (k, v))| {
            let mut entry = k.as_bytes().to_vec();
            entry.push(b'=');
            entry.extend_from_slice(v.as_bytes());
            c_string(&entry)
        })
        .collect::<io::Result<_>>()?;
    let overridden = |entry: &CString| {
        let bytes = entry.as_bytes();
        let name = bytes.split(|&b| b == b'=').next().unwrap_or(bytes);
        env.iter().any(|(k, _)| k.as_bytes() == name)
    };
    let mut envp: Vec<*const libc::c_char> = inherited
        .get()
        .iter()
        .filter(|e| !overridden(e))
        .chain(own.iter())
        .map(|e| e.as_ptr())
        .collect();
    envp.push(std::ptr::null());
    let mut argvp: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argvp.push(std::ptr::null());

    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let mut actions = FileActions::new()?;
    actions.open(0, c"/dev/null", libc::O_RDONLY)?;
    actions.dup2(&stdout_write, 1)?;
    actions.dup2(&stderr_write, 2)?;
    actions.chdir(&cwd)?;
    let attr = Attr::new()?;

    let mut pid: libc::pid_t = 0;
    // SAFETY: every pointer is valid for the call: `program` and the strings behind
    // `argvp` and `envp` live until it returns, both arrays end with a null
    // pointer, and `actions` and `attr` are initialised.
    let rc = unsafe {
        libc::posix_spawn(
            &mut pid,
            program.as_ptr(),
            &actions.0,
            &attr.0,
            argvp.as_ptr().cast::<*mut libc::c_char>(),
            envp.as_ptr().cast::<*mut libc::c_char>(),
        )
    };
    check(rc)?;
    // The write ends are the child's now (closed here when they drop).
    drop((stdout_write, stderr_write));
    Ok(Started {
        pid,
        stdout: File::from(stdout_read),
        stderr: File::from(stderr_read),
    })
}

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte"))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// A pipe, both ends close-on-exec (the child's ends are `dup2`ed to 1 and 2,
/// which clears the flag on those).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these two fds; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

struct FileActions(libc::posix_spawn_file_actions_t);

impl FileActions {
    fn new() -> io::Result<Self> {
        // SAFETY: a zeroed value is only storage; init fills it in.
        let mut actions: libc::posix_spawn_file_actions_t = unsafe { std::mem::zeroed() };
        // SAFETY: `actions` is writable storage of the right type.
        check(unsafe { libc::posix_spawn_file_actions_init(&mut actions) })?;
        Ok(Self(actions))
    }

    fn open(
        &mut self,
        fd: libc::c_int,
        path: &std::ffi::CStr,
        flags: libc::c_int,
    ) -> io::Result<()> {
        // SAFETY: `self.0` is initialised; glibc copies `path`.
        check(unsafe {
            libc::posix_spawn_file_actions_addopen(&mut self.0, fd, path.as_ptr(), flags, 0)
        })
    }

    fn dup2(&mut self, from: &OwnedFd, to: libc::c_int) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: `self.0` is initialised and `from` is an open fd.
        check(unsafe { libc::posix_spawn_file_actions_adddup2(&mut self.0, from.as_raw_fd(), to) })
    }

    fn chdir(&mut self, dir: &CString) -> io::Result<()> {
        // SAFETY: `self.0` is initialised; glibc copies `dir`.
        check(unsafe { libc::posix_spawn_file_actions_addchdir_np(&mut self.0, dir.as_ptr()) })
    }
}

impl Drop for FileActions {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

struct Attr(libc::posix_spawnattr_t);

impl Attr {
    /// Own process group, empty signal mask, SIGPIPE at its default action.
    fn new() -> io::Result<Self> {
        // SAFETY: a zeroed value is only storage; init fills it in.
        let mut attr: libc::posix_spawnattr_t = unsafe { std::mem::zeroed() };
        // SAFETY: `attr` is writable storage of the right type.
        check(unsafe { libc::posix_spawnattr_init(&mut attr) })?;
        let mut this = Self(attr);
        // SAFETY: zeroed sigset_t values are valid storage for sigemptyset.
        let (mut none, mut pipe): (libc::sigset_t, libc::sigset_t) =
            unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
        // SAFETY: `this.0` is initialised; the sets are valid for these calls.
        unsafe {
            libc::sigemptyset(&mut none);
            libc::sigemptyset(&mut pipe);
            libc::sigaddset(&mut pipe, libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigmask(&mut this.0, &none))?;
            check(libc::posix_spawnattr_setsigdefault(&mut this.0, &pipe))?;
            check(libc::posix_spawnattr_setpgroup(&mut this.0, 0))?;
            let flags = libc::POSIX_SPAWN_SETPGROUP
                | libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETSIGDEF;
            check(libc::posix_spawnattr_setflags(
                &mut this.0,
                libc::c_short::try_from(flags).unwrap_or_default(),
            ))?;
        }
        Ok(this)
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, destroyed once.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn run(argv: &[&str], env: &[(&str, &str)]) -> String {
        let argv: Vec<&OsStr> = argv.iter().map(OsStr::new).collect();
        let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, OsStr::new(v))).collect();
        let mut started = spawn(
            Path::new(argv[0]),
            &argv,
            Path::new("/"),
            &env,
            &InheritedEnv::default(),
        )
        .expect("starts");
        let mut out = String::new();
        started.stdout.read_to_string(&mut out).expect("read");
        let mut status = 0;
        // SAFETY: the pid is our child's; `status` is writable.
        unsafe { libc::waitpid(started.pid, &mut status, 0) };
        assert_eq!(status, 0, "{out}");
        out
    }

    #[test]
    fn the_child_gets_the_environment_with_the_last_override_winning() {
        let out = run(
            &["/usr/bin/env"],
            &[("HOME", "/a"), ("HOME", "/b"), ("X", "1")],
        );
        let homes: Vec<&str> = out.lines().filter(|l| l.starts_with("HOME=")).collect();
        assert_eq!(homes, ["HOME=/b"], "{out}");
        assert!(out.lines().any(|l| l == "X=1"), "{out}");
        assert!(
            out.lines().any(|l| l.starts_with("PATH=")),
            "inherited: {out}"
        );
    }

    #[test]
    fn the_child_leads_its_own_group_in_its_directory_with_sigpipe_default() {
        let out = run(
            &[
                "/bin/sh",
                "-c",
                "pwd; cut -d' ' -f1,5 /proc/$$/stat; grep SigIgn /proc/$$/status",
            ],
            &[],
        );
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("/"));
        let ids: Vec<&str> = lines.next().expect("stat").split(' ').collect();
        assert_eq!(ids[0], ids[1], "pid is its process group: {out}");
        let ignored = lines.next().expect("status");
        let mask = u64::from_str_radix(ignored.trim_start_matches("SigIgn:").trim(), 16)
            .expect("hex mask");
        assert_eq!(
            mask & (1 << (libc::SIGPIPE - 1)),
            0,
            "SIGPIPE not ignored: {out}"
        );
    }

    #[test]
    fn a_program_that_cannot_be_executed_is_an_error() {
        let argv = [OsStr::new("/nonexistent/program")];
        let err = spawn(
            Path::new("/nonexistent/program"),
            &argv,
            Path::new("/"),
            &[],
            &InheritedEnv::default(),
        )
        .err()
        .expect("fails");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
