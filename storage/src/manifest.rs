use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{hash_bytes, Result, StoreError};

/// One output file of a node: a content-addressed blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// blake3 of the bytes, lowercase hex; also the blob's address.
    pub blake3: String,
    pub size: u64,
    /// `parquet` for Arrow tables, `json`, or `bytes`.
    pub format: String,
}

/// What a node produced, and everything its key was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub key: String,
    /// The node that first produced it (informational: not part of the key).
    pub node: String,
    pub stage: String,
    pub stage_version: u32,
    /// Canonical parameters, defaults applied.
    pub params: serde_json::Value,
    /// Input slot -> keys of the upstream nodes, in order.
    pub inputs: BTreeMap<String, Vec<String>>,
    /// External file (as named in pipeline.yaml) -> blake3 of its bytes.
    pub sources: BTreeMap<String, String>,
    /// Output name -> blob.
    pub files: BTreeMap<String, FileRef>,
    /// What the stage reported about its run (counts, warnings).
    #[serde(default)]
    pub metadata: serde_json::Value,
    pub tool_version: String,
}

/// The sealed form on disk: the manifest and the blake3 of its JSON, so a
/// truncated or torn manifest is recognised and never trusted.
#[derive(Serialize, Deserialize)]
struct Sealed {
    blake3: String,
    manifest: serde_json::Value,
}

/// What a store holds under a key. Short-lived, one at a time: the size
/// difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ManifestState {
    Found(Manifest),
    Missing,
    /// Present but unreadable, torn, or for another key: never trusted.
    Invalid(String),
}

impl Manifest {
    /// Serialises with a self-checksum.
    pub fn seal(&self) -> Result<Vec<u8>> {
        let value = serde_json::to_value(self).map_err(|e| self.err(e.to_string()))?;
        let body = serde_json::to_vec(&value).map_err(|e| self.err(e.to_string()))?;
        let sealed = Sealed {
            blake3: hash_bytes(&body),
            manifest: value,
        };
        serde_json::to_vec_pretty(&sealed).map_err(|e| self.err(e.to_string()))
    }

    /// Parses and checks a sealed manifest that should carry `key`.
    pub fn unseal(key: &str, bytes: &[u8]) -> ManifestState {
        let sealed: Sealed = match serde_json::from_slice(bytes) {
            Ok(s) => s,
            Err(e) => return ManifestState::Invalid(format!("unreadable manifest: {e}")),
        };
        let body = match serde_json::to_vec(&sealed.manifest) {
            Ok(b) => b,
            Err(e) => return ManifestState::Invalid(e.to_string()),
        };
        if hash_bytes(&body) != sealed.blake3 {
            return ManifestState::Invalid("manifest checksum mismatch".into());
        }
        match serde_json::from_value::<Manifest>(sealed.manifest) {
            Ok(m) if m.key == key => ManifestState::Found(m),
            Ok(m) => ManifestState::Invalid(format!("manifest carries key {}", m.key)),
            Err(e) => ManifestState::Invalid(format!("malformed manifest: {e}")),
        }
    }

    fn err(&self, reason: String) -> StoreError {
        StoreError::Manifest {
            key: self.key.clone(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            key: "k1".into(),
            node: "n".into(),
            stage: "s".into(),
            stage_version: 1,
            params: serde_json::json!({"a": 1.5}),
            inputs: BTreeMap::new(),
            sources: BTreeMap::new(),
            files: BTreeMap::new(),
            metadata: serde_json::Value::Null,
            tool_version: "0".into(),
        }
    }

    #[test]
    fn seal_round_trips() {
        let bytes = sample().seal().unwrap();
        match Manifest::unseal("k1", &bytes) {
            ManifestState::Found(m) => assert_eq!(m, sample()),
            other => panic!("{other:?}"),
        }
    }

    /// Metadata full of arbitrary floats (losses, log-likelihoods) must
    /// unseal: the checksum is over the re-serialised value, so parsing has
    /// to give back every float exactly (serde_json's float_roundtrip).
    #[test]
    fn arbitrary_floats_survive_the_seal() {
        let mut m = sample();
        let mut x = 0.123_456_789_f64;
        let floats: Vec<f64> = (0..2000)
            .map(|i| {
                x = (x * 3.987_654_321 + 0.1).fract() * 10f64.powi(i % 40 - 20);
                x
            })
            .collect();
        m.metadata = serde_json::json!({ "values": floats });
        let bytes = m.seal().unwrap();
        assert!(matches!(
            Manifest::unseal("k1", &bytes),
            ManifestState::Found(_)
        ));
    }

    #[test]
    fn truncated_or_edited_manifest_is_invalid() {
        let bytes = sample().seal().unwrap();
        let cut = &bytes[..bytes.len() - 5];
        assert!(matches!(
            Manifest::unseal("k1", cut),
            ManifestState::Invalid(_)
        ));
        let edited = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("1.5", "2.5");
        assert!(matches!(
            Manifest::unseal("k1", edited.as_bytes()),
            ManifestState::Invalid(_)
        ));
        assert!(matches!(
            Manifest::unseal("other", &bytes),
            ManifestState::Invalid(_)
        ));
    }
}
