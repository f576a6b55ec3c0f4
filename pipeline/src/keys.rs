//! Node keys. A key is made of what a node computes (stage, version, the
//! parameters that can change its result, the contents of its files) and
//! the contents of the upstream outputs it reads, as their manifests record
//! them ([`Manifest::outputs_digest`]), never of upstream keys: an upstream
//! that re-runs into the same bytes changes no key below it (early cutoff).
//! So a key is known once every upstream has a committed artifact.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use storage::Manifest;

use crate::plan::PlannedNode;

/// Exactly what a key is computed from: nothing else may change a result.
/// Changing this format changes every key; `golden_keys.json` holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyMaterial {
    pub stage: String,
    pub version: u32,
    /// Parameters that enter the key; a file parameter enters by content
    /// alone, a directory parameter by its path and its listing.
    pub params: BTreeMap<String, Value>,
    /// File parameter -> blake3 of its bytes (of a directory's listing).
    pub sources: BTreeMap<String, String>,
    /// Input slot -> the outputs digest of each upstream, in config order.
    pub inputs: BTreeMap<String, Vec<String>>,
}

impl KeyMaterial {
    /// The material of `node` reading upstream outputs with `inputs`
    /// digests.
    pub fn of(node: &PlannedNode, inputs: BTreeMap<String, Vec<String>>) -> Self {
        let keyed: Vec<&str> = node
            .stage
            .params()
            .iter()
            .filter(|p| p.in_key)
            .map(|p| p.name)
            .collect();
        KeyMaterial {
            stage: node.stage.name().to_string(),
            version: node.stage.version(),
            params: node
                .params
                .iter()
                // A file enters by its hash alone (moving it re-runs
                // nothing); a directory by its path too.
                .filter(|(k, _)| {
                    keyed.contains(&k.as_str()) && node.sources.get(*k).is_none_or(|s| s.dir)
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            sources: node.source_hashes(),
            inputs,
        }
    }

    pub fn key(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("key material serialises");
        blake3::hash(&canonical).to_hex().to_string()
    }
}

/// The key of one item of a per-item stage (see [`stages::ItemSource`]):
/// the node's key material without its inputs, and what determines the
/// item (`file:<digest>` of an upstream file, `text:<value>`), so that any
/// node of the stage with the same parameters shares it.
#[derive(Debug, Serialize)]
pub struct ItemMaterial<'a> {
    pub node: &'a KeyMaterial,
    pub item: Vec<String>,
}

impl ItemMaterial<'_> {
    pub fn key(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("item material serialises");
        blake3::hash(&canonical).to_hex().to_string()
    }
}

/// Slot -> the outputs digest of each upstream of `node`, from the
/// manifests `manifest_of` gives by node index; `None` when one has none.
pub fn input_digests<'m>(
    node: &PlannedNode,
    manifest_of: impl Fn(usize) -> Option<&'m Manifest>,
) -> Option<BTreeMap<String, Vec<String>>> {
    node.inputs
        .iter()
        .map(|(slot, ups)| {
            let digests = ups
                .iter()
                .map(|&u| manifest_of(u).map(Manifest::outputs_digest))
                .collect::<Option<Vec<_>>>()?;
            Some((slot.clone(), digests))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Golden {
        material: KeyMaterial,
        key: String,
    }

    #[derive(Deserialize)]
    struct GoldenDigest {
        files: BTreeMap<String, storage::FileRef>,
        digest: String,
    }

    #[derive(Deserialize)]
    struct GoldenItem {
        node: KeyMaterial,
        item: Vec<String>,
        key: String,
    }

    #[derive(Deserialize)]
    struct Table {
        keys: Vec<Golden>,
        items: Vec<GoldenItem>,
        outputs_digests: Vec<GoldenDigest>,
    }

    #[test]
    fn a_file_enters_a_key_by_its_bytes_a_directory_by_its_path_and_listing() {
        let registry = stages::Registry::standard();
        let key = |stage: &str, param: &str, path: &str, blake3: &str| {
            let stage = registry.find(stage).unwrap();
            let node = PlannedNode {
                name: "n".into(),
                params: crate::params::check(
                    stage.as_ref(),
                    &serde_yaml::from_str(&format!("{{{param}: {path}}}")).unwrap(),
                )
                .unwrap(),
                stage,
                inputs: BTreeMap::new(),
                sources: BTreeMap::from([(
                    param.to_string(),
                    crate::plan::SourceFile {
                        path: path.into(),
                        blake3: blake3.into(),
                        dir: param == "root",
                    },
                )]),
                globs: Vec::new(),
            };
            KeyMaterial::of(&node, BTreeMap::new()).key()
        };
        let file = |path, blake3| key("read_csv", "path", path, blake3);
        assert_eq!(file("a.csv", "h1"), file("moved/a.csv", "h1"));
        assert_ne!(file("a.csv", "h1"), file("a.csv", "h2"));
        let dir = |path, blake3| key("import_folders", "root", path, blake3);
        assert_ne!(dir("genres", "h1"), dir("genres", "h2"));
        assert_ne!(dir("genres", "h1"), dir("moved/genres", "h1"));
    }

    /// A change of key format must be deliberate: it re-runs every study
    /// everywhere. Change `golden_keys.json` only with a note saying why.
    #[test]
    fn key_formats_match_the_golden_table() {
        let table: Table = serde_json::from_str(include_str!("golden_keys.json")).unwrap();
        assert!(table.keys.len() >= 3 && !table.outputs_digests.is_empty());
        for g in &table.keys {
            assert_eq!(g.material.key(), g.key, "key of {:?}", g.material);
        }
        assert!(!table.items.is_empty());
        for g in &table.items {
            let material = ItemMaterial {
                node: &g.node,
                item: g.item.clone(),
            };
            assert_eq!(material.key(), g.key, "item key of {:?}", g.item);
        }
        for g in &table.outputs_digests {
            let manifest = Manifest {
                key: String::new(),
                node: String::new(),
                stage: String::new(),
                stage_version: 0,
                params: Value::Null,
                inputs: BTreeMap::new(),
                input_digests: BTreeMap::new(),
                sources: BTreeMap::new(),
                files: g.files.clone(),
                metadata: Value::Null,
                tool_version: String::new(),
            };
            assert_eq!(
                manifest.outputs_digest(),
                g.digest,
                "digest of {:?}",
                g.files
            );
        }
    }
}
