//! Normalisation of the behavioural tree's lines: what varies from run to
//! run of the same workload is rewritten to a fixed marker before anything
//! is compared, so that it is not a difference.
//!
//! Pids, tids, times and latencies never reach a line (see `build`). What
//! can, inside path-like words (a word with a `/`, words split at spaces,
//! quotes, `,()[]{}=:;`), is rewritten by the built-in rules, on each
//! `/`-separated component:
//!
//! - a component under `proc` that is all digits (`/proc/4242/...`) → `{pid}`;
//! - mktemp's names: the last run of 6 or more letters and digits of a
//!   component, after a `.`, `-` or `_`, becomes `{rand}` when the
//!   component is mktemp's default `tmp.` + 10 characters, or sits directly
//!   in a `tmp` or `shm` directory (`/tmp`, `/var/tmp`, `/dev/shm`: where
//!   mktemp puts them), or mixes two of lowercase, uppercase and digits
//!   (`/build/out.a1B2c3`); a whole component of 6 or more in a `tmp`
//!   directory that mixes them too (`/tmp/Xa81kQ`);
//! - any other run of 6 or more hex digits of one case with at least one
//!   digit (ids, hashes, long numbers such as timestamps) → `{hex}`.
//!
//! Then the user's `--normalize REGEX=REPLACEMENT` rules, in the order given,
//! on the line after its keyword (see `model::Session::line`). The markers
//! do not match the built-in rules again, so
//! normalising twice gives what normalising once gave: an expectation file,
//! already normalised, is read through the same rules.

use std::borrow::Cow;

use regex::Regex;

/// A user's `--normalize REGEX=REPLACEMENT`.
#[derive(Debug, Clone)]
pub struct Rewrite {
    pub pattern: Regex,
    /// With `$1`, `${name}` for the pattern's groups (the regex crate's syntax).
    pub replacement: String,
}

/// `--normalize`'s value: `REGEX=REPLACEMENT`, split at the first `=` (a
/// `=` in the regex is written `\x3D`); the regex is checked here, so that
/// a bad one is a usage error.
pub fn rewrite_rule(text: &str) -> Result<Rewrite, String> {
    let Some((pattern, replacement)) = text.split_once('=') else {
        return Err(format!(
            "{text:?} is not REGEX=REPLACEMENT (write a = inside the regex as \\x3D)"
        ));
    };
    if pattern.is_empty() {
        return Err("the regex before = is empty".to_string());
    }
    Ok(Rewrite {
        pattern: line_regex(pattern)?,
        replacement: replacement.to_string(),
    })
}

/// A regex over the tree's lines (`--ignore`, `--normalize`), as one line of error.
pub fn line_regex(text: &str) -> Result<Regex, String> {
    Regex::new(text).map_err(|err| {
        let text = err.to_string();
        let reason = text.lines().last().unwrap_or("").trim();
        format!("not a valid regex: {reason}")
    })
}

/// The built-in rules (unless turned off) and the user's rewrites.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    pub builtin: bool,
    pub rewrites: Vec<Rewrite>,
}

impl Normalizer {
    /// Normalises one line.
    pub fn apply<'a>(&self, line: &'a str) -> Cow<'a, str> {
        let mut text = if self.builtin {
            builtin(line)
        } else {
            Cow::Borrowed(line)
        };
        for rewrite in &self.rewrites {
            if let Cow::Owned(rewritten) = rewrite
                .pattern
                .replace_all(&text, rewrite.replacement.as_str())
            {
                text = Cow::Owned(rewritten);
            }
        }
        text
    }
}

/// Where a path-like word ends.
fn is_word_delimiter(byte: u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t'
            | b'"'
            | b'\''
            | b','
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'='
            | b':'
            | b';'
    )
}

/// The built-in rules over a line; borrows when nothing changes.
pub fn builtin(line: &str) -> Cow<'_, str> {
    let bytes = line.as_bytes();
    if !bytes.contains(&b'/') {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut changed = false;
    let mut at = 0;
    while at < line.len() {
        let end = bytes[at..]
            .iter()
            .position(|&b| is_word_delimiter(b))
            .map_or(line.len(), |offset| at + offset);
        let word = &line[at..end];
        if word.contains('/') {
            changed |= push_word(&mut out, word);
        } else {
            out.push_str(word);
        }
        if end < line.len() {
            out.push_str(&line[end..end + 1]);
        }
        at = end + 1;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(line)
    }
}

/// Appends a path-like word, component by component; true if a rule applied.
fn push_word(out: &mut String, word: &str) -> bool {
    let mut changed = false;
    let mut previous = "";
    for (index, component) in word.split('/').enumerate() {
        if index > 0 {
            out.push('/');
        }
        changed |= push_component(out, component, previous);
        previous = component;
    }
    changed
}

/// The alphanumeric runs of a component, as byte ranges.
fn runs(component: &str) -> Vec<(usize, usize)> {
    let bytes = component.as_bytes();
    let mut found = Vec::new();
    let mut start = None;
    for (at, byte) in bytes.iter().enumerate() {
        match (byte.is_ascii_alphanumeric(), start) {
            (true, None) => start = Some(at),
            (false, Some(s)) => {
                found.push((s, at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        found.push((s, bytes.len()));
    }
    found
}

/// How many of lowercase, uppercase and digits a run has.
fn classes(run: &str) -> usize {
    let lower = run.bytes().any(|b| b.is_ascii_lowercase());
    let upper = run.bytes().any(|b| b.is_ascii_uppercase());
    let digit = run.bytes().any(|b| b.is_ascii_digit());
    usize::from(lower) + usize::from(upper) + usize::from(digit)
}

/// 6+ hex digits of one case, at least one of them a digit.
fn is_hex_id(run: &str) -> bool {
    let lower = run.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let upper = run.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'));
    run.len() >= 6 && (lower || upper) && run.bytes().any(|b| b.is_ascii_digit())
}

/// Whether the last run of `component`, at `start..`, is a mktemp-style name.
fn is_random_suffix(component: &str, start: usize, previous: &str) -> bool {
    let run = &component[start..];
    if run.len() < 6 {
        return false;
    }
    let in_tmp = matches!(previous, "tmp" | "shm");
    if start == 0 {
        // No template prefix: only in a temporary directory, and mixed.
        return in_tmp && classes(run) >= 2;
    }
    let separated = matches!(component.as_bytes()[start - 1], b'.' | b'-' | b'_');
    let mktemp_default = component == format!("tmp.{run}") && run.len() == 10;
    separated && (mktemp_default || in_tmp || classes(run) >= 2)
}

fn push_component(out: &mut String, component: &str, previous: &str) -> bool {
    if previous == "proc" && !component.is_empty() && component.bytes().all(|b| b.is_ascii_digit())
    {
        out.push_str("{pid}");
        return true;
    }
    let runs = runs(component);
    let mut changed = false;
    let mut copied = 0;
    for (index, &(start, end)) in runs.iter().enumerate() {
        let run = &component[start..end];
        let last = index + 1 == runs.len() && end == component.len();
        let marker = if last && is_random_suffix(component, start, previous) {
            "{rand}"
        } else if is_hex_id(run) {
            "{hex}"
        } else {
            continue;
        };
        out.push_str(&component[copied..start]);
        out.push_str(marker);
        copied = end;
        changed = true;
    }
    out.push_str(&component[copied..]);
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(line: &str) -> String {
        builtin(line).into_owned()
    }

    #[test]
    fn mktemp_names_become_markers() {
        assert_eq!(
            norm("exec /bin/ls [ls /tmp/tmp.AbCdEfGhIj]"),
            "exec /bin/ls [ls /tmp/tmp.{rand}]"
        );
        // mktemp's default name anywhere, even all lowercase.
        assert_eq!(norm("/work/tmp.abcdefghij/x"), "/work/tmp.{rand}/x");
        // A template in /tmp, whatever its characters.
        assert_eq!(norm("/tmp/foo.abcdef"), "/tmp/foo.{rand}");
        assert_eq!(
            norm("/var/tmp/build-QWERTY/out"),
            "/var/tmp/build-{rand}/out"
        );
        assert_eq!(norm("/dev/shm/x_a1b2c3"), "/dev/shm/x_{rand}");
        // Elsewhere, only a mixed-looking run after a separator.
        assert_eq!(norm("/srv/foo.a1B2c3"), "/srv/foo.{rand}");
        assert_eq!(norm("/tmp/Xa81kQ/y"), "/tmp/{rand}/y");
        // Quoted, in a mount call.
        assert_eq!(
            norm(r#"mount("none", "/tmp/tmp.Q1w2E3r4T5", "tmpfs", 0x0, "") = 0"#),
            r#"mount("none", "/tmp/tmp.{rand}", "tmpfs", 0x0, "") = 0"#
        );
        // After an option's =.
        assert_eq!(norm("--dir=/tmp/tmp.Q1w2E3r4T5"), "--dir=/tmp/tmp.{rand}");
    }

    #[test]
    fn ordinary_paths_stay() {
        for path in [
            "/usr/bin/python3.11",
            "/usr/bin/sha256sum",
            "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1",
            "/lib/modules/6.1.0-18-amd64/kernel",
            "/usr/share/ca-certificates/mozilla",
            "/etc/systemd/system/foo.service",
            "/usr/bin/base64",
            "/home/user/project/facade",
            "exec /bin/echo [echo a1B2c3d4]",
        ] {
            assert_eq!(norm(path), path, "{path}");
        }
        // Words without a slash are not paths.
        assert_eq!(norm("proc 1234567"), "proc 1234567");
    }

    #[test]
    fn ids_and_pids_become_markers() {
        assert_eq!(norm("/proc/4242/status"), "/proc/{pid}/status");
        assert_eq!(norm("/proc/self/status"), "/proc/self/status");
        assert_eq!(
            norm("/sys/fs/cgroup/docker-3f2a9c8d1e0b.scope"),
            "/sys/fs/cgroup/docker-{hex}.scope"
        );
        assert_eq!(norm("/var/log/app-20240101.log"), "/var/log/app-{hex}.log");
        assert_eq!(norm("/x/DEADBEEF01/y"), "/x/{hex}/y");
        // Letters alone, or mixed case, are not an id.
        assert_eq!(norm("/x/deadbeef/y"), "/x/deadbeef/y");
    }

    #[test]
    fn normalising_twice_is_normalising_once() {
        for line in [
            "exec /bin/ls [ls /tmp/tmp.AbCdEfGhIj /proc/77/fd /x/0123abcd]",
            r#"mount("a", "/tmp/foo.abcdef", "tmpfs", MS_NOSUID, "") = 0"#,
        ] {
            let once = norm(line);
            assert_eq!(norm(&once), once);
        }
    }

    #[test]
    fn user_rewrites_follow_the_builtins() {
        let normalizer = Normalizer {
            builtin: true,
            rewrites: vec![rewrite_rule(r"build-(\d+)=build-N$1").expect("rule")],
        };
        assert_eq!(
            normalizer.apply("exec /bin/make [make build-42 /tmp/tmp.AbCdEfGhIj]"),
            "exec /bin/make [make build-N42 /tmp/tmp.{rand}]"
        );
        let raw = Normalizer {
            builtin: false,
            rewrites: Vec::new(),
        };
        assert_eq!(raw.apply("/tmp/tmp.AbCdEfGhIj"), "/tmp/tmp.AbCdEfGhIj");
    }

    #[test]
    fn rewrite_rules_are_checked() {
        assert!(rewrite_rule("no-equals").is_err());
        assert!(rewrite_rule("=x").is_err());
        assert!(rewrite_rule("(=x")
            .expect_err("bad regex")
            .contains("regex"));
        let rule = rewrite_rule(r"a\x3Db=c=d").expect("= in the replacement");
        assert_eq!(rule.replacement, "c=d");
        assert!(rule.pattern.is_match("a=b"));
    }
}
