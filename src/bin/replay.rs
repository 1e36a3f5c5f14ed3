//! `replay`: turn capture files into execsnoop/mountsnoop tables, CSV, JSON,
//! Parquet or a Perfetto trace.
//! Argument parsing and exit codes only; the work is in `snoopcap::replay`.
//! Every option value is checked as it is parsed (`snoopcap::replay::args`),
//! before any input is opened: a bad one exits 2 with one line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser, ValueEnum};
use regex::bytes::Regex;

use snoopcap::event::EventClasses;
use snoopcap::render::{Format, RenderOptions};
use snoopcap::replay::diff::{self, Normalizer, Rewrite, Rules};
use snoopcap::replay::{self, args, Filter, Outcome, ReplayOptions, StreamOptions, TimeSpec};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Csv,
    Json,
    #[cfg(feature = "parquet")]
    Parquet,
    Perfetto,
}

/// Replay snoopcap captures as bcc's execsnoop/mountsnoop would have printed them, or as CSV, JSON Lines, Parquet or a Perfetto trace.
#[derive(Parser, Debug)]
#[command(
    name = "replay",
    version,
    about,
    after_help = "Examples:
  replay cap.snoop                     # execsnoop/mountsnoop tables
  replay -T -x cap.snoop               # with times, including failed execs
  replay --format json cap.snoop       # JSON Lines, one object per event
  replay --format parquet -o cap.parquet cap.snoop   # Parquet, for DuckDB, Spark...
  replay --format perfetto -o cap.pftrace cap.snoop   # for ui.perfetto.dev
  replay --info cap.snoop              # header and statistics
  replay --expect-file expected.txt cap.snoop  # a behavioural baseline
  replay --diff expected.txt new.snoop # what changed (exit 0 same, 1 different, 2 trouble)
  replay --pid 42 --redact-default -w small.snoop cap.snoop   # a scrubbed capture for a bug report
  record -o - | replay -               # live view"
)]
struct Args {
    /// Capture files; none or - reads stdin.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output format (perfetto: a Perfetto protobuf trace, for ui.perfetto.dev).
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,
    /// Write the output to FILE instead of stdout (any format).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Comma list of event classes to show: exec, mount (default: all in the capture).
    #[arg(long, value_name = "LIST", value_parser = args::event_classes)]
    events: Option<EventClasses>,
    /// Print the capture's header and statistics instead of events.
    #[arg(long)]
    info: bool,
    /// Print the process tree (lineage, execs, mount-family calls, exits) instead of events.
    #[arg(long, conflicts_with = "info")]
    tree: bool,
    /// Only this process and the processes it created, directly or not (every format and --tree).
    #[arg(long = "descendants-of", value_name = "PID")]
    descendants_of: Option<u32>,
    /// Treat a capture that was cut short (no trailer) as an error.
    #[arg(long)]
    strict: bool,

    /// Include a time column (HH:MM:SS, local time of the event).
    #[arg(short = 'T', long = "time")]
    time: bool,
    /// Include a timestamp column: seconds since the capture started.
    #[arg(short = 't', long = "timestamp")]
    timestamp: bool,
    /// Include failed exec()s (hidden by default, as in execsnoop).
    #[arg(short = 'x', long = "fails")]
    fails: bool,
    /// Add quotemarks (") around arguments.
    #[arg(short = 'q', long = "quote")]
    quote: bool,
    /// Print a UID column.
    #[arg(short = 'U', long = "print-uid")]
    print_uid: bool,
    /// Only events of this user (UID, or a user name of this machine).
    #[arg(short = 'u', long = "uid", value_name = "UID|USER", value_parser = args::user)]
    uid: Option<u32>,
    /// Only exec events whose command name matches this regex.
    #[arg(short = 'n', long = "name", value_name = "REGEX", value_parser = args::regex)]
    name: Option<Regex>,
    /// Only exec events whose argument line matches this regex.
    #[arg(short = 'l', long = "line", value_name = "REGEX", value_parser = args::regex)]
    line: Option<Regex>,
    /// Most arguments shown per exec (filename included).
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_args: usize,
    /// Also show the parent process (mount-family table).
    #[arg(short = 'P', long = "parent_process", alias = "parent-process")]
    parent_process: bool,

    /// Only this process id.
    #[arg(long, value_name = "PID")]
    pid: Option<u32>,
    /// Only events whose command name matches this regex (any event kind).
    #[arg(long, value_name = "REGEX", value_parser = args::regex)]
    comm: Option<Regex>,
    /// Only this mount namespace (inode number).
    #[arg(long, value_name = "ID")]
    mntns: Option<u32>,
    /// Only this cgroup v2 id.
    #[arg(long = "cgroup-id", value_name = "ID")]
    cgroup_id: Option<u64>,
    /// Only events whose cgroup v2 path (as recorded) matches this regex, e.g. 'docker-[0-9a-f]+\.scope' or '^/kubepods'.
    #[arg(long = "cgroup-path", value_name = "REGEX", value_parser = args::regex)]
    cgroup_path: Option<Regex>,
    /// Only events at or after TIME (RFC 3339, "YYYY-MM-DD HH:MM:SS" local, or +SECONDS from the capture start).
    #[arg(long, value_name = "TIME")]
    since: Option<TimeSpec>,
    /// Only events before TIME (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<TimeSpec>,
    /// Only failed calls (implies -x).
    #[arg(long = "failed-only")]
    failed_only: bool,
    /// Show -T times in UTC instead of local time.
    #[arg(long)]
    utc: bool,
    /// CSV: write cells as captured, without neutralising spreadsheet formulas.
    #[arg(long = "csv-raw")]
    csv_raw: bool,

    /// Compare the behaviour (process tree, execs, mount-family calls, exits) of NEW with BASELINE (a capture or an expectation file); exit 0 same, 1 different, 2 trouble.
    #[arg(long, num_args = 2, value_names = ["BASELINE", "NEW"],
          conflicts_with_all = ["files", "info", "tree", "expect_file"])]
    diff: Option<Vec<PathBuf>>,
    /// Write the capture's normalised behaviour to OUT as an expectation file for --diff (JSON when OUT ends in .json, or with --format json).
    #[arg(long = "expect-file", value_name = "OUT", conflicts_with_all = ["info", "tree"])]
    expect_file: Option<PathBuf>,
    /// --diff, --expect-file: also rewrite what matches REGEX to REPLACEMENT in every line, after its first word ($1 for a group; a = in REGEX is \x3D); repeatable.
    #[arg(long, value_name = "REGEX=REPLACEMENT", value_parser = diff::rewrite_rule)]
    normalize: Vec<Rewrite>,
    /// --diff, --expect-file: leave out processes (with what they started) whose proc or exec line matches REGEX, and mount-family calls that match; repeatable.
    #[arg(long, value_name = "REGEX", value_parser = diff::line_regex)]
    ignore: Vec<regex::Regex>,
    /// --diff, --expect-file: no built-in normalisation (of mktemp names, ids, /proc/PID).
    #[arg(long = "no-normalize")]
    no_normalize: bool,
    /// Only events in the container whose id starts with this (as docker ps shows it; derived from the cgroup path).
    #[arg(long, value_name = "ID-PREFIX", value_parser = args::container_prefix)]
    container: Option<String>,
    /// Write the selected events, raw records and all, as a new capture OUT (- for stdout) instead of showing them (as tcpdump -r IN -w OUT); one input.
    #[arg(short = 'w', long = "write", value_name = "OUT",
          conflicts_with_all = ["info", "tree", "format", "output", "diff", "expect_file"])]
    write: Option<PathBuf>,
    /// With -w: replace what this regex matches in every captured string with [REDACTED]; only its capture groups when it has any (repeatable).
    #[arg(long = "redact", value_name = "REGEX", value_parser = snoopcap::redact::parse_rule)]
    redact: Vec<Regex>,
    /// With -w: redact common secrets (password/token/secret/api-key options and variables, Authorization headers, AWS access key ids, credentials in URLs).
    #[arg(long = "redact-default")]
    redact_default: bool,
}

impl Args {
    /// The checked options (ripgrep's low-level → high-level arguments).
    fn into_options(self) -> ReplayOptions {
        let format = match self.format {
            FormatArg::Table => Format::Table,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            #[cfg(feature = "parquet")]
            FormatArg::Parquet => Format::Parquet,
            FormatArg::Perfetto => Format::Perfetto,
        };
        ReplayOptions {
            inputs: self.files,
            output: self.output,
            format,
            events: self.events,
            info: self.info,
            tree: self.tree,
            strict: self.strict,
            select: StreamOptions {
                filter: Filter {
                    pid: self.pid,
                    uid: self.uid,
                    comm: self.comm,
                    mnt_ns: self.mntns,
                    cgroup_id: self.cgroup_id,
                    cgroup_path: self.cgroup_path,
                    container: self.container.map(String::into_bytes),
                    failed_only: self.failed_only,
                    exec_name: self.name,
                    exec_line: self.line,
                    ..Filter::default()
                },
                since: self.since,
                until: self.until,
                raw_records: false,
                descendants_of: self.descendants_of,
            },
            fails: self.fails,
            render: RenderOptions {
                format,
                time: self.time,
                timestamp: self.timestamp,
                print_uid: self.print_uid,
                quote: self.quote,
                max_args: self.max_args,
                parent_process: self.parent_process,
                utc: self.utc,
                csv_raw: self.csv_raw,
                ..RenderOptions::default()
            },
            write: self.write,
            redact: self.redact,
            redact_default: self.redact_default,
        }
    }
}

/// What a `--diff` or `--expect-file` run was asked to do.
enum DiffJob {
    Diff(diff::DiffOptions),
    Expect(diff::ExpectOptions),
}

/// The diff options, taken out of [`Args`] before the rest becomes [`ReplayOptions`].
struct DiffArgs {
    diff: Option<Vec<PathBuf>>,
    expect_file: Option<PathBuf>,
    json: bool,
    rules: Rules,
}

fn usage_error(message: &str) -> clap::Error {
    Args::command().error(clap::error::ErrorKind::ArgumentConflict, message)
}

impl Args {
    /// The diff options when `--diff` or `--expect-file` is given; a usage
    /// error when they are misused.
    fn take_diff_args(&mut self) -> Result<Option<DiffArgs>, clap::Error> {
        if self.diff.is_none() && self.expect_file.is_none() {
            if !self.normalize.is_empty() || !self.ignore.is_empty() || self.no_normalize {
                return Err(usage_error(
                    "--normalize, --ignore and --no-normalize go with --diff or --expect-file",
                ));
            }
            return Ok(None);
        }
        if matches!(self.format, FormatArg::Csv) {
            return Err(usage_error(
                "--diff and --expect-file write text or JSON, not CSV",
            ));
        }
        Ok(Some(DiffArgs {
            diff: self.diff.take(),
            expect_file: self.expect_file.take(),
            json: matches!(self.format, FormatArg::Json),
            rules: Rules {
                normalizer: Normalizer {
                    builtin: !self.no_normalize,
                    rewrites: std::mem::take(&mut self.normalize),
                },
                ignore: std::mem::take(&mut self.ignore),
                classes: self.events.unwrap_or(EventClasses::ALL),
            },
        }))
    }
}

impl DiffArgs {
    /// The job, with replay's selection (filters, --strict) from `options`.
    fn into_job(self, options: ReplayOptions) -> Result<DiffJob, clap::Error> {
        if let Some(mut paths) = self.diff {
            let (Some(new), Some(baseline)) = (paths.pop(), paths.pop()) else {
                return Err(usage_error("--diff takes BASELINE and NEW"));
            };
            return Ok(DiffJob::Diff(diff::DiffOptions {
                baseline,
                new,
                json: self.json,
                rules: self.rules,
                select: options.select,
                strict: options.strict,
            }));
        }
        let output = self.expect_file.unwrap_or_default();
        let [input] = <[PathBuf; 1]>::try_from(options.inputs).map_err(|_| {
            usage_error("--expect-file OUT takes one capture (replay --expect-file OUT CAPTURE)")
        })?;
        let json = self.json || output.extension().is_some_and(|e| e == "json");
        Ok(DiffJob::Expect(diff::ExpectOptions {
            input,
            output,
            json,
            rules: self.rules,
            select: options.select,
            strict: options.strict,
        }))
    }
}

fn run(options: &ReplayOptions) -> Result<Outcome> {
    Ok(replay::run(options)?)
}

/// Runs a diff job: exit 0 same, 1 different, 2 trouble (as diff(1)).
fn run_diff_job(job: &DiffJob) -> ExitCode {
    let result = match job {
        DiffJob::Diff(options) => diff::run_diff(options).map(|verdict| match verdict {
            diff::Verdict::Same => ExitCode::SUCCESS,
            diff::Verdict::Different => ExitCode::FAILURE,
        }),
        DiffJob::Expect(options) => diff::run_expect(options).map(|()| ExitCode::SUCCESS),
    };
    result.unwrap_or_else(|err| {
        eprintln!("replay: {err}");
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let mut args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) => return args::usage_exit("replay", &err),
    };
    if let Some(message) = rewrite_misuse(&args) {
        return args::usage_exit("replay", &usage_error(message));
    }
    let diff_args = match args.take_diff_args() {
        Ok(diff_args) => diff_args,
        Err(err) => return args::usage_exit("replay", &err),
    };
    let options = args.into_options();
    if let Some(diff_args) = diff_args {
        return match diff_args.into_job(options) {
            Ok(job) => run_diff_job(&job),
            Err(err) => args::usage_exit("replay", &err),
        };
    }
    if let Err(reason) = check_output(&options) {
        eprintln!("replay: {reason}");
        return ExitCode::from(args::USAGE_EXIT);
    }
    match run(&options) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("replay: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `-w`, `--redact` misused: one line for the usage error, or `None`.
fn rewrite_misuse(args: &Args) -> Option<&'static str> {
    if args.write.is_some() && args.files.len() > 1 {
        // Several inputs (a rotated set, or captures to merge) would need
        // one output capture holding several sources: not supported.
        Some("-w rewrites one capture at a time, not a rotated set or several merged inputs; give one input (rewrite each file of a set on its own)")
    } else if args.write.is_none() && (!args.redact.is_empty() || args.redact_default) {
        Some("--redact and --redact-default scrub a rewrite: give --write OUT (-w OUT)")
    } else {
        None
    }
}

/// Combinations of options that cannot work, found before any input is
/// opened: a binary format bound for a terminal, `--info` as Parquet or
/// Perfetto.
fn check_output(options: &ReplayOptions) -> Result<(), String> {
    use std::io::IsTerminal;
    let format = options.format;
    if options.info && format.is_binary() {
        return Err(format!(
            "--info prints text or JSON, not {} (try --help)",
            format.name()
        ));
    }
    if format.is_binary() && options.output.is_none() && std::io::stdout().is_terminal() {
        return Err(format!(
            "--format {} is binary: give -o FILE or redirect stdout (try --help)",
            format.name()
        ));
    }
    Ok(())
}
