//! Slurm through its standard commands: `sbatch --parsable` submits,
//! `squeue --states=all` (then `sacct`, where accounting exists) reports
//! every job of ours in one call, `scancel` cancels.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use super::{ClusterEngine, Job, JobState, JobStatus};

#[derive(Debug, Default)]
pub struct Slurm;

/// `program` on PATH, if it is there.
pub fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// A word for `sh`, quoted.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The arguments of the `sbatch` that submits `job`.
pub fn sbatch_args(job: &Job) -> Vec<String> {
    let mut args = vec![
        "--parsable".to_string(),
        format!("--job-name={}", job.name),
        format!("--output={}", job.log.display()),
    ];
    args.extend(job.resources.sbatch_options());
    let command: Vec<String> = job.command.iter().map(|w| quote(w)).collect();
    args.push(format!("--wrap=exec {}", command.join(" ")));
    args
}

fn run(program: &str, args: &[String]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A Slurm state word as a [`JobState`].
fn state_of(word: &str, host: &str) -> JobState {
    // sacct may add a reason: "CANCELLED by 0".
    let word = word.split_whitespace().next().unwrap_or_default();
    match word {
        "PENDING" | "CONFIGURING" | "REQUEUED" | "RESIZING" | "SUSPENDED" => JobState::Queued,
        "RUNNING" | "COMPLETING" | "STAGE_OUT" | "SIGNALING" => JobState::Running {
            host: host.to_string(),
        },
        other => JobState::Ended {
            state: other.to_string(),
        },
    }
}

/// `id|STATE|host|name` lines -> states (the name last: it may hold `|`).
fn parse_states(text: &str, into: &mut HashMap<String, JobStatus>) {
    for line in text.lines() {
        let mut fields = line.splitn(4, '|');
        let (Some(id), Some(state)) = (fields.next(), fields.next()) else {
            continue;
        };
        let host = fields.next().unwrap_or_default().trim();
        let name = fields.next().unwrap_or_default().trim().to_string();
        into.insert(
            id.trim().to_string(),
            JobStatus {
                name,
                state: state_of(state.trim(), host),
            },
        );
    }
}

impl ClusterEngine for Slurm {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn probe(&self) -> Result<(), String> {
        if on_path("sbatch").is_none() {
            return Err("sbatch is not on PATH: is this a Slurm login node?".into());
        }
        run(
            "squeue",
            &["-h".into(), "-o".into(), "%i".into(), "--me".into()],
        )
        .map(drop)
        .map_err(|e| format!("the Slurm controller does not answer: {e}"))
    }

    fn check_partition(&self, partition: &str) -> Result<(), String> {
        let listed = run("sinfo", &["-h".into(), "-o".into(), "%R".into()])?;
        if listed.lines().any(|p| p.trim() == partition) {
            Ok(())
        } else {
            let names: Vec<&str> = listed.lines().map(str::trim).collect();
            Err(format!(
                "no partition `{partition}` (partitions: {})",
                names.join(", ")
            ))
        }
    }

    fn submit(&self, job: &Job) -> Result<String, String> {
        let out = run("sbatch", &sbatch_args(job))?;
        // "id" or "id;cluster".
        let id = out.trim().split(';').next().unwrap_or_default().to_string();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("sbatch printed no job id: {out:?}"));
        }
        Ok(id)
    }

    fn poll(&self, ids: &[String]) -> Result<HashMap<String, JobStatus>, String> {
        // All of our jobs in one call; a job purged from squeue is then
        // looked up in accounting, where there is accounting.
        let mut states = HashMap::new();
        let listed = run(
            "squeue",
            &[
                "--me".into(),
                "--states=all".into(),
                "-h".into(),
                "-o".into(),
                "%i|%T|%N|%j".into(),
            ],
        )?;
        parse_states(&listed, &mut states);
        let gone: Vec<&String> = ids.iter().filter(|id| !states.contains_key(*id)).collect();
        if !gone.is_empty() {
            let list: Vec<&str> = gone.iter().map(|s| s.as_str()).collect();
            let args = [
                "-n".into(),
                "-P".into(),
                "-X".into(),
                "-o".into(),
                "JobID,State,NodeList,JobName".into(),
                "-j".into(),
                list.join(","),
            ];
            if let Ok(text) = run("sacct", &args) {
                parse_states(&text, &mut states);
            }
        }
        states.retain(|id, _| ids.contains(id));
        Ok(states)
    }

    fn cancel(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        if let Err(e) = run("scancel", ids) {
            eprintln!("warning: cannot cancel jobs {}: {e}", ids.join(", "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_from_squeue_and_sacct_lines() {
        let mut states = HashMap::new();
        parse_states(
            "1|COMPLETED|localhost|mdr-a\n2|RUNNING|node7|mdr-b|c\n3|PENDING||mdr-c\n4|CANCELLED by 0||\n",
            &mut states,
        );
        assert_eq!(states["2"].name, "mdr-b|c");
        let states: HashMap<_, _> = states.into_iter().map(|(id, s)| (id, s.state)).collect();
        assert_eq!(
            states["1"],
            JobState::Ended {
                state: "COMPLETED".into()
            }
        );
        assert_eq!(
            states["2"],
            JobState::Running {
                host: "node7".into()
            }
        );
        assert_eq!(states["3"], JobState::Queued);
        assert_eq!(
            states["4"],
            JobState::Ended {
                state: "CANCELLED".into()
            }
        );
    }

    #[test]
    fn the_wrapped_command_survives_the_shell() {
        let job = Job {
            name: "mdr-x".into(),
            command: vec!["/opt/pipe line".into(), "it's".into()],
            log: "/tmp/x.log".into(),
            resources: Default::default(),
        };
        let args = sbatch_args(&job);
        assert_eq!(
            args.last().unwrap(),
            r"--wrap=exec '/opt/pipe line' 'it'\''s'"
        );
    }
}
