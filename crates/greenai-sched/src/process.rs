//! The processes of a job: identity that survives the scheduler (pid and start time), and pause,
//! resume and termination of a whole process group.
//!
//! The scheduler starts each job as `greenai run … -- CMD` leading a process group of its own.
//! Pausing stops every member of the group except its leader, `greenai run`, which goes on
//! measuring (a paused job draws no CPU, so its energy stops growing while the meter keeps time).

/// The start time of `pid` in clock ticks after boot (`/proc/PID/stat` field 22), `None` if it
/// does not exist.
pub fn start_ticks(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// `(state, process group)` of `pid`.
fn state_and_group(pid: i64) -> Option<(char, i64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?.chars().next()?;
    let _ppid = f.next()?;
    Some((state, f.next()?.parse().ok()?))
}

/// Whether the process `pid` that started at `start` ticks is still running (not a zombie).
pub fn alive(pid: i64, start: i64) -> bool {
    start_ticks(pid) == Some(start) && state_and_group(pid).is_some_and(|(s, _)| s != 'Z')
}

fn members(pgid: i64) -> Vec<i64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i64>().ok())
        .filter(|&pid| state_and_group(pid).is_some_and(|(_, g)| g == pgid))
        .collect()
}

fn kill(pid: i64, sig: i32) {
    // SAFETY: kill has no memory effects; a vanished pid gives ESRCH, which is fine here.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Stops every process of the group `pgid` but its leader. Sweeps until no running member is
/// left, so that a process forked during the sweep is stopped too.
pub fn pause_group(pgid: i64) {
    for _ in 0..10 {
        let running: Vec<i64> = members(pgid)
            .into_iter()
            .filter(|&p| p != pgid && state_and_group(p).is_some_and(|(s, _)| s != 'T' && s != 'Z'))
            .collect();
        if running.is_empty() {
            return;
        }
        for p in running {
            kill(p, libc::SIGSTOP);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Continues every process of the group.
pub fn resume_group(pgid: i64) {
    kill(-pgid, libc::SIGCONT);
}

/// Asks the job to end: SIGTERM to `greenai run`, which forwards it to the command and records
/// the run; the group continued first in case it was paused.
pub fn terminate_group(pgid: i64) {
    resume_group(pgid);
    kill(pgid, libc::SIGTERM);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn a_group_pauses_but_its_leader_and_resumes() {
        // A leader shell whose child loops: the child stops, the leader does not.
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "sh -c 'while :; do :; done' & wait"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = leader.id() as i64;
        let start = start_ticks(pgid).unwrap();
        assert!(alive(pgid, start));
        assert!(!alive(pgid, start + 1));
        let child = loop {
            if let Some(c) = members(pgid).into_iter().find(|&p| p != pgid) {
                break c;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        pause_group(pgid);
        assert_eq!(state_and_group(child).unwrap().0, 'T');
        assert_ne!(state_and_group(pgid).unwrap().0, 'T');
        resume_group(pgid);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_ne!(state_and_group(child).unwrap().0, 'T');
        kill(-pgid, libc::SIGKILL);
        leader.wait().unwrap();
        assert!(!alive(pgid, start));
    }
}
