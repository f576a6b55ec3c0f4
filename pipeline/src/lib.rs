//! The engine: `pipeline.yaml` -> a plan of content-hashed nodes -> a run
//! on dagrs against a content-addressed store.

pub mod cluster;
pub mod config;
pub mod embed;
pub mod error;
pub mod exec_node;
pub mod execute;
mod expand;
pub mod export;
pub mod freshness;
pub mod gc;
pub mod graph;
pub mod keys;
pub mod ops;
mod params;
pub mod plan;
pub mod reference;
pub mod refs;
pub mod show;
pub mod spec;
pub mod stage_worker;
pub mod status;
pub mod verified;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stages::Registry;
use storage::lease::{Lease, LeaseKind};
pub use storage::ArtifactStore;
use storage::{ManifestKey, Store};

pub use config::Config;
pub use error::{PipelineError, Result};
pub use execute::{Executor, Outcome, RunOptions, RunReport};
pub use plan::Plan;
pub use refs::Refs;

/// Where artifacts go when neither the command line nor the file says.
pub const DEFAULT_STORE: &str = ".pipeline/store";

/// Store locations given on the command line; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct StoreChoice {
    pub store: Option<String>,
    pub remote: Option<String>,
}

/// The store a config names, as overridden on the command line: the
/// primary store and the optional remote behind it.
pub fn open_store(config: &Config, choice: &StoreChoice) -> Result<ArtifactStore> {
    let base = &config.base_dir;
    let location = store_location(config, choice);
    let key = ManifestKey::from_env()?;
    let primary = Store::open(&location, base)?.with_manifest_key(key.clone());
    let remote = match choice.remote.clone().or_else(|| config.remote.clone()) {
        Some(r) => Some(Store::open(&r, base)?.with_manifest_key(key)),
        None => None,
    };
    Ok(ArtifactStore::new(primary, remote))
}

/// The primary store's location, as given.
pub fn store_location(config: &Config, choice: &StoreChoice) -> String {
    choice
        .store
        .clone()
        .or_else(|| config.store.clone())
        .unwrap_or_else(|| DEFAULT_STORE.to_string())
}

/// A loaded pipeline: its config, plan, store and state directory.
pub struct Workspace {
    pub config: Config,
    pub plan: Arc<Plan>,
    pub store: ArtifactStore,
    /// The primary store's location, as given (what cluster jobs open).
    pub store_location: String,
    pub refs: Refs,
    pub state_dir: PathBuf,
}

impl Workspace {
    /// Loads `pipeline.yaml`, plans it and opens (without contacting) its store.
    pub fn open(path: &Path, registry: &Registry, choice: &StoreChoice) -> Result<Workspace> {
        Workspace::from_config(Config::load(path)?, registry, choice)
    }

    /// Plans `config` (loaded, perhaps extended in code) and opens its store.
    pub fn from_config(
        config: Config,
        registry: &Registry,
        choice: &StoreChoice,
    ) -> Result<Workspace> {
        let plan = Arc::new(Plan::build(&config, registry)?);
        let store = open_store(&config, choice)?;
        let store_location = store_location(&config, choice);
        let state_dir = config.base_dir.join(".pipeline");
        Ok(Workspace {
            store_location,
            refs: Refs::new(&state_dir),
            config,
            plan,
            store,
            state_dir,
        })
    }

    /// Fails fast, with the store's own error, when the primary store
    /// cannot be reached (after the client's bounded retries).
    pub async fn probe(&self) -> Result<()> {
        self.store.primary().get_manifest("probe").await?;
        Ok(())
    }

    /// The executor `flag` (else pipeline.yaml's `executor:`) names; a
    /// cluster one is checked before anything is submitted.
    pub fn executor(&self, flag: Option<&str>) -> Result<Executor> {
        let name = flag.or(self.config.executor.as_deref()).unwrap_or("local");
        match name {
            "local" => Ok(Executor::Local),
            "slurm" => Ok(Executor::Cluster(Arc::new(cluster::Cluster::new(
                cluster::engine_named(name).expect("slurm is an engine"),
                self.store.clone(),
                &self.store_location,
                self.config.cluster.clone(),
                &self
                    .plan
                    .nodes
                    .iter()
                    .map(|n| n.stage.name())
                    .collect::<Vec<_>>(),
                self.state_dir.join("jobs"),
            )?))),
            other => Err(PipelineError::Usage(format!(
                "unknown executor `{other}` (executors: local, slurm)"
            ))),
        }
    }

    /// Brings the plan up to date, holding a run lease on each store so
    /// that no gc deletes what it relies on (see [`storage::lease`]).
    pub async fn run(&self, opts: &RunOptions) -> Result<RunReport> {
        self.probe().await?;
        let leases = self.take_run_leases().await?;
        let report = execute::run(
            self.plan.clone(),
            self.config.base_dir.clone(),
            self.config.local_roots(),
            self.store.clone(),
            self.refs.clone(),
            &self.state_dir,
            opts,
        )
        .await;
        for lease in leases {
            if let Err(e) = lease.release().await {
                tracing::warn!("cannot release a run lease: {e} (it goes stale in a minute)");
            }
        }
        report
    }

    /// A run lease on the primary store and the remote, each taken once no
    /// gc is deleting there. A store that takes no lease (read-only, say)
    /// gets a warning: a run that only reads from it loses nothing.
    async fn take_run_leases(&self) -> Result<Vec<Lease>> {
        let mut leases = Vec::new();
        for store in std::iter::once(self.store.primary()).chain(self.store.remote()) {
            match store.take_lease(LeaseKind::Run).await {
                Ok(lease) => {
                    storage::lease::wait_for_gc(&lease).await?;
                    leases.push(lease);
                }
                Err(e) => eprintln!(
                    "warning: cannot take a run lease on store {}: {e}; a concurrent gc \
                     there could delete what this run writes",
                    store.label()
                ),
            }
        }
        Ok(leases)
    }

    pub async fn status(&self) -> Result<Vec<status::NodeStatus>> {
        self.probe().await?;
        let live = cluster::record::live_jobs(self.store.primary(), cluster::engine_named).await?;
        status::status(&self.plan, &self.store, &self.refs, &live).await
    }

    /// The concurrency limit: the command line, then the file, then the cores.
    pub fn jobs(&self, requested: Option<usize>) -> usize {
        requested.or(self.config.jobs).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }
}
