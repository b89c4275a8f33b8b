//! Each job's share of each GPU: NVML's per-process SM utilisation, every process mapped to its
//! job by the cgroup in `/proc/<pid>/cgroup`. Where the driver gives no per-process utilisation,
//! the processes holding a compute context share the GPU equally (the least wrong split without
//! it), the node's own processes counting as one holder that no job is.

use super::{GpuEnergy, JobCgroup};
use crate::component::{Component, ComponentKind};
use crate::sensors::nvml::{GpuDevice, GpuLibrary};
use greenai_units::Energy;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Tracked {
    device: Box<dyn GpuDevice>,
    uuid: String,
    last_us: u64,
}

/// The node's GPUs, asked for per-process use each interval.
pub struct GpuShares {
    gpus: Vec<Tracked>,
    proc_root: PathBuf,
    cgroup_root: PathBuf,
}

impl GpuShares {
    /// Every GPU of `lib`; `proc_root` is `/proc` (the host's: the exporter needs the host's pid
    /// namespace, as NVML reports host pids), `cgroup_root` the tree the jobs were found in.
    pub fn open(
        lib: &dyn GpuLibrary,
        proc_root: &Path,
        cgroup_root: &Path,
    ) -> crate::Result<GpuShares> {
        Ok(GpuShares {
            gpus: lib
                .devices()?
                .into_iter()
                .map(|d| Tracked {
                    uuid: d.uuid(),
                    device: d,
                    last_us: 0,
                })
                .collect(),
            proc_root: proc_root.to_path_buf(),
            cgroup_root: cgroup_root.to_path_buf(),
        })
    }

    /// The job (an id of `jobs`) process `pid` belongs to.
    fn job_of(&self, pid: u32, jobs: &[JobCgroup]) -> Option<String> {
        let text =
            crate::sysfs::read_bounded(&self.proc_root.join(format!("{pid}/cgroup")), 1 << 16)
                .ok()?;
        let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
        let path = Path::new(path.trim().trim_start_matches('/'));
        jobs.iter()
            .filter_map(|j| {
                let rel = j.path.strip_prefix(&self.cgroup_root).ok()?;
                path.starts_with(rel)
                    .then(|| (rel.components().count(), &j.id))
            })
            // The deepest match: a job nested in another's tree is its own.
            .max_by_key(|(depth, _)| *depth)
            .map(|(_, id)| id.clone())
    }

    /// Each job's share of one GPU since the last call.
    fn shares_of(&mut self, i: usize, jobs: &[JobCgroup]) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        let since = self.gpus[i].last_us;
        let util = self.gpus[i].device.process_utilisation(since);
        if let Ok(Some((samples, newest))) = util {
            self.gpus[i].last_us = newest.max(since);
            let all: u32 = samples.iter().map(|s| s.1).sum();
            if all > 0 {
                for (pid, sm) in samples {
                    if let Some(job) = self.job_of(pid, jobs) {
                        *out.entry(job).or_insert(0.0) += sm as f64 / all as f64;
                    }
                }
                return out;
            }
        }
        let Ok(pids) = self.gpus[i].device.compute_pids() else {
            return out;
        };
        let holders: Vec<Option<String>> = pids.iter().map(|p| self.job_of(*p, jobs)).collect();
        let mut parties: Vec<&Option<String>> = holders.iter().collect();
        parties.sort();
        parties.dedup();
        let each = 1.0 / parties.len().max(1) as f64;
        for job in parties.into_iter().flatten() {
            out.insert(job.clone(), each);
        }
        out
    }

    /// The monitor's GPU components with their energy so far (`energies`, aligned with
    /// `components`, as `Monitor::window_components` gives them) and each job's share of each
    /// over the interval since the last call. A component is matched to its GPU by the UUID its
    /// sensor names.
    pub fn energies(
        &mut self,
        components: &[Component],
        energies: &[Option<Energy>],
        jobs: &[JobCgroup],
    ) -> Vec<GpuEnergy> {
        let mut out = Vec::new();
        for (c, e) in components.iter().zip(energies) {
            if c.kind != ComponentKind::Gpu {
                continue;
            }
            let (Some(e), Some(i)) = (
                e,
                self.gpus.iter().position(|g| c.sensor.ends_with(&g.uuid)),
            ) else {
                continue;
            };
            out.push(GpuEnergy {
                id: c.id.clone(),
                energy_j: e.joules(),
                shares: self.shares_of(i, jobs),
            });
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.gpus.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Provenance;
    use crate::sensors::nvml::fake::{FakeGpu, FakeGpuState, FakeLibrary};
    use std::sync::Arc;

    fn job(root: &Path, id: &str, rel: &str) -> JobCgroup {
        JobCgroup {
            id: id.into(),
            labels: BTreeMap::new(),
            path: root.join(rel),
        }
    }

    fn proc_with(root: &Path, pid: u32, cgroup: &str) {
        std::fs::create_dir_all(root.join(pid.to_string())).unwrap();
        std::fs::write(root.join(format!("{pid}/cgroup")), format!("0::{cgroup}\n")).unwrap();
    }

    /// Two jobs on one GPU by their processes' SM use; a process of no job is nobody's; a GPU
    /// without per-process utilisation is shared equally by the holders of compute contexts.
    #[test]
    fn processes_are_mapped_to_jobs_by_their_cgroup() {
        let dir = tempfile::tempdir().unwrap();
        let (proc_root, cg_root) = (dir.path().join("proc"), dir.path().join("cgroup"));
        let slurm = "system.slice/slurmstepd.scope";
        proc_with(
            &proc_root,
            10,
            &format!("/{slurm}/job_42/step_0/user/task_0"),
        );
        proc_with(&proc_root, 11, &format!("/{slurm}/job_42/step_1"));
        proc_with(&proc_root, 20, &format!("/{slurm}/job_7/step_0"));
        proc_with(&proc_root, 30, "/user.slice/user-1000.slice");
        let jobs = [
            job(&cg_root, "slurm/42", &format!("{slurm}/job_42")),
            job(&cg_root, "slurm/7", &format!("{slurm}/job_7")),
        ];
        let gpu = FakeGpu::new(
            "GPU-aaa",
            FakeGpuState {
                energy_mj: Some(0),
                process_util: Some(vec![(10, 30), (11, 10), (20, 40), (30, 20)]),
                ..Default::default()
            },
        );
        let state = Arc::clone(&gpu.state);
        let lib = FakeLibrary(vec![gpu]);
        let mut shares = GpuShares::open(&lib, &proc_root, &cg_root).unwrap();
        let component = Component {
            id: "gpu-0".into(),
            kind: ComponentKind::Gpu,
            sensor: "nvml:Fake GPU-aaa".into(),
            provenance: Provenance::Measured,
            uncertainty: None,
            counted: true,
            within: None,
        };
        let got = shares.energies(
            std::slice::from_ref(&component),
            &[Some(Energy::from_joules(12.0))],
            &jobs,
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].energy_j, 12.0);
        let s = &got[0].shares;
        assert!((s["slurm/42"] - 0.4).abs() < 1e-12, "{s:?}");
        assert!((s["slurm/7"] - 0.4).abs() < 1e-12);
        assert_eq!(s.len(), 2);
        // No per-process utilisation: job 42, job 7 and the node's process hold contexts.
        {
            let mut st = state.lock().unwrap();
            st.process_util = None;
            st.compute_pids = vec![10, 11, 20, 30];
        }
        let got = shares.energies(
            std::slice::from_ref(&component),
            &[Some(Energy::from_joules(20.0))],
            &jobs,
        );
        let s = &got[0].shares;
        assert!((s["slurm/42"] - 1.0 / 3.0).abs() < 1e-12, "{s:?}");
        assert!((s["slurm/7"] - 1.0 / 3.0).abs() < 1e-12);
        // A component of another GPU, or no GPU component, gives nothing.
        let mut other = component.clone();
        other.sensor = "nvml:Fake GPU-bbb".into();
        assert!(shares
            .energies(&[other], &[Some(Energy::from_joules(1.0))], &jobs)
            .is_empty());
    }
}
