//! Replaying several captures as one: [`plan`] groups the inputs (the files
//! of one rotated set, by set id and consecutive sequence numbers, become
//! one chain read in sequence order; every other capture is a chain of its
//! own), and [`Merged`] yields their events in time order.
//!
//! A chain is read through one [`EventStream`] that goes on from file to
//! file ([`EventStream::continue_with`]), so that a call that entered in one
//! file and returned in the next is one event, not an orphan exit plus an
//! entry without exit. Chains are interleaved by the events' wall-clock
//! times (from each capture's own clock anchors, so captures of other boots
//! and hosts merge too) with a k-way merge: one pending event per chain,
//! plus each chain's pairing tables, whatever the inputs' sizes. Only one
//! file of each chain is open at a time.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::stream::{Advanced, EventStream, Item, StreamOptions, Summary, Warning};
use super::{input_name, open_input, open_stream, ReplayError};
use crate::event::Event;
use crate::format::{CaptureHeader, CaptureReader, ProcessInfo, SegmentInfo};

/// One step of a merged replay. `source` is the chain's index in the
/// plan: the steps of one chain share it, whatever file of the chain they
/// come from. Events are lent: they stay where their stream (or, merging,
/// the chain's head) keeps them.
#[derive(Debug)]
pub enum Step<'a> {
    /// A chain begins a capture file (its first, or the next of its rotated
    /// set): what follows from `source` comes from it, until the next.
    Input {
        source: usize,
        path: PathBuf,
        header: Box<CaptureHeader>,
    },
    Event(usize, &'a Event),
    /// A process of the capture's start snapshot.
    Process(usize, ProcessInfo),
    /// A warning about the input named.
    Warning(usize, String, Warning),
    /// The input named is used up; its summary (for a file of a chain that
    /// goes on, without pairing: the chain's last file reports it).
    FileEnded(usize, String, Box<Summary>),
    /// A single input's frame is used up (a live consumer flushes here).
    EndOfFrame,
}

/// The segment in a file's header, read without reading further. `None`
/// for stdin and for a capture of its own. A file that cannot be read here
/// is left to the stream, which reports it where the replay reaches it.
fn peek_segment(path: &Path) -> Option<SegmentInfo> {
    if path.as_os_str() == "-" {
        return None;
    }
    let file = File::open(path).ok()?;
    let reader = CaptureReader::new(BufReader::with_capacity(16 << 10, file)).ok()?;
    reader.segment().cloned()
}

/// Groups the inputs into chains: the files of one rotated set given
/// together, in sequence order, split where a sequence number is missing
/// (a file deleted by `-W`, or not given: pairing across a gap would join
/// calls that are not one); any other input alone. Chains are in the order
/// of their first input; a file named twice is read once.
pub fn plan(inputs: &[PathBuf]) -> Vec<Vec<PathBuf>> {
    let mut chains: Vec<Vec<PathBuf>> = Vec::new();
    let mut sets: BTreeMap<String, (usize, Vec<(u64, PathBuf)>)> = BTreeMap::new();
    for path in inputs {
        match peek_segment(path).filter(SegmentInfo::is_rotation) {
            Some(seg) => {
                let next = chains.len();
                let (at, files) = sets.entry(seg.set_id).or_insert_with(|| (next, Vec::new()));
                if *at == next {
                    chains.push(Vec::new());
                }
                files.push((seg.sequence, path.clone()));
            }
            None => chains.push(vec![path.clone()]),
        }
    }
    // Each set's place holds its first run; later runs (after gaps) follow.
    let mut extra = Vec::new();
    for (at, mut files) in sets.into_values() {
        files.sort_by_key(|(seq, _)| *seq);
        files.dedup_by_key(|(seq, _)| *seq);
        let mut runs: Vec<Vec<PathBuf>> = Vec::new();
        let mut last = None;
        for (seq, path) in files {
            match (runs.last_mut(), last) {
                (Some(run), Some(prev)) if seq == prev + 1 => run.push(path),
                _ => runs.push(vec![path]),
            }
            last = Some(seq);
        }
        let mut runs = runs.into_iter();
        if let (Some(first), Some(slot)) = (runs.next(), chains.get_mut(at)) {
            *slot = first;
        }
        extra.extend(runs);
    }
    chains.extend(extra);
    chains
}

/// One chain: its current file's stream and the files still to come.
struct Chain {
    stream: Option<EventStream<Box<dyn Read>>>,
    /// The current file, as given.
    path: PathBuf,
    name: String,
    rest: VecDeque<PathBuf>,
    /// The current file's [`ChainStep::Input`] is still to be given.
    announce: bool,
}

/// What a chain's next step is; an event stays in the chain's stream.
enum ChainStep {
    Input(PathBuf, Box<CaptureHeader>),
    Item(Advanced),
    Ended(String, Box<Summary>),
    Done,
}

impl Chain {
    fn open(mut paths: VecDeque<PathBuf>, select: &StreamOptions) -> Result<Chain, ReplayError> {
        let first = paths.pop_front().unwrap_or_else(|| PathBuf::from("-"));
        let mut stream = open_stream(&first, select)?;
        stream.set_continues(!paths.is_empty());
        Ok(Chain {
            stream: Some(stream),
            name: input_name(&first),
            path: first,
            rest: paths,
            announce: true,
        })
    }

    fn step(&mut self) -> Result<ChainStep, ReplayError> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(ChainStep::Done);
        };
        if self.announce {
            self.announce = false;
            return Ok(ChainStep::Input(
                self.path.clone(),
                Box::new(stream.header().clone()),
            ));
        }
        if let Some(item) = stream.advance() {
            return Ok(ChainStep::Item(item));
        }
        if let Some(next) = self.rest.pop_front() {
            let source = open_input(&next)?;
            let summary = stream
                .continue_with(source)
                .map_err(|source| ReplayError::Stream {
                    input: input_name(&next),
                    source,
                })?;
            stream.set_continues(!self.rest.is_empty());
            let ended = std::mem::replace(&mut self.name, input_name(&next));
            self.path = next;
            self.announce = true;
            return Ok(ChainStep::Ended(ended, Box::new(summary)));
        }
        match self.stream.take() {
            Some(stream) => Ok(ChainStep::Ended(
                self.name.clone(),
                Box::new(stream.finish()),
            )),
            None => Ok(ChainStep::Done),
        }
    }
}

/// The events of several chains in time order. See the module documentation.
pub struct Merged {
    chains: Vec<Chain>,
    /// Each chain's next event, by index.
    heads: Vec<Option<Event>>,
    /// The chain whose head was lent last: it is read up to its next
    /// event before the next step.
    refill_due: Option<usize>,
    /// (wall time, chain) of every head.
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    /// Warnings and file ends met while looking for heads, in order.
    /// (Never events: those stay in `heads`.)
    queue: VecDeque<Step<'static>>,
    primed: bool,
    first_header: CaptureHeader,
}

impl Merged {
    /// Opens the first file of each chain.
    pub fn open(chains: Vec<Vec<PathBuf>>, select: &StreamOptions) -> Result<Merged, ReplayError> {
        let mut opened = Vec::with_capacity(chains.len());
        for paths in chains {
            opened.push(Chain::open(paths.into(), select)?);
        }
        if opened.is_empty() {
            opened.push(Chain::open(VecDeque::new(), select)?);
        }
        let first_header = opened
            .iter()
            .filter_map(|c| c.stream.as_ref())
            .map(|s| s.header())
            .min_by_key(|h| h.start_wall_ns)
            .cloned()
            .unwrap_or_default();
        Ok(Merged {
            heads: vec![None; opened.len()],
            refill_due: None,
            chains: opened,
            heap: BinaryHeap::new(),
            queue: VecDeque::new(),
            primed: false,
            first_header,
        })
    }

    /// The header of the capture that started first (for what the output
    /// shows relative to the start, and the table's columns).
    pub fn first_header(&self) -> &CaptureHeader {
        &self.first_header
    }

    /// The next step; `None` once every input is used up.
    pub fn next_step(&mut self) -> Result<Option<Step<'_>>, ReplayError> {
        if self.chains.len() == 1 {
            return self.next_single();
        }
        if !self.primed {
            self.primed = true;
            for i in 0..self.chains.len() {
                self.refill(i)?;
            }
        }
        if let Some(i) = self.refill_due.take() {
            self.refill(i)?;
        }
        if let Some(step) = self.queue.pop_front() {
            return Ok(Some(step));
        }
        let Some(Reverse((_, i))) = self.heap.pop() else {
            return Ok(None);
        };
        self.refill_due = Some(i);
        Ok(self
            .heads
            .get(i)
            .and_then(Option::as_ref)
            .map(|e| Step::Event(i, e)))
    }

    /// One input: its steps as they come (no reordering, frame ends kept).
    fn next_single(&mut self) -> Result<Option<Step<'_>>, ReplayError> {
        let Some(chain) = self.chains.first_mut() else {
            return Ok(None);
        };
        loop {
            let step = match chain.step()? {
                ChainStep::Item(Advanced::Event) => {
                    let event = chain.stream.as_ref().and_then(|s| s.lent());
                    return Ok(event.map(|e| Step::Event(0, e)));
                }
                ChainStep::Done => return Ok(None),
                other => match chain_step(0, &chain.name, other) {
                    Some(step) => step,
                    None => continue,
                },
            };
            return Ok(Some(step));
        }
    }

    /// Reads chain `i` up to its next event (queueing what comes before it).
    fn refill(&mut self, i: usize) -> Result<(), ReplayError> {
        let Some(chain) = self.chains.get_mut(i) else {
            return Ok(());
        };
        loop {
            match chain.step()? {
                ChainStep::Item(Advanced::Event) => {
                    let Some(e) = chain.stream.as_mut().and_then(|s| s.take_lent()) else {
                        continue;
                    };
                    self.heap.push(Reverse((e.wall_ns, i)));
                    if let Some(slot) = self.heads.get_mut(i) {
                        *slot = Some(e);
                    }
                    return Ok(());
                }
                ChainStep::Done => return Ok(()),
                other => {
                    // Frame ends are a single input's: merged, nothing is live.
                    match chain_step(i, &chain.name, other) {
                        Some(Step::EndOfFrame) | None => {}
                        Some(step) => self.queue.push_back(step),
                    }
                }
            }
        }
    }
}

/// A chain's step, other than an event, as a step of the merge (`None`:
/// nothing to pass on).
fn chain_step(source: usize, name: &str, step: ChainStep) -> Option<Step<'static>> {
    match step {
        ChainStep::Input(path, header) => Some(Step::Input {
            source,
            path,
            header,
        }),
        ChainStep::Item(Advanced::Item(item)) => match *item {
            Item::Process(info) => Some(Step::Process(source, info)),
            Item::Warning(w) => Some(Step::Warning(source, name.to_string(), w)),
            Item::EndOfFrame => Some(Step::EndOfFrame),
            Item::Event(_) | Item::Record(_) => None,
        },
        ChainStep::Item(Advanced::Event) | ChainStep::Done => None,
        ChainStep::Ended(name, summary) => Some(Step::FileEnded(source, name, summary)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{CaptureWriter, Trailer, WriterOptions};

    fn write(dir: &Path, name: &str, segment: Option<SegmentInfo>) -> PathBuf {
        let path = dir.join(name);
        let file = File::create(&path).unwrap();
        let w = CaptureWriter::with_segment(
            file,
            &CaptureHeader::default(),
            segment.as_ref(),
            WriterOptions::default(),
        )
        .unwrap();
        w.finish(&Trailer::default()).unwrap();
        path
    }

    fn rotation(set: &str, sequence: u64) -> Option<SegmentInfo> {
        Some(SegmentInfo {
            set_id: set.into(),
            sequence,
            kind: SegmentInfo::ROTATION.into(),
            ..SegmentInfo::default()
        })
    }

    #[test]
    fn sets_become_chains_in_sequence_order_split_at_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let a2 = write(d, "a2", rotation("A", 2));
        let a0 = write(d, "a0", rotation("A", 0));
        let lone = write(d, "lone", None);
        let a1 = write(d, "a1", rotation("A", 1));
        let a5 = write(d, "a5", rotation("A", 5));
        let b0 = write(d, "b0", rotation("B", 0));
        let dump = write(
            d,
            "dump",
            Some(SegmentInfo {
                kind: SegmentInfo::DUMP.into(),
                ..rotation("A", 9).unwrap_or_default()
            }),
        );
        let chains = plan(&[
            a2.clone(),
            a0.clone(),
            lone.clone(),
            a1.clone(),
            a5.clone(),
            b0.clone(),
            dump.clone(),
            a1.clone(),
        ]);
        assert_eq!(
            chains,
            vec![vec![a0, a1, a2], vec![lone], vec![b0], vec![dump], vec![a5],]
        );
    }
}
