//! What each node looked like when it was last brought up to date here:
//! `.pipeline/refs/<node>.json`. Only used to explain why a node must run;
//! never trusted for results (manifests are).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::plan::{Plan, PlannedNode};

/// The inputs of a node's key, with upstream node names for messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub key: String,
    pub stage: String,
    pub stage_version: u32,
    pub params: Map<String, Value>,
    /// Slot -> (upstream node, the digest of the outputs it gave).
    pub inputs: BTreeMap<String, Vec<(String, String)>>,
    /// File parameter -> blake3 of the file.
    pub sources: BTreeMap<String, String>,
}

impl NodeRecord {
    /// The record of `node` under `key`, made from upstream outputs with
    /// digests `inputs` (slot -> digests in config order).
    pub fn of(
        plan: &Plan,
        node: &PlannedNode,
        key: &str,
        inputs: &BTreeMap<String, Vec<String>>,
    ) -> Self {
        NodeRecord {
            key: key.to_string(),
            stage: node.stage.name().to_string(),
            stage_version: node.stage.version(),
            params: node.params.clone(),
            inputs: node
                .inputs
                .iter()
                .map(|(slot, ups)| {
                    let digests = inputs.get(slot).map(Vec::as_slice).unwrap_or_default();
                    let ups = ups
                        .iter()
                        .zip(digests)
                        .map(|(&u, d)| (plan.nodes[u].name.clone(), d.clone()))
                        .collect();
                    (slot.clone(), ups)
                })
                .collect(),
            sources: node.source_hashes(),
        }
    }
}

/// The directory of records.
#[derive(Debug, Clone)]
pub struct Refs {
    dir: PathBuf,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Refs {
    pub fn new(state_dir: &Path) -> Self {
        Refs {
            dir: state_dir.join("refs"),
        }
    }

    /// The record's file; refused for a name that is not a valid node
    /// name, so that no name (`/tmp/x`, `../x`) ever leads outside `dir`,
    /// whatever path built the plan.
    fn path(&self, node: &str) -> std::io::Result<PathBuf> {
        crate::expand::check_name(node).map_err(|why| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("node name `{}` {why}", node.escape_debug()),
            )
        })?;
        Ok(self.dir.join(format!("{node}.json")))
    }

    pub fn read(&self, node: &str) -> Option<NodeRecord> {
        let bytes = std::fs::read(self.path(node).ok()?).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Records `record` unless it is already there; atomic (temp + rename),
    /// so concurrent runs never leave a torn file.
    pub fn write(&self, node: &str, record: &NodeRecord) -> std::io::Result<()> {
        let path = self.path(node)?;
        if self.read(node).as_ref() == Some(record) {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)?;
        let temp = self.dir.join(format!(
            ".{node}.{}.{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&temp, serde_json::to_vec_pretty(record)?)?;
        std::fs::rename(&temp, path)
    }
}

/// Why a node whose key has no artifact must run, compared with its record.
pub fn explain(now: &NodeRecord, before: Option<&NodeRecord>) -> Vec<String> {
    let Some(before) = before else {
        return vec!["never run here: no artifact for its key".into()];
    };
    if before.key == now.key {
        return vec!["artifact missing from the store".into()];
    }
    let mut why = Vec::new();
    if before.stage != now.stage {
        why.push(format!("stage changed: {} -> {}", before.stage, now.stage));
    } else if before.stage_version != now.stage_version {
        why.push(format!(
            "stage `{}` version bumped: {} -> {}",
            now.stage, before.stage_version, now.stage_version
        ));
    }
    let names: std::collections::BTreeSet<&String> =
        before.params.keys().chain(now.params.keys()).collect();
    for name in names {
        match (before.params.get(name), now.params.get(name)) {
            (Some(a), Some(b)) if a != b => {
                why.push(format!("parameter `{name}` changed: {a} -> {b}"))
            }
            (None, Some(b)) => why.push(format!("parameter `{name}` added: {b}")),
            (Some(a), None) => why.push(format!("parameter `{name}` removed (was {a})")),
            _ => {}
        }
    }
    for (param, hash) in &now.sources {
        if before.sources.get(param) != Some(hash) {
            let file = now
                .params
                .get(param)
                .and_then(Value::as_str)
                .unwrap_or(param);
            why.push(format!("input file `{file}` changed"));
        }
    }
    for (slot, ups) in &now.inputs {
        let old = before.inputs.get(slot);
        let old_names: Option<Vec<&String>> = old.map(|o| o.iter().map(|(n, _)| n).collect());
        let new_names: Vec<&String> = ups.iter().map(|(n, _)| n).collect();
        if old_names.as_ref() != Some(&new_names) {
            why.push(format!("input `{slot}` now reads {}", join(&new_names)));
            continue;
        }
        let changed: Vec<&String> = ups
            .iter()
            .zip(old.into_iter().flatten())
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, _)| &a.0)
            .collect();
        if !changed.is_empty() {
            let share = if changed.len() > NAMED {
                format!(" ({} of {})", changed.len(), ups.len())
            } else {
                String::new()
            };
            why.push(format!(
                "input `{slot}` changed: upstream {} gave other outputs{share}",
                join(&changed)
            ));
        }
    }
    if why.is_empty() {
        why.push("key changed".into());
    }
    why
}

/// Upstream names a reason lists before it counts the rest: a glob input
/// of hundreds of nodes would otherwise make a line of thousands of
/// characters.
const NAMED: usize = 3;

fn join(names: &[&String]) -> String {
    let quoted = names.iter().map(|n| format!("`{n}`"));
    stages::table::first_and_count(quoted, names.len(), NAMED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, value: f64, up_key: &str) -> NodeRecord {
        let mut params = Map::new();
        params.insert("value".into(), Value::from(value));
        NodeRecord {
            key: key.into(),
            stage: "derive".into(),
            stage_version: 1,
            params,
            inputs: BTreeMap::from([("table".into(), vec![("a".into(), up_key.into())])]),
            sources: BTreeMap::new(),
        }
    }

    #[test]
    fn explains_parameter_and_input_changes() {
        let before = record("k1", 1.0, "u1");
        let now = record("k2", 2.0, "u2");
        let why = explain(&now, Some(&before));
        assert_eq!(
            why,
            vec![
                "parameter `value` changed: 1.0 -> 2.0".to_string(),
                "input `table` changed: upstream `a` gave other outputs".to_string()
            ]
        );
        let mut bumped = record("k3", 1.0, "u1");
        bumped.stage_version = 2;
        assert_eq!(
            explain(&bumped, Some(&before)),
            vec!["stage `derive` version bumped: 1 -> 2"]
        );
        assert_eq!(
            explain(&before, Some(&before)),
            vec!["artifact missing from the store"]
        );
    }

    #[test]
    fn records_stay_inside_their_directory() {
        let root = tempfile::tempdir().unwrap();
        let refs = Refs::new(&root.path().join("project/.pipeline"));
        let r = record("k", 1.0, "u");
        refs.write("fine", &r).unwrap();
        assert_eq!(refs.read("fine"), Some(r.clone()));
        for bad in ["/../../victim", "../victim", "a/b", ""] {
            let err = refs.write(bad, &r).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
            assert_eq!(refs.read(bad), None);
        }
        let mut everything: Vec<PathBuf> = Vec::new();
        let mut dirs = vec![root.path().to_path_buf()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    everything.push(p);
                }
            }
        }
        assert_eq!(
            everything,
            [root.path().join("project/.pipeline/refs/fine.json")]
        );
    }

    #[test]
    fn many_changed_upstreams_are_counted_not_all_named() {
        let glob = |keys: &[&str]| {
            let mut r = record(&keys.concat(), 1.0, "u");
            let ups = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (format!("eval_{i}"), k.to_string()))
                .collect();
            r.inputs.insert("table".into(), ups);
            r
        };
        let before = glob(&["a", "b", "c", "d", "e", "f"]);
        let now = glob(&["A", "B", "c", "D", "E", "F"]);
        assert_eq!(
            explain(&now, Some(&before)),
            vec![
                "input `table` changed: upstream `eval_0`, `eval_1`, `eval_3` and 2 more \
                 gave other outputs (5 of 6)"
            ]
        );
        let fewer = glob(&["a", "b", "c", "d"]);
        assert_eq!(
            explain(&fewer, Some(&before)),
            vec!["input `table` now reads `eval_0`, `eval_1`, `eval_2` and 1 more"]
        );
    }
}
