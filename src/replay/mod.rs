//! The replay side: `decode` (raw records to typed records), `reassemble`
//! (entry/exit pairing), `filter`, `stream` (the one event stream every
//! consumer reads captures through), `info` (`--info`), `args` (option values
//! checked before any input is opened), and here `replay`'s job: open the
//! inputs (files or stdin), run each through the stream into a renderer, and
//! say on stderr what was lost, unpaired, cut short or damaged.

pub mod args;
pub mod decode;
pub mod filter;
pub mod info;
pub mod lineage;
pub mod reassemble;
pub mod rewrite;
pub mod stream;
pub mod tree;

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::event::{EventClass, EventClasses};
use crate::format::CaptureHeader;
use crate::render::{self, Format, RenderOptions, Renderer};

pub use filter::Filter;
pub use stream::{EventStream, Item, LossTotals, StreamOptions, Summary, TimeSpec, Warning};

/// Everything replay was asked to do, every value already checked (see
/// [`args`]): building one of these is where usage errors are found.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Inputs; empty or `-` means stdin.
    pub inputs: Vec<PathBuf>,
    pub format: Format,
    /// `--events`: the classes to show (`None`: all the first capture recorded).
    pub events: Option<EventClasses>,
    pub info: bool,
    /// `--tree`: the process tree instead of events.
    pub tree: bool,
    pub strict: bool,
    /// What to select: filters and the time window. Its filter's `classes`
    /// and `show_failed_exec` are derived by [`ReplayOptions::stream_options`].
    pub select: StreamOptions,
    /// execsnoop `-x`.
    pub fails: bool,
    /// Table and CSV options (`format`, `classes` and the capture start are
    /// filled in per run).
    pub render: RenderOptions,
    /// `-w OUT`: write the selected events as a new capture instead
    /// ([`rewrite`]).
    pub write: Option<PathBuf>,
    /// `--redact` rules and `--redact-default`, for `-w`.
    pub redact: Vec<regex::bytes::Regex>,
    pub redact_default: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            inputs: Vec::new(),
            format: Format::Table,
            events: None,
            info: false,
            tree: false,
            strict: false,
            select: StreamOptions {
                filter: Filter::default(),
                ..StreamOptions::default()
            },
            fails: false,
            render: RenderOptions::default(),
            write: None,
            redact: Vec::new(),
            redact_default: false,
        }
    }
}

impl ReplayOptions {
    /// The stream's selection, with `--events` and execsnoop's `-x`
    /// convention applied.
    fn stream_options(&self) -> StreamOptions {
        let mut select = self.select.clone();
        // The table shows what bcc's execsnoop and mountsnoop show unless
        // asked for more: exitsnoop's rows only with `--events proc`.
        let default = if self.format == Format::Table {
            EventClasses {
                proc: false,
                ..EventClasses::ALL
            }
        } else {
            EventClasses::ALL
        };
        select.filter.classes = self.events.unwrap_or(default);
        // bcc's execsnoop hides failed execs without -x; that is a table
        // convention: CSV and JSON are for analysis and show every call.
        select.filter.show_failed_exec =
            self.fails || select.filter.failed_only || self.format != Format::Table;
        select
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("{input}: {source}")]
    Stream {
        input: String,
        source: stream::OpenError,
    },
    #[error("{input}: {}", stream::CUT_SHORT)]
    CutShortStrict { input: String },
    #[error("writing output failed: {0}")]
    Output(io::Error),
    #[error(transparent)]
    Rewrite(#[from] rewrite::RewriteError),
}

/// How a replay ended, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every input read to its end (a cut-short capture included, without --strict).
    Complete,
    /// Some input had corrupt frames or undecodable records: what could be
    /// recovered was shown, the rest reported on stderr.
    Damaged,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Complete => ExitCode::SUCCESS,
            Outcome::Damaged => ExitCode::FAILURE,
        }
    }
}

/// The name an input goes by in messages.
pub fn input_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "stdin".to_string()
    } else {
        path.display().to_string()
    }
}

/// Opens an input: a file, or stdin for `-`.
pub fn open_input(path: &Path) -> Result<Box<dyn Read>, ReplayError> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdin().lock()));
    }
    let file = File::open(path).map_err(|source| ReplayError::Open {
        path: path.display().to_string(),
        source,
    })?;
    Ok(Box::new(BufReader::with_capacity(256 * 1024, file)))
}

/// Opens an input as an event stream.
pub fn open_stream(
    path: &Path,
    options: &StreamOptions,
) -> Result<EventStream<Box<dyn Read>>, ReplayError> {
    EventStream::open(open_input(path)?, options).map_err(|source| ReplayError::Stream {
        input: input_name(path),
        source,
    })
}

fn is_broken_pipe(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}

pub fn run(opts: &ReplayOptions) -> Result<Outcome, ReplayError> {
    let inputs: Vec<PathBuf> = if opts.inputs.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        opts.inputs.clone()
    };
    if let Some(output) = &opts.write {
        return run_rewrite(opts, &inputs, output);
    }
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(128 * 1024, stdout.lock());
    let result = if opts.info {
        info::run(opts, &inputs, &mut out)
    } else if opts.tree {
        run_tree(opts, &inputs, &mut out)
    } else {
        run_events(opts, &inputs, &mut out)
    };
    let flushed = out.flush();
    match (result, flushed) {
        (Err(ReplayError::Output(err)), _) if is_broken_pipe(&err) => Ok(Outcome::Complete),
        (Ok(_), Err(err)) if is_broken_pipe(&err) => Ok(Outcome::Complete),
        (Ok(_), Err(err)) => Err(ReplayError::Output(err)),
        (result, _) => result,
    }
}

/// `-w OUT`: the selected events of the one input as a new capture. The
/// selection is that of `--format json` (every class, failed calls too,
/// unless filtered), so that the rewrite replays as the filtered JSON
/// replay of the input does.
fn run_rewrite(
    opts: &ReplayOptions,
    inputs: &[PathBuf],
    output: &Path,
) -> Result<Outcome, ReplayError> {
    let mut select = opts.select.clone();
    select.filter.classes = opts.events.unwrap_or(EventClasses::ALL);
    select.filter.show_failed_exec = true;
    let input = inputs
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("-"));
    let name = input_name(&input);
    let options = rewrite::RewriteOptions {
        input,
        output: output.to_path_buf(),
        select,
        redactor: crate::redact::Redactor::new(&opts.redact, opts.redact_default)
            .then_some_nonempty(),
    };
    let summary = rewrite::rewrite(&options, |line| warn(&name, line))?;
    for line in summary.source.end_warnings(opts.strict) {
        warn(&name, line);
    }
    if opts.strict && summary.source.cut_short() && !summary.source.damaged {
        return Err(ReplayError::CutShortStrict { input: name });
    }
    Ok(if summary.source.damaged {
        Outcome::Damaged
    } else {
        Outcome::Complete
    })
}

/// The classes the table shows: --events, or else what the first capture recorded.
fn shown_classes(shown: EventClasses, header: &CaptureHeader) -> Vec<EventClass> {
    let recorded = EventClasses::from_names(&header.events);
    shown.iter().filter(|c| recorded.contains(*c)).collect()
}

fn warn(input: &str, message: impl std::fmt::Display) {
    eprintln!("replay: {input}: {message}");
}

/// Reads every input through the stream (with every filter), saying on
/// stderr what replay always says; calls `on_item` for each item.
fn for_each_item(
    opts: &ReplayOptions,
    select: &StreamOptions,
    inputs: &[PathBuf],
    mut on_item: impl FnMut(&CaptureHeader, Item) -> Result<(), ReplayError>,
) -> Result<Outcome, ReplayError> {
    let mut outcome = Outcome::Complete;
    let mut cut_short = None;
    for path in inputs {
        let input = input_name(path);
        let mut stream = open_stream(path, select)?;
        let header = stream.header().clone();
        while let Some(item) = stream.next_item() {
            match item {
                Item::Warning(warning) => warn(&input, warning),
                other => on_item(&header, other)?,
            }
        }
        let summary = stream.finish();
        for line in summary.end_warnings(opts.strict) {
            warn(&input, line);
        }
        if summary.cut_short() && !summary.damaged && cut_short.is_none() {
            cut_short = Some(input.clone());
        }
        if summary.damaged {
            outcome = Outcome::Damaged;
        }
    }
    match cut_short {
        Some(input) if opts.strict => Err(ReplayError::CutShortStrict { input }),
        _ => Ok(outcome),
    }
}

/// `--tree`: every input's processes and events into one tree, printed at the end.
fn run_tree(
    opts: &ReplayOptions,
    inputs: &[PathBuf],
    out: &mut dyn Write,
) -> Result<Outcome, ReplayError> {
    let mut select = opts.stream_options();
    select.filter.classes = opts.events.unwrap_or(EventClasses::ALL);
    select.filter.show_failed_exec = true;
    let mut tree = tree::ProcessTree::new();
    let outcome = for_each_item(opts, &select, inputs, |header, item| {
        tree.set_origin(header.clock.boot_ns);
        match item {
            Item::Event(event) => tree.add_event(&event),
            Item::Process(info) => tree.add_process(&info),
            _ => {}
        }
        Ok(())
    });
    tree.write(out).map_err(ReplayError::Output)?;
    outcome
}

fn run_events(
    opts: &ReplayOptions,
    inputs: &[PathBuf],
    out: &mut dyn Write,
) -> Result<Outcome, ReplayError> {
    let select = opts.stream_options();
    let mut renderer: Option<Box<dyn Renderer>> = None;
    let mut outcome = Outcome::Complete;
    let mut cut_short = Vec::new();

    for path in inputs {
        let input = input_name(path);
        let mut stream = open_stream(path, &select)?;
        // A live view (record -o - | replay -) shows each frame as it
        // comes: flush before the reader may block on the pipe.
        let is_stdin = path.as_os_str() == "-";
        let renderer = match &mut renderer {
            Some(r) => r,
            slot @ None => {
                let header = stream.header();
                let mut r = render::renderer(RenderOptions {
                    format: opts.format,
                    classes: shown_classes(select.filter.classes, header),
                    capture_start_wall_ns: header.start_wall_ns,
                    ..opts.render.clone()
                });
                r.begin(out).map_err(ReplayError::Output)?;
                slot.insert(r)
            }
        };
        while let Some(item) = stream.next_item() {
            match item {
                Item::Event(event) => renderer.event(&event, out).map_err(ReplayError::Output)?,
                Item::Warning(warning) => warn(&input, warning),
                Item::EndOfFrame if is_stdin => out.flush().map_err(ReplayError::Output)?,
                Item::Record(_) | Item::Process(_) | Item::EndOfFrame => {}
            }
        }
        let summary = stream.finish();
        for line in summary.end_warnings(opts.strict) {
            warn(&input, line);
        }
        if summary.cut_short() && !summary.damaged {
            cut_short.push(input.clone());
        }
        if summary.damaged {
            outcome = Outcome::Damaged;
        }
    }
    if let Some(renderer) = renderer.as_mut() {
        renderer.end(out).map_err(ReplayError::Output)?;
    }
    if opts.strict {
        if let Some(input) = cut_short.into_iter().next() {
            out.flush().map_err(ReplayError::Output)?;
            return Err(ReplayError::CutShortStrict { input });
        }
    }
    Ok(outcome)
}
