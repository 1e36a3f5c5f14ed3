//! Expectation files: a behavioural tree written by `replay --expect-file`,
//! checked in, edited by hand, and read back as the baseline of `--diff`.
//!
//! The text format, one line per line of the tree:
//!
//! ```text
//! # snoopcap expectation 1
//! proc sh
//!   proc echo
//!     exec /bin/echo [/bin/echo hello]
//!     exit 0
//!   exit 0
//! ```
//!
//! The first line is the header, exactly. Then each process is its `proc`
//! line, and under it, indented two more spaces, its calls in order, the
//! processes it created (each the same way, in any order: they are a
//! multiset) and its `exit` line. A call line begins with `exec ` or a
//! mount-family call's name and `(`. Blank lines and lines beginning with
//! `#` (after the indentation) are comments. The JSON form is the same
//! tree: `{"snoopcap_expectation": 1, "processes": [NODE...]}` with NODE
//! `{"proc": NAME, "calls": [LINE...], "exit": STATUS, "children":
//! [NODE...]}` (`proc` and `exit` without their keyword; `calls`, `exit` and
//! `children` may be left out).
//!
//! Reading is bounded: a text line longer than [`MAX_LINE`] is an error, and
//! the tree held is the size of the file.

use std::io::{self, BufRead, Read, Write};

use serde::{Deserialize, Serialize};

use super::model::{Draft, Forest, LineKind, Lines, Session};

/// The text format's first line.
pub const HEADER: &str = "# snoopcap expectation 1";

/// The longest text line read (argv is at most `--max-args` × `--arg-size`).
pub const MAX_LINE: usize = 1 << 20;

/// Why an expectation file could not be read: one line, with its line number.
#[derive(Debug, thiserror::Error)]
pub enum ExpectError {
    #[error("line {line}: {reason}")]
    Text { line: u64, reason: String },
    #[error("not a snoopcap expectation in JSON: {0}")]
    Json(serde_json::Error),
    #[error("{0}")]
    Io(io::Error),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonExpectation {
    snoopcap_expectation: u32,
    processes: Vec<JsonProc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonProc {
    pub proc: String,
    #[serde(default)]
    pub calls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<JsonProc>,
}

/// Writes a tree in the text format.
pub fn write_text(out: &mut dyn Write, forest: &Forest, lines: &Lines) -> io::Result<()> {
    writeln!(out, "{HEADER}")?;
    for &root in &forest.roots {
        write_subtree(out, forest, lines, root, 0, "")?;
    }
    Ok(())
}

/// A process and what is under it, each line after `prefix` (a diff marker) and its indentation.
pub fn write_subtree(
    out: &mut dyn Write,
    forest: &Forest,
    lines: &Lines,
    id: usize,
    depth: usize,
    prefix: &str,
) -> io::Result<()> {
    let proc = forest.proc(id);
    let indent = |d: usize| "  ".repeat(d);
    writeln!(out, "{prefix}{}{}", indent(depth), lines.text(proc.label))?;
    for &call in &proc.calls {
        writeln!(out, "{prefix}{}{}", indent(depth + 1), lines.text(call))?;
    }
    for &child in &proc.children {
        write_subtree(out, forest, lines, child, depth + 1, prefix)?;
    }
    if let Some(exit) = proc.exit {
        writeln!(out, "{prefix}{}{}", indent(depth + 1), lines.text(exit))?;
    }
    Ok(())
}

/// A line without its keyword (`proc sh` → `sh`), for JSON.
fn after_keyword<'a>(line: &'a str, keyword: &str) -> &'a str {
    line.strip_prefix(keyword)
        .and_then(|rest| rest.strip_prefix(' '))
        .unwrap_or(line)
}

/// A subtree as the JSON form's node.
pub fn json_node(forest: &Forest, lines: &Lines, id: usize) -> JsonProc {
    let proc = forest.proc(id);
    JsonProc {
        proc: after_keyword(lines.text(proc.label), "proc").to_string(),
        calls: proc
            .calls
            .iter()
            .map(|&c| lines.text(c).to_string())
            .collect(),
        exit: proc
            .exit
            .map(|e| after_keyword(lines.text(e), "exit").to_string()),
        children: proc
            .children
            .iter()
            .map(|&c| json_node(forest, lines, c))
            .collect(),
    }
}

/// Writes a tree in the JSON form (indented, for review and editing).
pub fn write_json(out: &mut dyn Write, forest: &Forest, lines: &Lines) -> io::Result<()> {
    let document = JsonExpectation {
        snoopcap_expectation: 1,
        processes: forest
            .roots
            .iter()
            .map(|&r| json_node(forest, lines, r))
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &document).map_err(io::Error::other)?;
    writeln!(out)
}

/// Whether the start of a file is the text format's header.
pub fn is_text(start: &[u8]) -> bool {
    start.starts_with(HEADER.as_bytes())
}

/// Whether the start of a file looks like the JSON form.
pub fn is_json(start: &[u8]) -> bool {
    start
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

fn text_error(line: u64, reason: impl Into<String>) -> ExpectError {
    ExpectError::Text {
        line,
        reason: reason.into(),
    }
}

/// Reads the text format into drafts (normalised through the session's rules).
pub fn read_text(
    input: &mut dyn BufRead,
    session: &mut Session,
) -> Result<Vec<Draft>, ExpectError> {
    let mut drafts: Vec<Draft> = Vec::new();
    // The open processes, by depth.
    let mut open: Vec<usize> = Vec::new();
    let mut buf = Vec::new();
    let mut number = 0u64;
    loop {
        buf.clear();
        let read = Read::take(&mut *input, MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(ExpectError::Io)?;
        if read == 0 {
            break;
        }
        number += 1;
        if buf.len() > MAX_LINE {
            return Err(text_error(number, format!("longer than {MAX_LINE} bytes")));
        }
        let text = std::str::from_utf8(&buf).map_err(|_| text_error(number, "not UTF-8"))?;
        let text = text.trim_end_matches(['\n', '\r']);
        if number == 1 {
            if text.trim_end() != HEADER {
                return Err(text_error(1, format!("the first line is not {HEADER:?}")));
            }
            continue;
        }
        let content = text.trim_start_matches(' ');
        if content.trim().is_empty() || content.starts_with('#') {
            continue;
        }
        let content = content.trim_end();
        let spaces = text.len() - text.trim_start_matches(' ').len();
        if spaces % 2 != 0 || content.starts_with('\t') {
            return Err(text_error(
                number,
                "indentation is not a multiple of two spaces",
            ));
        }
        let depth = spaces / 2;
        let kind = LineKind::of(content).ok_or_else(|| {
            text_error(
                number,
                format!("{content:?} is not a proc, exec, mount-family or exit line"),
            )
        })?;
        if depth == 0 && kind != LineKind::Proc {
            return Err(text_error(number, "only a proc line can begin a tree"));
        }
        if depth > open.len() {
            return Err(text_error(
                number,
                "indented deeper than the process it is under",
            ));
        }
        open.truncate(depth);
        let line = session.line(content);
        let parent = depth.checked_sub(1).and_then(|d| open.get(d).copied());
        match kind {
            LineKind::Proc => {
                let mut draft = Draft::new(line);
                draft.has_parent = parent.is_some();
                drafts.push(draft);
                let index = drafts.len() - 1;
                if let Some(parent) = parent {
                    drafts[parent].children.push(index);
                }
                open.push(index);
            }
            LineKind::Exit => {
                let parent =
                    parent.ok_or_else(|| text_error(number, "an exit outside a process"))?;
                if drafts[parent].exit.replace(line).is_some() {
                    return Err(text_error(number, "a second exit line for one process"));
                }
            }
            LineKind::Call(_) => {
                let parent =
                    parent.ok_or_else(|| text_error(number, "a call outside a process"))?;
                drafts[parent].calls.push(line);
            }
        }
    }
    if number == 0 {
        return Err(text_error(1, format!("empty file (expected {HEADER:?})")));
    }
    Ok(drafts)
}

/// Reads the JSON form into drafts.
pub fn read_json(
    input: &mut dyn BufRead,
    session: &mut Session,
) -> Result<Vec<Draft>, ExpectError> {
    let document: JsonExpectation = serde_json::from_reader(input).map_err(ExpectError::Json)?;
    if document.snoopcap_expectation != 1 {
        return Err(ExpectError::Json(serde::de::Error::custom(format!(
            "version {} (this replay reads version 1)",
            document.snoopcap_expectation
        ))));
    }
    let mut drafts = Vec::new();
    // Iterative, so that the depth of the JSON is the parser's limit alone.
    let mut stack: Vec<(JsonProc, Option<usize>)> = document
        .processes
        .into_iter()
        .rev()
        .map(|p| (p, None))
        .collect();
    while let Some((node, parent)) = stack.pop() {
        let mut draft = Draft::new(session.line(&format!("proc {}", node.proc)));
        for call in &node.calls {
            if !matches!(LineKind::of(call), Some(LineKind::Call(_))) {
                return Err(ExpectError::Json(serde::de::Error::custom(format!(
                    "{call:?} is not an exec or mount-family line"
                ))));
            }
            draft.calls.push(session.line(call));
        }
        draft.exit = node
            .exit
            .as_ref()
            .map(|e| session.line(&format!("exit {e}")));
        draft.has_parent = parent.is_some();
        drafts.push(draft);
        let index = drafts.len() - 1;
        if let Some(parent) = parent {
            drafts[parent].children.push(index);
        }
        stack.extend(node.children.into_iter().rev().map(|c| (c, Some(index))));
    }
    Ok(drafts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Draft>, ExpectError> {
        read_text(&mut text.as_bytes(), &mut Session::default())
    }

    const SAMPLE: &str = "# snoopcap expectation 1
# a comment
proc sh
  proc echo
    exec /bin/echo [/bin/echo hello]
    exit 0

  mount(\"none\", \"/tmp/tmp.{rand}\", \"tmpfs\", 0x0, \"\") = 0
  exit 0
";

    #[test]
    fn text_round_trip() {
        let mut session = Session::default();
        let drafts = read_text(&mut SAMPLE.as_bytes(), &mut session).expect("reads");
        let forest = session.finish(&drafts);
        let mut text = Vec::new();
        write_text(&mut text, &forest, &session.lines).expect("writes");
        let text = String::from_utf8(text).expect("utf-8");
        // Calls before children, the exit last; comments and blanks gone.
        assert_eq!(
            text,
            "# snoopcap expectation 1
proc sh
  mount(\"none\", \"/tmp/tmp.{rand}\", \"tmpfs\", 0x0, \"\") = 0
  proc echo
    exec /bin/echo [/bin/echo hello]
    exit 0
  exit 0
"
        );
        let drafts = read_text(&mut text.as_bytes(), &mut session).expect("again");
        let again = session.finish(&drafts);
        assert_eq!(
            forest.proc(forest.roots[0]).canon,
            again.proc(again.roots[0]).canon
        );
    }

    #[test]
    fn json_round_trip_is_the_same_tree() {
        let mut session = Session::default();
        let drafts = read_text(&mut SAMPLE.as_bytes(), &mut session).expect("reads");
        let forest = session.finish(&drafts);
        let mut json = Vec::new();
        write_json(&mut json, &forest, &session.lines).expect("writes");
        let value: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(value["processes"][0]["proc"], "sh");
        assert_eq!(value["processes"][0]["exit"], "0");
        assert_eq!(
            value["processes"][0]["children"][0]["calls"][0],
            "exec /bin/echo [/bin/echo hello]"
        );
        let drafts = read_json(&mut json.as_slice(), &mut session).expect("reads");
        let back = session.finish(&drafts);
        assert_eq!(
            forest.proc(forest.roots[0]).canon,
            back.proc(back.roots[0]).canon
        );
    }

    #[test]
    fn text_errors_name_the_line() {
        let cases = [
            ("", "line 1: empty"),
            ("proc sh\n", "line 1: the first line"),
            (
                "# snoopcap expectation 1\n exec /x [x]\n",
                "line 2: indentation",
            ),
            (
                "# snoopcap expectation 1\nexec /x [x]\n",
                "line 2: only a proc",
            ),
            (
                "# snoopcap expectation 1\nproc a\n    exec /x [x]\n",
                "line 3: indented deeper",
            ),
            (
                "# snoopcap expectation 1\nproc a\n  exce /x\n",
                "line 3: \"exce /x\" is not",
            ),
            (
                "# snoopcap expectation 1\nproc a\n  exit 0\n  exit 1\n",
                "line 4: a second exit",
            ),
            (
                "# snoopcap expectation 1\nproc a\n\t exit 0\n",
                "line 3: indentation",
            ),
        ];
        for (text, want) in cases {
            let err = read(text).expect_err(text).to_string();
            assert!(err.starts_with(want), "{text:?}: {err}");
        }
        let long = format!("{HEADER}\nproc {}\n", "a".repeat(MAX_LINE + 10));
        assert!(read(&long)
            .expect_err("long")
            .to_string()
            .contains("longer than"));
    }

    #[test]
    fn json_errors() {
        let mut session = Session::default();
        for text in [
            r#"{"snoopcap_expectation": 2, "processes": []}"#,
            r#"{"snoopcap_expectation": 1, "processes": [{"proc": "a", "calls": ["exit 0"]}]}"#,
            r#"{"snoopcap_expectation": 1, "processes": [{"proc": "a", "cals": []}]}"#,
            r#"{"snoopcap_expectation": 1"#,
        ] {
            assert!(
                read_json(&mut text.as_bytes(), &mut session).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn detection() {
        assert!(is_text(SAMPLE.as_bytes()));
        assert!(is_json(b"  \n{\"snoopcap_expectation\": 1"));
        assert!(!is_json(b"SNOOPCAP"));
        assert!(!is_text(b"# something else"));
    }
}
