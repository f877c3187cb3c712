//! Running a simple command without its shell, as make does.
//!
//! A `run` such as `cargo build --release` or `sleep 0.5` means exactly "execute
//! this program with these words": the shell would only parse it and exec it
//! (bash and dash both exec a lone simple command instead of forking). Skipping the
//! shell saves its start-up, about 1 ms per beat for bash, which is most of what a
//! short beat costs. The rule is conservative; anything it does not recognise goes
//! through the shell:
//!
//! - the shell is `sh`, `bash` or `dash` with `-c` last and only `-e`, `-u` and
//!   `-o pipefail|errexit|nounset` before it (flags that cannot change what one
//!   simple command does; `-x`, `-l`, `-i` or anything else keeps the shell), and
//!   for bash the environment holds no `BASH_ENV` (a file bash would source first),
//!   no exported function (`BASH_FUNC_*`, which could shadow the program) and no
//!   `SHELLOPTS`/`BASHOPTS`;
//! - the command is words of plain characters (letters, digits and `_ . / , : @ % + = -`)
//!   separated by spaces or tabs: no quotes, `$`, globs, `~`, `#`, redirections,
//!   pipes, `;`, `&`, parentheses, braces or backslashes;
//! - the first word is not an assignment and not a shell keyword or builtin, except
//!   `true` and `false`, whose programs behave the same;
//! - the program is found: on the `PATH` (the beat's own `PATH` when it sets one), or
//!   at its absolute path (a relative one such as `./build.sh` keeps the shell, which
//!   hands that exact path to a script's interpreter). A missing program goes
//!   through the shell, which reports "command not found" with exit 127 as usual.
//!
//! The program gets what the shell would have given it: its word as `argv[0]`, the
//! same environment, and `PWD` set to the beat's directory.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::spawner::{Shell, find_in};

/// A command line that runs as one program, without the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectCommand {
    /// The resolved program.
    pub program: PathBuf,
    /// The first word as written, passed as `argv[0]`.
    pub argv0: String,
    pub args: Vec<String>,
}

/// Keywords and builtins of bash and POSIX sh: a first word among these needs the
/// shell (`cd`, `export`, `exit 3`, `echo`, `pwd`...). `true` and `false` are not
/// here: `/usr/bin/true` does what the builtin does.
const SHELL_WORDS: &[&str] = &[
    "!",
    ".",
    ":",
    "[",
    "[[",
    "]]",
    "{",
    "}",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "case",
    "cd",
    "command",
    "compgen",
    "complete",
    "compopt",
    "continue",
    "coproc",
    "declare",
    "dirs",
    "disown",
    "do",
    "done",
    "echo",
    "elif",
    "else",
    "enable",
    "esac",
    "eval",
    "exec",
    "exit",
    "export",
    "fc",
    "fg",
    "fi",
    "for",
    "function",
    "getopts",
    "hash",
    "help",
    "history",
    "if",
    "in",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "select",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "then",
    "time",
    "times",
    "trap",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "until",
    "wait",
    "while",
];

/// `command` as a program to execute directly, when the rules of the module allow.
/// `env` is what baton adds to its own environment for the beat.
pub fn direct_command(
    command: &str,
    shell: &Shell,
    env: &[(String, String)],
) -> Option<DirectCommand> {
    let var = |name: &str| -> Option<OsString> {
        match env.iter().rev().find(|(k, _)| k == name) {
            Some((_, v)) => Some(OsString::from(v)),
            None => std::env::var_os(name),
        }
    };
    let shell_name = shell.program.file_name()?.to_str()?;
    if !plain_shell(shell_name, &shell.args)
        || (shell_name == "bash" && bash_reads_environment(env))
    {
        return None;
    }
    let mut words = command
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .map(str::to_owned);
    let first = words.next()?;
    if !command.chars().all(plain_char) || first.contains('=') || SHELL_WORDS.contains(&&*first) {
        return None;
    }
    let program = if first.starts_with('/') {
        let path = PathBuf::from(&first);
        crate::spawner::is_executable(&path).then_some(path)?
    } else if first.contains('/') {
        // `./build.sh`: the shell passes the relative path on to a script's
        // interpreter (its `$0`); keep that exact.
        return None;
    } else {
        find_in(&var("PATH")?, &first)?
    };
    Some(DirectCommand {
        program,
        argv0: first,
        args: words.collect(),
    })
}

/// Whether bash would take more than variables from the environment: a file to
/// source first (`BASH_ENV`), exported functions (`BASH_FUNC_name%%`, which could
/// shadow the program) or options (`SHELLOPTS`, `BASHOPTS`).
fn bash_reads_environment(env: &[(String, String)]) -> bool {
    let special = |name: &str| {
        name == "BASH_ENV"
            || name == "SHELLOPTS"
            || name == "BASHOPTS"
            || name.starts_with("BASH_FUNC_")
    };
    // baton's own environment does not change during a run: looked at once.
    static INHERITED: OnceLock<bool> = OnceLock::new();
    env.iter().any(|(k, v)| special(k) && !v.is_empty())
        || *INHERITED.get_or_init(|| {
            std::env::vars_os().any(|(k, v)| k.to_str().is_some_and(special) && !v.is_empty())
        })
}

/// `sh`, `bash` or `dash` with flags that cannot change one simple command, `-c` last.
fn plain_shell(name: &str, args: &[String]) -> bool {
    if !matches!(name, "sh" | "bash" | "dash") {
        return false;
    }
    let Some((last, flags)) = args.split_last() else {
        return false;
    };
    if last != "-c" {
        return false;
    }
    let mut expect_option_name = false;
    for flag in flags {
        if expect_option_name {
            if !matches!(flag.as_str(), "pipefail" | "errexit" | "nounset") {
                return false;
            }
            expect_option_name = false;
            continue;
        }
        let Some(letters) = flag.strip_prefix('-') else {
            return false;
        };
        if letters.is_empty() || !letters.chars().all(|c| matches!(c, 'e' | 'u' | 'o')) {
            return false;
        }
        // `-o NAME`: `o` takes the next word (bash accepts it anywhere in a group).
        expect_option_name = letters.contains('o');
    }
    !expect_option_name
}

fn plain_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            ' ' | '\t' | '_' | '.' | '/' | ',' | ':' | '@' | '%' | '+' | '=' | '-'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bash() -> Shell {
        Shell {
            program: PathBuf::from("/bin/bash"),
            args: vec!["-eo".into(), "pipefail".into(), "-c".into()],
        }
    }

    fn direct(command: &str) -> Option<DirectCommand> {
        direct_command(command, &bash(), &[])
    }

    #[test]
    fn plain_words_run_directly_with_their_arguments() {
        let d = direct("sleep  0.5").expect("sleep runs directly");
        assert!(d.program.ends_with("sleep"), "{d:?}");
        assert_eq!(d.argv0, "sleep");
        assert_eq!(d.args, vec!["0.5"]);
        let d = direct("true").expect("true runs directly");
        assert!(d.program.ends_with("true"));
        assert!(d.args.is_empty());
        assert!(
            direct("env FOO=bar true").is_some(),
            "= after the first word"
        );
    }

    #[test]
    fn anything_the_shell_would_interpret_keeps_the_shell() {
        for command in [
            "echo hi",
            "cd /tmp",
            "exit 3",
            "FOO=1 true",
            "true; false",
            "true && false",
            "true | cat",
            "true > out",
            "ls *.rs",
            "ls ~",
            "echo $HOME",
            "printf 'a b'",
            "true # comment",
            "true\nfalse",
            "(true)",
            "ls a\\ b",
            "",
            "   ",
        ] {
            assert_eq!(
                direct(command),
                None,
                "{command:?} must go through the shell"
            );
        }
    }

    #[test]
    fn a_missing_program_keeps_the_shell_for_its_127() {
        assert_eq!(direct("no-such-program-anywhere-baton"), None);
        assert_eq!(direct("/no/such/program"), None);
        assert_eq!(direct("./build.sh"), None, "relative paths keep the shell");
        assert!(direct("/bin/sh").is_some());
    }

    #[test]
    fn the_beats_path_is_searched() {
        let env = [("PATH".to_owned(), "/nonexistent-dir".to_owned())];
        assert_eq!(direct_command("true", &bash(), &env), None);
    }

    #[test]
    fn only_plain_posix_shells_are_skipped() {
        let shell = |program: &str, args: &[&str]| Shell {
            program: PathBuf::from(program),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
        };
        let ok = |s: &Shell| direct_command("true", s, &[]).is_some();
        assert!(ok(&shell("/bin/sh", &["-c"])));
        assert!(ok(&shell("/usr/bin/bash", &["-euo", "pipefail", "-c"])));
        assert!(ok(&shell("bash", &["-e", "-o", "pipefail", "-c"])));
        assert!(!ok(&shell("/bin/bash", &["-x", "-c"])));
        assert!(!ok(&shell("/bin/bash", &["-l", "-c"])));
        assert!(!ok(&shell("/bin/bash", &["-o", "xtrace", "-c"])));
        assert!(!ok(&shell("/bin/bash", &["-c", "-e"])));
        assert!(!ok(&shell("/usr/bin/python3", &["-c"])));
        assert!(!ok(&shell("/usr/bin/zsh", &["-c"])));
    }

    #[test]
    fn bash_env_keeps_bash() {
        let env = [("BASH_ENV".to_owned(), "/etc/profile".to_owned())];
        assert_eq!(direct_command("true", &bash(), &env), None);
        let function = [(
            "BASH_FUNC_true%%".to_owned(),
            "() { echo shadowed; }".to_owned(),
        )];
        assert_eq!(direct_command("true", &bash(), &function), None);
        let options = [("SHELLOPTS".to_owned(), "xtrace".to_owned())];
        assert_eq!(direct_command("true", &bash(), &options), None);
        let sh = Shell {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into()],
        };
        assert!(direct_command("true", &sh, &env).is_some());
    }
}
