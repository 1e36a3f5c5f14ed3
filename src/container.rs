//! Container identity from a cgroup v2 path: which runtime's container a
//! process ran in, the container's id, and for Kubernetes the pod's UID and
//! QoS class. [`identify`] reads the path as each runtime names its cgroups:
//!
//! | runtime | cgroup (systemd driver) | cgroup (cgroupfs driver) |
//! |---|---|---|
//! | `docker` | `docker-<id>.scope` | `/docker/<id>` |
//! | `containerd` | `cri-containerd-<id>.scope`, `nerdctl-<id>.scope` | |
//! | `cri-o` | `crio-<id>.scope` | |
//! | `podman` | `libpod-<id>.scope` | `/libpod_parent/libpod-<id>` |
//! | `systemd-nspawn` | `machine-<name>.scope`, `/machine.slice/systemd-nspawn@<name>.service` | |
//! | `cri` (a bare id under a pod) | | `/kubepods/<qos>/pod<uid>/<id>` |
//!
//! Kubernetes pods: `/kubepods/[burstable|besteffort/]pod<uid>/...` and
//! `kubepods[-burstable|-besteffort]-pod<uid with _ for ->.slice` (a pod
//! directly under `kubepods` is Guaranteed). The innermost container-like
//! component wins (a container's own sub-cgroups, `init.scope` and the like,
//! do not hide it); the monitor scopes of CRI-O and podman
//! (`crio-conmon-<id>.scope`, `libpod-conmon-<id>.scope`) are not
//! containers. Nothing is allocated: the values borrow from the path, and
//! [`Derived::bytes`] converts a pod UID or a systemd-escaped name when shown.

use std::borrow::Cow;

/// How a derived value is to be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// As it is in the path.
    Plain,
    /// A pod UID from a systemd slice name: `_` stands for `-`.
    PodUid,
    /// A systemd unit name part: `\x2d` and other `\xNN` escapes decoded.
    Unit,
}

/// A value read out of a cgroup path (or a constant such as a runtime name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Derived<'a> {
    pub raw: &'a [u8],
    pub form: Form,
}

impl<'a> Derived<'a> {
    fn plain(raw: &'a [u8]) -> Derived<'a> {
        Derived {
            raw,
            form: Form::Plain,
        }
    }

    /// The value as shown.
    pub fn bytes(&self) -> Cow<'a, [u8]> {
        match self.form {
            Form::Plain => Cow::Borrowed(self.raw),
            Form::PodUid => Cow::Owned(
                self.raw
                    .iter()
                    .map(|&b| if b == b'_' { b'-' } else { b })
                    .collect(),
            ),
            Form::Unit => unescape_unit(self.raw),
        }
    }
}

/// What a cgroup path says about containers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Identity<'a> {
    /// `docker`, `containerd`, `cri-o`, `podman`, `systemd-nspawn`, `cri`.
    pub runtime: Option<&'static str>,
    pub container_id: Option<Derived<'a>>,
    pub pod_uid: Option<Derived<'a>>,
    /// `Guaranteed`, `Burstable` or `BestEffort`.
    pub pod_qos: Option<&'static str>,
}

impl Identity<'_> {
    /// Whether the container id starts with `prefix`.
    pub fn id_starts_with(&self, prefix: &[u8]) -> bool {
        self.container_id
            .is_some_and(|id| id.bytes().starts_with(prefix))
    }
}

/// Reads `path` (a cgroup v2 path as `/proc/PID/cgroup` shows it).
pub fn identify(path: &[u8]) -> Identity<'_> {
    let mut identity = Identity::default();
    let mut previous: &[u8] = b"";
    let mut in_pod = false;
    for component in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        if let Some((qos, uid)) = kube_component(component, previous, &mut identity) {
            if qos.is_some() {
                identity.pod_qos = qos;
            }
            if let Some(uid) = uid {
                identity.pod_uid = Some(uid);
                identity.pod_qos = identity.pod_qos.or(Some("Guaranteed"));
                in_pod = true;
            }
        } else if let Some((runtime, id)) = container_component(component, previous, in_pod) {
            identity.runtime = Some(runtime);
            identity.container_id = Some(id);
        }
        previous = component;
    }
    identity
}

/// [`identify`] with a one-entry memo: consecutive events mostly share
/// their cgroup, and comparing a path with the last one is cheaper than
/// reading it again. Exactly [`identify`]'s answer.
pub fn identify_cached(path: &[u8]) -> Identity<'_> {
    /// Where the parts of the last path's identity are in it.
    struct Memo {
        path: Vec<u8>,
        runtime: Option<&'static str>,
        container_id: Option<(usize, usize, Form)>,
        pod_uid: Option<(usize, usize, Form)>,
        pod_qos: Option<&'static str>,
    }
    thread_local! {
        static LAST: std::cell::RefCell<Option<Memo>> = const { std::cell::RefCell::new(None) };
    }
    let span = |d: Option<Derived<'_>>| {
        d.map(|d| {
            let start = d.raw.as_ptr() as usize - path.as_ptr() as usize;
            (start, start + d.raw.len(), d.form)
        })
    };
    let rebuild = |m: &Memo| {
        let part = |s: Option<(usize, usize, Form)>| {
            s.and_then(|(a, b, form)| path.get(a..b).map(|raw| Derived { raw, form }))
        };
        Identity {
            runtime: m.runtime,
            container_id: part(m.container_id),
            pod_uid: part(m.pod_uid),
            pod_qos: m.pod_qos,
        }
    };
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if let Some(m) = last.as_ref().filter(|m| m.path == path) {
            return rebuild(m);
        }
        let found = identify(path);
        let memo = Memo {
            path: path.to_vec(),
            runtime: found.runtime,
            // Both borrow from `path` (identify returns slices of it).
            container_id: span(found.container_id),
            pod_uid: span(found.pod_uid),
            pod_qos: found.pod_qos,
        };
        *last = Some(memo);
        found
    })
}

/// A Kubernetes component: (QoS class, pod UID), either or both.
type KubePart<'a> = (Option<&'static str>, Option<Derived<'a>>);

fn kube_component<'a>(
    c: &'a [u8],
    previous: &[u8],
    identity: &mut Identity<'a>,
) -> Option<KubePart<'a>> {
    if c == b"kubepods" || c == b"kubepods.slice" || c.ends_with(b"-kubepods.slice") {
        return Some((None, None));
    }
    let kube_parent = previous == b"kubepods"
        || previous == b"burstable"
        || previous == b"besteffort"
        || identity.pod_qos.is_some()
        || previous.starts_with(b"kubepods");
    // cgroupfs driver: /kubepods/burstable/pod<uid>.
    if previous == b"kubepods" && (c == b"burstable" || c == b"besteffort") {
        return Some((Some(qos_name(c)), None));
    }
    if kube_parent && identity.pod_uid.is_none() {
        if let Some(uid) = c.strip_prefix(b"pod") {
            if is_uid(uid) {
                return Some((None, Some(Derived::plain(uid))));
            }
        }
    }
    // systemd driver: kubepods-burstable.slice, kubepods-burstable-pod<uid>.slice.
    // kind and kubelet-in-a-unit setups prefix it: kubelet-kubepods-....
    let slice = c.strip_suffix(b".slice")?;
    let at = slice.windows(9).position(|w| w == b"kubepods-")?;
    let rest = slice.get(at + 9..)?;
    let (qos, rest) = if let Some(r) = rest.strip_prefix(b"burstable") {
        (Some("Burstable"), r)
    } else if let Some(r) = rest.strip_prefix(b"besteffort") {
        (Some("BestEffort"), r)
    } else {
        (None, rest)
    };
    if rest.is_empty() {
        return Some((qos, None));
    }
    let uid = rest
        .strip_prefix(b"-")
        .unwrap_or(rest)
        .strip_prefix(b"pod")?;
    is_uid(uid).then_some((
        qos,
        Some(Derived {
            raw: uid,
            form: Form::PodUid,
        }),
    ))
}

fn qos_name(c: &[u8]) -> &'static str {
    if c == b"burstable" {
        "Burstable"
    } else {
        "BestEffort"
    }
}

/// A container's own cgroup: (runtime, id).
fn container_component<'a>(
    c: &'a [u8],
    previous: &[u8],
    in_pod: bool,
) -> Option<(&'static str, Derived<'a>)> {
    const SCOPES: [(&[u8], &str); 5] = [
        (b"docker-", "docker"),
        (b"cri-containerd-", "containerd"),
        (b"nerdctl-", "containerd"),
        (b"crio-", "cri-o"),
        (b"libpod-", "podman"),
    ];
    let unit = c.strip_suffix(b".scope");
    for (prefix, runtime) in SCOPES {
        let Some(id) = unit.unwrap_or(c).strip_prefix(prefix) else {
            continue;
        };
        // cgroupfs podman: /libpod_parent/libpod-<id> (no .scope).
        if unit.is_none() && previous != b"libpod_parent" {
            continue;
        }
        if is_container_id(id) {
            return Some((runtime, Derived::plain(id)));
        }
        // crio-conmon-<id>, libpod-conmon-<id>: the monitor, not the container.
        return None;
    }
    if let Some(name) = unit.and_then(|u| u.strip_prefix(b"machine-")) {
        return (!name.is_empty()).then_some((
            "systemd-nspawn",
            Derived {
                raw: name,
                form: Form::Unit,
            },
        ));
    }
    if previous == b"machine.slice" {
        let name = c
            .strip_prefix(b"systemd-nspawn@")
            .and_then(|n| n.strip_suffix(b".service"))?;
        return (!name.is_empty()).then_some((
            "systemd-nspawn",
            Derived {
                raw: name,
                form: Form::Unit,
            },
        ));
    }
    if previous == b"docker" && is_container_id(c) {
        return Some(("docker", Derived::plain(c)));
    }
    if in_pod && is_container_id(c) {
        return Some(("cri", Derived::plain(c)));
    }
    None
}

/// Container ids are lowercase hex, 64 digits for every runtime named here
/// (at least 12 accepted, as `docker ps` shortens them).
fn is_container_id(id: &[u8]) -> bool {
    (12..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// A pod UID: a UUID, with `-` or (systemd) `_` between its groups.
fn is_uid(uid: &[u8]) -> bool {
    uid.len() == 36
        && uid
            .iter()
            .all(|&b| b.is_ascii_hexdigit() || b == b'-' || b == b'_')
}

/// Decodes systemd's `\xNN` escapes of a unit name.
fn unescape_unit(raw: &[u8]) -> Cow<'_, [u8]> {
    if !raw.contains(&b'\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let escaped = raw
            .get(i..i + 4)
            .filter(|e| e[0] == b'\\' && e[1] == b'x')
            .and_then(|e| std::str::from_utf8(&e[2..4]).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(raw[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e2b1a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
    const UID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

    type Shown = (
        Option<&'static str>,
        Option<String>,
        Option<String>,
        Option<&'static str>,
    );
    type Case = (
        String,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );

    fn show(path: &str) -> Shown {
        let id = identify(path.as_bytes());
        let text =
            |d: Option<Derived<'_>>| d.map(|d| String::from_utf8(d.bytes().into_owned()).unwrap());
        (
            id.runtime,
            text(id.container_id),
            text(id.pod_uid),
            id.pod_qos,
        )
    }

    #[test]
    fn each_runtime_as_it_names_its_cgroups() {
        let uid_ = UID.replace('-', "_");
        let cases: Vec<Case> = vec![
            (format!("/system.slice/docker-{ID}.scope"), Some("docker"), Some(ID), None, None),
            (format!("/docker/{ID}"), Some("docker"), Some(ID), None, None),
            (format!("/system.slice/docker-{ID}.scope/init.scope"), Some("docker"), Some(ID), None, None),
            (format!("/system.slice/cri-containerd-{ID}.scope"), Some("containerd"), Some(ID), None, None),
            (format!("/machine.slice/libpod-{ID}.scope/container"), Some("podman"), Some(ID), None, None),
            (format!("/libpod_parent/libpod-{ID}"), Some("podman"), Some(ID), None, None),
            (format!("/machine.slice/libpod-conmon-{ID}.scope"), None, None, None, None),
            (format!("/system.slice/crio-{ID}.scope"), Some("cri-o"), Some(ID), None, None),
            ("/machine.slice/machine-web\\x2d1.scope/payload".to_string(), Some("systemd-nspawn"), Some("web-1"), None, None),
            ("/machine.slice/systemd-nspawn@db.service/payload".to_string(), Some("systemd-nspawn"), Some("db"), None, None),
            (format!("/kubepods/burstable/pod{UID}/{ID}"), Some("cri"), Some(ID), Some(UID), Some("Burstable")),
            (format!("/kubepods/pod{UID}/{ID}"), Some("cri"), Some(ID), Some(UID), Some("Guaranteed")),
            (format!("/kubepods/besteffort/pod{UID}"), None, None, Some(UID), Some("BestEffort")),
            (
                format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/cri-containerd-{ID}.scope"),
                Some("containerd"), Some(ID), Some(UID), Some("BestEffort"),
            ),
            (
                format!("/kubepods.slice/kubepods-pod{uid_}.slice/crio-{ID}.scope"),
                Some("cri-o"), Some(ID), Some(UID), Some("Guaranteed"),
            ),
            (
                format!("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod{uid_}.slice/cri-containerd-{ID}.scope"),
                Some("containerd"), Some(ID), Some(UID), Some("Burstable"),
            ),
            ("/user.slice/user-1000.slice/session-2.scope".to_string(), None, None, None, None),
            ("/".to_string(), None, None, None, None),
            ("/system.slice/docker-notanid.scope".to_string(), None, None, None, None),
        ];
        for (path, runtime, id, uid, qos) in cases {
            let want = (runtime, id.map(String::from), uid.map(String::from), qos);
            assert_eq!(show(&path), want, "{path}");
        }
    }

    #[test]
    fn the_memo_answers_as_identify_does() {
        let a = format!("/system.slice/docker-{ID}.scope");
        let b = format!("/kubepods/pod{UID}/{ID}");
        for path in [&a, &a, &b, &b, &a, &"/".to_string()] {
            assert_eq!(
                identify_cached(path.as_bytes()),
                identify(path.as_bytes()),
                "{path}"
            );
        }
    }

    #[test]
    fn prefix_match() {
        let path = format!("/system.slice/docker-{ID}.scope");
        let id = identify(path.as_bytes());
        assert!(id.id_starts_with(b"3f4e2b1a9c8d"));
        assert!(!id.id_starts_with(b"3f4e2b1a9c8e"));
        assert!(!identify(b"/init.scope").id_starts_with(b""));
    }
}
