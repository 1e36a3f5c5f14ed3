//! Container names and images from the Docker Engine API, for the capture.
//!
//! When `record` first sees a cgroup whose path is a docker container's
//! ([`crate::container::identify`]), [`Lookup::note`] hands the id to a
//! background thread, which asks the engine over its unix socket (`GET
//! /containers/<id>/json`) and hands back a [`ContainerInfo`];
//! [`Lookup::answers`] collects what has come back, without waiting, each
//! time the record loop cuts a frame. The record loop never blocks on the
//! engine: a slow or absent engine costs a channel send per new container.
//! Without the socket there is no thread at all.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crate::container;
use crate::format::ContainerInfo;

/// The most of an answer read (an inspect answer is a few KiB).
const MAX_ANSWER_BYTES: u64 = 4 << 20;
/// How long one question may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The background lookup: questions out, answers back.
pub struct Lookup {
    questions: Sender<(u64, String)>,
    /// One per question: `None` when the engine gave no usable answer.
    answers: Receiver<Option<ContainerInfo>>,
    /// Container ids already asked about.
    asked: RefCell<HashSet<String>>,
    /// Questions sent and not answered yet.
    pending: Cell<usize>,
    /// Answers taken by [`Lookup::settle`], handed out by [`Lookup::answers`].
    early: RefCell<Vec<ContainerInfo>>,
}

impl Lookup {
    /// Starts the lookup thread if `socket` exists.
    pub fn start(socket: &Path) -> Option<Lookup> {
        if !socket.exists() {
            return None;
        }
        let (questions, inbox) = mpsc::channel::<(u64, String)>();
        let (outbox, answers) = mpsc::channel();
        let socket = socket.to_path_buf();
        thread::Builder::new()
            .name("docker-lookup".to_string())
            .spawn(move || serve(&socket, &inbox, &outbox))
            .ok()?;
        Some(Lookup {
            questions,
            answers,
            asked: RefCell::default(),
            pending: Cell::default(),
            early: RefCell::default(),
        })
    }

    /// A new cgroup: if it is a docker container not asked about yet, ask.
    pub fn note(&self, cgroup_id: u64, path: &[u8]) {
        let identity = container::identify(path);
        if identity.runtime != Some("docker") {
            return;
        }
        let Some(id) = identity.container_id else {
            return;
        };
        let id = String::from_utf8_lossy(&id.bytes()).into_owned();
        if self.asked.borrow_mut().insert(id.clone())
            && self.questions.send((cgroup_id, id)).is_ok()
        {
            self.pending.set(self.pending.get() + 1);
        }
    }

    /// The answers that came back since the last call (never waits).
    pub fn answers(&self) -> Vec<ContainerInfo> {
        let mut got = std::mem::take(&mut *self.early.borrow_mut());
        for answer in self.answers.try_iter() {
            self.pending.set(self.pending.get().saturating_sub(1));
            got.extend(answer);
        }
        got
    }

    /// Waits up to `limit` for questions still under way (at the end of a
    /// recording); the answers stay for [`Lookup::answers`].
    pub fn settle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.pending.get() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.answers.recv_timeout(left) {
                Ok(answer) => {
                    self.pending.set(self.pending.get().saturating_sub(1));
                    self.early.borrow_mut().extend(answer);
                }
                Err(_) => break,
            }
        }
    }
}

/// The thread: answers each question, one at a time, until record ends.
fn serve(socket: &Path, inbox: &Receiver<(u64, String)>, outbox: &Sender<Option<ContainerInfo>>) {
    for (cgroup_id, id) in inbox {
        // A container the engine does not know (or an engine that is gone)
        // just stays without a name.
        if outbox.send(inspect(socket, cgroup_id, &id).ok()).is_err() {
            return;
        }
    }
}

/// Why a lookup gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the engine answered {0}")]
    Status(String),
    #[error("the answer is not an HTTP response")]
    NotHttp,
    #[error("the answer's JSON is not a container: {0}")]
    Json(String),
}

/// Asks the engine at `socket` about container `id`.
pub fn inspect(socket: &Path, cgroup_id: u64, id: &str) -> Result<ContainerInfo, LookupError> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    // HTTP/1.0: the engine closes the connection after the answer and
    // sends no chunked encoding.
    write!(
        stream,
        "GET /containers/{id}/json HTTP/1.0\r\nHost: docker\r\nUser-Agent: snoopcap-record\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.take(MAX_ANSWER_BYTES).read_to_end(&mut answer)?;
    let body = http_body(&answer)?;
    parse_inspect(&body, cgroup_id)
}

/// The body of an HTTP response with status 200 (de-chunked if need be).
fn http_body(answer: &[u8]) -> Result<Vec<u8>, LookupError> {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(LookupError::NotHttp)?;
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/") {
        return Err(LookupError::NotHttp);
    }
    if status.split(' ').nth(1) != Some("200") {
        return Err(LookupError::Status(status.to_string()));
    }
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = &answer[end + 4..];
    if !chunked {
        return Ok(body.to_vec());
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(LookupError::NotHttp)?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| LookupError::NotHttp)?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).ok_or(LookupError::NotHttp)?;
        out.extend_from_slice(chunk);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

/// The fields of a `GET /containers/<id>/json` answer the capture keeps.
pub fn parse_inspect(body: &[u8], cgroup_id: u64) -> Result<ContainerInfo, LookupError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| LookupError::Json(e.to_string()))?;
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_string);
    let id = text(value.get("Id")).ok_or_else(|| LookupError::Json("no Id".to_string()))?;
    let name = text(value.get("Name")).unwrap_or_default();
    Ok(ContainerInfo {
        cgroup_id,
        id,
        engine: "docker".to_string(),
        name: name.strip_prefix('/').unwrap_or(&name).to_string(),
        image: text(value.pointer("/Config/Image")).unwrap_or_default(),
        image_id: text(value.get("Image")).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;

    /// A docker inspect answer as the Docker Engine API (v1.43) sends it,
    /// shortened to the fields around the ones read.
    const SAMPLE: &str = include_str!("../../testdata/docker/container-inspect.json");
    const ID: &str = "4f66ad9a0b2e6b1c8f3a5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5c7b";

    /// A fake engine: answers each connection with `answer`, then closes.
    fn fake_engine(
        dir: &Path,
        answer: Vec<u8>,
        connections: usize,
    ) -> (PathBuf, thread::JoinHandle<Vec<String>>) {
        let socket = dir.join("docker.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let handle = thread::spawn(move || {
            let mut requests = Vec::new();
            for _ in 0..connections {
                let (mut conn, _) = listener.accept().unwrap();
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap() == 1 {
                    request.push(byte[0]);
                }
                requests.push(String::from_utf8(request).unwrap());
                conn.write_all(&answer).unwrap();
            }
            requests
        });
        (socket, handle)
    }

    fn ok_answer(body: &str, chunked: bool) -> Vec<u8> {
        if chunked {
            let mid = body.len() / 2;
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
                mid, &body[..mid], body.len() - mid, &body[mid..]
            )
            .into_bytes()
        } else {
            format!(
                "HTTP/1.0 200 OK\r\nApi-Version: 1.43\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        }
    }

    #[test]
    fn the_sample_answer_parses() {
        let info = parse_inspect(SAMPLE.as_bytes(), 77).unwrap();
        assert_eq!(info.id, ID);
        assert_eq!(info.name, "web-frontend");
        assert_eq!(info.image, "nginx:1.25-alpine");
        assert!(info.image_id.starts_with("sha256:"));
        assert_eq!((info.cgroup_id, info.engine.as_str()), (77, "docker"));
        assert!(parse_inspect(b"{\"message\":\"x\"}", 1).is_err());
        assert!(parse_inspect(b"not json", 1).is_err());
    }

    #[test]
    fn inspect_over_a_unix_socket_plain_and_chunked() {
        for chunked in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let (socket, server) = fake_engine(dir.path(), ok_answer(SAMPLE, chunked), 1);
            let info = inspect(&socket, 5, ID).unwrap();
            assert_eq!(info.name, "web-frontend");
            let requests = server.join().unwrap();
            assert!(
                requests[0].starts_with(&format!("GET /containers/{ID}/json HTTP/1.0\r\n")),
                "{}",
                requests[0]
            );
        }
    }

    #[test]
    fn an_unknown_container_is_an_error_not_a_name() {
        let dir = tempfile::tempdir().unwrap();
        let body = "{\"message\":\"No such container\"}";
        let answer = format!(
            "HTTP/1.0 404 Not Found\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (socket, server) = fake_engine(dir.path(), answer.into_bytes(), 1);
        assert!(matches!(
            inspect(&socket, 5, ID),
            Err(LookupError::Status(_))
        ));
        server.join().unwrap();
    }

    #[test]
    fn lookup_asks_once_per_docker_container_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let (socket, server) = fake_engine(dir.path(), ok_answer(SAMPLE, false), 1);
        let lookup = Lookup::start(&socket).unwrap();
        let path = format!("/system.slice/docker-{ID}.scope");
        lookup.note(10, path.as_bytes());
        lookup.note(
            11,
            format!("/system.slice/docker-{ID}.scope/init.scope").as_bytes(),
        );
        lookup.note(12, b"/user.slice/user-0.slice/session-1.scope");
        lookup.settle(Duration::from_secs(5));
        let answers = lookup.answers();
        assert_eq!(answers.len(), 1);
        assert_eq!(
            (answers[0].cgroup_id, answers[0].name.as_str()),
            (10, "web-frontend")
        );
        assert_eq!(server.join().unwrap().len(), 1);
        assert!(lookup.answers().is_empty());
        assert!(Lookup::start(&dir.path().join("absent.sock")).is_none());
    }

    #[test]
    fn a_dead_engine_costs_no_wait_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        // A socket file nobody listens on: connecting fails at once.
        drop(UnixListener::bind(&socket).unwrap());
        let lookup = Lookup::start(&socket).unwrap();
        lookup.note(10, format!("/docker/{ID}").as_bytes());
        let started = std::time::Instant::now();
        lookup.settle(Duration::from_secs(5));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(lookup.answers().is_empty());
    }
}
