//! Jobs on a node by their cgroups (v2), and a ledger that splits the node's energy among them.
//!
//! Jobs are found under the cgroup root (`<sysfs>/fs/cgroup`): a Slurm job is a directory
//! `job_<id>` (slurmd's cgroup/v2 layout, `…/slurmstepd.scope/job_<id>`); a Kubernetes pod is a
//! directory whose name holds `pod<uid>` (`kubepods-burstable-pod<uid>.slice`, or
//! `pod<uid>` under cgroupfs drivers). Each interval the node's energy is split by each job's share
//! of the CPU time used on the node (`cpu.stat` `usage_usec`, the root's for the node): what no job
//! used, idle and system work, is *unattributed*, so jobs and the rest add up to the node. A GPU's
//! energy is split apart, by each job's share of its SM use ([`gpu`]).
//!
//! DRAM is split with the CPU side, by CPU time, as Kepler does where it has no cache-miss
//! counters: the part of DRAM power that varies with a job is its memory traffic, which neither a
//! cgroup's `memory.current` (resident size, which says nothing of traffic) nor `memory.stat`
//! shows; CPU time is the better proxy of the two.

pub mod gpu;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A job's cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCgroup {
    /// `slurm/123`, `k8s/<pod uid>`.
    pub id: String,
    /// Metric labels: `slurm_job_id`, or `k8s_pod_uid`.
    pub labels: BTreeMap<String, String>,
    pub path: PathBuf,
}

/// The Slurm job id a cgroup directory name stands for (`job_<digits>`).
pub fn slurm_job(name: &str) -> Option<&str> {
    name.strip_prefix("job_")
        .filter(|i| !i.is_empty() && i.chars().all(|c| c.is_ascii_digit()))
}

/// The Kubernetes pod uid a cgroup directory name holds (`…pod<uid>…`; systemd writes `_` for
/// `-`), normalised to the API's spelling.
pub fn pod_uid(name: &str) -> Option<String> {
    let i = name.rfind("pod")?;
    let uid: String = name[i + 3..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '_' || *c == '-')
        .collect();
    // A pod uid is a UUID: 32 hex digits and 4 separators.
    (uid.len() == 36).then(|| uid.replace('_', "-"))
}

fn job_of(name: &str, path: &Path) -> Option<JobCgroup> {
    if let Some(id) = slurm_job(name) {
        return Some(JobCgroup {
            id: format!("slurm/{id}"),
            labels: BTreeMap::from([("slurm_job_id".to_string(), id.to_string())]),
            path: path.to_path_buf(),
        });
    }
    let uid = pod_uid(name)?;
    Some(JobCgroup {
        id: format!("k8s/{uid}"),
        labels: BTreeMap::from([("k8s_pod_uid".to_string(), uid)]),
        path: path.to_path_buf(),
    })
}

/// Every job cgroup under `root` (at most 8 levels down; a job's own sub-cgroups are not jobs).
pub fn scan(root: &Path) -> Vec<JobCgroup> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            match job_of(&name, &e.path()) {
                Some(j) => out.push(j),
                None if depth < 8 => stack.push((e.path(), depth + 1)),
                None => {}
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// `usage_usec` of a cgroup's `cpu.stat`.
pub fn usage_usec(cgroup: &Path) -> Option<u64> {
    let text = crate::sysfs::read_bounded(&cgroup.join("cpu.stat"), 4096).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
}

/// One job's share of the node so far.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEnergy {
    pub labels: BTreeMap<String, String>,
    pub energy_j: f64,
    /// Over the last interval.
    pub power_w: f64,
    last_usage: Option<u64>,
    seen: bool,
}

/// One GPU at one interval: its energy so far (J, cumulative like the node's), and each job's
/// share (0 to 1, by job id) of its use over the interval. What no job's share covers is
/// unattributed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuEnergy {
    pub id: String,
    pub energy_j: f64,
    pub shares: BTreeMap<String, f64>,
}

/// The node's energy split among its jobs, interval by interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    pub jobs: BTreeMap<String, JobEnergy>,
    pub unattributed_j: f64,
    pub unattributed_w: f64,
    pub node_j: f64,
    last_node_j: Option<f64>,
    last_total: Option<u64>,
    last_gpu_j: BTreeMap<String, f64>,
}

impl Ledger {
    /// One interval: the node's cumulative energy (J, its GPUs included), the node's cumulative
    /// CPU time (µs), each job's (cumulative µs), and the node's GPUs with each job's share of
    /// them. The GPUs' energy goes by those shares, the rest of the node's by CPU time. A job
    /// gone from the list keeps its energy (a finished job's counter must not go back).
    pub fn update(
        &mut self,
        node_j: f64,
        node_usage: u64,
        jobs: &[(JobCgroup, u64)],
        dt_s: f64,
        gpus: &[GpuEnergy],
    ) {
        let de = self.last_node_j.map_or(0.0, |l| (node_j - l).max(0.0));
        // No new energy reading since the last split (the meter samples on its own clock): keep
        // the CPU baselines, so that the next reading is split by the CPU time of the same span
        // (consuming CPU time with no energy beside it would split the next reading by a share
        // measured over a different span).
        if self.last_node_j.is_some()
            && de == 0.0
            && jobs.iter().all(|(cg, _)| self.jobs.contains_key(&cg.id))
        {
            return;
        }
        let dtotal = self.last_total.map_or(0, |l| node_usage.saturating_sub(l));
        self.last_node_j = Some(node_j);
        self.last_total = Some(node_usage);
        for j in self.jobs.values_mut() {
            j.seen = false;
            j.power_w = 0.0;
        }
        let mut deltas = Vec::with_capacity(jobs.len());
        for (cg, usage) in jobs {
            let e = self.jobs.entry(cg.id.clone()).or_insert_with(|| JobEnergy {
                labels: cg.labels.clone(),
                energy_j: 0.0,
                power_w: 0.0,
                last_usage: None,
                seen: false,
            });
            let d = e.last_usage.map_or(0, |l| usage.saturating_sub(l));
            e.last_usage = Some(*usage);
            e.seen = true;
            deltas.push((cg.id.clone(), d));
        }
        let mut given = 0.0;
        let mut give = |jobs: &mut BTreeMap<String, JobEnergy>, id: &str, j: f64| {
            if let Some(e) = jobs.get_mut(id).filter(|e| e.seen) {
                e.energy_j += j;
                e.power_w += if dt_s > 0.0 { j / dt_s } else { 0.0 };
                given += j;
            }
        };
        // Each GPU's energy by its shares (never more than all of it).
        let mut gpu_de = 0.0;
        for g in gpus {
            let dg = self
                .last_gpu_j
                .insert(g.id.clone(), g.energy_j)
                .map_or(0.0, |l| (g.energy_j - l).max(0.0))
                .min(de - gpu_de);
            gpu_de += dg;
            let total: f64 = g.shares.values().map(|s| s.clamp(0.0, 1.0)).sum();
            let scale = if total > 1.0 { 1.0 / total } else { 1.0 };
            for (id, s) in &g.shares {
                give(&mut self.jobs, id, dg * s.clamp(0.0, 1.0) * scale);
            }
        }
        // The rest of the node by CPU time.
        let cpu_de = de - gpu_de;
        let sum: u64 = deltas.iter().map(|d| d.1).sum();
        let denom = dtotal.max(sum);
        if denom > 0 {
            for (id, d) in deltas {
                give(&mut self.jobs, &id, cpu_de * d as f64 / denom as f64);
            }
        }
        let rest = de - given;
        self.unattributed_j += rest;
        self.unattributed_w = if dt_s > 0.0 { rest / dt_s } else { 0.0 };
        self.node_j += de;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cg(id: &str) -> JobCgroup {
        JobCgroup {
            id: id.into(),
            labels: BTreeMap::from([("slurm_job_id".into(), id.into())]),
            path: PathBuf::new(),
        }
    }

    #[test]
    fn jobs_are_found_by_their_slurm_and_kubernetes_names() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        for p in [
            "system.slice/slurmstepd.scope/job_42/step_0/user/task_0",
            "system.slice/slurmstepd.scope/job_43",
            "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e3d4c_5b6a_7980_a1b2_c3d4e5f60718.slice/cri-containerd-abc.scope",
            "kubepods/besteffort/pod0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9/abc",
            "user.slice/user-1000.slice",
            "system.slice/job_notanumber",
        ] {
            std::fs::create_dir_all(r.join(p)).unwrap();
        }
        let ids: Vec<String> = scan(r).into_iter().map(|j| j.id).collect();
        assert_eq!(
            ids,
            [
                "k8s/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
                "k8s/1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718",
                "slurm/42",
                "slurm/43"
            ]
        );
    }

    #[test]
    fn an_interval_without_a_new_energy_reading_keeps_its_cpu_time_for_the_next() {
        let mut l = Ledger::default();
        let a = cg("a");
        l.update(0.0, 0, &[(a.clone(), 0)], 1.0, &[]);
        // No new reading: nothing split, the CPU time kept.
        l.update(0.0, 1_000_000, &[(a.clone(), 100_000)], 1.0, &[]);
        // The next reading covers both intervals; a's share of them is 0.5 s of 2 s.
        l.update(100.0, 2_000_000, &[(a.clone(), 1_000_000)], 1.0, &[]);
        assert!(
            (l.jobs["a"].energy_j - 50.0).abs() < 1e-9,
            "{}",
            l.jobs["a"].energy_j
        );
    }

    #[test]
    fn the_node_is_split_by_cpu_share_and_jobs_plus_the_rest_add_up() {
        let mut l = Ledger::default();
        let (a, b) = (cg("a"), cg("b"));
        l.update(0.0, 0, &[(a.clone(), 0), (b.clone(), 0)], 1.0, &[]);
        // 100 J; the node used 1 s of CPU, a 0.3 s, b 0.5 s: a 30 J, b 50 J, the rest 20 J.
        l.update(
            100.0,
            1_000_000,
            &[(a.clone(), 300_000), (b.clone(), 500_000)],
            1.0,
            &[],
        );
        assert!((l.jobs["a"].energy_j - 30.0).abs() < 1e-9);
        assert!((l.jobs["b"].energy_j - 50.0).abs() < 1e-9);
        assert!((l.unattributed_j - 20.0).abs() < 1e-9);
        assert!((l.jobs["a"].power_w - 30.0).abs() < 1e-9);
        // b ends: its energy stays; a alone.
        l.update(200.0, 2_000_000, &[(a.clone(), 800_000)], 1.0, &[]);
        assert!((l.jobs["a"].energy_j - 80.0).abs() < 1e-9);
        assert!((l.jobs["b"].energy_j - 50.0).abs() < 1e-9);
        let jobs: f64 = l.jobs.values().map(|j| j.energy_j).sum();
        assert!((jobs + l.unattributed_j - l.node_j).abs() < 1e-9);
        assert_eq!(l.node_j, 200.0);
        // Jobs reporting more CPU than the node (clock skew between files): shares never exceed it.
        l.update(300.0, 2_100_000, &[(a, 1_300_000)], 1.0, &[]);
        assert!((l.jobs["a"].energy_j - 180.0).abs() < 1e-9);
        assert!(l.unattributed_j >= 20.0 - 1e-9);
    }

    /// A GPU's energy goes by its shares, the rest of the node by CPU time; what neither covers
    /// is unattributed, and everything adds up to the node.
    #[test]
    fn a_gpu_is_split_by_its_shares_and_the_rest_by_cpu_time() {
        let mut l = Ledger::default();
        let (a, b) = (cg("a"), cg("b"));
        let gpu = |j: f64, shares: &[(&str, f64)]| GpuEnergy {
            id: "gpu-0".into(),
            energy_j: j,
            shares: shares.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        };
        l.update(
            0.0,
            0,
            &[(a.clone(), 0), (b.clone(), 0)],
            1.0,
            &[gpu(0.0, &[])],
        );
        // 300 J, 200 of them the GPU's: a used 75 % of its SMs, b none; the node's CPU 1 s,
        // a 0.2 s, b 0.6 s of it. a: 150 + 20, b: 60, the rest 20 (CPU) + 50 (GPU).
        l.update(
            300.0,
            1_000_000,
            &[(a.clone(), 200_000), (b.clone(), 600_000)],
            1.0,
            &[gpu(200.0, &[("a", 0.75)])],
        );
        assert!(
            (l.jobs["a"].energy_j - 170.0).abs() < 1e-9,
            "{:?}",
            l.jobs["a"]
        );
        assert!((l.jobs["b"].energy_j - 60.0).abs() < 1e-9);
        assert!((l.unattributed_j - 70.0).abs() < 1e-9);
        assert!((l.jobs["a"].power_w - 170.0).abs() < 1e-9);
        // Shares that claim more than the whole GPU are scaled down to it; a share for a job
        // not on the node is not given.
        l.update(
            400.0,
            1_000_000,
            &[(a.clone(), 200_000), (b, 600_000)],
            1.0,
            &[gpu(300.0, &[("a", 0.9), ("b", 0.9), ("gone", 0.5)])],
        );
        let jobs: f64 = l.jobs.values().map(|j| j.energy_j).sum();
        assert!((jobs + l.unattributed_j - l.node_j).abs() < 1e-9);
        assert!(jobs <= 400.0 + 1e-9);
    }
}
