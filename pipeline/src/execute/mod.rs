//! Runs a plan on dagrs: every node awaits its parents, takes a slot of the
//! concurrency limit, reuses a verified artifact or runs its stage, and
//! commits (blobs first, manifest last). A failure stops only the nodes
//! downstream of it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use dagrs::{
    Action, Content, DefaultNode, EnvVar, Graph, InChannels, Node, NodeTable, OutChannels, Output,
};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use storage::{ArtifactStore, Manifest};
use tokio::sync::Semaphore;

use crate::cluster::Cluster;
use crate::error::{PipelineError, Result};
use crate::freshness::{judge, BlobCheck, Freshness, MISSING};
use crate::keys::{input_digests, KeyMaterial};
use crate::plan::{Plan, PlannedNode};
use crate::refs::{explain, NodeRecord, Refs};
use crate::spec::{NodeSpec, UpstreamRef};
use crate::verified::Verified;

mod compute;
mod sink;

pub use compute::Computer;

/// Where the nodes that must run are computed; the scheduler decides which.
#[derive(Debug, Clone, Default)]
pub enum Executor {
    /// In this process (the default).
    #[default]
    Local,
    /// One cluster job per node, over the shared store.
    Cluster(Arc<Cluster>),
}

/// What the user asked of a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub jobs: usize,
    /// Run only these nodes (and what they need); empty = all.
    pub only: Vec<String>,
    /// Recompute these even when cached.
    pub force: Vec<String>,
    pub progress: bool,
    /// Run nothing: a node that would run fails instead (CI on a cache).
    pub frozen: bool,
    /// Recompute the committed nodes (those of `only`, or all) without
    /// trusting the cache and compare their output bytes with the
    /// committed ones; nothing committed is replaced.
    pub check: bool,
    pub executor: Executor,
}

/// How one node ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Cached,
    /// Recomputed by `--check`; `differences` names each output whose
    /// bytes differ from the committed ones (none: the same bytes).
    Checked {
        seconds: f64,
        differences: Vec<String>,
    },
    Ran {
        seconds: f64,
        reason: String,
    },
    Failed {
        error: String,
    },
    /// Not run because an upstream node failed.
    Skipped {
        failed_upstream: String,
    },
}

/// Per node, in plan order, for the nodes this run covered.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub nodes: Vec<NodeOutcome>,
    /// Blob bytes read from the primary store: none on a run that only
    /// finds what earlier runs verified.
    pub blob_bytes_read: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeOutcome {
    pub node: String,
    /// Unknown for a node skipped before its upstream gave outputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl RunReport {
    pub fn names(&self, pred: impl Fn(&Outcome) -> bool) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| pred(&n.outcome))
            .map(|n| n.node.clone())
            .collect()
    }
    pub fn ran(&self) -> Vec<String> {
        self.names(|o| matches!(o, Outcome::Ran { .. }))
    }
    /// The nodes `--check` recomputed to other bytes.
    pub fn differing(&self) -> Vec<&NodeOutcome> {
        self.nodes
            .iter()
            .filter(|n| matches!(&n.outcome, Outcome::Checked { differences, .. } if !differences.is_empty()))
            .collect()
    }
    pub fn failed(&self) -> Vec<&NodeOutcome> {
        self.nodes
            .iter()
            .filter(|n| matches!(n.outcome, Outcome::Failed { .. } | Outcome::Skipped { .. }))
            .collect()
    }
}

/// A node's message to its children.
#[derive(Clone)]
enum Done {
    Ok(Arc<Manifest>),
    Failed,
}

/// How a node ended, with its key once that was known.
struct Ended {
    key: Option<String>,
    outcome: Outcome,
}

struct Shared {
    plan: Arc<Plan>,
    base_dir: std::path::PathBuf,
    local_roots: Vec<std::path::PathBuf>,
    store: ArtifactStore,
    refs: Refs,
    force: Vec<bool>,
    /// The nodes `--check` recomputes when they are cached.
    check: Vec<bool>,
    frozen: bool,
    executor: Executor,
    blobs: Arc<BlobCheck>,
    /// Blobs of the artifacts this run computed.
    made: Mutex<Vec<String>>,
    limit: Semaphore,
    outcomes: Mutex<HashMap<usize, Ended>>,
    bars: MultiProgress,
    overall: ProgressBar,
}

/// Brings the selected nodes up to date.
pub async fn run(
    plan: Arc<Plan>,
    base_dir: std::path::PathBuf,
    local_roots: Vec<std::path::PathBuf>,
    store: ArtifactStore,
    refs: Refs,
    state_dir: &std::path::Path,
    opts: &RunOptions,
) -> Result<RunReport> {
    let read_before = store.primary().blob_bytes_read();
    let verified = Verified::load(state_dir, store.primary()).await?;
    let selected: Vec<usize> = if opts.only.is_empty() {
        (0..plan.nodes.len()).collect()
    } else {
        plan.ancestors(&plan.lookup(&opts.only)?)
    };
    let mut force = vec![false; plan.nodes.len()];
    for i in plan.lookup(&opts.force)? {
        force[i] = true;
    }
    let mut check = vec![false; plan.nodes.len()];
    if opts.check {
        let checked = if opts.only.is_empty() {
            (0..plan.nodes.len()).collect()
        } else {
            plan.lookup(&opts.only)?
        };
        for i in checked {
            check[i] = true;
        }
    }
    let bars = MultiProgress::with_draw_target(if opts.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let overall = bars.add(ProgressBar::new(selected.len() as u64));
    overall.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} nodes {wide_msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    overall.set_prefix("pipeline");
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        base_dir,
        local_roots,
        store,
        refs,
        force,
        check,
        frozen: opts.frozen,
        executor: opts.executor.clone(),
        blobs: Arc::new(BlobCheck::Recorded(verified)),
        made: Mutex::new(Vec::new()),
        limit: Semaphore::new(opts.jobs.max(1)),
        outcomes: Mutex::new(HashMap::new()),
        bars,
        overall,
    });

    let mut table = NodeTable::new();
    let mut ids = HashMap::new();
    let mut graph = Graph::new();
    for &i in &selected {
        let node = DefaultNode::with_action(
            plan.nodes[i].name.clone(),
            NodeAction {
                index: i,
                shared: shared.clone(),
            },
            &mut table,
        );
        ids.insert(i, node.id());
        graph
            .add_node(node)
            .map_err(|e| PipelineError::Failed(format!("cannot build the graph: {e}")))?;
    }
    let all_children = plan.children();
    for &i in &selected {
        let children: Vec<_> = all_children[i]
            .iter()
            .filter_map(|c| ids.get(c).copied())
            .collect();
        if !children.is_empty() {
            graph
                .add_edge(ids[&i], children)
                .map_err(|e| PipelineError::Failed(format!("cannot build the graph: {e}")))?;
        }
    }
    graph.set_env(EnvVar::new(table));
    // Node failures are recorded in `outcomes`; dagrs' own verdict adds nothing.
    let _ = graph.async_start().await;
    shared.overall.finish_and_clear();

    let mut outcomes = std::mem::take(&mut *shared.outcomes.lock().expect("outcomes lock"));
    let nodes = plan
        .order
        .iter()
        .filter(|i| ids.contains_key(i))
        .map(|&i| {
            let ended = outcomes.remove(&i).unwrap_or(Ended {
                key: None,
                outcome: Outcome::Failed {
                    error: "the node did not report an outcome".into(),
                },
            });
            NodeOutcome {
                node: plan.nodes[i].name.clone(),
                key: ended.key,
                outcome: ended.outcome,
            }
        })
        .collect();
    if let BlobCheck::Recorded(verified) = shared.blobs.as_ref() {
        let made = std::mem::take(&mut *shared.made.lock().expect("made lock"));
        verified.save(shared.store.primary(), made).await;
    }
    Ok(RunReport {
        nodes,
        blob_bytes_read: shared.store.primary().blob_bytes_read() - read_before,
    })
}

struct NodeAction {
    index: usize,
    shared: Arc<Shared>,
}

#[dagrs::async_trait::async_trait]
impl Action for NodeAction {
    async fn run(
        &self,
        input: &mut InChannels,
        output: &mut OutChannels,
        _env: Arc<EnvVar>,
    ) -> Output {
        let shared = &self.shared;
        let mut upstream: HashMap<String, Arc<Manifest>> = HashMap::new();
        let mut failed_upstream = None;
        for sender in input.get_sender_ids() {
            let message = input.recv_from(&sender).await.ok();
            match message.as_ref().and_then(|c| c.get::<(String, Done)>()) {
                Some((name, Done::Ok(m))) => {
                    upstream.insert(name.clone(), m.clone());
                }
                Some((name, Done::Failed)) => failed_upstream = Some(name.clone()),
                None => failed_upstream = Some("an upstream node".into()),
            }
        }
        let node = &shared.plan.nodes[self.index];
        let outcome = {
            let _permit = shared
                .limit
                .acquire()
                .await
                .expect("semaphore is never closed");
            shared.overall.set_message(node.name.clone());
            shared
                .bring_up_to_date(self.index, &upstream, failed_upstream)
                .await
        };
        let done = match &outcome {
            Ok((manifest, _)) => Done::Ok(manifest.clone()),
            Err(_) => Done::Failed,
        };
        let recorded = match outcome {
            Ok((manifest, o)) => Ended {
                key: Some(manifest.key.clone()),
                outcome: o,
            },
            Err(NodeError::Skipped(up)) => Ended {
                key: None,
                outcome: Outcome::Skipped {
                    failed_upstream: up,
                },
            },
            Err(NodeError::Failed { key, error }) => {
                shared
                    .bars
                    .suspend(|| eprintln!("error: node `{}` failed: {error}", node.name));
                Ended {
                    key,
                    outcome: Outcome::Failed { error },
                }
            }
        };
        shared
            .outcomes
            .lock()
            .expect("outcomes lock")
            .insert(self.index, recorded);
        shared.overall.inc(1);
        output
            .broadcast(Content::new((node.name.clone(), done)))
            .await;
        Output::empty()
    }
}

enum NodeError {
    Skipped(String),
    Failed { key: Option<String>, error: String },
}

impl Shared {
    async fn bring_up_to_date(
        &self,
        index: usize,
        upstream: &HashMap<String, Arc<Manifest>>,
        failed_upstream: Option<String>,
    ) -> Result<(Arc<Manifest>, Outcome), NodeError> {
        let node = &self.plan.nodes[index];
        if let Some(up) = failed_upstream {
            return Err(NodeError::Skipped(up));
        }
        let inputs = input_digests(node, |u| {
            upstream.get(&self.plan.nodes[u].name).map(|m| m.as_ref())
        })
        .ok_or_else(|| NodeError::Skipped("an upstream node".into()))?;
        let key = KeyMaterial::of(node, inputs.clone()).key();
        let fail = |error: String| NodeError::Failed {
            key: Some(key.clone()),
            error,
        };
        let freshness = if self.force[index] {
            Freshness::Stale("forced".into())
        } else {
            judge(&self.store, &key, &self.blobs, true)
                .await
                .map_err(|e| fail(e.to_string()))?
        };
        let record = NodeRecord::of(&self.plan, node, &key, &inputs);
        let reason = match freshness {
            Freshness::Fresh(manifest) | Freshness::Remote(manifest) if self.check[index] => {
                let outcome = self
                    .check(node, &key, &inputs, upstream, &manifest)
                    .await
                    .map_err(fail)?;
                return Ok((manifest, outcome));
            }
            Freshness::Fresh(manifest) | Freshness::Remote(manifest) => {
                self.write_ref(node, &record);
                return Ok((manifest, Outcome::Cached));
            }
            Freshness::Stale(reason) => reason,
        };
        let replace = reason != MISSING;
        let reason = if replace {
            reason
        } else {
            explain(&record, self.refs.read(&node.name).as_ref()).join("; ")
        };
        if self.frozen {
            return Err(fail(format!("--frozen, and it would run: {reason}")));
        }
        let started = Instant::now();
        let spec = self.spec(node, &key, &inputs, upstream, replace);
        let manifest = self.execute(node, spec, upstream).await.map_err(fail)?;
        self.write_ref(node, &record);
        self.made
            .lock()
            .expect("made lock")
            .extend(manifest.files.values().map(|f| f.blake3.clone()));
        if let Some(line) = warning_summary(&node.name, &manifest) {
            self.bars.suspend(|| eprintln!("{line}"));
        }
        let seconds = started.elapsed().as_secs_f64();
        self.bars
            .suspend(|| eprintln!("ran    {} ({seconds:.2} s; {reason})", node.name));
        Ok((Arc::new(manifest), Outcome::Ran { seconds, reason }))
    }

    fn write_ref(&self, node: &PlannedNode, record: &NodeRecord) {
        if let Err(e) = self.refs.write(&node.name, record) {
            tracing::warn!("cannot record node {}: {e}", node.name);
        }
    }

    /// Recomputes a committed node into a scratch store and names the
    /// outputs whose bytes differ from the committed ones.
    async fn check(
        &self,
        node: &PlannedNode,
        key: &str,
        inputs: &BTreeMap<String, Vec<String>>,
        upstream: &HashMap<String, Arc<Manifest>>,
        committed: &Manifest,
    ) -> Result<Outcome, String> {
        let scratch = ArtifactStore::new(
            storage::Store::open("memory://", &self.base_dir).map_err(|e| e.to_string())?,
            None,
        );
        let started = Instant::now();
        // `--check` computes every item: its scratch store holds none.
        let spec = self.spec(node, key, inputs, upstream, false);
        let recomputed = self.compute_here(node, &spec, upstream, &scratch).await?;
        let seconds = started.elapsed().as_secs_f64();
        let mut differences = Vec::new();
        let names: std::collections::BTreeSet<&String> = committed
            .files
            .keys()
            .chain(recomputed.files.keys())
            .collect();
        for name in names {
            let digest = |m: &Manifest| m.files.get(name).map(|f| f.blake3.clone());
            match (digest(committed), digest(&recomputed)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) => differences.push(format!(
                    "output `{name}`: committed blob {a}, recomputed {b}"
                )),
                (Some(_), None) => differences.push(format!("output `{name}`: not recomputed")),
                (None, _) => differences.push(format!("output `{name}`: not committed")),
            }
        }
        let verdict = match differences.len() {
            0 => "the same bytes".to_string(),
            n => format!("{n} output(s) differ"),
        };
        self.bars
            .suspend(|| eprintln!("check  {} ({seconds:.2} s): {verdict}", node.name));
        Ok(Outcome::Checked {
            seconds,
            differences,
        })
    }

    /// The node as a computation needs it.
    fn spec(
        &self,
        node: &PlannedNode,
        key: &str,
        digests: &BTreeMap<String, Vec<String>>,
        upstream: &HashMap<String, Arc<Manifest>>,
        replace: bool,
    ) -> NodeSpec {
        NodeSpec {
            node: node.name.clone(),
            stage: node.stage.name().to_string(),
            stage_version: node.stage.version(),
            params: node.params.clone(),
            key: key.to_string(),
            material: KeyMaterial::of(node, BTreeMap::new()),
            inputs: node
                .inputs
                .iter()
                .map(|(slot, ups)| {
                    let refs = ups
                        .iter()
                        .filter_map(|&u| {
                            let name = &self.plan.nodes[u].name;
                            upstream.get(name).map(|m| UpstreamRef {
                                node: name.clone(),
                                key: m.key.clone(),
                            })
                        })
                        .collect();
                    (slot.clone(), refs)
                })
                .collect(),
            input_digests: digests.clone(),
            sources: node.source_hashes(),
            base_dir: self.base_dir.clone(),
            local_roots: self.local_roots.clone(),
            replace,
        }
    }

    /// Slot -> the upstream manifests, in config order.
    fn slots(
        &self,
        node: &PlannedNode,
        upstream: &HashMap<String, Arc<Manifest>>,
    ) -> BTreeMap<String, Vec<Arc<Manifest>>> {
        node.inputs
            .iter()
            .map(|(slot, ups)| {
                let manifests = ups
                    .iter()
                    .filter_map(|&u| upstream.get(&self.plan.nodes[u].name).cloned())
                    .collect();
                (slot.clone(), manifests)
            })
            .collect()
    }

    /// Computes the node here, committing to `target` (the store, or
    /// `--check`'s scratch store).
    async fn compute_here(
        &self,
        node: &PlannedNode,
        spec: &NodeSpec,
        upstream: &HashMap<String, Arc<Manifest>>,
        target: &ArtifactStore,
    ) -> Result<Manifest, String> {
        let files = read_sources(node)?;
        let computer = Computer {
            store: self.store.clone(),
            blobs: self.blobs.clone(),
            bars: self.bars.clone(),
        };
        computer
            .compute(
                spec,
                node.stage.clone(),
                files,
                &self.slots(node, upstream),
                target,
            )
            .await
    }

    /// Runs the node on the executor and returns its committed manifest.
    async fn execute(
        &self,
        node: &PlannedNode,
        spec: NodeSpec,
        upstream: &HashMap<String, Arc<Manifest>>,
    ) -> Result<Manifest, String> {
        match &self.executor {
            Executor::Local => self.compute_here(node, &spec, upstream, &self.store).await,
            Executor::Cluster(cluster) => {
                let files = read_sources(node)?;
                cluster.run(spec, files).await
            }
        }
    }
}

/// The external files a node reads, checked against the hashes in its key.
fn read_sources(node: &PlannedNode) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    for (param, source) in &node.sources {
        let bytes = source.read()?;
        if blake3::hash(&bytes).to_hex().as_str() != source.blake3 {
            return Err(format!(
                "{} changed while the pipeline was running",
                source.path.display()
            ));
        }
        files.insert(param.clone(), bytes);
    }
    Ok(files)
}

/// One line for a node's warnings (the `warnings` of its manifest's
/// metadata): the first of them and how many more, so that a stage that
/// warns per track or per iteration does not flood the terminal;
/// `pipeline show` lists them all.
fn warning_summary(node: &str, manifest: &Manifest) -> Option<String> {
    let warnings = manifest.metadata.get("warnings")?.as_array()?;
    let first = warnings.first()?;
    let text = first
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| first.to_string());
    Some(match warnings.len() {
        1 => format!("warning: node `{node}`: {text}"),
        n => format!(
            "warning: node `{node}`: {text} (and {} more; `pipeline show {node}` lists them)",
            n - 1
        ),
    })
}
