//! The part of an event that says who made it (process and thread, their
//! credentials and names, mount namespace, cgroup, lineage identities), and
//! a one-entry memo of what a renderer wrote for it.
//!
//! Consecutive events mostly come from the same thread (a build step's
//! calls, a container start's mounts), and their who-part renders to the
//! same bytes: copying those bytes is a fraction of the cost of writing a
//! dozen numbers and names again. A renderer keeps one [`ActorMemo`], asks
//! it for the bytes of each event's who-part, and writes them only when the
//! actor differs from the last event's.

use crate::event::{Comm, Event};
use std::sync::Arc;

/// Every field of an event a who-part may show but the cgroup path (see
/// [`ActorMemo::path`]); two events with equal keys and the same path
/// render to the same who-part bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ActorKey {
    pid: u32,
    tid: u32,
    ppid: u32,
    uid: u32,
    gid: u32,
    mnt_ns: u32,
    comm: Comm,
    pcomm: Comm,
    cgroup_id: u64,
    proc_start_ns: Option<u64>,
    parent_start_ns: Option<u64>,
}

impl ActorKey {
    fn of(event: &Event) -> ActorKey {
        ActorKey {
            pid: event.pid,
            tid: event.tid,
            ppid: event.ppid,
            uid: event.uid,
            gid: event.gid,
            mnt_ns: event.mnt_ns,
            comm: event.comm,
            pcomm: event.pcomm,
            cgroup_id: event.cgroup_id,
            proc_start_ns: event.proc_start_ns,
            parent_start_ns: event.parent_start_ns,
        }
    }
}

/// What a renderer wrote for the last actor it saw: two byte runs (a head
/// and a tail, for formats that show the who-part in two places).
#[derive(Debug, Default)]
pub struct ActorMemo {
    key: Option<ActorKey>,
    /// The actor's cgroup path. The stream hands out one shared `Arc` per
    /// path, so it is compared by address (an equal path in another `Arc`
    /// merely has the bytes written again); holding it keeps that address
    /// from being reused meanwhile.
    path: Option<Arc<[u8]>>,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl ActorMemo {
    /// When `event`'s actor is not the one remembered: the head and tail
    /// buffers, emptied, for the caller to write the new actor's bytes in
    /// (they are remembered from then on). `None` when the remembered bytes
    /// are `event`'s.
    pub fn refresh(&mut self, event: &Event) -> Option<(&mut Vec<u8>, &mut Vec<u8>)> {
        let key = ActorKey::of(event);
        let same_path = match (&self.path, &event.cgroup_path) {
            (Some(kept), Some(path)) => Arc::ptr_eq(kept, path),
            (None, None) => true,
            _ => false,
        };
        if self.key == Some(key) && same_path {
            return None;
        }
        self.key = Some(key);
        self.path = event.cgroup_path.clone();
        self.head.clear();
        self.tail.clear();
        Some((&mut self.head, &mut self.tail))
    }

    /// The head bytes of the actor remembered.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The tail bytes of the actor remembered.
    pub fn tail(&self) -> &[u8] {
        &self.tail
    }

    /// Forgets the actor: the bytes written for it are no longer valid
    /// (a Perfetto sequence's interning tables started again).
    pub fn forget(&mut self) {
        self.key = None;
        self.path = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_events::*;

    #[test]
    fn the_same_actor_is_written_once() {
        let mut memo = ActorMemo::default();
        let first = exec(b"/bin/true", &[b"true"]);
        let (head, _) = memo.refresh(&first).expect("a new actor");
        head.extend_from_slice(b"who");
        let mut second = exec(b"/bin/true", &[b"true", b"again"]);
        second.ts_ns += 1;
        second.latency_ns += 7;
        assert!(memo.refresh(&second).is_none(), "same actor, other call");
        assert_eq!(memo.head(), b"who");
    }

    #[test]
    fn any_field_of_the_actor_makes_it_another() {
        let mut base = exec(b"/bin/true", &[b"true"]);
        base.cgroup_path = Some(Arc::from(&b"/system.slice"[..]));
        let changes: [fn(&mut Event); 12] = [
            |e| e.pid += 1,
            |e| e.tid += 1,
            |e| e.ppid += 1,
            |e| e.uid += 1,
            |e| e.gid += 1,
            |e| e.mnt_ns += 1,
            |e| e.comm = Comm::from_bytes(b"other"),
            |e| e.pcomm = Comm::from_bytes(b"other"),
            |e| e.cgroup_id += 1,
            |e| e.cgroup_path = Some(Arc::from(&b"/other"[..])),
            |e| e.proc_start_ns = Some(e.proc_start_ns.unwrap_or(0) + 1),
            |e| e.parent_start_ns = Some(e.parent_start_ns.unwrap_or(0) + 1),
        ];
        for change in changes {
            let mut memo = ActorMemo::default();
            assert!(memo.refresh(&base).is_some());
            let mut other = base.clone();
            change(&mut other);
            assert!(memo.refresh(&other).is_some(), "{other:?}");
            assert!(memo.refresh(&other).is_none());
        }
    }

    #[test]
    fn a_forgotten_actor_is_written_again() {
        let mut memo = ActorMemo::default();
        let event = exec(b"/bin/true", &[b"true"]);
        assert!(memo.refresh(&event).is_some());
        memo.forget();
        assert!(memo.refresh(&event).is_some());
    }
}
