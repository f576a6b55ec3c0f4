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
use stages::{ItemSource, Outputs, Params, StageContext, Upstream, UpstreamFiles};
use storage::{table, ArtifactStore, BlobState, FileRef, ItemRecord, Manifest};
use tokio::sync::Semaphore;

use crate::error::{PipelineError, Result};
use crate::freshness::{judge, retry_pending, BlobCheck, Freshness, MISSING};
use crate::keys::{input_digests, ItemMaterial, KeyMaterial};
use crate::plan::{Plan, PlannedNode};
use crate::refs::{explain, NodeRecord, Refs};
use crate::verified::Verified;

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
        let manifest = self
            .compute(node, &key, &inputs, upstream, replace, &self.store)
            .await
            .map_err(fail)?;
        self.write_ref(node, &record);
        self.made
            .lock()
            .expect("made lock")
            .extend(manifest.files.values().map(|f| f.blake3.clone()));
        if let Some(warnings) = manifest.metadata.get("warnings").and_then(|w| w.as_array()) {
            for w in warnings {
                let text = w
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| w.to_string());
                self.bars
                    .suspend(|| eprintln!("warning: node `{}`: {text}", node.name));
            }
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
        let recomputed = self
            .compute(node, key, inputs, upstream, false, &scratch)
            .await?;
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

    /// Runs the node's stage and commits its outputs to `target` (the
    /// store, or `--check`'s scratch store).
    async fn compute(
        &self,
        node: &PlannedNode,
        key: &str,
        digests: &BTreeMap<String, Vec<String>>,
        upstream: &HashMap<String, Arc<Manifest>>,
        replace: bool,
        target: &ArtifactStore,
    ) -> Result<Manifest, String> {
        let mut files = BTreeMap::new();
        for (param, source) in &node.sources {
            let bytes = std::fs::read(&source.path)
                .map_err(|e| format!("cannot read {}: {e}", source.path.display()))?;
            if blake3::hash(&bytes).to_hex().as_str() != source.blake3 {
                return Err(format!(
                    "{} changed while the pipeline was running",
                    source.path.display()
                ));
            }
            files.insert(param.clone(), bytes);
        }
        let mut inputs: BTreeMap<String, Vec<Upstream>> = BTreeMap::new();
        for (slot, ups) in &node.inputs {
            let mut list = Vec::new();
            for &u in ups {
                let name = &self.plan.nodes[u].name;
                let manifest = upstream
                    .get(name)
                    .ok_or_else(|| format!("input `{slot}`: node `{name}` produced nothing"))?;
                list.push(Upstream {
                    node: name.clone(),
                    files: Arc::new(StoredFiles {
                        store: self.store.clone(),
                        manifest: manifest.clone(),
                        runtime: tokio::runtime::Handle::current(),
                    }),
                });
            }
            inputs.insert(slot.clone(), list);
        }
        let stage = node.stage.clone();
        let params = Params(node.params.clone());
        let bar = self.bars.add(ProgressBar::new(0));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} {wide_msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix("  node");
        bar.set_message(node.name.clone());
        let progress = BarProgress {
            bar: bar.clone(),
            node: node.name.clone(),
        };
        // `--check` computes every item: its scratch store holds none.
        let items = ItemKeys {
            material: KeyMaterial::of(node, BTreeMap::new()),
            upstream: node
                .inputs
                .iter()
                .map(|(slot, ups)| {
                    let manifests = ups
                        .iter()
                        .filter_map(|&u| upstream.get(&self.plan.nodes[u].name).cloned())
                        .collect();
                    (slot.clone(), manifests)
                })
                .collect(),
        };
        let sink = Arc::new(
            StoreSink::resume(
                target.clone(),
                key.to_string(),
                replace,
                items,
                self.blobs.clone(),
            )
            .await
            .map_err(|e| e.to_string())?,
        );
        let stage_sink = sink.clone();
        let name = node.name.clone();
        let base_dir = self.base_dir.clone();
        let local_roots = self.local_roots.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let ctx = StageContext {
                node: &name,
                params: &params,
                inputs: &inputs,
                files: &files,
                progress: &progress,
                sink: stage_sink.as_ref(),
                base_dir: &base_dir,
                local_roots: &local_roots,
            };
            stage.run(&ctx)
        })
        .await;
        bar.finish_and_clear();
        let outputs = match joined {
            Ok(Ok(outputs)) => outputs,
            Ok(Err(e)) => return Err(format!("stage `{}`: {e}", node.stage.name())),
            Err(e) => return Err(format!("stage `{}` panicked: {e}", node.stage.name())),
        };
        let manifest = self
            .commit(
                node,
                key,
                digests,
                upstream,
                sink.emitted(),
                outputs,
                replace,
                target,
            )
            .await
            .map_err(|e| e.to_string())?;
        // A node that asks for another try keeps its journal for it.
        if retry_pending(&manifest).is_none() {
            if let Err(e) = target.primary().delete_checkpoints(key).await {
                tracing::warn!("node {}: could not drop its checkpoints: {e}", node.name);
            }
        }
        Ok(manifest)
    }

    #[allow(clippy::too_many_arguments)]
    async fn commit(
        &self,
        node: &PlannedNode,
        key: &str,
        inputs: &BTreeMap<String, Vec<String>>,
        upstream: &HashMap<String, Arc<Manifest>>,
        mut files: BTreeMap<String, FileRef>,
        outputs: Outputs,
        replace: bool,
        target: &ArtifactStore,
    ) -> Result<Manifest> {
        let mut in_memory = HashMap::new();
        for (name, output) in outputs.files {
            let (bytes, format) = encode(&name, output)?;
            files.insert(
                name.clone(),
                target.put_blob(bytes.clone(), format, replace).await?,
            );
            in_memory.insert(name, bytes);
        }
        recheck(target, node, &files, &in_memory).await?;
        let manifest = Manifest {
            key: key.to_string(),
            node: node.name.clone(),
            stage: node.stage.name().to_string(),
            stage_version: node.stage.version(),
            params: serde_json::Value::Object(node.params.clone()),
            inputs: node
                .inputs
                .iter()
                .map(|(slot, ups)| {
                    let keys = ups
                        .iter()
                        .filter_map(|&u| upstream.get(&self.plan.nodes[u].name))
                        .map(|m| m.key.clone())
                        .collect();
                    (slot.clone(), keys)
                })
                .collect(),
            input_digests: inputs.clone(),
            sources: node.source_hashes(),
            files,
            metadata: serde_json::Value::Object(outputs.metadata),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        target.commit(&manifest, replace).await?;
        Ok(manifest)
    }
}

/// Checks, right before the manifest is written, that every blob it
/// names is in the primary store (a blob that existed when it was put
/// may have been deleted since by a gc that ignored our lease). One
/// still in memory is put again; an emitted one that vanished fails the
/// node, and its re-run recomputes only the items that are gone.
async fn recheck(
    store: &ArtifactStore,
    node: &PlannedNode,
    files: &BTreeMap<String, FileRef>,
    in_memory: &HashMap<String, bytes::Bytes>,
) -> Result<()> {
    let primary = store.primary();
    let entries: Vec<(&String, &FileRef)> = files.iter().collect();
    for chunk in entries.chunks(16) {
        let present =
            futures::future::try_join_all(chunk.iter().map(|(_, f)| primary.has_blob(&f.blake3)))
                .await?;
        for (&(name, file), present) in chunk.iter().zip(present) {
            if present {
                continue;
            }
            let Some(bytes) = in_memory.get(name) else {
                return Err(PipelineError::Failed(format!(
                    "node `{}`: output `{name}` (blob {}) vanished from store {} before \
                         its manifest was written; nothing was committed, and a re-run \
                         recomputes what is gone",
                    node.name,
                    file.blake3,
                    primary.label()
                )));
            };
            store.put_blob(bytes.clone(), &file.format, true).await?;
        }
    }
    Ok(())
}

/// An output file as stored bytes and its format.
fn encode(name: &str, output: stages::Output) -> Result<(bytes::Bytes, &'static str)> {
    Ok(match output {
        stages::Output::Table(batch) => (table::to_parquet(name, &batch)?, "parquet"),
        stages::Output::Json(value) => (
            serde_json::to_vec_pretty(&value)
                .expect("JSON values serialise")
                .into(),
            "json",
        ),
        stages::Output::Bytes(bytes) => (bytes.into(), "bytes"),
    })
}

/// The checkpoint in which the engine records what a node emitted so far.
const EMITTED: &str = "_emitted.json";

/// How many emits may go unrecorded before the record is rewritten.
const EMITS_PER_RECORD: usize = 16;

/// What keys a node's items (per-item reuse across nodes).
struct ItemKeys {
    /// The node's key material without its inputs.
    material: KeyMaterial,
    /// Slot -> the upstream manifests, whose files' digests key items.
    upstream: BTreeMap<String, Vec<Arc<Manifest>>>,
}

impl ItemKeys {
    fn key(&self, item: &[ItemSource]) -> Result<String, String> {
        let parts = item
            .iter()
            .map(|source| match source {
                ItemSource::Text(text) => Ok(format!("text:{text}")),
                ItemSource::File { slot, file } => self
                    .upstream
                    .get(*slot)
                    .and_then(|ms| ms.iter().find_map(|m| m.files.get(*file)))
                    .map(|f| format!("file:{}", f.blake3))
                    .ok_or_else(|| format!("input `{slot}` has no file `{file}`")),
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(ItemMaterial {
            node: &self.material,
            item: parts,
        }
        .key())
    }
}

/// The engine's side of [`stages::Sink`]: emitted files go to the store at
/// once and are recorded in a checkpoint, so an interrupted node keeps them;
/// items are also recorded under their own keys, for any node to reuse.
struct StoreSink {
    store: ArtifactStore,
    key: String,
    replace: bool,
    runtime: tokio::runtime::Handle,
    items: ItemKeys,
    /// How a reused item's blobs are judged intact.
    blobs: Arc<BlobCheck>,
    /// Items found with a damaged blob: their recomputed blobs replace it.
    damaged: Mutex<std::collections::HashSet<String>>,
    /// Files emitted so far, and how many since the last record.
    emitted: Mutex<(BTreeMap<String, FileRef>, usize)>,
}

impl StoreSink {
    /// Starts with whatever an earlier attempt at `key` emitted and that is
    /// still intact.
    async fn resume(
        store: ArtifactStore,
        key: String,
        replace: bool,
        items: ItemKeys,
        blobs: Arc<BlobCheck>,
    ) -> Result<Self> {
        let mut kept = BTreeMap::new();
        if let Some(bytes) = store.primary().get_checkpoint(&key, EMITTED).await? {
            let earlier: BTreeMap<String, FileRef> =
                serde_json::from_slice(&bytes).unwrap_or_default();
            for (name, file) in earlier {
                if store.primary().check_blob(&file.blake3).await? == BlobState::Ok {
                    kept.insert(name, file);
                }
            }
        }
        Ok(StoreSink {
            store,
            key,
            replace,
            runtime: tokio::runtime::Handle::current(),
            items,
            blobs,
            damaged: Mutex::default(),
            emitted: Mutex::new((kept, 0)),
        })
    }

    fn emitted(&self) -> BTreeMap<String, FileRef> {
        self.emitted.lock().expect("emitted lock").0.clone()
    }

    fn record(&self, files: &BTreeMap<String, FileRef>) -> Result<(), String> {
        let bytes = serde_json::to_vec(files).expect("file refs serialise");
        self.runtime
            .block_on(
                self.store
                    .primary()
                    .put_checkpoint(&self.key, EMITTED, bytes.into()),
            )
            .map_err(|e| e.to_string())
    }

    /// Puts one output's blob.
    fn put(&self, name: &str, output: stages::Output, replace: bool) -> Result<FileRef, String> {
        let (bytes, format) = encode(name, output).map_err(|e| e.to_string())?;
        self.runtime
            .block_on(self.store.put_blob(bytes, format, replace))
            .map_err(|e| e.to_string())
    }

    /// Counts a stored file as emitted, recording the list now and then.
    fn note(&self, name: &str, file: FileRef) -> Result<(), String> {
        let mut guard = self.emitted.lock().expect("emitted lock");
        guard.0.insert(name.to_string(), file);
        guard.1 += 1;
        if guard.1 >= EMITS_PER_RECORD {
            guard.1 = 0;
            let snapshot = guard.0.clone();
            drop(guard);
            self.record(&snapshot)?;
        }
        Ok(())
    }
}

impl stages::Sink for StoreSink {
    fn emit(&self, name: &str, output: stages::Output) -> Result<(), String> {
        let file = self.put(name, output, self.replace)?;
        self.note(name, file)
    }

    fn reuse_item(&self, item: &[ItemSource]) -> Result<Option<serde_json::Value>, String> {
        let key = self.items.key(item)?;
        let primary = self.store.primary();
        let found = self
            .runtime
            .block_on(primary.get_item(&key))
            .map_err(|e| e.to_string())?;
        let Some(found) = found else {
            return Ok(None);
        };
        // Reused blobs must be intact: trusted as verified before, or
        // re-hashed (a damaged one makes the item computed again).
        for file in found.files.values() {
            let intact = match self.blobs.as_ref() {
                BlobCheck::Recorded(verified) => {
                    self.runtime
                        .block_on(verified.check(primary, &file.blake3))
                        .map_err(|e| e.to_string())?
                        == BlobState::Ok
                }
                BlobCheck::Listed(_) => {
                    self.runtime
                        .block_on(primary.check_blob(&file.blake3))
                        .map_err(|e| e.to_string())?
                        == BlobState::Ok
                }
            };
            if !intact {
                self.damaged.lock().expect("damaged lock").insert(key);
                return Ok(None);
            }
        }
        for (name, file) in found.files {
            self.note(&name, file)?;
        }
        Ok(Some(found.record))
    }

    fn emit_item(
        &self,
        item: &[ItemSource],
        files: Vec<(String, stages::Output)>,
        record: &serde_json::Value,
    ) -> Result<(), String> {
        let key = self.items.key(item)?;
        let replace = self.replace || self.damaged.lock().expect("damaged lock").remove(&key);
        let mut stored = BTreeMap::new();
        for (name, output) in files {
            let file = self.put(&name, output, replace)?;
            self.note(&name, file.clone())?;
            stored.insert(name, file);
        }
        let item = ItemRecord {
            files: stored,
            record: record.clone(),
        };
        // The item record only saves later nodes work: losing it loses
        // nothing of this node.
        if let Err(e) = self
            .runtime
            .block_on(self.store.primary().put_item(&key, &item))
        {
            tracing::warn!("cannot record item {key}: {e}");
        }
        Ok(())
    }

    fn has(&self, name: &str) -> bool {
        self.emitted
            .lock()
            .expect("emitted lock")
            .0
            .contains_key(name)
    }

    fn save_checkpoint(&self, name: &str, bytes: Vec<u8>) -> Result<(), String> {
        // A stage's own checkpoint counts on the outputs emitted so far:
        // record those first.
        self.record(&self.emitted())?;
        self.runtime
            .block_on(
                self.store
                    .primary()
                    .put_checkpoint(&self.key, name, bytes.into()),
            )
            .map_err(|e| e.to_string())
    }

    fn load_checkpoint(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        self.runtime
            .block_on(self.store.primary().get_checkpoint(&self.key, name))
            .map(|o| o.map(|b| b.to_vec()))
            .map_err(|e| e.to_string())
    }
}

/// An upstream node's committed outputs, read and verified on demand.
struct StoredFiles {
    store: ArtifactStore,
    manifest: Arc<Manifest>,
    runtime: tokio::runtime::Handle,
}

impl StoredFiles {
    fn load(&self, file: &str) -> Result<bytes::Bytes, String> {
        let entry = self.manifest.files.get(file).ok_or_else(|| {
            let names: Vec<&String> = self.manifest.files.keys().collect();
            format!("has no output `{file}` (outputs: {names:?})")
        })?;
        self.runtime
            .block_on(self.store.get_blob(entry))
            .map_err(|e| e.to_string())
    }
}

impl UpstreamFiles for StoredFiles {
    fn has(&self, file: &str) -> bool {
        self.manifest.files.contains_key(file)
    }
    fn table(&self, file: &str) -> Result<arrow::array::RecordBatch, String> {
        table::from_parquet(file, self.load(file)?).map_err(|e| e.to_string())
    }
    fn bytes(&self, file: &str) -> Result<Vec<u8>, String> {
        self.load(file).map(|b| b.to_vec())
    }
}

/// A node's bar; messages are shown after the node's name.
struct BarProgress {
    bar: ProgressBar,
    node: String,
}

impl stages::Progress for BarProgress {
    fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }
    fn advance(&self, items: u64) {
        self.bar.inc(items);
    }
    fn message(&self, text: &str) {
        self.bar.set_message(format!("{}: {text}", self.node));
    }
}
