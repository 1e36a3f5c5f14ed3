#!/usr/bin/env bash
# Makes the bad-capture corpus of testdata/bad/ (see README.md there) from one
# small real capture, base.snoop, by damaging copies of it deterministically.
#
#   testdata/bad/make.sh            derive every bad file from base.snoop
#   testdata/bad/make.sh --record   first re-record base.snoop (root, BPF;
#                                   builds target/release/record if needed)
#
# Re-recording changes base.snoop, so the byte offsets quoted in README.md's
# expected messages must then be updated (tests/it/reliability.rs prints the
# actual messages when they differ). Deriving alone is reproducible byte for
# byte: same base.snoop in, same files out.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$here"

if [[ ${1:-} == --record ]]; then
    [[ $(id -u) == 0 ]] || { echo "make.sh --record needs root" >&2; exit 1; }
    (cd "$repo" && cargo build --release --bins)
    work=$(mktemp -d)
    trap 'rm -rf "$work"; [[ -n ${cg:-} ]] && rmdir "$cg" 2>/dev/null || true' EXIT
    cc -O2 -Wall -pthread -o "$work/workload" "$repo/tests/workload.c"
    # Only the workload's own processes: a cgroup v2 of their own, so that
    # nothing else running on the machine ends up in the committed file.
    cgroot=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
    cg="$cgroot/snoopcap-corpus-$$"
    mkdir "$cg"
    in_cg() { sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@" >/dev/null; }
    rm -f base.snoop
    # Short frames (--flush-interval 0.25) so that the capture has several
    # data frames: damage to one must not cost the others.
    "$repo/target/release/record" -o base.snoop --duration 2.5 --flush-interval 0.25 \
        --arg-size 64 --cgroup "$cg" 2>"$work/record.err" &
    rec=$!
    until grep -q Tracing "$work/record.err"; do
        kill -0 "$rec" || { cat "$work/record.err" >&2; exit 1; }
        sleep 0.1
    done
    in_cg "$work/workload" exec
    sleep 0.5
    in_cg "$work/workload" mounts
    sleep 0.5
    in_cg "$work/workload" all
    wait "$rec"
    cat "$work/record.err" >&2
    chmod 0644 base.snoop
fi

[[ -f base.snoop ]] || { echo "no base.snoop: run make.sh --record" >&2; exit 1; }

python3 - <<'EOF'
import gzip, random, struct, subprocess, zlib

base = open("base.snoop", "rb").read()
N = struct.unpack_from("<I", base, 12)[0]
HEADER = 20 + N                      # first frame offset

# Frames: (offset, type, compressed length C).
frames = []
off = HEADER
while off < len(base):
    assert base[off:off + 4] == b"SCFR", off
    c = struct.unpack_from("<I", base, off + 8)[0]
    frames.append((off, base[off + 4], c))
    off += 48 + c
data = [f for f in frames if f[1] == 1]
trailer = [f for f in frames if f[1] == 2]
assert len(data) >= 3 and len(trailer) == 1, frames
F2 = data[1][0]                      # the second data frame: damaged below
F2_END = F2 + 48 + data[1][2]
TRAILER = trailer[0][0]

def crc(b):
    return zlib.crc32(b) & 0xFFFFFFFF

def fix_file_header(b):
    b = bytearray(b)
    struct.pack_into("<I", b, 16 + N, crc(b[:16 + N]))
    return bytes(b)

def fix_frame_header(b, at):
    b = bytearray(b)
    struct.pack_into("<I", b, at + 44, crc(b[at:at + 44]))
    return bytes(b)

def flip(b, at, mask=0x01):
    b = bytearray(b)
    b[at] ^= mask
    return bytes(b)

def put(name, b):
    open(name, "wb").write(b)

def zstd(payload):
    return subprocess.run(["zstd", "-q", "-c", "--no-check", "-19"], input=payload,
                          stdout=subprocess.PIPE, check=True).stdout

def unzstd(comp):
    return subprocess.run(["zstd", "-q", "-d", "-c"], input=comp,
                          stdout=subprocess.PIPE, check=True).stdout

def frame(ftype, payload, count, first, last):
    comp = zstd(payload)
    h = b"SCFR" + bytes([ftype, 1, 0, 0]) + struct.pack(
        "<IIIIQQI", len(comp), len(payload), count, 0, first, last, crc(comp))
    return h + struct.pack("<I", crc(h)) + comp

# Not captures at all.
put("empty.snoop", b"")
put("text.snoop", b"PCOMM            PID    PPID   RET ARGS\nthis is a table, not a capture\n")
put("random.snoop", random.Random(7).randbytes(4096))
put("gzip.snoop", gzip.compress(base, mtime=0))

# The file header.
put("wrong-magic.snoop", base[:7] + b"X" + base[8:])
put("version-2.snoop", fix_file_header(base[:8] + struct.pack("<H", 2) + base[10:]))
put("header-flip.snoop", flip(base, 16 + 8 + 15 + 8 + 5 + 8 + 1))   # a byte of the hostname
put("header-huge-body.snoop", base[:12] + struct.pack("<I", 0x7FFFFFFF) + base[16:])
put("truncated-header.snoop", base[:100])

# Cut short: the recorder was killed.
put("header-only.snoop", base[:HEADER])
put("no-trailer.snoop", base[:TRAILER])
put("truncated-frame-header.snoop", base[:F2 + 20])
put("truncated-mid-frame.snoop", base[:F2 + 48 + data[1][2] // 2])

# One damaged frame: the others still replay.
put("payload-flip.snoop", flip(base, F2 + 48 + data[1][2] // 2))
put("frame-header-flip.snoop", flip(base, F2 + 16))           # its record count
put("frame-magic.snoop", base[:F2 + 3] + b"X" + base[F2 + 4:])
put("frame-count-lies.snoop", fix_frame_header(
    base[:F2 + 16] + struct.pack("<I", struct.unpack_from("<I", base, F2 + 16)[0] + 1)
    + base[F2 + 20:], F2))
put("frame-too-large.snoop", fix_frame_header(
    base[:F2 + 8] + struct.pack("<I", (16 << 20) + 1) + base[F2 + 12:], F2))
put("frame-length-lies.snoop", fix_frame_header(
    base[:F2 + 8] + struct.pack("<I", 16 << 20) + base[F2 + 12:], F2))
put("trailer-flip.snoop", flip(base, TRAILER + 48 + 2))

# Frames removed or added, data after the end.
put("dropped-frame.snoop", base[:F2] + base[F2_END:])
put("trailing-data.snoop", base + b"garbage after the trailer\n")
# A frame of a type from a newer version, in a capture cut short (in a
# complete one the trailer's byte count would flag the insertion too).
put("unknown-frame-type.snoop", base[:TRAILER] + frame(9, b"from the future", 0, 0, 0))

# A kernel record that passes every container check but does not decode:
# the second data frame rebuilt (valid checksums, lengths and counts) with
# its first kernel record's size field (record header bytes 16..20) set to 3.
payload = bytearray(unzstd(base[F2 + 48:F2_END]))
pos, first_kernel = 0, None
while pos < len(payload):
    kind, length = payload[pos], struct.unpack_from("<I", payload, pos + 1)[0]
    if kind == 1 and first_kernel is None:
        first_kernel = pos + 5
    pos += 5 + length
struct.pack_into("<I", payload, first_kernel + 16, 3)
count = struct.unpack_from("<I", base, F2 + 16)[0]
first, last = struct.unpack_from("<QQ", base, F2 + 24)
rebuilt = frame(1, bytes(payload), count, first, last)
bad = base[:F2] + rebuilt + base[F2_END:TRAILER]
put("undecodable-record.snoop", bad)

print("header", HEADER, "frames", frames)
EOF
