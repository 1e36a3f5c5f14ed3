//! Redaction of captured strings: `--redact REGEX` and `--redact-default`,
//! on `record` (before anything reaches the disk) and on `replay -w`.
//!
//! A [`Redactor`] holds the rules and counts what they replaced. It rewrites
//! raw kernel records in place of their string items ([`Redactor::redact_record`]:
//! argv, filenames, mount source/target/fstype/data, fsconfig keys and values,
//! move_mount/open_tree/fspick/mount_setattr paths, the argv block of an exec
//! record), keeping the record valid: each item's `len` is its new length, the
//! record's `size` the new total, flags as they were (an item that no longer
//! fits its limit is cut and marked `TRUNCATED`, and an exec's argv that no
//! longer fits the record loses its last entries with `ARGV_TRUNCATED`, as the
//! kernel side does when it runs out of room). It also scrubs the start
//! snapshot's command lines and any list of strings (a header's command line).
//!
//! A rule with capture groups replaces what its groups matched
//! (`--password=(\S+)` keeps `--password=`); without groups, the whole match.
//! Replacements are the marker [`MARKER`]; a span that already is the marker
//! is left alone, so redacting twice counts nothing new.

use regex::bytes::{Regex, RegexBuilder};

use crate::bpf::layout;
use crate::format::{ProcessInfo, RedactionCount, RedactionStep};

/// What replaces a secret.
pub const MARKER: &str = "[REDACTED]";

/// Offsets in the raw layouts (docs/FORMAT.md, "Raw record layouts").
const KIND_AT: usize = 20;
const SYSCALL_AT: usize = 21;
const SIZE_AT: usize = 16;
const NSTRINGS_AT: usize = 128;
const FLAGS_AT: usize = 130;
const ENTER_SIZE: usize = layout::SC_ENTER_SIZE as usize;
const STR_SIZE: usize = layout::SC_STR_SIZE as usize;
const MAX_RECORD: usize = (layout::SC_ENTER_SIZE + layout::SC_STRING_AREA) as usize;
/// The largest item of any kind (paths, data, argv entries, the exec argv block).
const ITEM_MAX: usize = 4096;
const STR_TRUNCATED: u16 = layout::SC_STR_TRUNCATED as u16;
const STR_ABSENT: u16 =
    (layout::SC_STR_NULL | layout::SC_STR_FAULT | layout::SC_STR_SKIPPED) as u16;
const ARGV_TRUNCATED: u16 = layout::SC_ENTER_ARGV_TRUNCATED as u16;

/// Secret-looking option names, shared by several built-in rules.
const SECRET_WORDS: &str = "password|passwd|passphrase|pass|pwd|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|client[-_]?secret|credentials?";

/// How a rule finds what to replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleKind {
    /// Within one string: its groups' spans, or the whole match.
    Match,
    /// An argv entry the regex matches whole is a secret flag: the entry
    /// after it is replaced whole (`--password hunter2` as two arguments).
    NextArgument,
    /// An fsconfig key the regex matches names a secret: its value is
    /// replaced whole.
    SecretKey,
}

#[derive(Debug, Clone)]
struct Rule {
    name: String,
    regex: Regex,
    kind: RuleKind,
}

/// A `--redact` value that is not a usable regex.
#[derive(Debug, thiserror::Error)]
#[error("bad --redact regex '{pattern}': {reason}")]
pub struct RuleError {
    pattern: String,
    reason: String,
}

/// Checks a `--redact` value (clap value parser): a regex over bytes.
pub fn parse_rule(pattern: &str) -> Result<Regex, RuleError> {
    if pattern.is_empty() {
        return Err(RuleError {
            pattern: pattern.to_string(),
            reason: "empty (it would match everywhere)".to_string(),
        });
    }
    let regex = Regex::new(pattern).map_err(|e| RuleError {
        pattern: pattern.to_string(),
        // The regex crate's messages span several lines.
        reason: e
            .to_string()
            .lines()
            .last()
            .unwrap_or("invalid")
            .trim()
            .to_string(),
    })?;
    if regex.is_match(b"") {
        return Err(RuleError {
            pattern: pattern.to_string(),
            reason: "it matches the empty string".to_string(),
        });
    }
    Ok(regex)
}

fn builtin(name: &str, pattern: &str, kind: RuleKind) -> Option<Rule> {
    // The built-in patterns are constants tested below; one that failed
    // to compile would be left out rather than stop a recording.
    let regex = RegexBuilder::new(pattern)
        .size_limit(1 << 22)
        .build()
        .ok()?;
    Some(Rule {
        name: name.to_string(),
        regex,
        kind,
    })
}

/// The rules of `--redact-default`: common secrets on command lines and in
/// mount options.
fn default_rules() -> Vec<Rule> {
    use RuleKind::{Match, NextArgument, SecretKey};
    let w = SECRET_WORDS;
    [
        // --password=x, -token x, --db-password 'x' (inside one string).
        (
            "secret-flag",
            format!(r#"(?i)(?:^|[\s'"])--?(?:[a-z0-9]+[-_.])*(?:{w})(?:=|\s+)['"]?([^\s'";&|]+)"#),
            Match,
        ),
        // AWS_SECRET_ACCESS_KEY=x, GITHUB_TOKEN=x, MYSQL_PWD=x, export DB_PASS=x.
        (
            "secret-variable",
            r#"(?i)(?:^|[\s'";&|(])[a-z0-9_]*(?:password|passwd|passphrase|secret|token|api_?key|access_?key|private_?key|credentials?|_pwd|_pass)[a-z0-9_]*=['"]?([^\s'";&|]+)"#.to_string(),
            Match,
        ),
        // Mount options: username=u,password=x,credentials=/path.
        (
            "secret-option",
            r"(?i)(?:^|,)[a-z0-9_.-]*(?:password|passwd|pass|secret|token|key|credentials?)[a-z0-9_.-]*=([^,\s]+)".to_string(),
            Match,
        ),
        // Authorization: Bearer x / Basic x / x (curl -H, wget --header).
        (
            "authorization-header",
            r#"(?i)\b(?:proxy-)?authorization\s*:\s*(?:(?:bearer|basic|token|digest|negotiate|apikey)\s+)?([^\s'"]+)"#.to_string(),
            Match,
        ),
        ("bearer-token", r"(?i)\bbearer\s+([a-z0-9._~+/=-]{8,})".to_string(), Match),
        // curl -u user:password.
        (
            "user-password-option",
            r#"(?:^|\s)(?:-u|--user|--proxy-user)(?:=|\s+)['"]?[^\s:'"]*:([^\s'"]+)"#.to_string(),
            Match,
        ),
        // scheme://user:password@host.
        (
            "url-credentials",
            r#"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@'"]*:([^/\s@'"]+)@"#.to_string(),
            Match,
        ),
        (
            "aws-access-key-id",
            r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\b".to_string(),
            Match,
        ),
        (
            "token-literal",
            r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|glpat-[A-Za-z0-9_-]{20,}|sk_live_[A-Za-z0-9]{16,})\b".to_string(),
            Match,
        ),
        (
            "private-key",
            r"(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z)".to_string(),
            Match,
        ),
        // --password hunter2 as two argv entries: the entry after the flag.
        (
            "secret-flag-argument",
            format!(r"(?i)^--?(?:[a-z0-9]+[-_.])*(?:{w})$"),
            NextArgument,
        ),
        // fsconfig(fd, FSCONFIG_SET_STRING, "password", "x").
        (
            "secret-fsconfig-key",
            r"(?i)pass|secret|token|key|cred|auth".to_string(),
            SecretKey,
        ),
    ]
    .into_iter()
    .filter_map(|(name, pattern, kind)| builtin(name, &pattern, kind))
    .collect()
}

/// The rules and what they replaced so far.
#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Vec<Rule>,
    marker: Vec<u8>,
    by_rule: Vec<u64>,
    strings: u64,
}

impl Redactor {
    /// The `--redact` rules (`user`), then the built-in ones with `defaults`.
    pub fn new(user: &[Regex], defaults: bool) -> Redactor {
        let mut rules: Vec<Rule> = user
            .iter()
            .map(|regex| Rule {
                name: "user".to_string(),
                regex: regex.clone(),
                kind: RuleKind::Match,
            })
            .collect();
        if defaults {
            rules.extend(default_rules());
        }
        Redactor {
            by_rule: vec![0; rules.len()],
            rules,
            marker: MARKER.as_bytes().to_vec(),
            strings: 0,
        }
    }

    /// No rule: nothing would ever change.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// `Some(self)` unless it has no rule (so that callers skip it whole).
    pub fn then_some_nonempty(self) -> Option<Redactor> {
        (!self.is_empty()).then_some(self)
    }

    /// Replacements made so far, all rules.
    pub fn replacements(&self) -> u64 {
        self.by_rule.iter().sum()
    }

    /// The capture header's description of this pass.
    pub fn step(&self, stage: &str, wall_ns: i64) -> RedactionStep {
        RedactionStep {
            stage: stage.to_string(),
            wall_ns,
            rules: self
                .rules
                .iter()
                .map(|r| format!("{}: {}", r.name, r.regex.as_str()))
                .collect(),
            marker: MARKER.to_string(),
        }
    }

    /// The counts so far, as the envelope of pass `step`.
    pub fn count(&self, step: u32) -> RedactionCount {
        RedactionCount {
            step,
            replacements: self.replacements(),
            by_rule: self.by_rule.clone(),
            strings: self.strings,
        }
    }

    /// `value` with every [`RuleKind::Match`] rule applied, or `None` when
    /// no rule changed it.
    pub fn redact_bytes(&mut self, value: &[u8]) -> Option<Vec<u8>> {
        let mut current: Option<Vec<u8>> = None;
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.kind != RuleKind::Match {
                continue;
            }
            let input = current.as_deref().unwrap_or(value);
            if let Some((out, n)) = replace_all(&rule.regex, input, &self.marker) {
                self.by_rule[index] += n;
                current = Some(out);
            }
        }
        if current.is_some() {
            self.strings += 1;
        }
        current
    }

    /// A whole value replaced by a context rule (`rule`), unless it already is the marker.
    fn replace_whole(&mut self, rule: usize, value: &[u8]) -> Option<Vec<u8>> {
        if value == self.marker.as_slice() {
            return None;
        }
        self.by_rule[rule] += 1;
        self.strings += 1;
        Some(self.marker.clone())
    }

    /// The first rule of `kind` whose regex matches `value`.
    fn context_rule(&self, kind: RuleKind, value: &[u8]) -> Option<usize> {
        self.rules
            .iter()
            .position(|r| r.kind == kind && r.regex.is_match(value))
    }

    /// Redacts a list of arguments (argv): each on its own, and the entry
    /// after a secret flag whole.
    fn redact_argv(&mut self, argv: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
        let mut out = Vec::with_capacity(argv.len());
        let mut after_flag = None;
        for arg in argv {
            let changed = match after_flag.take() {
                Some(rule) => self.replace_whole(rule, arg),
                None => self.redact_bytes(arg),
            };
            after_flag = self.context_rule(RuleKind::NextArgument, arg);
            out.push(changed);
        }
        out
    }

    /// Scrubs a list of strings (a command line) in place.
    pub fn redact_strings(&mut self, values: &mut [String]) {
        let argv: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
        let changed = self.redact_argv(&argv);
        for (value, new) in values.iter_mut().zip(changed) {
            if let Some(new) = new {
                *value = String::from_utf8_lossy(&new).into_owned();
            }
        }
    }

    /// Scrubs a snapshot process's command line; true when it changed.
    pub fn redact_process(&mut self, process: &mut ProcessInfo) -> bool {
        let argv: Vec<&[u8]> = process.argv.iter().map(Vec::as_slice).collect();
        let changed = self.redact_argv(&argv);
        let mut any = false;
        for (value, new) in process.argv.iter_mut().zip(changed) {
            if let Some(new) = new {
                *value = new;
                any = true;
            }
        }
        any
    }

    /// The record with its strings redacted, or `None` when nothing in it
    /// changed (or it is not a record with strings, or it does not parse:
    /// such a record is left as the kernel wrote it).
    pub fn redact_record(&mut self, raw: &[u8]) -> Option<Vec<u8>> {
        if self.rules.is_empty() {
            return None;
        }
        let kind = u64::from(*raw.get(KIND_AT)?);
        if kind != layout::SC_REC_ENTER
            && kind != layout::SC_REC_REFETCH
            && kind != layout::SC_REC_EXEC
        {
            return None;
        }
        let syscall = *raw.get(SYSCALL_AT)?;
        let mut items = parse_items(raw)?;
        let changed = if kind == layout::SC_REC_EXEC {
            self.redact_exec_record(&mut items)
        } else {
            self.redact_items(syscall, &mut items)
        };
        if !changed {
            return None;
        }
        Some(rebuild(raw, items, is_exec(syscall)))
    }

    /// Entry and refetch records: which items are what, by syscall.
    fn redact_items(&mut self, syscall: u8, items: &mut [Item]) -> bool {
        let sys = u64::from(syscall);
        let mut changed = false;
        if is_exec(syscall) {
            // filename, then argv.
            if let Some(first) = items.first_mut() {
                changed |= self.redact_item(first);
            }
            let argv: Vec<&[u8]> = items.iter().skip(1).map(|i| i.data.as_slice()).collect();
            let new = self.redact_argv(&argv);
            for (item, new) in items.iter_mut().skip(1).zip(new) {
                if let Some(new) = new {
                    if item.flags & STR_ABSENT == 0 {
                        item.set(new);
                        changed = true;
                    }
                }
            }
            return changed;
        }
        if sys == layout::SC_SYS_FSCONFIG {
            let secret_key = items
                .first()
                .filter(|k| k.flags & STR_ABSENT == 0)
                .and_then(|k| self.context_rule(RuleKind::SecretKey, &k.data));
            if let Some(first) = items.first_mut() {
                changed |= self.redact_item(first);
            }
            if let Some(value) = items.get_mut(1) {
                if value.flags & STR_ABSENT == 0 {
                    let new = match secret_key {
                        Some(rule) => self.replace_whole(rule, &value.data),
                        None => self.redact_bytes(&value.data),
                    };
                    if let Some(new) = new {
                        value.set(new);
                        changed = true;
                    }
                }
            }
            return changed;
        }
        for (index, item) in items.iter_mut().enumerate() {
            // mount_setattr's second item is a struct mount_attr, not text.
            if sys == layout::SC_SYS_MOUNT_SETATTR && index == 1 {
                continue;
            }
            changed |= self.redact_item(item);
        }
        changed
    }

    /// An exec record: the filename, and argv as one blob of NUL-terminated strings.
    fn redact_exec_record(&mut self, items: &mut [Item]) -> bool {
        let mut changed = false;
        if let Some(first) = items.first_mut() {
            changed |= self.redact_item(first);
        }
        let Some(block) = items.get_mut(1) else {
            return changed;
        };
        if block.flags & STR_ABSENT != 0 || block.data.is_empty() {
            return changed;
        }
        let ends_with_nul = block.data.last() == Some(&0);
        let body = block.data.strip_suffix(&[0]).unwrap_or(&block.data);
        let argv: Vec<&[u8]> = body.split(|&b| b == 0).collect();
        let new = self.redact_argv(&argv);
        if new.iter().all(Option::is_none) {
            return changed;
        }
        let mut joined = Vec::with_capacity(block.data.len() + 16);
        for (index, (old, new)) in argv.iter().zip(&new).enumerate() {
            if index > 0 {
                joined.push(0);
            }
            joined.extend_from_slice(new.as_deref().unwrap_or(old));
        }
        if ends_with_nul {
            joined.push(0);
        }
        block.set(joined);
        true
    }

    fn redact_item(&mut self, item: &mut Item) -> bool {
        if item.flags & STR_ABSENT != 0 || item.data.is_empty() {
            return false;
        }
        match self.redact_bytes(&item.data) {
            Some(new) => {
                item.set(new);
                true
            }
            None => false,
        }
    }
}

fn is_exec(syscall: u8) -> bool {
    let sys = u64::from(syscall);
    sys == layout::SC_SYS_EXECVE || sys == layout::SC_SYS_EXECVEAT
}

/// Every span `regex` selects in `value` (its groups', or the whole
/// match's), each replaced by `marker`; `None` when there is none.
fn replace_all(regex: &Regex, value: &[u8], marker: &[u8]) -> Option<(Vec<u8>, u64)> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for caps in regex.captures_iter(value) {
        let groups = caps.len();
        let mut push = |m: regex::bytes::Match<'_>| {
            if !m.is_empty() && m.as_bytes() != marker {
                spans.push((m.start(), m.end()));
            }
        };
        if groups > 1 {
            (1..groups).filter_map(|g| caps.get(g)).for_each(&mut push);
        } else if let Some(m) = caps.get(0) {
            push(m);
        }
    }
    if spans.is_empty() {
        return None;
    }
    // Groups of one match may nest or overlap: replace their union.
    spans.sort_unstable();
    let mut out = Vec::with_capacity(value.len() + marker.len() * spans.len());
    let mut at = 0;
    let mut count = 0;
    for (start, end) in spans {
        if end <= at {
            continue;
        }
        let start = start.max(at);
        out.extend_from_slice(value.get(at..start).unwrap_or_default());
        out.extend_from_slice(marker);
        at = end;
        count += 1;
    }
    out.extend_from_slice(value.get(at..).unwrap_or_default());
    Some((out, count))
}

/// One string item of a record.
#[derive(Debug, Clone)]
struct Item {
    flags: u16,
    data: Vec<u8>,
}

impl Item {
    /// New bytes for the item; cut to the item limit (and marked
    /// truncated) if they no longer fit.
    fn set(&mut self, mut data: Vec<u8>) {
        if data.len() > ITEM_MAX {
            data.truncate(ITEM_MAX);
            self.flags |= STR_TRUNCATED;
        }
        self.data = data;
    }
}

/// The string items of an entry-layout record, or `None` if it is not
/// well formed (the decoder would reject it; it is left alone).
fn parse_items(raw: &[u8]) -> Option<Vec<Item>> {
    let nstrings = u16::from_le_bytes(raw.get(NSTRINGS_AT..NSTRINGS_AT + 2)?.try_into().ok()?);
    let mut rest = raw.get(ENTER_SIZE..)?;
    let mut items = Vec::with_capacity(usize::from(nstrings));
    for _ in 0..nstrings {
        let len = usize::from(u16::from_le_bytes(rest.get(0..2)?.try_into().ok()?));
        let flags = u16::from_le_bytes(rest.get(2..4)?.try_into().ok()?);
        let data = rest.get(STR_SIZE..STR_SIZE + len)?.to_vec();
        rest = rest.get(STR_SIZE + len..)?;
        items.push(Item { flags, data });
    }
    rest.is_empty().then_some(items)
}

/// The record with `items` in place of its own: the fixed part copied,
/// `size` and `nstrings` set, and, when the items no longer fit the
/// record's string area, an exec's last argv entries dropped (with
/// `ARGV_TRUNCATED`) or the longest item cut (with `TRUNCATED`).
fn rebuild(raw: &[u8], mut items: Vec<Item>, exec: bool) -> Vec<u8> {
    let size =
        |items: &[Item]| ENTER_SIZE + items.iter().map(|i| STR_SIZE + i.data.len()).sum::<usize>();
    let mut flags = u16::from_le_bytes([raw[FLAGS_AT], raw[FLAGS_AT + 1]]);
    while size(&items) > MAX_RECORD {
        if exec
            && items.len() > 1
            && raw.get(KIND_AT).copied().map(u64::from) != Some(layout::SC_REC_EXEC)
        {
            items.pop();
            flags |= ARGV_TRUNCATED;
            continue;
        }
        let excess = size(&items) - MAX_RECORD;
        let Some(longest) = items.iter_mut().max_by_key(|i| i.data.len()) else {
            break;
        };
        let keep = longest.data.len().saturating_sub(excess);
        longest.data.truncate(keep);
        longest.flags |= STR_TRUNCATED;
    }
    let total = size(&items);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&raw[..ENTER_SIZE]);
    out[SIZE_AT..SIZE_AT + 4].copy_from_slice(&(total as u32).to_le_bytes());
    out[NSTRINGS_AT..NSTRINGS_AT + 2].copy_from_slice(&(items.len() as u16).to_le_bytes());
    out[FLAGS_AT..FLAGS_AT + 2].copy_from_slice(&flags.to_le_bytes());
    for item in &items {
        out.extend_from_slice(&(item.data.len() as u16).to_le_bytes());
        out.extend_from_slice(&item.flags.to_le_bytes());
        out.extend_from_slice(&item.data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Args, Syscall};
    use crate::replay::decode::testutil::{item, s, Enter};
    use crate::replay::decode::{decode, RawRecord};

    fn defaults() -> Redactor {
        Redactor::new(&[], true)
    }

    fn red(r: &mut Redactor, text: &str) -> String {
        r.redact_bytes(text.as_bytes())
            .map(|v| String::from_utf8(v).unwrap())
            .unwrap_or_else(|| text.to_string())
    }

    #[test]
    fn every_builtin_rule_compiles() {
        assert_eq!(default_rules().len(), 12);
    }

    #[test]
    fn default_rules_catch_common_secrets_and_keep_the_rest() {
        let mut r = defaults();
        let cases = [
            (
                "curl --password=hunter2 https://x",
                "curl --password=[REDACTED] https://x",
            ),
            (
                "mysql --db-password 's3cr3t' -h db",
                "mysql --db-password '[REDACTED]' -h db",
            ),
            (
                "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG true",
                "AWS_SECRET_ACCESS_KEY=[REDACTED] true",
            ),
            (
                "export GITHUB_TOKEN=abc123; make",
                "export GITHUB_TOKEN=[REDACTED]; make",
            ),
            (
                "size=1m,password=tmpfs-secret,mode=700",
                "size=1m,password=[REDACTED],mode=700",
            ),
            (
                "curl -H 'Authorization: Bearer eyJhbGciOi.x.y'",
                "curl -H 'Authorization: Bearer [REDACTED]'",
            ),
            (
                "Authorization: Basic dXNlcjpwYXNz",
                "Authorization: Basic [REDACTED]",
            ),
            ("curl -u alice:wonderland x", "curl -u alice:[REDACTED] x"),
            (
                "git clone https://bob:pa55@example.com/r.git",
                "git clone https://bob:[REDACTED]@example.com/r.git",
            ),
            ("key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED] here"),
            ("ls -la /tmp", "ls -la /tmp"),
            ("PWD=/root make", "PWD=/root make"),
        ];
        for (input, want) in cases {
            assert_eq!(red(&mut r, input), want, "{input}");
        }
        // Redacting again finds nothing new.
        let before = r.replacements();
        assert_eq!(
            red(&mut r, "curl --password=[REDACTED] https://x"),
            "curl --password=[REDACTED] https://x"
        );
        assert_eq!(r.replacements(), before);
    }

    #[test]
    fn groups_replace_only_themselves_and_whole_matches_otherwise() {
        let mut r = Redactor::new(
            &[
                parse_rule(r"--password=(\S+)").unwrap(),
                parse_rule("hunter[0-9]").unwrap(),
            ],
            false,
        );
        assert_eq!(
            red(&mut r, "a --password=xyz hunter2 b"),
            "a --password=[REDACTED] [REDACTED] b"
        );
        assert_eq!(r.count(0).by_rule, vec![1, 1]);
        assert!(parse_rule("").is_err());
        assert!(parse_rule("a*").is_err());
        assert!(parse_rule("(").unwrap_err().to_string().lines().count() == 1);
    }

    #[test]
    fn secret_flag_as_two_arguments() {
        let mut r = defaults();
        let mut argv = vec![
            "mysql".to_string(),
            "--password".to_string(),
            "hunter2".to_string(),
            "db".to_string(),
        ];
        r.redact_strings(&mut argv);
        assert_eq!(argv, ["mysql", "--password", "[REDACTED]", "db"]);
    }

    fn exec_args(raw: &[u8]) -> (Vec<String>, bool, Vec<bool>) {
        match decode(raw, 3).expect("decodes") {
            RawRecord::Enter(e) | RawRecord::Exec(e) | RawRecord::Refetch(e) => match e.args {
                Args::Exec {
                    args,
                    args_truncated,
                    ..
                } => (
                    args.iter()
                        .map(|a| String::from_utf8_lossy(&a.bytes).into_owned())
                        .collect(),
                    args_truncated,
                    args.iter().map(|a| a.truncated).collect(),
                ),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn exec_entry_is_rewritten_and_still_decodes() {
        let raw = Enter::new(Syscall::Execve, 1, 10, 10)
            .item(s("/bin/sh"))
            .item(s("sh"))
            .item(s("-c"))
            .item(s("curl --password=hunter2 http://x"))
            .item(item(b"TOKEN=abc", layout::SC_STR_TRUNCATED))
            .build();
        let mut r = defaults();
        let out = r.redact_record(&raw).expect("changed");
        let (args, _, truncated) = exec_args(&out);
        assert_eq!(
            args,
            [
                "sh",
                "-c",
                "curl --password=[REDACTED] http://x",
                "TOKEN=[REDACTED]"
            ]
        );
        // The flag stays as it was.
        assert_eq!(truncated, [false, false, false, true]);
        assert!(!out.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(r.replacements(), 2);
        // Nothing to redact: no copy.
        let clean = Enter::new(Syscall::Execve, 1, 10, 10)
            .item(s("/bin/true"))
            .item(s("true"))
            .build();
        assert!(r.redact_record(&clean).is_none());
    }

    #[test]
    fn growth_past_the_limits_cuts_and_says_so() {
        let mut r = Redactor::new(&[parse_rule("x").unwrap()], false);
        let long = "x".repeat(4000);
        let raw = Enter::new(Syscall::Execve, 1, 10, 10)
            .item(s("/bin/echo"))
            .item(s(&long))
            .item(s(&long))
            .item(s(&long))
            .item(s(&long))
            .build();
        let out = r.redact_record(&raw).expect("changed");
        assert!(out.len() <= MAX_RECORD);
        let (args, argv_truncated, truncated) = exec_args(&out);
        assert!(argv_truncated);
        assert!(args.len() < 4);
        assert!(truncated.iter().all(|&t| t));
    }

    #[test]
    fn fsconfig_value_of_a_secret_key_and_mount_data() {
        let mut r = defaults();
        let raw = Enter::new(Syscall::Fsconfig, 1, 10, 10)
            .arg(1, 1)
            .item(s("password"))
            .item(s("swordfish"))
            .build();
        let out = r.redact_record(&raw).expect("changed");
        match decode(&out, 3).unwrap() {
            RawRecord::Enter(e) => match e.args {
                Args::Fsconfig { key, value, .. } => {
                    assert_eq!(key.bytes, b"password");
                    assert_eq!(value.bytes, MARKER.as_bytes());
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        let mount = Enter::new(Syscall::Mount, 1, 10, 10)
            .item(s("none"))
            .item(s("/mnt"))
            .item(s("cifs"))
            .item(s("username=u,password=opensesame"))
            .build();
        let out = r.redact_record(&mount).expect("changed");
        assert!(decode(&out, 3).is_ok());
        assert!(!out.windows(10).any(|w| w == b"opensesame"));
    }
}
