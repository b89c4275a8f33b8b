//! Which job greenai is measuring: Slurm's variables, Kubernetes' cgroup path and downward-API
//! variables (the cgroup names read by `greenai_meter::cgroup`'s rules, the exporter's own). The labels are stored with the run (`greenai run`) and name the job's series.

use std::collections::BTreeMap;

/// Slurm's environment: job, step, task, node, and the array it belongs to.
const SLURM: [(&str, &str); 7] = [
    ("SLURM_JOB_ID", "slurm_job_id"),
    ("SLURM_STEP_ID", "slurm_step_id"),
    ("SLURM_PROCID", "slurm_task_id"),
    ("SLURMD_NODENAME", "slurm_node"),
    ("SLURM_ARRAY_JOB_ID", "slurm_array_job_id"),
    ("SLURM_ARRAY_TASK_ID", "slurm_array_task_id"),
    ("SLURM_JOB_NAME", "slurm_job_name"),
];

/// The downward API's conventional variables (a pod spec names them; these are the usual names).
const K8S: [(&str, &str); 3] = [
    ("POD_NAME", "k8s_pod"),
    ("POD_NAMESPACE", "k8s_namespace"),
    ("NODE_NAME", "k8s_node"),
];

/// The job labels of a process with environment `env` and `/proc/PID/cgroup` text `cgroup`.
pub fn job_labels(env: &dyn Fn(&str) -> Option<String>, cgroup: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (var, label) in SLURM {
        if let Some(v) = env(var).filter(|v| !v.is_empty()) {
            out.insert(label.to_string(), v);
        }
    }
    // cgroup v2: one line `0::/path`; v1 lines name controllers. Take the unified path, else any.
    let path = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .or_else(|| cgroup.lines().next().and_then(|l| l.splitn(3, ':').nth(2)))
        .unwrap_or("");
    for part in path.split('/') {
        if let Some(uid) = greenai_meter::cgroup::pod_uid(part) {
            out.insert("k8s_pod_uid".into(), uid);
        }
        // `cri-containerd-<id>.scope`, `docker-<id>.scope`, `crio-<id>.scope`, or a bare id.
        let id = part
            .strip_suffix(".scope")
            .and_then(|p| p.rsplit('-').next())
            .unwrap_or(part);
        if out.contains_key("k8s_pod_uid")
            && id.len() == 64
            && id.chars().all(|c| c.is_ascii_hexdigit())
        {
            out.insert("k8s_container_id".into(), id.to_string());
        }
        if let Some(job) = greenai_meter::cgroup::slurm_job(part) {
            out.entry("slurm_job_id".into())
                .or_insert_with(|| job.to_string());
        }
    }
    if out.contains_key("k8s_pod_uid") {
        for (var, label) in K8S {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                out.insert(label.to_string(), v);
            }
        }
    }
    out
}

/// This process's job labels.
pub fn current() -> BTreeMap<String, String> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    job_labels(&|k| std::env::var(k).ok(), &cgroup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_variables_and_cgroup_name_the_job() {
        let env = |k: &str| match k {
            "SLURM_JOB_ID" => Some("4242".to_string()),
            "SLURM_STEP_ID" => Some("0".into()),
            "SLURM_PROCID" => Some("1".into()),
            "SLURMD_NODENAME" => Some("node7".into()),
            _ => None,
        };
        let l = job_labels(
            &env,
            "0::/system.slice/slurmstepd.scope/job_4242/step_0/user/task_1\n",
        );
        assert_eq!(l["slurm_job_id"], "4242");
        assert_eq!(l["slurm_task_id"], "1");
        assert_eq!(l["slurm_node"], "node7");
        assert!(!l.contains_key("k8s_pod_uid"));
    }

    #[test]
    fn a_pod_is_known_by_its_cgroup_and_named_by_the_downward_api() {
        let env = |k: &str| match k {
            "POD_NAME" => Some("trainer-0".to_string()),
            "POD_NAMESPACE" => Some("ml".into()),
            _ => None,
        };
        let cid = "a".repeat(64);
        let cg = format!(
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e3d4c_5b6a_7980_a1b2_c3d4e5f60718.slice/cri-containerd-{cid}.scope\n"
        );
        let l = job_labels(&env, &cg);
        assert_eq!(l["k8s_pod_uid"], "1f2e3d4c-5b6a-7980-a1b2-c3d4e5f60718");
        assert_eq!(l["k8s_container_id"], cid);
        assert_eq!(l["k8s_pod"], "trainer-0");
        assert_eq!(l["k8s_namespace"], "ml");
        // Outside a pod the downward-API names mean nothing and are not taken.
        let l = job_labels(&env, "0::/user.slice/user-1000.slice/session-3.scope\n");
        assert!(l.is_empty(), "{l:?}");
    }
}
