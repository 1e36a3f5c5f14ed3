//! The replay side: `decode` (raw records to typed records), `reassemble`
//! (entry/exit pairing), `filter`, `stream` (the one event stream every
//! consumer reads captures through), `info` (`--info`), `args` (option values
//! checked before any input is opened), `diff` (`--diff`, `--expect-file`:
//! behavioural comparison of runs), `merge` (several captures as one
//! stream in time order; a rotated set read as one), `rewrite` (`-w`: a
//! filtered, optionally redacted copy of one capture), and here `replay`'s
//! job: open the inputs (files or stdin) and the output (`-o FILE` or
//! stdout), run them through the stream into a renderer, and say on stderr
//! what was lost, unpaired, cut short or damaged.

pub mod args;
pub mod decode;
pub mod diff;
pub mod filter;
pub mod info;
pub mod lineage;
pub mod merge;
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
use crate::render::{self, CaptureIdentity, Format, RenderOptions, Renderer};

pub use filter::Filter;
pub use stream::{EventStream, Item, LossTotals, StreamOptions, Summary, TimeSpec, Warning};

/// Everything replay was asked to do, every value already checked (see
/// [`args`]): building one of these is where usage errors are found.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Inputs; empty or `-` means stdin.
    pub inputs: Vec<PathBuf>,
    /// `-o FILE`: write the output there instead of stdout.
    pub output: Option<PathBuf>,
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
            output: None,
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
    #[error("{path}: cannot create the output file: {source}")]
    CreateOutput { path: String, source: io::Error },
    #[error("{input}: {reason}")]
    Unsupported { input: String, reason: String },
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

/// `-o FILE`: created (or truncated) for writing. A new file gets mode 0600,
/// as captures do: the events hold command lines, which can hold secrets.
fn create_output(path: &Path) -> Result<File, ReplayError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|source| ReplayError::CreateOutput {
            path: path.display().to_string(),
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
    let sink: Box<dyn Write> = match &opts.output {
        Some(path) => Box::new(create_output(path)?),
        None => Box::new(stdout.lock()),
    };
    let mut out = BufWriter::with_capacity(128 * 1024, sink);
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
/// replay of the input does. One input only: a file of a rotated set is
/// rewritten alone, as a capture of its own (no segment).
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
    if inputs.len() > 1 {
        // A merged replay (a rotated set, or several captures) has no one
        // header, clock and snapshot to write: replay's binary refuses it
        // as a usage error first.
        return Err(ReplayError::Unsupported {
            input: name,
            reason: "-w rewrites one capture at a time, not a rotated set or several merged inputs"
                .to_string(),
        });
    }
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

/// The identity of the capture `stream` reads, as named by `path`.
fn capture_identity(source: usize, path: &Path, header: &CaptureHeader) -> CaptureIdentity {
    CaptureIdentity {
        source,
        hostname: header.hostname.clone(),
        boot_id: header.boot_id.clone(),
        file: (path.as_os_str() != "-").then(|| path.display().to_string()),
        start_wall_ns: header.start_wall_ns,
    }
}

fn run_events(
    opts: &ReplayOptions,
    inputs: &[PathBuf],
    out: &mut dyn Write,
) -> Result<Outcome, ReplayError> {
    let select = opts.stream_options();
    // A binary format needs nothing from a header: started before any input
    // is read, it ends as a valid (empty) file even if the first input fails.
    let mut renderer = if opts.format.is_binary() {
        Some(start_renderer(opts, select.filter.classes, None, out)?)
    } else {
        None
    };
    let result = render_inputs(opts, &select, inputs, &mut renderer, out);
    // Ended on every path, an input that failed to open included, so that
    // the output is complete (a Parquet file gets its footer).
    if let Some(renderer) = renderer.as_mut() {
        let ended = renderer.end(out).map_err(ReplayError::Output);
        if result.is_ok() {
            ended?;
        }
    }
    let (outcome, cut_short) = result?;
    if opts.strict {
        if let Some(input) = cut_short.into_iter().next() {
            out.flush().map_err(ReplayError::Output)?;
            return Err(ReplayError::CutShortStrict { input });
        }
    }
    Ok(outcome)
}

/// The renderer of `opts.format`, begun. `header` is the first capture's
/// (the table's classes and `-t`'s start come from it).
fn start_renderer(
    opts: &ReplayOptions,
    shown: EventClasses,
    header: Option<&CaptureHeader>,
    out: &mut dyn Write,
) -> Result<Box<dyn Renderer>, ReplayError> {
    let mut renderer = render::renderer(RenderOptions {
        format: opts.format,
        classes: match header {
            Some(header) => shown_classes(shown, header),
            None => shown.iter().collect(),
        },
        capture_start_wall_ns: header.map_or(0, |header| header.start_wall_ns),
        ..opts.render.clone()
    });
    renderer.begin(out).map_err(ReplayError::Output)?;
    Ok(renderer)
}

/// Every input, merged in time order ([`merge`]), into the renderer
/// (started with the first capture's header if not yet). Before the steps
/// of another input than the last, the renderer is told which
/// ([`Renderer::input`]). Returns the outcome and the inputs that were cut
/// short.
fn render_inputs(
    opts: &ReplayOptions,
    select: &StreamOptions,
    inputs: &[PathBuf],
    renderer: &mut Option<Box<dyn Renderer>>,
    out: &mut dyn Write,
) -> Result<(Outcome, Vec<String>), ReplayError> {
    let mut merged = merge::Merged::open(merge::plan(inputs), select)?;
    // A live view (record -o - | replay -) shows each frame as it
    // comes: flush before the reader may block on the pipe.
    let live = inputs.iter().any(|p| p.as_os_str() == "-");
    let renderer = match &mut *renderer {
        Some(r) => r,
        slot @ None => slot.insert(start_renderer(
            opts,
            select.filter.classes,
            Some(merged.first_header()),
            out,
        )?),
    };
    let mut sources = Sources::default();
    let mut outcome = Outcome::Complete;
    let mut cut_short = Vec::new();
    while let Some(step) = merged.next_step()? {
        match step {
            merge::Step::Input {
                source,
                path,
                header,
            } => {
                sources.begin(source, &path, &header, renderer.as_mut());
                renderer
                    .capture_start(&header, out)
                    .map_err(|err| match err.kind() {
                        io::ErrorKind::InvalidInput => ReplayError::Unsupported {
                            input: input_name(&path),
                            reason: err.to_string(),
                        },
                        _ => ReplayError::Output(err),
                    })?;
            }
            merge::Step::Event(source, event) => {
                sources.select(source, renderer.as_mut());
                renderer.event(event, out).map_err(ReplayError::Output)?
            }
            merge::Step::Process(source, info) => {
                sources.select(source, renderer.as_mut());
                renderer.process(&info, out).map_err(ReplayError::Output)?
            }
            merge::Step::Warning(source, input, warning) => {
                sources.select(source, renderer.as_mut());
                renderer
                    .input_warning(&warning, out)
                    .map_err(ReplayError::Output)?;
                warn(&input, warning);
            }
            merge::Step::EndOfFrame if live => out.flush().map_err(ReplayError::Output)?,
            merge::Step::EndOfFrame => {}
            merge::Step::FileEnded(source, input, summary) => {
                sources.select(source, renderer.as_mut());
                renderer
                    .capture_end(&summary, out)
                    .map_err(ReplayError::Output)?;
                for line in summary.end_warnings(opts.strict) {
                    warn(&input, line);
                }
                if summary.cut_short() && !summary.damaged {
                    cut_short.push(input);
                }
                if summary.damaged {
                    outcome = Outcome::Damaged;
                }
            }
        }
    }
    Ok((outcome, cut_short))
}

/// Which capture each merged input is reading, and which one the renderer
/// was last told about: it hears of a switch only when there is one.
#[derive(Default)]
struct Sources {
    identities: Vec<CaptureIdentity>,
    current: Option<usize>,
}

impl Sources {
    /// Input `source` begins the capture `path`.
    fn begin(
        &mut self,
        source: usize,
        path: &Path,
        header: &CaptureHeader,
        renderer: &mut dyn Renderer,
    ) {
        if self.identities.len() <= source {
            self.identities
                .resize_with(source + 1, CaptureIdentity::default);
        }
        self.identities[source] = capture_identity(source, path, header);
        self.current = Some(source);
        renderer.input(&self.identities[source]);
    }

    fn select(&mut self, source: usize, renderer: &mut dyn Renderer) {
        if self.current != Some(source) {
            if let Some(identity) = self.identities.get(source) {
                renderer.input(identity);
            }
            self.current = Some(source);
        }
    }
}
