//! Machine and process CPU time from procfs (`/proc`, or a fixture tree in tests).
//!
//! All times are in clock ticks (`USER_HZ`, from `sysconf(_SC_CLK_TCK)`), the unit of
//! `/proc/stat` and `/proc/PID/stat`, so shares between them need no conversion.

use crate::error::{MeterError, Result};
use crate::sysfs::HeldFile;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Busy and total CPU time of the whole machine, summed over all CPUs, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// user + nice + system + irq + softirq.
    pub busy: u64,
    /// busy + idle + iowait + steal.
    pub total: u64,
}

impl CpuTimes {
    /// The utilisation between two readings, in 0..=1; `None` when no time passed.
    pub fn utilisation_since(&self, earlier: &CpuTimes) -> Option<f64> {
        let total = self.total.saturating_sub(earlier.total);
        (total > 0).then(|| (self.busy.saturating_sub(earlier.busy) as f64 / total as f64).min(1.0))
    }
}

/// Parses the aggregate `cpu` line of `/proc/stat`.
pub fn parse_stat_cpu_line(stat: &str) -> Result<CpuTimes> {
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| MeterError::Unsupported {
            reason: "/proc/stat has no aggregate `cpu` line".into(),
        })?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    // counted in user and nice.
    let busy = at(0) + at(1) + at(2) + at(5) + at(6);
    Ok(CpuTimes {
        busy,
        total: busy + at(3) + at(4) + at(7),
    })
}

/// `<proc_root>/stat`, held open for repeated readings.
#[derive(Debug)]
pub struct StatFile(HeldFile);

impl StatFile {
    pub fn open(proc_root: &Path) -> Result<Self> {
        HeldFile::open(&proc_root.join("stat"), "").map(StatFile)
    }

    pub fn read(&mut self) -> Result<CpuTimes> {
        let bytes = self.0.read_bytes("")?;
        parse_stat_cpu_line(&String::from_utf8_lossy(bytes))
    }
}

/// Reads `<proc_root>/stat` once.
pub fn read_cpu_times(proc_root: &Path) -> Result<CpuTimes> {
    StatFile::open(proc_root)?.read()
}

/// What `/proc/cpuinfo` and `/proc/meminfo` say about the machine.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuInfo {
    /// `model name` (x86), `Model` or `cpu model` (other architectures); `None` if absent.
    pub model: Option<String>,
    pub logical_cpus: usize,
    /// `MemTotal`, in bytes.
    pub memory_bytes: u64,
}

impl CpuInfo {
    /// Reads `<proc_root>/cpuinfo` (required) and `<proc_root>/meminfo` (0 bytes if unreadable).
    pub fn read(proc_root: &Path) -> Result<Self> {
        Ok(Self::read_with_text(proc_root)?.0)
    }

    /// [`CpuInfo::read`], with the text of `cpuinfo` for whoever parses more of it (the CPU's
    /// generation), so that the file is read once.
    pub fn read_with_text(proc_root: &Path) -> Result<(Self, String)> {
        let cpuinfo =
            crate::sysfs::read_bounded(&proc_root.join("cpuinfo"), 16 << 20).map_err(|e| {
                MeterError::Unavailable {
                    reason: format!("cannot read {}/cpuinfo: {e}", proc_root.display()),
                }
            })?;
        let meminfo =
            crate::sysfs::read_bounded(&proc_root.join("meminfo"), 1 << 16).unwrap_or_default();
        Ok((Self::parse(&cpuinfo, &meminfo), cpuinfo))
    }

    pub fn parse(cpuinfo: &str, meminfo: &str) -> Self {
        let model = cpuinfo.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k.trim(), "model name" | "Model" | "cpu model").then(|| v.trim().to_string())
        });
        let logical_cpus = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let mem_kib: u64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0);
        CpuInfo {
            model,
            logical_cpus,
            memory_bytes: mem_kib * 1024,
        }
    }
}

/// The fields of `/proc/PID/stat` the meter needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub ppid: u32,
    /// utime + stime of the process itself, in clock ticks.
    pub cpu_ticks: u64,
    /// The process's threads (0 where the line is too short to say).
    pub threads: u32,
}

/// Parses `/proc/PID/stat`. The command name (field 2) may hold spaces and parentheses, so the
/// fields are counted from its last `)`.
pub fn parse_proc_stat(s: &str) -> Option<ProcStat> {
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) … utime(11) stime(12) … num_threads(17).
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(ProcStat {
        ppid,
        cpu_ticks: utime + stime,
        threads: f.get(17).and_then(|t| t.parse().ok()).unwrap_or(0),
    })
}

/// The longest `children` list read (a process with tens of thousands of children).
const CHILDREN_MAX_BYTES: usize = 1 << 20;

/// One member's procfs files, held open between walks: a walk is then one `pread` a file
/// instead of open, read and close. A held file of a process that has exited fails to read
/// (procfs ties it to the process, not to its number), so a reused PID is never mistaken for it.
#[derive(Debug)]
struct MemberFiles {
    stat: HeldFile,
    /// Each thread's `children` file, by thread id.
    children: HashMap<u32, HeldFile>,
}

/// The CPU time of one process tree, followed over time.
///
/// Each reading finds the tree's live members (through `/proc/PID/task/TID/children` where the
/// kernel offers it, else by scanning `/proc`) and adds their CPU time to what members that have
/// since exited had used when last seen, so the total never decreases.
#[derive(Debug)]
pub struct ProcessTree {
    proc_root: PathBuf,
    root: u32,
    last_seen: HashMap<u32, u64>,
    departed_ticks: u64,
    members: HashSet<u32>,
    final_ticks: Option<u64>,
    files: HashMap<u32, MemberFiles>,
}

impl ProcessTree {
    pub fn new(proc_root: &Path, root: u32) -> Self {
        ProcessTree {
            proc_root: proc_root.to_path_buf(),
            root,
            last_seen: HashMap::new(),
            departed_ticks: 0,
            members: HashSet::new(),
            final_ticks: None,
            files: HashMap::new(),
        }
    }

    pub fn root(&self) -> u32 {
        self.root
    }

    /// The PIDs found by the last [`ProcessTree::cpu_ticks`].
    pub fn members(&self) -> &HashSet<u32> {
        &self.members
    }

    fn pid_dir(&self, pid: u32) -> PathBuf {
        self.proc_root.join(pid.to_string())
    }

    /// A member's stat, through its held file (opened at first sight).
    fn stat(&mut self, pid: u32) -> Option<ProcStat> {
        if !self.files.contains_key(&pid) {
            let stat = HeldFile::open(&self.pid_dir(pid).join("stat"), "").ok()?;
            let children = HashMap::new();
            self.files.insert(pid, MemberFiles { stat, children });
        }
        let held = self.files.get_mut(&pid)?;
        let parsed = held
            .stat
            .read_bytes("")
            .ok()
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(parse_proc_stat);
        if parsed.is_none() {
            self.files.remove(&pid);
        }
        parsed
    }

    /// A member's children: its threads' held `children` files, listed again (`task/`) only
    /// when the thread count changed or a held file failed.
    fn children_of(&mut self, pid: u32, threads: u32) -> Option<Vec<u32>> {
        let task_dir = self.pid_dir(pid).join("task");
        let held = self.files.get_mut(&pid)?;
        let mut out = Vec::new();
        if threads > 0 && held.children.len() == threads as usize {
            let mut all = true;
            for f in held.children.values_mut() {
                match f.read_bytes("") {
                    Ok(b) => out.extend(pids(b)),
                    Err(_) => {
                        all = false;
                        break;
                    }
                }
            }
            if all {
                return Some(out);
            }
            out.clear();
        }
        let tasks = std::fs::read_dir(task_dir).ok()?;
        let mut kept = HashMap::new();
        for t in tasks.flatten() {
            let Some(tid) = t.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let file = match held.children.remove(&tid) {
                Some(f) => Some(f),
                None => {
                    HeldFile::open_limited(&t.path().join("children"), "", CHILDREN_MAX_BYTES).ok()
                }
            };
            if let Some(mut f) = file {
                if let Ok(b) = f.read_bytes("") {
                    out.extend(pids(b));
                    kept.insert(tid, f);
                }
            }
        }
        let any = !kept.is_empty();
        held.children = kept;
        any.then_some(out)
    }

    fn members_by_scan(&mut self) -> Vec<(u32, ProcStat)> {
        let mut all = Vec::new();
        let pids: Vec<u32> = match std::fs::read_dir(&self.proc_root) {
            Ok(rd) => rd
                .flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
                .collect(),
            Err(_) => Vec::new(),
        };
        for pid in pids {
            let path = self.pid_dir(pid).join("stat");
            if let Some(st) = crate::sysfs::read_bounded(&path, crate::sysfs::SYSFS_MAX_BYTES)
                .ok()
                .and_then(|s| parse_proc_stat(&s))
            {
                all.push((pid, st));
            }
        }
        let mut members: HashSet<u32> = [self.root].into_iter().collect();
        // Parents may be listed after their children: repeat until nothing is added.
        loop {
            let before = members.len();
            for (pid, st) in &all {
                if members.contains(&st.ppid) {
                    members.insert(*pid);
                }
            }
            if members.len() == before {
                break;
            }
        }
        all.into_iter()
            .filter(|(p, _)| members.contains(p))
            .collect()
    }

    /// Records the tree's exact CPU time once its root has been reaped (from `wait4`'s rusage,
    /// which includes every descendant that was waited for). Later readings never go below it.
    pub fn set_final_ticks(&mut self, ticks: u64) {
        self.final_ticks = Some(ticks);
    }

    /// CPU time of the tree so far, in clock ticks.
    pub fn cpu_ticks(&mut self) -> u64 {
        let mut now: Vec<(u32, ProcStat)> = Vec::new();
        let walked = self.stat(self.root).and_then(|root_stat| {
            let mut stack = vec![(self.root, root_stat)];
            let mut out = Vec::new();
            while let Some((pid, st)) = stack.pop() {
                out.push((pid, st));
                for c in self.children_of(pid, st.threads)? {
                    if let Some(cs) = self.stat(c) {
                        stack.push((c, cs));
                    }
                }
            }
            Some(out)
        });
        match walked {
            Some(v) => now.extend(v),
            None if self.files.contains_key(&self.root) => now.extend(self.members_by_scan()),
            None => {}
        }
        let live: HashMap<u32, u64> = now.iter().map(|(p, s)| (*p, s.cpu_ticks)).collect();
        for (pid, ticks) in self.last_seen.drain() {
            if !live.contains_key(&pid) {
                self.departed_ticks += ticks;
            }
        }
        self.files.retain(|p, _| live.contains_key(p));
        self.members = live.keys().copied().collect();
        let live_total: u64 = live.values().sum();
        self.last_seen = live;
        (self.departed_ticks + live_total).max(self.final_ticks.unwrap_or(0))
    }
}

/// The PIDs in a `children` file.
fn pids(b: &[u8]) -> impl Iterator<Item = u32> + '_ {
    std::str::from_utf8(b)
        .unwrap_or("")
        .split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_and_meminfo_parse_on_x86_and_arm() {
        let x86 = CpuInfo::parse(
            "processor\t: 0\nmodel name\t: Intel(R) Xeon(R)\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R)\n",
            "MemTotal:       2048 kB\n",
        );
        assert_eq!(x86.model.as_deref(), Some("Intel(R) Xeon(R)"));
        assert_eq!((x86.logical_cpus, x86.memory_bytes), (2, 2048 * 1024));
        let arm = CpuInfo::parse("processor\t: 0\nModel\t: Raspberry Pi 4\n", "");
        assert_eq!(arm.model.as_deref(), Some("Raspberry Pi 4"));
        assert_eq!(arm.memory_bytes, 0);
    }

    #[test]
    fn stat_cpu_line_excludes_idle_and_steal_from_busy() {
        let t = parse_stat_cpu_line("cpu  100 5 50 800 10 3 2 30 0 0\ncpu0 1 2 3 4\n").unwrap();
        assert_eq!(t.busy, 160);
        assert_eq!(t.total, 1000);
        let later = CpuTimes {
            busy: 260,
            total: 1400,
        };
        assert_eq!(later.utilisation_since(&t), Some(0.25));
        assert_eq!(t.utilisation_since(&t), None);
    }

    #[test]
    fn proc_stat_survives_odd_command_names() {
        let s = "4242 (my (weird) prog) R 17 4242 4242 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0";
        assert_eq!(
            parse_proc_stat(s),
            Some(ProcStat {
                ppid: 17,
                cpu_ticks: 300,
                threads: 1,
            })
        );
        assert_eq!(parse_proc_stat("garbage"), None);
    }

    fn write_proc(root: &Path, pid: u32, ppid: u32, ticks: u64, children: &[u32]) {
        let d = root.join(pid.to_string());
        std::fs::create_dir_all(d.join(format!("task/{pid}"))).unwrap();
        std::fs::write(
            d.join("stat"),
            format!("{pid} (p) S {ppid} 1 1 0 -1 0 0 0 0 0 {ticks} 0 0 0 20 0 1 0"),
        )
        .unwrap();
        let list: Vec<String> = children.iter().map(|c| c.to_string()).collect();
        std::fs::write(d.join(format!("task/{pid}/children")), list.join(" ")).unwrap();
    }

    #[test]
    fn tree_time_keeps_what_exited_children_used() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_proc(root, 10, 1, 100, &[11]);
        write_proc(root, 11, 10, 40, &[12]);
        write_proc(root, 12, 11, 5, &[]);
        write_proc(root, 99, 1, 1000, &[]); // not ours
        let mut tree = ProcessTree::new(root, 10);
        assert_eq!(tree.cpu_ticks(), 145);
        assert_eq!(tree.members().len(), 3);
        // 12 exits; 11 used more meanwhile.
        std::fs::remove_dir_all(root.join("12")).unwrap();
        write_proc(root, 11, 10, 60, &[]);
        assert_eq!(tree.cpu_ticks(), 165);
    }

    #[test]
    fn tree_falls_back_to_scanning_without_children_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_proc(root, 10, 1, 100, &[]);
        write_proc(root, 11, 10, 40, &[]);
        write_proc(root, 12, 11, 5, &[]);
        for p in [10, 11, 12] {
            std::fs::remove_dir_all(root.join(format!("{p}/task"))).unwrap();
        }
        let mut tree = ProcessTree::new(root, 10);
        assert_eq!(tree.cpu_ticks(), 145);
    }

    /// A new thread's children are found: the thread count in `stat` says the held list is stale.
    #[test]
    fn tree_finds_children_of_new_threads() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_proc(root, 10, 1, 100, &[]);
        write_proc(root, 11, 10, 40, &[]);
        let mut tree = ProcessTree::new(root, 10);
        assert_eq!(tree.cpu_ticks(), 100);
        // Thread 13 of process 10 starts process 11.
        std::fs::create_dir_all(root.join("10/task/13")).unwrap();
        std::fs::write(root.join("10/task/13/children"), "11").unwrap();
        std::fs::write(
            root.join("10/stat"),
            "10 (p) S 1 1 1 0 -1 0 0 0 0 0 100 0 0 0 20 0 2 0",
        )
        .unwrap();
        assert_eq!(tree.cpu_ticks(), 140);
        assert_eq!(tree.members().len(), 2);
    }

    /// On the real procfs: a shell's two background children are members, and once they exit
    /// their held files are let go.
    #[test]
    fn tree_follows_a_real_process_tree() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 0.5 & sleep 0.5 & wait"])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut tree = ProcessTree::new(Path::new("/proc"), child.id());
        tree.cpu_ticks();
        assert_eq!(tree.members().len(), 3, "{:?}", tree.members());
        tree.cpu_ticks();
        assert_eq!(tree.members().len(), 3);
        child.wait().unwrap();
        tree.cpu_ticks();
        assert!(tree.members().is_empty());
        assert!(tree.files.is_empty());
    }
}
