//! The download cache of `fetch`: remote bytes kept on local disk, so that a
//! fetch node whose key changed (a track was added to the manifest, a
//! parameter changed) downloads only what it has never downloaded before.
//!
//! The artifact store cannot serve this: its per-item records belong to one
//! node key, and a stage never reads the store. So fetch keeps, beside it,
//! `<dir>/blobs/<2 hex>/<blake3>` (the bytes, content-addressed) and
//! `<dir>/uris/<blake3 of the uri>` (the blake3 of what that uri served last).
//! Every hit is re-hashed before use, and checked against the manifest's
//! checksums like a fresh download, so a damaged cache costs a download,
//! never a wrong result. Writes go to a temporary file renamed into place,
//! so concurrent runs can share the directory. Local files are not cached.
//!
//! The directory is `.pipeline/fetch-cache` beside pipeline.yaml, or
//! `$PIPELINE_FETCH_CACHE` (relative to pipeline.yaml's directory, or
//! absolute); `PIPELINE_FETCH_CACHE=off` disables it. Deleting it at any
//! time is safe. It does not enter node keys: it never changes what a node
//! produces for a given manifest, only how the bytes are obtained.

use std::path::{Path, PathBuf};

/// The variable that moves or disables the cache.
pub const ENV: &str = "PIPELINE_FETCH_CACHE";

pub struct DownloadCache {
    dir: PathBuf,
}

impl DownloadCache {
    /// The cache for a pipeline whose pipeline.yaml is in `base_dir`, unless
    /// disabled.
    pub fn open(base_dir: &Path) -> Option<DownloadCache> {
        let dir = match std::env::var(ENV) {
            Ok(v) if v.is_empty() || v.eq_ignore_ascii_case("off") => return None,
            Ok(v) => base_dir.join(v),
            Err(_) => base_dir.join(".pipeline").join("fetch-cache"),
        };
        Some(DownloadCache { dir })
    }

    #[cfg(test)]
    pub fn at(dir: &Path) -> DownloadCache {
        DownloadCache {
            dir: dir.to_path_buf(),
        }
    }

    fn blob_path(&self, hash: &str) -> PathBuf {
        self.dir.join("blobs").join(&hash[..2]).join(hash)
    }

    fn uri_path(&self, uri: &str) -> PathBuf {
        self.dir
            .join("uris")
            .join(blake3::hash(uri.as_bytes()).to_hex().as_str())
    }

    /// Intact bytes with the manifest's blake3 (when it gives one) or that
    /// `uri` served before.
    pub fn get(&self, uri: &str, blake3: Option<&str>) -> Option<Vec<u8>> {
        let by_uri = std::fs::read_to_string(self.uri_path(uri))
            .ok()
            .map(|s| s.trim().to_string());
        let candidates = blake3
            .map(str::to_ascii_lowercase)
            .into_iter()
            .chain(by_uri);
        for hash in candidates {
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let Ok(bytes) = std::fs::read(self.blob_path(&hash)) else {
                continue;
            };
            if blake3::hash(&bytes).to_hex().as_str() == hash {
                return Some(bytes);
            }
        }
        None
    }

    /// Keeps `bytes` (whose blake3 is `hash`) as what `uri` serves. Best
    /// effort: a cache that cannot be written is only a slower next run.
    pub fn put(&self, uri: &str, bytes: &[u8], hash: &str) -> bool {
        let blob = self.blob_path(hash);
        let stored = blob.exists() || write_atomically(&blob, bytes).is_ok();
        stored && write_atomically(&self.uri_path(uri), hash.as_bytes()).is_ok()
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".tmp-{}-{:016x}",
        std::process::id(),
        fastrand::u64(..)
    ));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_are_verified() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DownloadCache::at(dir.path());
        let uri = "http://x/a.wav";
        assert_eq!(cache.get(uri, None), None);
        let hash = blake3::hash(b"audio").to_hex().to_string();
        assert!(cache.put(uri, b"audio", &hash));
        assert_eq!(cache.get(uri, None).as_deref(), Some(&b"audio"[..]));
        // By the manifest's checksum, even under another uri.
        assert_eq!(
            cache
                .get("http://y/b.wav", Some(&hash.to_uppercase()))
                .as_deref(),
            Some(&b"audio"[..])
        );
        // A damaged blob is a miss.
        std::fs::write(cache.blob_path(&hash), b"audiO").unwrap();
        assert_eq!(cache.get(uri, None), None);
    }
}
