//! `replay --diff BASELINE NEW` and `replay --expect-file OUT CAPTURE`: the
//! behaviour of a run (what it executed and mounted, where in its process
//! tree), compared with a baseline's, for regression tests in CI.
//!
//! A capture becomes a behavioural tree (`build`: processes by lineage,
//! their exec, mount-family and exit lines), normalised (`normalize`: what
//! varies run to run), filtered and made canonical (`model`); two trees are
//! compared (`compare`) into a report (`report`: unified-diff-like text, or
//! JSON Lines). A baseline can also be an expectation file (`expect`), the
//! tree in a line-based text format or in JSON, written by `--expect-file`
//! and edited by people. Exit status as diff(1): 0 same, 1 different, 2
//! trouble (bad arguments, unreadable input, a capture that lost records
//! or is damaged, so that the comparison cannot be trusted).

pub mod build;
pub mod compare;
pub mod expect;
pub mod model;
pub mod normalize;
pub mod report;

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Cursor, Read, Write};
use std::path::{Path, PathBuf};

use super::input_name;
use super::stream::{self, EventStream, Item, StreamOptions};
use crate::event::EventClasses;
use crate::format::frame::MAGIC;

pub use compare::Counts;
pub use model::{Rules, MAX_DEPTH};
pub use normalize::{line_regex, rewrite_rule, Normalizer, Rewrite};

/// `--diff`'s job.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// A capture or an expectation file (`-`: stdin).
    pub baseline: PathBuf,
    /// A capture (`-`: stdin).
    pub new: PathBuf,
    /// JSON Lines instead of text.
    pub json: bool,
    pub rules: Rules,
    /// The stream's selection (replay's filters); its classes are ignored:
    /// lineage needs every event, `rules.classes` says what is compared.
    pub select: StreamOptions,
    /// A capture cut short is trouble.
    pub strict: bool,
}

/// `--expect-file`'s job.
#[derive(Debug, Clone)]
pub struct ExpectOptions {
    /// A capture (or an expectation file, to convert between the forms).
    pub input: PathBuf,
    /// Where to write (`-`: stdout).
    pub output: PathBuf,
    pub json: bool,
    pub rules: Rules,
    pub select: StreamOptions,
    pub strict: bool,
}

/// What the comparison found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Same,
    Different,
}

/// Why a comparison could not be made or trusted. One line each; exit 2.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{input}: {source}")]
    Open { input: String, source: io::Error },
    #[error("{input}: {source}")]
    Stream {
        input: String,
        source: stream::OpenError,
    },
    #[error("{input}: {source}")]
    Expectation {
        input: String,
        source: expect::ExpectError,
    },
    #[error(
        "{input}: neither a capture nor an expectation file (one begins with {:?}, or is JSON)",
        expect::HEADER
    )]
    Unknown { input: String },
    #[error("{input}: NEW must be a capture, not an expectation file")]
    NewNotCapture { input: String },
    #[error("{input}: {reason}, so the comparison cannot be trusted")]
    Unreliable { input: String, reason: String },
    #[error("{input}: {}", stream::CUT_SHORT)]
    CutShortStrict { input: String },
    #[error("writing output failed: {0}")]
    Output(io::Error),
}

/// One input read into a tree.
struct Loaded {
    name: String,
    forest: model::Forest,
    /// What makes the tree untrustworthy (loss, damage).
    trouble: Option<String>,
}

/// How many bytes are looked at to tell a capture from an expectation file.
const SNIFF: usize = 64;

fn open(path: &Path) -> Result<Box<dyn Read>, DiffError> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin().lock()));
    }
    let file = File::open(path).map_err(|source| DiffError::Open {
        input: input_name(path),
        source,
    })?;
    Ok(Box::new(BufReader::with_capacity(256 * 1024, file)))
}

/// The first bytes of an input, and the input with them put back.
fn sniff(mut input: Box<dyn Read>, name: &str) -> Result<(Vec<u8>, Box<dyn Read>), DiffError> {
    let mut start = Vec::with_capacity(SNIFF);
    (&mut input)
        .take(SNIFF as u64)
        .read_to_end(&mut start)
        .map_err(|source| DiffError::Open {
            input: name.to_string(),
            source,
        })?;
    let whole: Box<dyn Read> = Box::new(Cursor::new(start.clone()).chain(input));
    Ok((start, whole))
}

/// Reads a capture or (when allowed) an expectation file into a tree.
fn load(
    path: &Path,
    session: &mut model::Session,
    select: &StreamOptions,
    strict: bool,
    expectation_allowed: bool,
) -> Result<Loaded, DiffError> {
    let name = input_name(path);
    let (start, input) = sniff(open(path)?, &name)?;
    if start.starts_with(&MAGIC) {
        let (drafts, trouble) = read_capture(input, &name, session, select, strict)?;
        let forest = session.finish(&drafts);
        return Ok(Loaded {
            name,
            forest,
            trouble,
        });
    }
    let is_expectation = expect::is_text(&start) || expect::is_json(&start);
    if !is_expectation {
        return Err(DiffError::Unknown { input: name });
    }
    if !expectation_allowed {
        return Err(DiffError::NewNotCapture { input: name });
    }
    let mut reader = BufReader::new(input);
    let read = if expect::is_text(&start) {
        expect::read_text(&mut reader, session)
    } else {
        expect::read_json(&mut reader, session)
    };
    let drafts = read.map_err(|source| DiffError::Expectation {
        input: name.clone(),
        source,
    })?;
    let forest = session.finish(&drafts);
    Ok(Loaded {
        name,
        forest,
        trouble: None,
    })
}

/// Reads a capture's events into drafts, saying on stderr what replay
/// always says; returns what makes the tree untrustworthy, if anything.
fn read_capture(
    input: Box<dyn Read>,
    name: &str,
    session: &mut model::Session,
    select: &StreamOptions,
    strict: bool,
) -> Result<(Vec<model::Draft>, Option<String>), DiffError> {
    let mut select = select.clone();
    select.filter.classes = EventClasses::ALL;
    select.filter.show_failed_exec = true;
    select.raw_records = false;
    let mut stream = EventStream::open(input, &select).map_err(|source| DiffError::Stream {
        input: name.to_string(),
        source,
    })?;
    let mut builder = build::TreeBuilder::new();
    while let Some(item) = stream.next_item() {
        match item {
            Item::Event(event) => builder.add_event(session, &event),
            Item::Process(info) => builder.add_process(session, &info),
            Item::Warning(warning) => eprintln!("replay: {name}: {warning}"),
            Item::Record(_) | Item::EndOfFrame => {}
        }
    }
    let summary = stream.finish();
    for line in summary.end_warnings(strict) {
        eprintln!("replay: {name}: {line}");
    }
    if summary.cut_short() && strict && !summary.damaged {
        return Err(DiffError::CutShortStrict {
            input: name.to_string(),
        });
    }
    let trouble = if summary.damaged {
        Some("it has damaged frames or undecodable records".to_string())
    } else if summary.loss.total() > 0 {
        Some(format!(
            "{} records were lost in the kernel",
            summary.loss.total()
        ))
    } else {
        None
    };
    Ok((builder.finish(session), trouble))
}

fn warn_too_deep(loaded: &Loaded) {
    if loaded.forest.too_deep > 0 {
        eprintln!(
            "replay: {}: {} processes deeper than {MAX_DEPTH} levels were left out of the comparison",
            loaded.name, loaded.forest.too_deep
        );
    }
}

fn is_broken_pipe(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}

/// `--diff`: compares, prints the report and its summary on stdout.
pub fn run_diff(opts: &DiffOptions) -> Result<Verdict, DiffError> {
    let mut session = model::Session::new(opts.rules.clone());
    let baseline = load(
        &opts.baseline,
        &mut session,
        &opts.select,
        opts.strict,
        true,
    )?;
    let new = load(&opts.new, &mut session, &opts.select, opts.strict, false)?;
    warn_too_deep(&baseline);
    warn_too_deep(&new);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(128 * 1024, stdout.lock());
    let totals = report::Totals {
        baseline_name: &baseline.name,
        new_name: &new.name,
        baseline: baseline.forest.totals(),
        new: new.forest.totals(),
    };
    let written = write_report(opts.json, &baseline, &new, &session, &totals, &mut out)
        .and_then(|counts| out.flush().map(|_| counts));
    let counts = match written {
        Ok(counts) => counts,
        // A closed pipe (`replay --diff a b | head`) still has an answer.
        Err(err) if is_broken_pipe(&err) => {
            let mut nowhere = io::sink();
            let mut sink = report::TextSink::new(&mut nowhere, &session.lines, "", "");
            compare::compare(&baseline.forest, &new.forest, &session.lines, &mut sink)
                .map_err(DiffError::Output)?
        }
        Err(err) => return Err(DiffError::Output(err)),
    };
    for loaded in [&baseline, &new] {
        if let Some(reason) = &loaded.trouble {
            return Err(DiffError::Unreliable {
                input: loaded.name.clone(),
                reason: reason.clone(),
            });
        }
    }
    Ok(if counts.same() {
        Verdict::Same
    } else {
        Verdict::Different
    })
}

fn write_report(
    json: bool,
    baseline: &Loaded,
    new: &Loaded,
    session: &model::Session,
    totals: &report::Totals,
    out: &mut dyn Write,
) -> io::Result<Counts> {
    let (a, b, lines) = (&baseline.forest, &new.forest, &session.lines);
    if json {
        let mut sink = report::JsonSink::new(out, lines);
        let counts = compare::compare(a, b, lines, &mut sink)?;
        sink.summary(&counts, totals)?;
        Ok(counts)
    } else {
        let mut sink = report::TextSink::new(out, lines, &baseline.name, &new.name);
        let counts = compare::compare(a, b, lines, &mut sink)?;
        sink.summary(&counts, totals)?;
        Ok(counts)
    }
}

/// `--expect-file`: writes the input's tree as an expectation file.
pub fn run_expect(opts: &ExpectOptions) -> Result<(), DiffError> {
    let mut session = model::Session::new(opts.rules.clone());
    let loaded = load(&opts.input, &mut session, &opts.select, opts.strict, true)?;
    warn_too_deep(&loaded);
    let output_name = input_name(&opts.output).replace("stdin", "stdout");
    let mut out: Box<dyn Write> = if opts.output.as_os_str() == "-" {
        Box::new(BufWriter::new(io::stdout().lock()))
    } else {
        let file = File::create(&opts.output).map_err(|source| DiffError::Open {
            input: output_name.clone(),
            source,
        })?;
        Box::new(BufWriter::new(file))
    };
    let written = if opts.json {
        expect::write_json(&mut out, &loaded.forest, &session.lines)
    } else {
        expect::write_text(&mut out, &loaded.forest, &session.lines)
    };
    match written.and_then(|_| out.flush()) {
        Ok(()) => {}
        // `replay --expect-file - cap | head`: the reader has what it wanted.
        Err(err) if is_broken_pipe(&err) => return Ok(()),
        Err(err) => return Err(DiffError::Output(err)),
    }
    let (procs, calls) = loaded.forest.totals();
    eprintln!(
        "replay: wrote the expectation of {} to {output_name} ({procs} processes, {calls} calls)",
        loaded.name
    );
    match loaded.trouble {
        Some(reason) => Err(DiffError::Unreliable {
            input: loaded.name,
            reason,
        }),
        None => Ok(()),
    }
}

/// Reads an expectation file's tree from any reader (for tools and tests).
pub fn read_expectation(
    input: &mut dyn BufRead,
    session: &mut model::Session,
) -> Result<model::Forest, expect::ExpectError> {
    let drafts = expect::read_text(input, session)?;
    Ok(session.finish(&drafts))
}

#[cfg(test)]
mod tests {
    use super::build::tests::{exec, exit, fork, mount};
    use super::*;
    use crate::event::Event;

    /// The text report of comparing two event lists (`a` the baseline).
    fn diff(a: &[Event], b: &[Event], rules: Rules) -> (String, Counts) {
        let mut session = model::Session::new(rules);
        let mut forests = Vec::new();
        for events in [a, b] {
            let mut builder = build::TreeBuilder::new();
            for e in events {
                builder.add_event(&mut session, e);
            }
            let drafts = builder.finish(&mut session);
            forests.push(session.finish(&drafts));
        }
        let mut out = Vec::new();
        let mut sink = report::TextSink::new(&mut out, &session.lines, "a", "b");
        let counts =
            compare::compare(&forests[0], &forests[1], &session.lines, &mut sink).expect("compare");
        (String::from_utf8(out).expect("utf-8"), counts)
    }

    /// A shell (`shell`) that runs each argv in a child, pids from `first`.
    fn run(shell: (u32, u64), first: u32, commands: &[&[&str]]) -> Vec<Event> {
        let mut events = Vec::new();
        for (i, argv) in commands.iter().enumerate() {
            let child = (first + i as u32, 10_000 + u64::from(first) + i as u64);
            events.push(fork(shell, child));
            events.push(exec(child, argv));
            events.push(exit(child, 0));
        }
        events.push(exit(shell, 0));
        events
    }

    #[test]
    fn same_behaviour_other_pids_times_and_order_is_no_difference() {
        let a = run(
            (100, 1),
            200,
            &[&["make"], &["cc", "-c", "a.c"], &["cc", "-c", "b.c"]],
        );
        // Other pids, other start times, the parallel children swapped.
        let mut b = run(
            (900, 5),
            3000,
            &[&["make"], &["cc", "-c", "b.c"], &["cc", "-c", "a.c"]],
        );
        for e in &mut b {
            e.ts_ns += 1_000_000;
            e.latency_ns *= 3;
            e.tid += 1;
        }
        let (text, counts) = diff(&a, &b, Rules::default());
        assert!(counts.same(), "{text}");
        assert_eq!(text, "");
    }

    #[test]
    fn an_added_command_is_its_subtree() {
        let a = run((100, 1), 200, &[&["echo", "hello"]]);
        let b = run((100, 1), 200, &[&["echo", "hello"], &["echo", "extra"]]);
        let (text, counts) = diff(&a, &b, Rules::default());
        assert_eq!(
            text,
            "--- a\n+++ b\n proc sh\n+  proc echo\n+    exec /bin/echo [echo extra]\n+    exit 0\n"
        );
        assert_eq!(counts.processes_added, 1);
        assert_eq!(
            Counts {
                processes_added: 0,
                ..counts
            },
            Counts::default()
        );
    }

    #[test]
    fn a_changed_argument_is_a_changed_line_in_its_place() {
        let a = run((100, 1), 200, &[&["ls", "/"], &["echo", "hello"]]);
        let b = run((100, 1), 200, &[&["ls", "/"], &["echo", "world"]]);
        let (text, counts) = diff(&a, &b, Rules::default());
        assert_eq!(
            text,
            "--- a\n+++ b\n proc sh\n   proc echo\n-    exec /bin/echo [echo hello]\n+    exec /bin/echo [echo world]\n"
        );
        assert_eq!(
            counts,
            Counts {
                processes_changed: 1,
                lines_changed: 1,
                ..Counts::default()
            }
        );
    }

    #[test]
    fn a_removed_mount_and_a_changed_exit() {
        let shell = (100, 1);
        let mut a = vec![mount(shell, "/mnt/a"), mount(shell, "/mnt/b")];
        a.extend(run(shell, 200, &[&["true"]]));
        let mut b = vec![mount(shell, "/mnt/a")];
        b.extend(run(shell, 200, &[&["true"]]));
        let last = b.len() - 1;
        b[last] = exit(shell, 1);
        let (text, counts) = diff(&a, &b, Rules::default());
        assert_eq!(
            text,
            "--- a\n+++ b\n proc sh\n   mount(\"none\", \"/mnt/a\", \"tmpfs\", 0x0, \"\") = 0\n-  mount(\"none\", \"/mnt/b\", \"tmpfs\", 0x0, \"\") = 0\n-  exit 0\n+  exit 1\n"
        );
        assert_eq!(
            counts,
            Counts {
                processes_changed: 1,
                lines_removed: 1,
                lines_changed: 1,
                ..Counts::default()
            }
        );
    }

    #[test]
    fn random_temporary_names_are_not_a_difference_unless_asked() {
        let a = run((100, 1), 200, &[&["ls", "/tmp/tmp.AbCdEfGhIj"]]);
        let b = run((100, 1), 200, &[&["ls", "/tmp/tmp.x9Y8z7W6v5"]]);
        assert!(diff(&a, &b, Rules::default()).1.same());
        let exact = Rules {
            normalizer: Normalizer {
                builtin: false,
                rewrites: Vec::new(),
            },
            ..Rules::default()
        };
        assert_eq!(diff(&a, &b, exact.clone()).1.lines_changed, 1);
        // A user rule does what the built-ins do not.
        let a = run((100, 1), 200, &[&["build", "--id=run-17"]]);
        let b = run((100, 1), 200, &[&["build", "--id=run-18"]]);
        assert!(!diff(&a, &b, Rules::default()).1.same());
        let numbered = Rules {
            normalizer: Normalizer {
                builtin: true,
                rewrites: vec![rewrite_rule(r"run-\d+=run-N").expect("rule")],
            },
            ..Rules::default()
        };
        assert!(diff(&a, &b, numbered).1.same());
    }

    #[test]
    fn ignored_commands_go_with_their_subtrees() {
        let shell = (100, 1);
        let mut a = run(shell, 200, &[&["make"]]);
        // Only the baseline ran git, which ran a helper.
        let git = (300, 30);
        let helper = (301, 31);
        a.extend([
            fork(shell, git),
            exec(git, &["git", "status"]),
            fork(git, helper),
            exec(helper, &["helper"]),
            exit(helper, 0),
            exit(git, 0),
        ]);
        let b = run(shell, 200, &[&["make"]]);
        assert!(!diff(&a, &b, Rules::default()).1.same());
        let rules = Rules {
            ignore: vec![line_regex("^exec /bin/git ").expect("re")],
            ..Rules::default()
        };
        let (text, counts) = diff(&a, &b, rules);
        assert!(counts.same(), "{text}");
    }

    #[test]
    fn same_named_siblings_pair_with_the_most_alike() {
        // Three cc runs; one changed its output name. Only that one differs.
        let a = run(
            (1, 1),
            10,
            &[
                &["cc", "-c", "a.c"],
                &["cc", "-c", "b.c"],
                &["cc", "-c", "c.c"],
            ],
        );
        let b = run(
            (1, 1),
            10,
            &[
                &["cc", "-c", "a.c"],
                &["cc", "-c", "b.c"],
                &["cc", "-O2", "-c", "c.c"],
            ],
        );
        let (text, counts) = diff(&a, &b, Rules::default());
        assert_eq!(counts.lines_changed, 1, "{text}");
        assert!(
            text.contains("-    exec /bin/cc [cc -c c.c]\n+    exec /bin/cc [cc -O2 -c c.c]\n"),
            "{text}"
        );
    }

    #[test]
    fn a_lone_difference_deep_in_the_tree_shows_its_ancestors() {
        let sh = (1, 1);
        let make = (2, 2);
        let cc = (3, 3);
        let tree = |arg: &str| {
            vec![
                fork(sh, make),
                exec(make, &["make"]),
                fork(make, cc),
                exec(cc, &["cc", arg]),
                exit(cc, 0),
                exit(make, 0),
            ]
        };
        let (text, _) = diff(&tree("a.c"), &tree("b.c"), Rules::default());
        assert_eq!(
            text,
            "--- a\n+++ b\n proc sh\n   proc make\n     exec /bin/make [make]\n     proc cc\n-      exec /bin/cc [cc a.c]\n+      exec /bin/cc [cc b.c]\n"
        );
    }
}
