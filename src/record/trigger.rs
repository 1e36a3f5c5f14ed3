//! Event triggers of the flight recorder (`--trigger-exec REGEX`,
//! `--trigger-failed-exec`, `--trigger-failed-mount`, `--trigger-signal`):
//! raw records are decoded on the fly (with `crate::replay::decode`, only
//! when a trigger is configured) and checked one by one, without pairing:
//! an exec's arguments are in its entry (or, for an exec whose arguments
//! are read after the kernel copied them, in its refetch or exec record), a
//! failure in its exit record, a death by signal in the process exit record.

use regex::bytes::Regex;

use crate::bpf::layout;
use crate::event::{Args, Captured};
use crate::replay::decode::{self, RawRecord};

/// Which events trigger a dump.
#[derive(Debug, Clone, Default)]
pub struct Triggers {
    /// An exec whose argv, joined with spaces, matches.
    pub exec: Option<Regex>,
    /// An exec that returns an error.
    pub failed_exec: bool,
    /// A mount-family call that returns an error.
    pub failed_mount: bool,
    /// A process killed by a signal.
    pub signal: bool,
}

impl Triggers {
    /// Whether any event trigger is set (else records are not decoded).
    pub fn any(&self) -> bool {
        self.exec.is_some() || self.failed_exec || self.failed_mount || self.signal
    }

    /// What `raw` triggers, described in a few words; `None` when nothing.
    /// Only a record of a kind some set trigger looks at is decoded: this
    /// runs on the record loop, for every record.
    pub fn check(&self, raw: &[u8], layout_version: u32) -> Option<String> {
        let wanted = match decode::record_kind(raw)? {
            layout::SC_REC_ENTER | layout::SC_REC_REFETCH | layout::SC_REC_EXEC => {
                self.exec.is_some()
            }
            layout::SC_REC_EXIT => self.failed_exec || self.failed_mount,
            layout::SC_REC_PROC_EXIT => self.signal,
            _ => false,
        };
        if !wanted {
            return None;
        }
        match decode::decode(raw, layout_version).ok()? {
            RawRecord::Enter(e) | RawRecord::Refetch(e) | RawRecord::Exec(e) => {
                let regex = self.exec.as_ref()?;
                let Args::Exec { args, .. } = &e.args else {
                    return None;
                };
                if args.is_empty() {
                    return None;
                }
                let line = join(args);
                regex.is_match(&line).then(|| {
                    format!(
                        "exec matching {:?} (pid {}: {})",
                        regex.as_str(),
                        e.pid,
                        String::from_utf8_lossy(&line)
                    )
                })
            }
            RawRecord::Exit(x) if x.ret < 0 => {
                let what = if x.syscall.is_exec() {
                    self.failed_exec.then_some("failed exec")
                } else {
                    (self.failed_mount && !x.syscall.is_lifecycle()).then_some("failed mount")
                }?;
                Some(format!(
                    "{what} ({} by pid {} returned {})",
                    x.syscall.name(),
                    x.pid,
                    x.ret
                ))
            }
            RawRecord::ProcExit(p) if self.signal => {
                let signal = Args::exit_signal(p.status)?;
                Some(format!("signal (pid {} killed by signal {signal})", p.pid))
            }
            _ => None,
        }
    }
}

fn join(args: &[Captured]) -> Vec<u8> {
    let mut line = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        line.extend_from_slice(&arg.bytes);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Syscall;
    use crate::replay::decode::testutil::{exit, s, Enter};

    fn exec_entry() -> Vec<u8> {
        Enter::new(Syscall::Execve, 10, 7, 7)
            .item(s("/bin/true"))
            .item(s("/bin/true"))
            .item(s("snoopcap-trigger"))
            .build()
    }

    #[test]
    fn each_trigger_fires_on_its_records_only() {
        let failed_mount = exit(Syscall::Mount, 11, 7, 7, -1, "mount");
        let failed_exec = exit(Syscall::Execve, 11, 7, 7, -2, "sh");
        let exec = Triggers {
            exec: Regex::new("trigger$").ok(),
            ..Triggers::default()
        };
        let said = exec.check(&exec_entry(), 1).expect("the exec matches");
        assert!(said.contains("/bin/true snoopcap-trigger"), "{said}");
        assert_eq!(exec.check(&failed_mount, 1), None);

        let mounts = Triggers {
            failed_mount: true,
            ..Triggers::default()
        };
        assert_eq!(mounts.check(&exec_entry(), 1), None);
        assert_eq!(mounts.check(&failed_exec, 1), None);
        let said = mounts.check(&failed_mount, 1).expect("the mount failed");
        assert!(said.starts_with("failed mount"), "{said}");

        let execs = Triggers {
            failed_exec: true,
            ..Triggers::default()
        };
        assert!(execs.check(&failed_exec, 1).is_some());
        assert_eq!(execs.check(&failed_mount, 1), None);
        assert_eq!(Triggers::default().check(&failed_exec, 1), None);
        assert_eq!(execs.check(&failed_exec[..20], 1), None);
    }
}
