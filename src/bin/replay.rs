//! `replay`: turn capture files into execsnoop/mountsnoop tables, CSV or JSON.
//! Argument parsing and exit codes only; the work is in `snoopcap::replay`.
//! Every option value is checked as it is parsed (`snoopcap::replay::args`),
//! before any input is opened: a bad one exits 2 with one line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, ValueEnum};
use regex::bytes::Regex;

use snoopcap::event::EventClasses;
use snoopcap::render::{Format, RenderOptions};
use snoopcap::replay::{self, args, Filter, Outcome, ReplayOptions, StreamOptions, TimeSpec};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Table,
    Csv,
    Json,
}

/// Replay snoopcap captures as bcc's execsnoop/mountsnoop would have printed them, or as CSV or JSON Lines.
#[derive(Parser, Debug)]
#[command(
    name = "replay",
    version,
    about,
    after_help = "Examples:
  replay cap.snoop                     # execsnoop/mountsnoop tables
  replay -T -x cap.snoop               # with times, including failed execs
  replay --format json cap.snoop       # JSON Lines, one object per event
  replay --info cap.snoop              # header and statistics
  replay --pid 42 --redact-default -w small.snoop cap.snoop   # a scrubbed capture for a bug report
  record -o - | replay -               # live view"
)]
struct Args {
    /// Capture files; none or - reads stdin.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: FormatArg,
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
    /// Only events in the container whose id starts with this (as docker ps shows it; derived from the cgroup path).
    #[arg(long, value_name = "ID-PREFIX", value_parser = args::container_prefix)]
    container: Option<String>,
    /// Write the selected events, raw records and all, as a new capture OUT (- for stdout) instead of showing them (as tcpdump -r IN -w OUT); one input.
    #[arg(short = 'w', long = "write", value_name = "OUT", conflicts_with_all = ["info", "tree"])]
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
        };
        ReplayOptions {
            inputs: self.files,
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

fn run(options: &ReplayOptions) -> Result<Outcome> {
    Ok(replay::run(options)?)
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) => return args::usage_exit("replay", &err),
    };
    let misuse = if args.write.is_some() && args.files.len() > 1 {
        Some("-w rewrites one capture at a time; give one input")
    } else if args.write.is_none() && (!args.redact.is_empty() || args.redact_default) {
        Some("--redact and --redact-default scrub a rewrite: give --write OUT (-w OUT)")
    } else {
        None
    };
    if let Some(message) = misuse {
        let err = <Args as clap::CommandFactory>::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message);
        return args::usage_exit("replay", &err);
    }
    match run(&args.into_options()) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("replay: {err}");
            ExitCode::FAILURE
        }
    }
}
