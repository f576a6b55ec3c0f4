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
    /// Input slot -> the [`Manifest::outputs_digest`] of each upstream, in
    /// order: an upstream re-run under the same key with other outputs (one
    /// that retried failed items) makes this artifact stale.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub input_digests: BTreeMap<String, Vec<String>>,
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
/// truncated or torn manifest is recognised and never trusted; with a team
/// key, also a keyed blake3 of the same JSON, so that only key holders can
/// write a manifest that is trusted.
#[derive(Serialize, Deserialize)]
struct Sealed {
    blake3: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
    manifest: serde_json::Value,
}

/// A team's secret for authenticated manifests: set, every manifest written
/// is signed with it and every manifest read must carry its valid signature.
/// Whoever can write the bucket can still delete or withhold artifacts, but
/// cannot make a reader trust data its key holders did not produce.
#[derive(Clone)]
pub struct ManifestKey([u8; 32]);

impl ManifestKey {
    /// The variable a team puts its secret in.
    pub const ENV: &'static str = "PIPELINE_MANIFEST_KEY";

    /// A key derived from a secret of at least 16 characters.
    pub fn from_secret(secret: &str) -> Result<Self> {
        if secret.chars().count() < 16 {
            return Err(StoreError::Location {
                location: Self::ENV.into(),
                reason: "the manifest key must be at least 16 characters long".into(),
            });
        }
        Ok(ManifestKey(blake3::derive_key(
            "mdr-pipeline 2026 manifest signatures",
            secret.as_bytes(),
        )))
    }

    /// The key in [`Self::ENV`], if that is set and not empty.
    pub fn from_env() -> Result<Option<Self>> {
        match std::env::var(Self::ENV) {
            Ok(secret) if !secret.is_empty() => Self::from_secret(&secret).map(Some),
            _ => Ok(None),
        }
    }

    pub(crate) fn mac(&self, body: &[u8]) -> blake3::Hash {
        blake3::keyed_hash(&self.0, body)
    }
}

impl std::fmt::Debug for ManifestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ManifestKey(..)")
    }
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
    /// Serialises with a self-checksum, signed when `key` is given.
    pub fn seal(&self, key: Option<&ManifestKey>) -> Result<Vec<u8>> {
        let value = serde_json::to_value(self).map_err(|e| self.err(e.to_string()))?;
        let body = serde_json::to_vec(&value).map_err(|e| self.err(e.to_string()))?;
        let sealed = Sealed {
            blake3: hash_bytes(&body),
            mac: key.map(|k| k.mac(&body).to_hex().to_string()),
            manifest: value,
        };
        serde_json::to_vec_pretty(&sealed).map_err(|e| self.err(e.to_string()))
    }

    /// Parses and checks a sealed manifest that should carry `key`; with
    /// `signer`, an unsigned or wrongly signed one is invalid.
    pub fn unseal(key: &str, bytes: &[u8], signer: Option<&ManifestKey>) -> ManifestState {
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
        if let Some(signer) = signer {
            let valid = sealed
                .mac
                .as_deref()
                .and_then(|m| blake3::Hash::from_hex(m).ok())
                // blake3::Hash compares in constant time.
                .is_some_and(|m| m == signer.mac(&body));
            if !valid {
                let what = if sealed.mac.is_some() {
                    "its signature does not match"
                } else {
                    "it is unsigned"
                };
                return ManifestState::Invalid(format!(
                    "not signed with the team key ({}): {what}",
                    ManifestKey::ENV
                ));
            }
        }
        match serde_json::from_value::<Manifest>(sealed.manifest) {
            Ok(m) if m.key == key => ManifestState::Found(m),
            Ok(m) => ManifestState::Invalid(format!("manifest carries key {}", m.key)),
            Err(e) => ManifestState::Invalid(format!("malformed manifest: {e}")),
        }
    }

    /// blake3 of the output files (names, hashes, sizes, formats).
    pub fn outputs_digest(&self) -> String {
        hash_bytes(&serde_json::to_vec(&self.files).expect("file refs serialise"))
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
            input_digests: BTreeMap::new(),
            sources: BTreeMap::new(),
            files: BTreeMap::new(),
            metadata: serde_json::Value::Null,
            tool_version: "0".into(),
        }
    }

    #[test]
    fn seal_round_trips() {
        let bytes = sample().seal(None).unwrap();
        match Manifest::unseal("k1", &bytes, None) {
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
        let bytes = m.seal(None).unwrap();
        assert!(matches!(
            Manifest::unseal("k1", &bytes, None),
            ManifestState::Found(_)
        ));
    }

    #[test]
    fn truncated_or_edited_manifest_is_invalid() {
        let bytes = sample().seal(None).unwrap();
        let cut = &bytes[..bytes.len() - 5];
        assert!(matches!(
            Manifest::unseal("k1", cut, None),
            ManifestState::Invalid(_)
        ));
        let edited = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("1.5", "2.5");
        assert!(matches!(
            Manifest::unseal("k1", edited.as_bytes(), None),
            ManifestState::Invalid(_)
        ));
        assert!(matches!(
            Manifest::unseal("other", &bytes, None),
            ManifestState::Invalid(_)
        ));
    }

    /// With a team key, only manifests signed with that key are trusted:
    /// not unsigned ones, not ones signed with another key, and not one
    /// whose content was changed and resealed by someone without the key.
    #[test]
    fn signed_manifests_need_the_team_key() {
        let team = ManifestKey::from_secret("team secret, sixteen+").unwrap();
        let other = ManifestKey::from_secret("another secret, 16+").unwrap();
        let signed = sample().seal(Some(&team)).unwrap();
        assert!(matches!(
            Manifest::unseal("k1", &signed, Some(&team)),
            ManifestState::Found(_)
        ));
        // Readers without a key still read signed manifests.
        assert!(matches!(
            Manifest::unseal("k1", &signed, None),
            ManifestState::Found(_)
        ));
        let unsigned = sample().seal(None).unwrap();
        match Manifest::unseal("k1", &unsigned, Some(&team)) {
            ManifestState::Invalid(why) => assert!(why.contains("unsigned"), "{why}"),
            other => panic!("{other:?}"),
        }
        let foreign = sample().seal(Some(&other)).unwrap();
        assert!(matches!(
            Manifest::unseal("k1", &foreign, Some(&team)),
            ManifestState::Invalid(_)
        ));
        // Resealed: the content and its checksum changed, the mac kept.
        let mut value: serde_json::Value = serde_json::from_slice(&signed).unwrap();
        value["manifest"]["params"]["a"] = serde_json::json!(2.5);
        let body = serde_json::to_vec(&value["manifest"]).unwrap();
        value["blake3"] = serde_json::json!(hash_bytes(&body));
        let resealed = serde_json::to_vec(&value).unwrap();
        assert!(matches!(
            Manifest::unseal("k1", &resealed, None),
            ManifestState::Found(_)
        ));
        match Manifest::unseal("k1", &resealed, Some(&team)) {
            ManifestState::Invalid(why) => assert!(why.contains("does not match"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(ManifestKey::from_secret("short").is_err());
    }
}
