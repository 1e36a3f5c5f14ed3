//! `record`: capture exec and mount-family syscalls into a capture file.
//! Argument parsing and messages only; the work is in `snoopcap::recorder`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;

use snoopcap::bpf::{EventSelection, ProbeConfig, DEFAULT_RINGBUF_BYTES};
use snoopcap::recorder::{self, Output, RecordOptions};

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
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Comma list of event classes: exec, mount (the whole mount family).
    #[arg(long, value_name = "LIST", default_value = "exec,mount")]
    events: String,
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
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_RINGBUF_BYTES.to_string())]
    ringbuf_size: String,
    /// Read exec arguments at syscall entry, as bcc does, instead of once the kernel has copied them (slower; automatic on kernels before 6.10).
    #[arg(long)]
    exec_args_at_entry: bool,
    /// Write a frame at least this often, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    flush_interval: f64,
}

fn parse_size(text: &str) -> Result<u32> {
    let text = text.trim();
    let (digits, multiplier) = match text.chars().last() {
        Some('k' | 'K') => (&text[..text.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&text[..text.len() - 1], 1u64 << 20),
        Some('g' | 'G') => (&text[..text.len() - 1], 1u64 << 30),
        _ => (text, 1),
    };
    let value: u64 = digits
        .parse()
        .with_context(|| format!("invalid size {text:?}"))?;
    let bytes = value
        .checked_mul(multiplier)
        .filter(|&b| b <= u64::from(u32::MAX))
        .with_context(|| format!("size {text:?} is too large"))?;
    Ok(bytes as u32)
}

fn seconds(value: f64, what: &str) -> Result<Duration> {
    if !value.is_finite() || value <= 0.0 {
        bail!("{what} must be a positive number of seconds, not {value}");
    }
    Ok(Duration::from_secs_f64(value))
}

fn run() -> Result<()> {
    let args = Args::parse();
    let events = EventSelection::parse(&args.events)?;
    let options = RecordOptions {
        output: Output::parse(&args.output),
        force: args.force,
        duration: args
            .duration
            .map(|d| seconds(d, "--duration"))
            .transpose()?,
        probes: ProbeConfig {
            events,
            uid: args.uid,
            pid: args.pid,
            mntns: args.mntns,
            cgroup_dir: args.cgroup,
            cgroupmap: args.cgroupmap,
            mntnsmap: args.mntnsmap,
            max_args: args.max_args,
            arg_size: args.arg_size,
            ringbuf_bytes: parse_size(&args.ringbuf_size)?,
            exec_args_at_entry: args.exec_args_at_entry,
        },
        flush_interval: seconds(args.flush_interval, "--flush-interval")?,
        frame_bytes: 1 << 20,
        command_line: std::env::args().collect(),
    };
    recorder::install_signal_handlers()
        .map_err(|err| anyhow::anyhow!("installing signal handlers: {err}"))?;
    let what = events.names().join(" and ");
    let summary = recorder::run(&options, || {
        eprintln!(
            "Tracing {what} syscalls into {}... Hit Ctrl-C to end.",
            options.output.describe()
        );
    })?;
    eprintln!("{}", summary.line());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("record: {err}");
            ExitCode::FAILURE
        }
    }
}
