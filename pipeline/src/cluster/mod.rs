//! Running nodes as cluster jobs over the shared store: the node's spec and
//! its external files go to the store, a job runs `pipeline exec-node` on
//! it, and the manifest in the store is the only truth of success (a job
//! the cluster calls COMPLETED without one failed; one that vanished
//! without one is submitted again).
//!
//! [`ClusterEngine`] is the seam another engine (Kubernetes Jobs, a remote
//! execution service) implements: submit, poll, cancel.

pub mod record;
pub mod resources;
pub mod slurm;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use storage::{ArtifactStore, Manifest, ManifestState};

use crate::error::{PipelineError, Result};
use crate::spec::NodeSpec;
use record::JobRecord;
pub use resources::{ClusterConfig, Resources};

/// One job: a command and what it asks the cluster for.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub command: Vec<String>,
    /// Where the job's output goes (`%j`: its id).
    pub log: PathBuf,
    pub resources: Resources,
}

/// A job's state as its engine reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Queued,
    Running {
        host: String,
    },
    /// Over, in the engine's words (COMPLETED, FAILED, TIMEOUT, ...).
    Ended {
        state: String,
    },
}

/// A job's state and its name, which tells it from another cluster's job
/// with the same id.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatus {
    pub name: String,
    pub state: JobState,
}

/// What the scheduler needs of a cluster: submit, poll, cancel.
pub trait ClusterEngine: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &'static str;
    /// Fails when the engine's commands are missing or its controller is down.
    fn probe(&self) -> Result<(), String>;
    fn check_partition(&self, partition: &str) -> Result<(), String>;
    /// Submits a job; its id.
    fn submit(&self, job: &Job) -> Result<String, String>;
    /// The states of `ids`, in one query; an id it no longer knows is left out.
    fn poll(&self, ids: &[String]) -> Result<HashMap<String, JobStatus>, String>;
    fn cancel(&self, ids: &[String]);
}

/// The engine called `name` (an executor's or a job record's).
pub fn engine_named(name: &str) -> Option<Arc<dyn ClusterEngine>> {
    match name {
        "slurm" => Some(Arc::new(slurm::Slurm)),
        _ => None,
    }
}

/// The checkpoint that holds a node's spec for its job.
pub const SPEC: &str = "_spec.json";

/// The checkpoint that holds file parameter `param`'s bytes for the job.
pub fn source_checkpoint(param: &str) -> String {
    format!("_source_{param}")
}

/// How often job states are asked for, and the longest wait after errors.
const POLL: Duration = Duration::from_millis(1000);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Polls in a row that fail before the run gives up on the cluster.
const POLL_FAILURES: u32 = 10;
/// Polls in a row that must miss a job before it counts as vanished.
const MISSES: u32 = 3;

/// The latest answer of the engine, shared by every waiting node.
struct Polled {
    at: Option<Instant>,
    states: HashMap<String, JobStatus>,
    interval: Duration,
    failures: u32,
}

pub struct Cluster {
    engine: Arc<dyn ClusterEngine>,
    store: ArtifactStore,
    /// The store as the jobs open it.
    store_url: String,
    config: ClusterConfig,
    log_dir: PathBuf,
    exe: PathBuf,
    /// This run's jobs in the cluster, with when each was submitted.
    active: Mutex<HashMap<String, Instant>>,
    polled: tokio::sync::Mutex<Polled>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} cluster over {}", self.engine.name(), self.store_url)
    }
}

impl Cluster {
    /// Checks, before anything is submitted, that the jobs can run: the
    /// engine answers, the request of every stage in `stages` parses, the partitions exist
    /// and the store is one the jobs can reach.
    pub fn new(
        engine: Arc<dyn ClusterEngine>,
        store: ArtifactStore,
        store_url: &str,
        config: ClusterConfig,
        stages: &[&str],
        log_dir: PathBuf,
    ) -> Result<Cluster> {
        if !store_url.starts_with("s3://") {
            return Err(PipelineError::Usage(format!(
                "--executor {}: the store `{store_url}` is a path on this machine, which the \
                 cluster's jobs cannot reach; use a shared S3 store (store: s3://bucket/prefix)",
                engine.name()
            )));
        }
        config.check_stages(stages)?;
        let mut partitions = std::collections::BTreeSet::new();
        for stage in stages {
            if let Some(p) = config.resources(stage)?.partition {
                partitions.insert(p);
            }
        }
        let unreachable =
            |e: String| PipelineError::Usage(format!("--executor {}: {e}", engine.name()));
        engine.probe().map_err(unreachable)?;
        for p in &partitions {
            engine.check_partition(p).map_err(unreachable)?;
        }
        let log_dir = std::fs::create_dir_all(&log_dir)
            .and_then(|()| log_dir.canonicalize())
            .map_err(|e| {
                PipelineError::Usage(format!("cannot create {}: {e}", log_dir.display()))
            })?;
        let exe = std::env::current_exe()
            .map_err(|e| PipelineError::Usage(format!("cannot find this executable: {e}")))?;
        Ok(Cluster {
            engine,
            store,
            store_url: store_url.to_string(),
            config,
            log_dir,
            exe,
            active: Mutex::default(),
            polled: tokio::sync::Mutex::new(Polled {
                at: None,
                states: HashMap::new(),
                interval: POLL,
                failures: 0,
            }),
        })
    }

    /// Computes the node as a job (submitted again on failure, up to the
    /// configured retries) and returns the manifest it committed.
    pub async fn run(
        &self,
        spec: NodeSpec,
        files: BTreeMap<String, Vec<u8>>,
    ) -> Result<Manifest, String> {
        // The spec and the files travel as the node's checkpoints, which
        // its commit drops: the store ends as a local run leaves it.
        let primary = self.store.primary();
        let mut checkpoints: Vec<(String, Vec<u8>)> = files
            .into_iter()
            .map(|(param, bytes)| (source_checkpoint(&param), bytes))
            .collect();
        checkpoints.push((
            SPEC.into(),
            serde_json::to_vec_pretty(&spec).expect("specs serialise"),
        ));
        for (name, bytes) in checkpoints {
            primary
                .put_checkpoint(&spec.key, &name, bytes.into())
                .await
                .map_err(|e| e.to_string())?;
        }
        let resources = self
            .config
            .resources(&spec.stage)
            .map_err(|e| e.to_string())?;
        let attempts = self.config.retries() + 1;
        // The node and a prefix of its key: an adopted job must be this one.
        let name = format!("mdr-{}-{}", spec.node, &spec.key[..spec.key.len().min(12)]);
        let mut adopted = self.adoptable(&spec.key, &name).await;
        let mut failures = Vec::new();
        for attempt in 1..=attempts {
            let job = Job {
                name: name.clone(),
                command: vec![
                    self.exe.display().to_string(),
                    "--store".into(),
                    self.store_url.clone(),
                    "exec-node".into(),
                    spec.key.clone(),
                ],
                log: self.log_dir.join(format!("{}-%j.log", spec.node)),
                resources: resources.clone(),
            };
            let id = match adopted.take() {
                Some(id) => {
                    eprintln!(
                        "adopted {} (job {id}, submitted by an earlier run)",
                        spec.node
                    );
                    id
                }
                None => {
                    let engine_job = job.clone();
                    let id = self
                        .blocking(move |engine| engine.submit(&engine_job))
                        .await
                        .map_err(|e| format!("cannot submit: {e}"))?;
                    eprintln!(
                        "queued {} (job {id}, attempt {attempt} of {attempts})",
                        spec.node
                    );
                    let record = JobRecord::new(self.engine.name(), &id, &name, &spec.node);
                    if let Err(e) = record.write(primary, &spec.key).await {
                        tracing::warn!("cannot record job {id} of {}: {e}", spec.node);
                    }
                    id
                }
            };
            let submitted = Instant::now();
            self.active
                .lock()
                .expect("active lock")
                .insert(id.clone(), submitted);
            let ended = self.wait(&spec.node, &id, submitted).await;
            self.active.lock().expect("active lock").remove(&id);
            // Over either way: no status or later run should wait on it.
            if let Err(e) = JobRecord::clear(primary, &spec.key).await {
                tracing::warn!("cannot drop the record of job {id}: {e}");
            }
            let state = ended?;
            if let ManifestState::Found(manifest) = primary
                .get_manifest(&spec.key)
                .await
                .map_err(|e| e.to_string())?
            {
                // A job replacing a stale manifest leaves one there either
                // way: only its own success says the manifest is new.
                if !spec.replace || state == "COMPLETED" {
                    return Ok(manifest);
                }
            }
            let mut why = format!("job {id} ended {state} without committing");
            if state == "TIMEOUT" {
                why.push_str(&format!(
                    " (time limit {})",
                    resources.time.as_deref().unwrap_or("the partition's")
                ));
            }
            let log = PathBuf::from(job.log.display().to_string().replace("%j", &id));
            failures.push(format!("{why}; log {}:\n{}", log.display(), tail(&log)));
        }
        Err(format!(
            "{attempts} attempt(s) failed: {}",
            failures.join("\n")
        ))
    }

    /// The id of a job an earlier run submitted for `key` that is still
    /// queued or running under `name`: waited on rather than run twice.
    async fn adoptable(&self, key: &str, name: &str) -> Option<String> {
        let record = JobRecord::read(self.store.primary(), key).await.ok()??;
        if record.engine != self.engine.name() || record.name != name {
            return None;
        }
        let ids = vec![record.id.clone()];
        let states = self.blocking(move |engine| engine.poll(&ids)).await.ok()?;
        match states.get(&record.id) {
            Some(JobStatus {
                name: polled,
                state: JobState::Queued | JobState::Running { .. },
            }) if polled == name => Some(record.id),
            _ => None,
        }
    }

    /// Cancels every job this run has in the cluster (Ctrl-C).
    pub fn cancel_all(&self) {
        let ids: Vec<String> = self
            .active
            .lock()
            .expect("active lock")
            .drain()
            .map(|(id, _)| id)
            .collect();
        self.engine.cancel(&ids);
    }

    /// Waits for job `id` to end: its final state, or VANISHED when polls
    /// made after its submission no longer list it.
    async fn wait(&self, node: &str, id: &str, submitted: Instant) -> Result<String, String> {
        let mut misses = 0;
        let mut running = false;
        let mut seen: Option<Instant> = None;
        loop {
            tokio::time::sleep(POLL / 4).await;
            let (state, at) = self.state(id, submitted).await?;
            if seen == Some(at) {
                continue;
            }
            seen = Some(at);
            match state {
                Some(JobState::Ended { state }) => return Ok(state),
                Some(JobState::Running { host }) if !running => {
                    running = true;
                    eprintln!("running {node} (job {id} on {host})");
                }
                Some(_) => misses = 0,
                None => {
                    misses += 1;
                    if misses >= MISSES {
                        return Ok("VANISHED".into());
                    }
                }
            }
        }
    }

    /// Job `id`'s state from the latest poll and when that poll began,
    /// polling again (one query for every active job) when it is older
    /// than the interval or than the job.
    async fn state(
        &self,
        id: &str,
        submitted: Instant,
    ) -> Result<(Option<JobState>, Instant), String> {
        let mut polled = self.polled.lock().await;
        let due = |at: Instant| at.elapsed() >= polled.interval || at < submitted;
        if polled.at.is_none_or(due) {
            let started = Instant::now();
            let ids: Vec<String> = self
                .active
                .lock()
                .expect("active lock")
                .keys()
                .cloned()
                .collect();
            match self.blocking(move |engine| engine.poll(&ids)).await {
                Ok(states) => {
                    polled.states = states;
                    polled.interval = POLL;
                    polled.failures = 0;
                }
                Err(e) => {
                    polled.failures += 1;
                    if polled.failures >= POLL_FAILURES {
                        return Err(format!("cannot ask the cluster for job states: {e}"));
                    }
                    polled.interval = (polled.interval * 2).min(MAX_BACKOFF);
                    tracing::warn!("cannot poll job states (retrying): {e}");
                    return Ok((Some(JobState::Queued), started));
                }
            }
            polled.at = Some(started);
        }
        let at = polled.at.expect("polled at least once");
        Ok((polled.states.get(id).map(|s| s.state.clone()), at))
    }

    /// Runs an engine command off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn ClusterEngine) -> T + Send + 'static,
    ) -> T {
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || f(engine.as_ref()))
            .await
            .expect("engine commands do not panic")
    }
}

/// The last lines of a job's log, or why there are none.
fn tail(log: &std::path::Path) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(12)..].join("\n")
        }
        Err(e) => format!("(not readable here: {e})"),
    }
}
