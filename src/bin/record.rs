//! `record`: capture exec and mount-family syscalls into a capture file.
//! Argument parsing and messages only; the work is in `snoopcap::record`.
//! Every option value is checked before anything is loaded: a bad one exits
//! 2 with one line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;

use snoopcap::event::EventClasses;
use snoopcap::record::loader::{ProbeConfig, DEFAULT_RINGBUF_BYTES};
use snoopcap::record::output::check_pattern;
use snoopcap::record::ring::{RingLimit, RingOptions};
use snoopcap::record::rotate::RotateOptions;
use snoopcap::record::trigger::Triggers;
use snoopcap::record::{self, Output, RecordOptions};
use snoopcap::replay::args;

/// Record exec and mount-family syscalls with eBPF into a capture file.
#[derive(Parser, Debug)]
#[command(
    name = "record",
    version,
    about,
    after_help = "Examples:
  record -o cap.snoop                 # trace until Ctrl-C
  record -o cap.snoop --duration 10   # trace for 10 seconds
  record -o - | replay -              # live view, as execsnoop/mountsnoop
  record -o cap.snoop -u 1000 --events exec
  record -o cap.snoop -C 100M -W 10   # cap.snoop.000000, .000001, ...: at most 10 kept
  record -o cap-%Y%m%d-%H%M%S.snoop -G 3600
  record -o crash.snoop --ring 64M --trigger-signal --after 30s
                                      # dumps crash.snoop.<UTC time> on SIGUSR1 or a killed process"
)]
struct Args {
    /// Capture file to create (mode 0600), or - for stdout.
    #[arg(short = 'o', long = "output", value_name = "PATH")]
    output: String,
    /// Replace the output file if it exists (never follows a symlink).
    #[arg(long)]
    force: bool,
    /// Stop after this many seconds (fractions allowed).
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    duration: Option<Duration>,
    /// Comma list of event classes: exec, mount (the whole mount family), proc (fork and exit).
    #[arg(long, value_name = "LIST", default_value = "exec,mount,proc", value_parser = args::event_classes)]
    events: EventClasses,
    /// Only trace this user id.
    #[arg(short = 'u', long, value_name = "UID")]
    uid: Option<u32>,
    /// Only trace this process id (tgid).
    #[arg(short = 'p', long, value_name = "PID")]
    pid: Option<u32>,
    /// Only trace cgroup ids that are keys of this pinned BPF hash map (u64 keys, any value size; changes apply at once; see docs/CONTAINERS.md).
    #[arg(long, value_name = "PATH")]
    cgroupmap: Option<PathBuf>,
    /// Only trace mount namespaces whose inode numbers are keys of this pinned BPF hash map (u64 keys, any value size; changes apply at once).
    #[arg(long, value_name = "PATH")]
    mntnsmap: Option<PathBuf>,
    /// Only trace processes in this cgroup v2 directory or its descendants.
    #[arg(long, value_name = "DIR")]
    cgroup: Option<PathBuf>,
    /// Only trace this mount namespace (inode number of /proc/PID/ns/mnt: `stat -L -c %i`).
    #[arg(long, value_name = "ID")]
    mntns: Option<u32>,
    /// Most argv entries captured per exec (as bcc's --max-args).
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_args: u32,
    /// Most bytes captured per argument (up to 4096).
    #[arg(long, value_name = "BYTES", default_value_t = 128)]
    arg_size: u32,
    /// Ring buffer size in bytes (a power of two; K and M suffixes allowed).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_RINGBUF_BYTES, value_parser = parse_size)]
    ringbuf_size: u32,
    /// Read exec arguments at syscall entry, as bcc does, instead of once the kernel has copied them (slower; automatic on kernels before 6.10).
    #[arg(long)]
    exec_args_at_entry: bool,
    /// Write a frame at least this often, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = seconds)]
    flush_interval: Duration,
    /// Rotate: start a new file once one reaches SIZE bytes (K, M, G suffixes). Files are PATH.000000, PATH.000001, ...
    #[arg(short = 'C', value_name = "SIZE", value_parser = parse_size64)]
    rotate_size: Option<u64>,
    /// Rotate: start a new file every SECONDS. PATH may hold strftime conversions (%Y%m%d-%H%M%S), expanded in local time.
    #[arg(short = 'G', value_name = "SECONDS", value_parser = seconds)]
    rotate_seconds: Option<Duration>,
    /// Keep at most COUNT complete files (with -C/-G) or dumps (with --ring); the oldest is deleted once its successor is complete and synced.
    #[arg(short = 'W', value_name = "COUNT", value_parser = clap::value_parser!(u32).range(1..))]
    keep: Option<u32>,
    /// Flight recorder: keep the last SIZE bytes (64M: K, M, G suffixes) or DURATION (5m: s, m, h suffixes; lower-case m is minutes) in memory; write them out, as PATH.<UTC time>, on SIGUSR1 or a trigger.
    #[arg(long, value_name = "SIZE|DURATION", value_parser = parse_ring)]
    ring: Option<RingArg>,
    /// With --ring DURATION: never hold more than SIZE bytes.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_size64)]
    ring_max: u64,
    /// With --ring: how long a dump goes on after its trigger (s, m, h suffixes).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    after: Duration,
    /// With --ring: dump when an exec's argv (joined with spaces) matches REGEX.
    #[arg(long, value_name = "REGEX", value_parser = args::regex)]
    trigger_exec: Option<regex::bytes::Regex>,
    /// With --ring: dump when an exec fails.
    #[arg(long)]
    trigger_failed_exec: bool,
    /// With --ring: dump when a mount-family call fails.
    #[arg(long)]
    trigger_failed_mount: bool,
    /// With --ring: dump when a process is killed by a signal.
    #[arg(long)]
    trigger_signal: bool,
    /// Replace what this regex matches in every captured string (argv, filenames, mount options, fsconfig values) with [REDACTED] before it is written; only its capture groups when it has any (repeatable).
    #[arg(long = "redact", value_name = "REGEX", value_parser = snoopcap::redact::parse_rule)]
    redact: Vec<regex::bytes::Regex>,
    /// Redact common secrets: password/token/secret/api-key options and variables, Authorization headers, AWS access key ids, credentials in URLs.
    #[arg(long = "redact-default")]
    redact_default: bool,
    /// Docker Engine socket asked for each new container's name and image (skipped when absent).
    #[arg(
        long = "docker-socket",
        value_name = "PATH",
        default_value = "/var/run/docker.sock"
    )]
    docker_socket: PathBuf,
}

/// `--ring`'s value.
#[derive(Debug, Clone, Copy)]
enum RingArg {
    Bytes(u64),
    Span(Duration),
}

/// `--ring SIZE|DURATION`: K, M, G are sizes; s, m, h are durations.
fn parse_ring(text: &str) -> Result<RingArg, String> {
    let t = text.trim();
    match t.chars().last() {
        Some('s' | 'm' | 'h') => parse_duration(t).map(RingArg::Span),
        _ => parse_size64(t).map(RingArg::Bytes),
    }
    .and_then(|r| match r {
        RingArg::Bytes(b) if b < 1 << 20 => Err(format!("--ring {t}: at least 1M")),
        r => Ok(r),
    })
}

/// A duration: a number with an s (default), m or h suffix, fractions allowed.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.chars().last() {
        Some('s') => (&t[..t.len() - 1], 1.0),
        Some('m') => (&t[..t.len() - 1], 60.0),
        Some('h') => (&t[..t.len() - 1], 3600.0),
        _ => (t, 1.0),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (a number with an s, m or h suffix)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("{text:?}: a duration is a non-negative number"));
    }
    Ok(Duration::from_secs_f64(value * unit))
}

/// A byte count with an optional K, M or G suffix, up to u64.
fn parse_size64(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, multiplier) = match text.chars().last() {
        Some('k' | 'K') => (&text[..text.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&text[..text.len() - 1], 1u64 << 20),
        Some('g' | 'G') => (&text[..text.len() - 1], 1u64 << 30),
        _ => (text, 1),
    };
    let value: u64 = digits.parse().map_err(|_| {
        format!("invalid size {text:?} (a number of bytes, K, M or G suffix allowed)")
    })?;
    match value.checked_mul(multiplier) {
        Some(0) => Err(format!("size {text:?} must be positive")),
        Some(b) => Ok(b),
        None => Err(format!("size {text:?} is too large")),
    }
}

/// A byte count with an optional K, M or G suffix, up to u32.
fn parse_size(text: &str) -> Result<u32, String> {
    let bytes = parse_size64(text)?;
    u32::try_from(bytes).map_err(|_| format!("size {:?} is too large", text.trim()))
}

/// A positive number of seconds, fractions allowed.
fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !value.is_finite() || value <= 0.0 {
        return Err(format!("must be a positive number of seconds, not {text}"));
    }
    Ok(Duration::from_secs_f64(value))
}

impl Args {
    /// Combinations clap cannot check: one line each.
    fn check(&self) -> Result<(), String> {
        let rotating = self.rotate_size.is_some() || self.rotate_seconds.is_some();
        let sets = rotating || self.ring.is_some();
        if sets && self.output == "-" {
            return Err(
                "-C, -G and --ring write files named from -o: they need a path, not -".into(),
            );
        }
        if rotating && self.ring.is_some() {
            return Err("--ring cannot be combined with -C or -G".into());
        }
        if self.keep.is_some() && !sets {
            return Err("-W needs -C, -G or --ring".into());
        }
        let triggers = self.trigger_exec.is_some()
            || self.trigger_failed_exec
            || self.trigger_failed_mount
            || self.trigger_signal;
        if triggers && self.ring.is_none() {
            return Err("the --trigger-* options need --ring".into());
        }
        if sets {
            check_pattern(&self.output)?;
        }
        Ok(())
    }

    fn into_options(self) -> RecordOptions {
        RecordOptions {
            output: Output::parse(&self.output),
            force: self.force,
            duration: self.duration,
            probes: ProbeConfig {
                events: self.events,
                uid: self.uid,
                pid: self.pid,
                mntns: self.mntns,
                cgroup_dir: self.cgroup,
                cgroupmap: self.cgroupmap,
                mntnsmap: self.mntnsmap,
                max_args: self.max_args,
                arg_size: self.arg_size,
                ringbuf_bytes: self.ringbuf_size,
                exec_args_at_entry: self.exec_args_at_entry,
            },
            flush_interval: self.flush_interval,
            frame_bytes: 1 << 20,
            command_line: std::env::args().collect(),
            rotate: RotateOptions {
                size: self.rotate_size,
                interval: self.rotate_seconds,
                keep: self.keep.map(|k| k as usize),
            },
            ring: self.ring.map(|ring| RingOptions {
                limit: match ring {
                    RingArg::Bytes(b) => RingLimit::Bytes(b),
                    RingArg::Span(span) => RingLimit::Duration {
                        span,
                        cap: self.ring_max,
                    },
                },
                after: self.after,
                keep: self.keep.map(|k| k as usize),
            }),
            triggers: Triggers {
                exec: self.trigger_exec,
                failed_exec: self.trigger_failed_exec,
                failed_mount: self.trigger_failed_mount,
                signal: self.trigger_signal,
            },
            redact: self.redact,
            redact_default: self.redact_default,
            docker_socket: Some(self.docker_socket),
        }
    }
}

fn run(options: &RecordOptions) -> Result<()> {
    record::install_signal_handlers()
        .map_err(|err| anyhow::anyhow!("installing signal handlers: {err}"))?;
    let what = options.probes.events.names().join(" and ");
    let into = if options.ring.is_some() {
        format!(
            "memory (flight recorder: dumps to {}.<UTC time> on SIGUSR1 or a trigger)",
            options.output.describe()
        )
    } else if options.rotate.enabled() {
        format!("{}.000000 and on (rotated)", options.output.describe())
    } else {
        options.output.describe()
    };
    let summary = record::run(options, || {
        eprintln!("Tracing {what} syscalls into {into}... Hit Ctrl-C to end.");
    })?;
    eprintln!("{}", summary.line());
    Ok(())
}

fn main() -> ExitCode {
    let options = match Args::try_parse() {
        Ok(args) => match args.check() {
            Ok(()) => args.into_options(),
            Err(err) => {
                eprintln!("record: {err}");
                return ExitCode::from(args::USAGE_EXIT);
            }
        },
        Err(err) => return args::usage_exit("record", &err),
    };
    // Out-of-range settings are usage errors too, found before anything loads.
    if let Err(err) = options.probes.validate() {
        eprintln!("record: {err}");
        return ExitCode::from(args::USAGE_EXIT);
    }
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("record: {err}");
            ExitCode::FAILURE
        }
    }
}
