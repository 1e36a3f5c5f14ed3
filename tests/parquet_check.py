#!/usr/bin/env python3
"""Checks `replay --format parquet` output against `--format json` of the
same capture, with two real readers: pyarrow and DuckDB.

    parquet_check.py INFO.json EVENTS.jsonl EVENTS.parquet [INFO EVENTS PARQUET ...]
        [--fleet DIR] [--queries FLEET.md]

Each triple is one capture: `replay --info --format json CAP`, `replay
--format json CAP` and `replay --format parquet -o EVENTS.parquet CAP`. For
each, the row count, every column's name, type and nullability (in both
readers), and every value of every row against the JSON line (every JSON
field must be a column; a field the line does not have must be null). Then
queries over all the files at once: DuckDB's read_parquet([...]) grouped by
host and capture file, against the JSON; with --fleet, the hive-partitioned
directory DIR read as one dataset; with --queries, every ```sql block of
docs/FLEET.md run on it (each must succeed).

Exits 0 when everything matches, 1 with the first difference otherwise.
Run by tests/it/parquet.rs.
"""
import calendar
import json
import re
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

# name -> (pyarrow type, nullable, DuckDB type)
STRING = ("string", "VARCHAR")
U32 = ("uint32", "UINTEGER")
U64 = ("uint64", "UBIGINT")
I32 = ("int32", "INTEGER")
I64 = ("int64", "BIGINT")
TIME = ("timestamp[ns, tz=UTC]", "TIMESTAMPTZ_NS")
COLUMNS = [
    ("event", STRING, False),
    ("time", TIME, False),
    ("ts_ns", U64, False),
    ("pid", U32, False),
    ("tid", U32, False),
    ("ppid", U32, False),
    ("uid", U32, False),
    ("gid", U32, False),
    ("comm", STRING, False),
    ("pcomm", STRING, False),
    ("mnt_ns", U32, False),
    ("cgroup_id", U64, False),
    ("cgroup_path", STRING, True),
    ("ret", I64, True),
    ("error", STRING, True),
    ("latency_ns", U64, True),
    ("filename", STRING, True),
    ("args", ("list<element: string>", "VARCHAR[]"), True),
    ("args_truncated", ("bool", "BOOLEAN"), True),
    ("source", STRING, True),
    ("target", STRING, True),
    ("fstype", STRING, True),
    ("flags", I64, True),
    ("data", STRING, True),
    ("fsname", STRING, True),
    ("fd", I32, True),
    ("cmd", U32, True),
    ("key", STRING, True),
    ("value", STRING, True),
    ("aux", I32, True),
    ("fs_fd", I32, True),
    ("attr_flags", U32, True),
    ("from_dirfd", I32, True),
    ("from_path", STRING, True),
    ("to_dirfd", I32, True),
    ("to_path", STRING, True),
    ("dirfd", I32, True),
    ("path", STRING, True),
    ("attr", ("struct<attr_set: uint64 not null, attr_clr: uint64 not null, "
              "propagation: uint64 not null, userns_fd: uint64 not null>",
              "STRUCT(attr_set UBIGINT, attr_clr UBIGINT, propagation UBIGINT, userns_fd UBIGINT)"), True),
    ("size", U64, True),
    ("comm_before", STRING, True),
    ("unfinished", ("bool", "BOOLEAN"), True),
    ("unfinished_reason", STRING, True),
    ("proc_id", STRING, True),
    ("parent_proc_id", STRING, True),
    ("child_pid", U32, True),
    ("child_tid", U32, True),
    ("clone_flags", U64, True),
    ("thread", ("bool", "BOOLEAN"), True),
    ("exit_code", I32, True),
    ("signal", I32, True),
    ("core_dumped", ("bool", "BOOLEAN"), True),
    ("lifetime_ns", I64, True),
    ("container_id", STRING, True),
    ("runtime", STRING, True),
    ("pod_uid", STRING, True),
    ("pod_qos", STRING, True),
    ("truncated", ("list<element: string not null>", "VARCHAR[]"), True),
    ("unreadable", ("list<element: string not null>", "VARCHAR[]"), True),
    ("hostname", STRING, False),
    ("boot_id", STRING, False),
    ("capture_file", STRING, True),
    ("capture_start", TIME, False),
]
NAMES = [name for name, _, _ in COLUMNS]
IDENTITY = {"hostname", "boot_id", "capture_file", "capture_start"}
TIMES = {"time", "capture_start"}


class Mismatch(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def rfc3339_ns(text):
    """'2026-11-22T03:04:05.123456789Z' -> ns since the epoch (exact)."""
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{9})Z", text)
    check(m is not None, f"not an RFC 3339 UTC time with ns: {text!r}")
    y, mo, d, h, mi, s, frac = (int(g) for g in m.groups())
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) * 1_000_000_000 + frac


def expected_rows(info, lines):
    """The JSON lines as Parquet rows: every column, time as ns integers,
    null where the line has no such field, plus the capture identity."""
    rows = []
    for number, line in enumerate(lines, 1):
        obj = json.loads(line)
        unknown = set(obj) - set(NAMES)
        check(not unknown, f"line {number}: JSON fields with no column: {sorted(unknown)}")
        row = {name: obj.get(name) for name in NAMES if name not in IDENTITY}
        row["time"] = rfc3339_ns(obj["time"])
        row["hostname"] = info["header"]["hostname"]
        row["boot_id"] = info["header"]["boot_id"]
        row["capture_file"] = info["file"]
        row["capture_start"] = info["header"]["start_wall_ns"]
        rows.append(row)
    return rows


def compare_rows(reader, got, want, path):
    check(len(got) == len(want), f"{path}: {reader}: {len(got)} rows, JSON has {len(want)}")
    for index, (g, w) in enumerate(zip(got, want)):
        for name in NAMES:
            check(g[name] == w[name],
                  f"{path}: {reader}: row {index}, column {name}: {g[name]!r}, JSON {w[name]!r}")


def check_arrow(path, want):
    schema = pq.read_schema(path)
    check(schema.names == NAMES, f"{path}: pyarrow columns {schema.names}, expected {NAMES}")
    for name, (arrow_type, _), nullable in COLUMNS:
        field = schema.field(name)
        check(str(field.type) == arrow_type, f"{path}: {name} is {field.type}, expected {arrow_type}")
        check(field.nullable == nullable, f"{path}: {name} nullable={field.nullable}, expected {nullable}")
    table = pq.read_table(path)
    # Times as exact integers (to_pylist's datetimes stop at microseconds).
    for name in TIMES:
        at = table.schema.get_field_index(name)
        table = table.set_column(at, name, table.column(name).cast(pa.int64()))
    compare_rows("pyarrow", table.to_pylist(), want, path)
    return table.num_rows


def duckdb_rows(con, source, params):
    """Every row as a dict, times as exact ns integers."""
    select = ", ".join(
        f"epoch_ns({name}) AS {name}" if name in TIMES else name for name in NAMES
    )
    cursor = con.execute(f"SELECT {select} FROM {source}", params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values)) for values in cursor.fetchall()]


def check_duckdb(con, path, want):
    described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [path]).fetchall()
    got = [(row[0], row[1]) for row in described]
    expected = [(name, duck) for name, (_, duck), _ in COLUMNS]
    check(got == expected, f"{path}: DuckDB types {got}, expected {expected}")
    count = con.execute("SELECT count(*) FROM read_parquet(?)", [path]).fetchone()[0]
    check(count == len(want), f"{path}: DuckDB count {count}, JSON {len(want)}")
    rows = duckdb_rows(con, "read_parquet(?)", [path])
    compare_rows("duckdb", rows, want, path)


def check_union(con, captures):
    """One query over every file: rows per host and capture file, and exec
    counts per command, against the JSON."""
    files = [parquet for _, _, parquet, _ in captures]
    got = con.execute(
        "SELECT hostname, capture_file, count(*) FROM read_parquet(?) GROUP BY ALL ORDER BY ALL",
        [files],
    ).fetchall()
    per_file = {}
    for info, _, _, rows in captures:
        key = (info["header"]["hostname"], info["file"])
        per_file[key] = per_file.get(key, 0) + len(rows)
    want = sorted((host, file, count) for (host, file), count in per_file.items())
    check(got == want, f"union by host and file: {got}, expected {want}")
    got = con.execute(
        "SELECT comm, count(*) FROM read_parquet(?) WHERE event = 'exec' GROUP BY comm ORDER BY ALL",
        [files],
    ).fetchall()
    counts = {}
    for _, _, _, rows in captures:
        for row in rows:
            if row["event"] == "exec":
                counts[row["comm"]] = counts.get(row["comm"], 0) + 1
    check(got == sorted(counts.items()), f"union exec counts by comm: {got}, expected {sorted(counts.items())}")
    return sum(len(rows) for _, _, _, rows in captures)


def sql_blocks(markdown_path):
    with open(markdown_path) as f:
        text = f.read()
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def check_fleet(con, fleet_dir, total, queries_path):
    """The hive-partitioned directory as one dataset, and the docs' queries on it."""
    con.execute(
        f"CREATE OR REPLACE VIEW events AS SELECT * FROM read_parquet('{fleet_dir}/**/*.parquet', hive_partitioning = true)"
    )
    count = con.execute("SELECT count(*) FROM events").fetchone()[0]
    check(count == total, f"fleet dataset: {count} rows, the captures have {total}")
    if not queries_path:
        return 0
    blocks = sql_blocks(queries_path)
    check(blocks, f"{queries_path}: no ```sql blocks")
    ran = 0
    for block in blocks:
        for statement in [s.strip() for s in block.split(";") if s.strip()]:
            # The docs point at their own directory; here it is the test's.
            statement = statement.replace("fleet/", fleet_dir.rstrip("/") + "/")
            try:
                result = con.execute(statement).fetchall()
            except duckdb.Error as err:
                raise Mismatch(f"{queries_path}: query failed: {err}\n{statement}")
            # Rows or none, depending on the fixtures (none of them mounts
            # /proc): running on the real columns and types is the check.
            print(f"  {len(result)} rows: {' '.join(statement.split())[:90]}")
            ran += 1
    return ran


def main(argv):
    fleet = queries = None
    args = []
    it = iter(argv)
    for arg in it:
        if arg == "--fleet":
            fleet = next(it)
        elif arg == "--queries":
            queries = next(it)
        else:
            args.append(arg)
    if not args or len(args) % 3:
        sys.exit(__doc__)
    con = duckdb.connect()
    captures = []
    try:
        for at in range(0, len(args), 3):
            info_path, json_path, parquet_path = args[at:at + 3]
            with open(info_path) as f:
                info = json.load(f)
            with open(json_path, encoding="utf-8") as f:
                lines = f.read().splitlines()
            want = expected_rows(info, lines)
            check(want, f"{json_path}: no events: nothing to compare")
            rows = check_arrow(parquet_path, want)
            check_duckdb(con, parquet_path, want)
            captures.append((info, json_path, parquet_path, want))
            print(f"{parquet_path}: {rows} rows, {len(NAMES)} columns match {json_path} (pyarrow, DuckDB)")
        total = check_union(con, captures)
        print(f"union of {len(captures)} files: {total} rows by host and capture file match")
        if fleet:
            ran = check_fleet(con, fleet, total, queries)
            print(f"fleet dataset {fleet}: {total} rows; {ran} documented queries ran")
    except Mismatch as err:
        print(f"parquet_check: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
