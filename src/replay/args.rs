//! Checking replay's (and record's) option values before any input is
//! opened: each function turns one argument's text into the typed value the
//! library works with, or a one-line reason. The binaries hand them to clap
//! as value parsers, so that every bad value is a usage error (exit 2).

use regex::bytes::Regex;

use crate::event::{EventClassError, EventClasses};

/// A regex option's value (`-n`, `-l`, `--comm`, `--cgroup-path`): compiled
/// here so that a bad pattern is refused before anything is read.
pub fn regex(text: &str) -> Result<Regex, String> {
    Regex::new(text).map_err(|err| {
        // The regex crate explains over several lines; its last one says why.
        let text = err.to_string();
        let reason = text.lines().last().unwrap_or("").trim();
        format!("not a valid regex: {reason}")
    })
}

/// A UID, or a user name looked up in this machine's /etc/passwd (as
/// execsnoop -u does).
pub fn user(text: &str) -> Result<u32, String> {
    if let Ok(uid) = text.parse::<u32>() {
        return Ok(uid);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    uid_of(&passwd, text)
        .ok_or_else(|| format!("{text:?} is not a UID or a user name on this machine"))
}

/// The UID of user `name` in passwd(5) text.
fn uid_of(passwd: &str, name: &str) -> Option<u32> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let user = fields.next()?;
        let uid = fields.nth(1)?.parse::<u32>().ok()?;
        (user == name).then_some(uid)
    })
}

/// `--events`: a comma list of event classes.
pub fn event_classes(text: &str) -> Result<EventClasses, EventClassError> {
    EventClasses::parse_list(text)
}

/// `--container`: the start of a container id (lowercase hex as runtimes
/// write it, or a systemd-nspawn machine name).
pub fn container_prefix(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("an empty container id prefix would match every container".to_string());
    }
    if text.contains('/') {
        return Err(format!(
            "{text:?} is not a container id (it has a '/'; --cgroup-path takes paths)"
        ));
    }
    Ok(text.to_string())
}

/// Exit status of a usage error, as for every Unix tool.
pub const USAGE_EXIT: u8 = 2;

/// What a binary does with a clap parse error: `--help` and `--version`
/// print as clap does and exit 0; anything else is one line on stderr,
/// `TOOL: reason (try --help)`, and exit 2.
pub fn usage_exit(tool: &str, err: &clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        // Help printed into a closed pipe is not worth an error.
        let _ = err.print();
        return std::process::ExitCode::SUCCESS;
    }
    eprintln!("{tool}: {}", clap_one_line(err));
    std::process::ExitCode::from(USAGE_EXIT)
}

/// A clap parse error as one line: its first line without the `error: `
/// prefix (the rest is a usage hint).
fn clap_one_line(err: &clap::Error) -> String {
    let text = err.to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    format!(
        "{} (try --help)",
        first.strip_prefix("error: ").unwrap_or(first).trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_errors_are_one_line() {
        let err = regex("(").expect_err("unbalanced");
        assert!(!err.contains('\n'), "{err}");
        assert!(err.starts_with("not a valid regex"), "{err}");
        assert!(regex("a+b").is_ok());
    }

    #[test]
    fn users_by_number_or_name() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(uid_of(passwd, "alice"), Some(1000));
        assert_eq!(uid_of(passwd, "bob"), None);
        assert_eq!(user("42"), Ok(42));
        assert!(user("no-such-user-here").is_err());
    }
}
