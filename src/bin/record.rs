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
  record -o cap.snoop -u 1000 --events exec"
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

/// A byte count with an optional K, M or G suffix.
fn parse_size(text: &str) -> Result<u32, String> {
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
    value
        .checked_mul(multiplier)
        .filter(|&b| b <= u64::from(u32::MAX))
        .map(|b| b as u32)
        .ok_or_else(|| format!("size {text:?} is too large"))
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
    let summary = record::run(options, || {
        eprintln!(
            "Tracing {what} syscalls into {}... Hit Ctrl-C to end.",
            options.output.describe()
        );
    })?;
    eprintln!("{}", summary.line());
    Ok(())
}

fn main() -> ExitCode {
    let options = match Args::try_parse() {
        Ok(args) => args.into_options(),
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
