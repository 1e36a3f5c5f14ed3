//! Replay-side event filters (--pid, --uid, --comm, --mntns, --cgroup-id, --since, --until, --failed-only, --events).
