//! What a node's job asks the cluster for: pipeline.yaml's `cluster:`
//! section, per stage, over defaults per stage.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{PipelineError, Result};

/// pipeline.yaml's `cluster:` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The partition every job goes to, unless its stage names another.
    #[serde(default)]
    pub partition: Option<String>,
    /// How many times a failed job is submitted again (default 2).
    #[serde(default)]
    pub retries: Option<u32>,
    /// Arguments added to every `sbatch` (an account, a QoS).
    #[serde(default)]
    pub sbatch_args: Vec<String>,
    /// Stage -> what its jobs ask for, over the stage's defaults.
    #[serde(default)]
    pub resources: BTreeMap<String, Resources>,
}

/// One job's request; unset fields take the stage's default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub cpus: Option<u32>,
    /// Slurm's memory syntax: a number with an optional K, M, G or T.
    #[serde(default)]
    pub mem: Option<String>,
    /// Slurm's time syntax: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
    #[serde(default)]
    pub time: Option<String>,
    #[serde(default)]
    pub partition: Option<String>,
    /// Generic resources, such as `gpu:1`.
    #[serde(default)]
    pub gres: Option<String>,
    #[serde(default)]
    pub sbatch_args: Vec<String>,
}

/// The request of a stage's jobs when pipeline.yaml says nothing: small
/// for table stages, more for the audio front end, days for training.
/// No GPU by default: a `gres` that a cluster lacks pends forever.
fn default_for(stage: &str) -> Resources {
    let (cpus, mem, time) = match stage {
        "train" => (2, "8G", "3-00:00:00"),
        "extract" | "evaluate" => (2, "8G", "12:00:00"),
        "mel" | "fetch" | "factorize" | "factorize_artist" | "analyze" => (2, "4G", "12:00:00"),
        _ => (1, "2G", "1:00:00"),
    };
    Resources {
        cpus: Some(cpus),
        mem: Some(mem.into()),
        time: Some(time.into()),
        ..Resources::default()
    }
}

impl ClusterConfig {
    /// How many times a failed job is submitted again.
    pub fn retries(&self) -> u32 {
        self.retries.unwrap_or(2)
    }

    /// The checked request of `stage`'s jobs.
    pub fn resources(&self, stage: &str) -> Result<Resources> {
        let given = self.resources.get(stage).cloned().unwrap_or_default();
        let default = default_for(stage);
        let merged = Resources {
            cpus: given.cpus.or(default.cpus),
            mem: given.mem.or(default.mem),
            time: given.time.or(default.time),
            partition: given.partition.or_else(|| self.partition.clone()),
            gres: given.gres,
            sbatch_args: self
                .sbatch_args
                .iter()
                .chain(&given.sbatch_args)
                .cloned()
                .collect(),
        };
        merged.check(stage)?;
        Ok(merged)
    }

    /// Every stage named under `resources:` must be one that `known` (the
    /// stages of the plan) has: a typo would otherwise go unnoticed.
    pub fn check_stages(&self, known: &[&str]) -> Result<()> {
        for stage in self.resources.keys() {
            if !known.contains(&stage.as_str()) {
                return Err(bad(
                    stage,
                    "stage",
                    "no node of this pipeline runs it".into(),
                ));
            }
        }
        Ok(())
    }
}

fn bad(stage: &str, field: &str, message: String) -> PipelineError {
    PipelineError::Usage(format!(
        "pipeline.yaml: cluster.resources.{stage}.{field}: {message}"
    ))
}

impl Resources {
    fn check(&self, stage: &str) -> Result<()> {
        if self.cpus == Some(0) {
            return Err(bad(stage, "cpus", "must be at least 1".into()));
        }
        if let Some(mem) = &self.mem {
            if !valid_mem(mem) {
                return Err(bad(
                    stage,
                    "mem",
                    format!("`{mem}` is not a memory size (e.g. 500M, 16G)"),
                ));
            }
        }
        if let Some(time) = &self.time {
            if !valid_time(time) {
                return Err(bad(
                    stage,
                    "time",
                    format!("`{time}` is not a time limit (e.g. 30, 4:00:00, 2-00:00:00)"),
                ));
            }
        }
        if let Some(gres) = &self.gres {
            if gres.is_empty() || gres.contains(char::is_whitespace) {
                return Err(bad(
                    stage,
                    "gres",
                    format!("`{gres}` is not a gres (e.g. gpu:1)"),
                ));
            }
        }
        Ok(())
    }

    /// The sbatch options of this request.
    pub fn sbatch_options(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(cpus) = self.cpus {
            out.push(format!("--cpus-per-task={cpus}"));
        }
        if let Some(mem) = &self.mem {
            out.push(format!("--mem={mem}"));
        }
        if let Some(time) = &self.time {
            out.push(format!("--time={time}"));
        }
        if let Some(partition) = &self.partition {
            out.push(format!("--partition={partition}"));
        }
        if let Some(gres) = &self.gres {
            out.push(format!("--gres={gres}"));
        }
        out.extend(self.sbatch_args.iter().cloned());
        out
    }
}

fn valid_mem(mem: &str) -> bool {
    let digits = mem.trim_end_matches(['K', 'M', 'G', 'T']);
    mem.len() - digits.len() <= 1
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
}

fn valid_time(time: &str) -> bool {
    let number = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    let (days, clock) = match time.split_once('-') {
        Some((d, rest)) => (Some(d), rest),
        None => (None, time),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    days.is_none_or(number) && parts.len() <= 3 && parts.iter().all(|p| number(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_and_time_follow_slurm_syntax() {
        for ok in ["500M", "16G", "1024", "2T"] {
            assert!(valid_mem(ok), "{ok}");
        }
        for bad in ["", "G", "16GB", "1.5G", "-1G"] {
            assert!(!valid_mem(bad), "{bad}");
        }
        for ok in ["30", "30:00", "4:00:00", "2-00", "2-00:30", "2-00:00:00"] {
            assert!(valid_time(ok), "{ok}");
        }
        for bad in ["", "1h", "1:2:3:4", "2-", "-1", "a:00"] {
            assert!(!valid_time(bad), "{bad}");
        }
    }

    #[test]
    fn a_gpu_training_node_renders_its_request() {
        let config: ClusterConfig = serde_yaml::from_str(
            "partition: cpu\nsbatch_args: [--account=mir]\nresources:\n  train: {gres: 'gpu:1', mem: 32G, partition: gpu, time: '2-00:00:00'}\n",
        )
        .unwrap();
        assert_eq!(
            config.resources("train").unwrap().sbatch_options(),
            [
                "--cpus-per-task=2",
                "--mem=32G",
                "--time=2-00:00:00",
                "--partition=gpu",
                "--gres=gpu:1",
                "--account=mir"
            ]
        );
        assert_eq!(
            config.resources("mel").unwrap().sbatch_options(),
            [
                "--cpus-per-task=2",
                "--mem=4G",
                "--time=12:00:00",
                "--partition=cpu",
                "--account=mir"
            ]
        );
        let bad: ClusterConfig =
            serde_yaml::from_str("resources:\n  train: {mem: lots}\n").unwrap();
        let error = bad.resources("train").unwrap_err().to_string();
        assert!(
            error.contains("cluster.resources.train.mem") && error.contains("`lots`"),
            "{error}"
        );
    }
}
