#!/usr/bin/env python3
"""Checks a `replay --format perfetto` trace against the same capture's
`replay --format json` output, decoding the trace with Perfetto's own schema
(`perfetto_trace_pb2` of the `perfetto` package on PyPI).

    perfetto_check.py TRACE EVENTS.jsonl CONTEXT.json

CONTEXT.json (written by tests/it/perfetto.rs from the capture, through
snoopcap's event stream) holds, per input: the capture header, the start
snapshot's processes, the stream's summary (kernel loss, unpaired and
undecodable records, trailer) and the warnings met.

From the JSON events and the context this script builds the trace the
exporter must have written (the track tree, every slice with its duration,
every instant, every annotation; the rules are in src/render/perfetto and
the README), independently of the Rust code, and compares it with what the
trace holds: nothing missing, nothing extra. It also checks the sequence
(one trusted sequence, interning, incremental state), the clocks (every
timestamp on BOOTTIME; the clock snapshots give each event the wall-clock
time JSON shows) and the capture's metadata. Exit status 0 when it all
matches; otherwise 1, with what differs.
"""
import calendar
import collections
import json
import sys

from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb

SEQUENCE_ID = 1
MAX_DEPTH = 64
BOOTTIME = 6
REALTIME = 1
TYPE = pb.TrackEvent.Type


def fail(message):
    print(f"perfetto_check: {message}", file=sys.stderr)
    sys.exit(1)


def rfc3339_ns(text):
    """'2026-12-01T22:49:06.063529385Z' -> ns since the epoch."""
    date, frac = text.rstrip("Z").split(".")
    secs = calendar.timegm((int(date[0:4]), int(date[5:7]), int(date[8:10]),
                            int(date[11:13]), int(date[14:16]), int(date[17:19]), 0, 0, 0))
    return secs * 1_000_000_000 + int(frac.ljust(9, "0"))


def freeze(value):
    """A hashable form of an annotation value."""
    if isinstance(value, list):
        return ("list",) + tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, bool):
        return ("bool", value)
    return value


# ---------------------------------------------------------------- the trace


class Decoded:
    """The trace as read: tracks, track events, clocks, metadata."""

    def __init__(self, data):
        trace = pb.Trace()
        trace.ParseFromString(data)
        self.tracks = {}  # uuid -> (name, parent uuid or None, description or None)
        self.track_order = []
        self.events = []  # (file index, type, track uuid, ts, name, category, annotations)
        self.clocks = []  # (boot, real)
        self.system_info = []
        names, categories, ann_names, strings = {}, {}, {}, {}
        clock_id = None
        started = False
        for index, packet in enumerate(trace.packet):
            if packet.trusted_packet_sequence_id != SEQUENCE_ID:
                fail(f"packet {index}: sequence {packet.trusted_packet_sequence_id}, expected {SEQUENCE_ID}")
            flags = packet.sequence_flags
            if flags & pb.TracePacket.SEQ_INCREMENTAL_STATE_CLEARED:
                names, categories, ann_names, strings = {}, {}, {}, {}
                clock_id = None
                if packet.HasField("trace_packet_defaults"):
                    clock_id = packet.trace_packet_defaults.timestamp_clock_id
                if not started and not packet.first_packet_on_sequence:
                    fail("the first packet does not say first_packet_on_sequence")
                started = True
            elif not started:
                fail(f"packet {index} comes before the sequence's state was cleared")
            if packet.HasField("interned_data"):
                interned = packet.interned_data
                for table, entries in ((names, interned.event_names), (categories, interned.event_categories),
                                       (ann_names, interned.debug_annotation_names)):
                    for entry in entries:
                        if entry.iid in table:
                            fail(f"packet {index}: iid {entry.iid} interned twice")
                        table[entry.iid] = entry.name
                for entry in interned.debug_annotation_string_values:
                    strings[entry.iid] = entry.str.decode("utf-8")
            kind = packet.WhichOneof("data")
            if kind == "track_descriptor":
                d = packet.track_descriptor
                if d.uuid in self.tracks:
                    fail(f"track {d.uuid} described twice")
                if d.HasField("process") or d.HasField("thread"):
                    fail(f"track {d.uuid}: expected a custom track (nesting by parent_uuid)")
                parent = d.parent_uuid if d.HasField("parent_uuid") else None
                if parent is not None and parent not in self.tracks:
                    fail(f"track {d.uuid} ({d.name}): parent {parent} not described before it")
                self.tracks[d.uuid] = (d.name, parent, d.description if d.HasField("description") else None)
                self.track_order.append(d.uuid)
            elif kind == "clock_snapshot":
                clocks = {c.clock_id: c.timestamp for c in packet.clock_snapshot.clocks}
                if packet.clock_snapshot.primary_trace_clock != BOOTTIME or set(clocks) != {BOOTTIME, REALTIME}:
                    fail(f"packet {index}: clock snapshot {packet.clock_snapshot}")
                self.clocks.append((clocks[BOOTTIME], clocks[REALTIME]))
            elif kind == "system_info":
                self.system_info.append(packet.system_info)
            elif kind == "track_event":
                if not packet.HasField("timestamp"):
                    fail(f"packet {index}: a track event without a timestamp")
                effective = packet.timestamp_clock_id if packet.HasField("timestamp_clock_id") else clock_id
                if effective != BOOTTIME:
                    fail(f"packet {index}: timestamp on clock {effective}, expected BOOTTIME")
                if not flags & pb.TracePacket.SEQ_NEEDS_INCREMENTAL_STATE:
                    fail(f"packet {index}: uses interned data without SEQ_NEEDS_INCREMENTAL_STATE")
                self.events.append(self.track_event(index, packet, names, categories, ann_names, strings))
            elif kind is not None:
                fail(f"packet {index}: unexpected packet {kind}")

    def track_event(self, index, packet, names, categories, ann_names, strings):
        e = packet.track_event
        if e.track_uuid not in self.tracks:
            fail(f"packet {index}: event on undescribed track {e.track_uuid}")
        if e.HasField("name_iid"):
            name = names.get(e.name_iid) or fail(f"packet {index}: unknown name iid {e.name_iid}")
        else:
            name = e.name if e.HasField("name") else None
        cats = [categories.get(i) or fail(f"packet {index}: unknown category iid {i}") for i in e.category_iids]
        cats += list(e.categories)
        category = cats[0] if len(cats) == 1 else (None if not cats else fail(f"packet {index}: {cats}"))

        def value(a):
            which = a.WhichOneof("value")
            if which == "string_value_iid":
                if a.string_value_iid not in strings:
                    fail(f"packet {index}: unknown string iid {a.string_value_iid}")
                return strings[a.string_value_iid]
            if which is not None:
                return getattr(a, which)
            if a.array_values:
                return [value(v) for v in a.array_values]
            if a.dict_entries:
                return {d.name: value(d) for d in a.dict_entries}
            return None

        annotations = {}
        for a in e.debug_annotations:
            key = ann_names.get(a.name_iid) if a.HasField("name_iid") else a.name
            if not key:
                fail(f"packet {index}: annotation without a (known) name: {a}")
            if key in annotations:
                fail(f"packet {index}: annotation {key} twice")
            annotations[key] = value(a)
        return (index, e.type, e.track_uuid, packet.timestamp, name, category, annotations)

    def path(self, uuid):
        """A track as the names from its root down to it."""
        names = []
        seen = set()
        while uuid is not None:
            if uuid in seen:
                fail(f"loop in the track tree at {uuid}")
            seen.add(uuid)
            name, parent, _ = self.tracks[uuid]
            names.append(name)
            uuid = parent
        return tuple(reversed(names))

    def slices_and_instants(self):
        """Slices (begin/end paired per track, in timestamp order, the file
        order between equal timestamps, as trace_processor sorts them) and
        instants, each with its track's path."""
        slices, instants = [], []
        by_track = collections.defaultdict(list)
        for event in self.events:
            by_track[event[2]].append(event)
        for track, events in by_track.items():
            path = self.path(track)
            stack = []
            for _, kind, _, ts, name, category, annotations in sorted(events, key=lambda e: (e[3], e[0])):
                if kind == TYPE.TYPE_SLICE_BEGIN:
                    stack.append([path, ts, None, name, category, annotations])
                elif kind == TYPE.TYPE_SLICE_END:
                    if not stack:
                        fail(f"{path}: a slice end at {ts} without a begin")
                    done = stack.pop()
                    done[2] = ts - done[1]
                    # Annotations on the end are merged into the slice.
                    done[5] = {**done[5], **annotations}
                    slices.append(done)
                elif kind == TYPE.TYPE_INSTANT:
                    instants.append((path, ts, name, category, annotations))
                else:
                    fail(f"{path}: unexpected event type {kind}")
            slices.extend(stack)  # still open at the end: no duration
        return slices, instants


# ---------------------------------------------------------------- the model


def start_of(identity):
    return None if identity is None else int(identity.split("@")[1])


def same(a, b):
    return a is None or b is None or a == b


class Model:
    """The trace the exporter must write for these events, built from the
    JSON output and the capture's context by the documented rules."""

    def __init__(self):
        self.tracks = []  # [name, parent index or None, description]
        self.live = {}  # pid -> dict(id, start, depth, exec_open)
        self.threads = {}  # tid -> (track id, owner track id)
        self.snapshot = {}
        self.slices = []  # [track id, ts, dur or None, name, category, annotations]
        self.instants = []  # (track id, ts, name, category, annotations)

    def new_track(self, name, parent, description=None):
        self.tracks.append((name, parent, description))
        return len(self.tracks) - 1

    def path(self, track):
        names = []
        while track is not None:
            name, parent, _ = self.tracks[track]
            names.append(name)
            track = parent
        return tuple(reversed(names))

    def create(self, pid, start, name, parent):
        if parent is not None and parent[1] + 1 < MAX_DEPTH:
            parent_id, depth = parent[0], parent[1] + 1
        else:
            parent_id, depth = None, 0
        snap = self.snapshot.get(pid)
        description = None
        if snap and same(snap["start_ns"], start) and snap["argv"]:
            description = " ".join(snap["argv"])
        track = self.new_track(f"{name} {pid}", parent_id, description)
        self.live[pid] = {"id": track, "start": start, "depth": depth, "exec_open": None}
        return track

    def parent_track(self, pid, start, name, hops):
        p = self.live.get(pid)
        if p and same(p["start"], start):
            return p["id"], p["depth"]
        known = self.snapshot.get(pid)
        if known and not same(known["start_ns"], start):
            known = None
        if start is None and known:
            start = known["start_ns"]
        grandparent = None
        if known and known["ppid"] not in (0, pid) and hops < MAX_DEPTH:
            ppid = known["ppid"]
            if ppid in self.live:
                grandparent = (self.live[ppid]["id"], self.live[ppid]["depth"])
            elif ppid in self.snapshot:
                s = self.snapshot[ppid]
                grandparent = self.parent_track(ppid, s["start_ns"], s["comm"], hops + 1)
        track = self.create(pid, start, name, grandparent)
        return track, self.live[pid]["depth"]

    def process(self, pid, start, name, parent):
        p = self.live.get(pid)
        if p and same(p["start"], start):
            if p["start"] is None:
                p["start"] = start
            return p["id"]
        par = None
        if parent and parent[0] not in (0, pid):
            par = self.parent_track(*parent, 0)
        return self.create(pid, start, name, par)

    def actor(self, e):
        name = e["comm_before"] if e["event"] == "exec" else e["comm"]
        parent = (e["ppid"], start_of(e["parent_proc_id"]), e["pcomm"])
        return self.process(e["pid"], start_of(e["proc_id"]), name, parent)

    def thread(self, process, tid, comm):
        known = self.threads.get(tid)
        if known and known[1] == process:
            return known[0]
        track = self.new_track(f"{comm} {tid}", process)
        self.threads[tid] = (track, process)
        return track

    def end_exec(self, pid, ts):
        p = self.live.get(pid)
        if p and p["exec_open"] is not None:
            p["exec_open"][2] = ts - p["exec_open"][1]
            p["exec_open"] = None

    def event(self, e):
        ts = e["ts_ns"]
        # Null fields are left out; so is an empty array (protobuf cannot
        # tell it from no value).
        annotations = {k: v for k, v in e.items()
                       if k not in ("event", "time", "ts_ns") and v is not None and v != []}
        kind = e["event"]
        failed_name = f"{kind} failed: {e['error'] if e['error'] is not None else e['ret']}"
        if kind == "fork":
            creator = self.actor(e)
            if e["child_pid"] == e["pid"]:
                track = self.thread(creator, e["child_tid"], e["comm"])
                self.instants.append((track, ts, "new thread", kind, annotations))
            else:
                depth = self.live[e["pid"]]["depth"]
                child = self.create(e["child_pid"], None, e["comm"], (creator, depth))
                self.instants.append((child, ts, "fork", kind, annotations))
        elif kind == "exit":
            process = self.actor(e)
            self.end_exec(e["pid"], ts)
            if e["signal"] is not None:
                name = f"killed by signal {e['signal']}" + (", core dumped" if e["core_dumped"] else "")
            else:
                name = f"exit code {e['exit_code'] or 0}"
            self.instants.append((process, ts, name, kind, annotations))
            del self.live[e["pid"]]
            snap = self.snapshot.get(e["pid"])
            if snap and same(snap["start_ns"], start_of(e["proc_id"])):
                del self.snapshot[e["pid"]]
        elif e.get("unfinished"):
            # No exit in the capture: an instant at the entry, on the thread.
            process = self.actor(e)
            comm = e["comm_before"] if kind == "exec" else e["comm"]
            track = self.thread(process, e["tid"], comm)
            self.instants.append((track, ts, f"{kind} unfinished: {e['unfinished_reason']}", kind, annotations))
        elif kind == "exec":
            process = self.actor(e)
            if e["ret"] < 0:
                track = self.thread(process, e["tid"], e["comm_before"])
                self.instants.append((track, ts, failed_name, kind, annotations))
            else:
                self.end_exec(e["pid"], ts)
                s = [process, ts, None, e["comm"], kind, annotations]
                self.slices.append(s)
                self.live[e["pid"]]["exec_open"] = s
        else:
            process = self.actor(e)
            track = self.thread(process, e["tid"], e["comm"])
            name = failed_name if e["ret"] < 0 else kind
            self.slices.append([track, ts, e["latency_ns"], name, kind, annotations])

    def capture(self, context, events):
        """A capture's track, its slice and its loss instants."""
        header = context["header"]
        clock = header["clock"]
        track = self.new_track(f"snoopcap capture on {header['hostname']}", None)
        summary = context["summary"]
        end = max([clock["boot_ns"]] + [e["ts_ns"] + (e["latency_ns"] or 0) for e in events])
        trailer = summary["trailer"]
        if trailer:
            end = max(end, trailer["last_ts_ns"], clock["boot_ns"] + trailer["end_wall_ns"] - clock["wall_ns"])
        meta = {
            "hostname": header["hostname"], "sysname": header["sysname"], "release": header["release"],
            "kernel_version": header["kernel_version"], "machine": header["machine"], "os": header["os_name"],
            "boot_id": header["boot_id"], "num_cpus": header["num_cpus"], "page_size": header["page_size"],
            "utc_offset_secs": header["utc_offset_secs"], "clock_boot_ns": clock["boot_ns"],
            "clock_wall_ns": clock["wall_ns"], "clock_wall": context["clock_wall"],
            "clock_uncertainty_ns": clock["uncertainty_ns"], "clock_method": header["clock_method"],
            "start": context["start"], "tool": header["tool"], "tool_version": header["tool_version"],
            "command_line": header["command_line"], "events": header["events"], "filters": header["filters"],
            "layout_version": header["layout_version"], "ringbuf_bytes": header["ringbuf_bytes"],
            "max_args": header["max_args"], "arg_size": header["arg_size"],
            "complete": 1 if trailer else 0,
        }
        if trailer:
            meta["stop_reason"] = trailer["stop_reason"]
            meta["end"] = context["end"]
        self.slices.append([track, clock["boot_ns"], end - clock["boot_ns"], f"capture on {header['hostname']}",
                            "capture", meta])
        loss = []
        for warning in context["warnings"]:
            loss.append((None, warning["name"], {"warning": warning["kind"], "message": warning["message"]}))
        lost = summary["lost"]
        total = sum(lost.values())
        if total:
            loss.append((end, f"{total} records lost in the kernel", {"lost": total, **lost}))
        if summary["orphan_exits"]:
            loss.append((end, f"{summary['orphan_exits']} exit records without their entry could not be paired",
                         {"orphan_exits": summary["orphan_exits"]}))
        if summary["incomplete_entries"]:
            loss.append((end, f"{summary['incomplete_entries']} calls without their exit record, shown as unfinished",
                         {"incomplete_entries": summary["incomplete_entries"]}))
        if summary["decode_errors"]:
            loss.append((end, f"{summary['decode_errors']} kernel records could not be decoded",
                         {"undecodable": summary["decode_errors"]}))
        if not trailer:
            loss.append((end, "capture cut short (no trailer)", {"message": context["cut_short_message"]}))
        loss_track = self.new_track("lost and unpaired records", track) if loss else None
        return track, loss_track, loss, (clock["boot_ns"], end)


def check(trace_path, events_path, context_path):
    with open(trace_path, "rb") as f:
        decoded = Decoded(f.read())
    with open(events_path) as f:
        events = [json.loads(line) for line in f if line.strip()]
    with open(context_path) as f:
        contexts = json.load(f)

    model = Model()
    loss_expected = []  # (loss track id, ts or None, name, annotations, window)
    # The events of each input, in order: JSON lines carry no input, so the
    # context says how many each gave.
    at = 0
    for context in contexts:
        mine = events[at:at + context["events"]]
        at += context["events"]
        _, loss_track, loss, window = model.capture(context, mine)
        for ts, name, annotations in loss:
            loss_expected.append((loss_track, ts, name, annotations, window))
        for process in context["snapshot"]:
            model.snapshot[process["pid"]] = process
        for e in mine:
            model.event(e)
    if at != len(events):
        fail(f"the context accounts for {at} events, the JSON has {len(events)}")

    # Tracks: the same tree (as paths of names), descriptions, and counts.
    expected_tracks = collections.Counter((model.path(i), t[2]) for i, t in enumerate(model.tracks))
    actual_tracks = collections.Counter((decoded.path(u), decoded.tracks[u][2]) for u in decoded.track_order)
    if expected_tracks != actual_tracks:
        fail("tracks differ:\n  missing: %s\n  extra:   %s" % (
            sorted(expected_tracks - actual_tracks), sorted(actual_tracks - expected_tracks)))

    slices, instants = decoded.slices_and_instants()
    actual_slices = collections.Counter(
        (p, ts, dur, name, cat, freeze(ann)) for p, ts, dur, name, cat, ann in slices)
    expected_slices = collections.Counter(
        (model.path(t), ts, dur, name, cat, freeze(ann)) for t, ts, dur, name, cat, ann in model.slices)
    if expected_slices != actual_slices:
        fail("slices differ:\n  missing: %s\n  extra:   %s" % (
            list(expected_slices - actual_slices), list(actual_slices - expected_slices)))

    # Instants; the loss track's warnings have no fixed time: within the capture.
    loss_paths = {model.path(t) for t, *_ in loss_expected}
    actual_instants = collections.Counter(
        (p, ts, name, cat, freeze(ann)) for p, ts, name, cat, ann in instants if p not in loss_paths)
    expected_instants = collections.Counter(
        (model.path(t), ts, name, cat, freeze(ann)) for t, ts, name, cat, ann in model.instants)
    if expected_instants != actual_instants:
        fail("instants differ:\n  missing: %s\n  extra:   %s" % (
            list(expected_instants - actual_instants), list(actual_instants - expected_instants)))
    actual_loss = [(p, ts, name, cat, ann) for p, ts, name, cat, ann in instants if p in loss_paths]
    for track, ts, name, annotations, (lo, hi) in loss_expected:
        path = model.path(track)
        match = [i for i in actual_loss if i[0] == path and i[2] == name and i[3] == "loss" and i[4] == annotations
                 and (i[1] == ts if ts is not None else lo <= i[1] <= hi)]
        if not match:
            fail(f"no loss instant {name!r} {annotations} at {ts} on {path}: {actual_loss}")
        actual_loss.remove(match[0])
    if actual_loss:
        fail(f"extra loss instants: {actual_loss}")

    # Clocks: each event's wall-clock time from the latest clock snapshot
    # at or before it (the first one before them all), as JSON says.
    if not decoded.clocks:
        fail("no clock snapshot")
    for context in contexts:
        clock = context["header"]["clock"]
        if (clock["boot_ns"], clock["wall_ns"]) not in decoded.clocks:
            fail(f"no clock snapshot of the capture's anchor {clock}")
    for e in events:
        before = [c for c in decoded.clocks if c[0] <= e["ts_ns"]]
        boot, real = max(before) if before else min(decoded.clocks)
        wall = real + e["ts_ns"] - boot
        if wall != rfc3339_ns(e["time"]):
            fail(f"event at {e['ts_ns']}: the clock snapshots give {wall}, JSON says {e['time']}")

    # uname for trace_processor's metadata table.
    if len(decoded.system_info) != len(contexts):
        fail(f"{len(decoded.system_info)} SystemInfo packets for {len(contexts)} captures")
    for info, context in zip(decoded.system_info, contexts):
        h = context["header"]
        uts = info.utsname
        if (uts.sysname, uts.release, uts.version, uts.machine) != (h["sysname"], h["release"],
                                                                       h["kernel_version"], h["machine"]):
            fail(f"SystemInfo {info} does not match the header")

    described = sum(1 for t in decoded.tracks.values() if t[2] is not None)
    print(f"perfetto_check: ok: {len(decoded.tracks)} tracks, {described} described tracks, {len(slices)} slices, "
          f"{len(instants)} instants, {len(events)} JSON events, {len(decoded.clocks)} clock snapshots")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        fail("usage: perfetto_check.py TRACE EVENTS.jsonl CONTEXT.json")
    check(*sys.argv[1:])
