use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3ConfigKey;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};

use s3_env::s3_builder;

use crate::{Result, StoreError};

/// Opens a store location: `s3://bucket[/prefix]`, `memory://`, or a local
/// directory (relative paths are taken from `base_dir`).
///
/// S3 settings come from the usual `AWS_*` variables (`AWS_ENDPOINT_URL`,
/// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...). Plain http is allowed when the
/// endpoint says so, which is what a loopback test server needs. Retries are
/// bounded so that an unreachable server turns into a clear error quickly.
pub fn open_location(location: &str, base_dir: &Path) -> Result<(Arc<dyn ObjectStore>, String)> {
    let bad = |reason: String| StoreError::Location {
        location: location.to_string(),
        reason,
    };
    if let Some(rest) = location.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket name after s3://".into()));
        }
        let s3 = s3_builder(bucket)
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                "5s",
            )
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "300s")
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: Duration::from_secs(20),
            })
            .build()
            .map_err(|e| bad(e.to_string()))?;
        let store: Arc<dyn ObjectStore> = Arc::new(s3);
        let prefix = prefix.trim_matches('/').to_string();
        return Ok((store, prefix));
    }
    if location == "memory://" {
        return Ok((Arc::new(InMemory::new()), String::new()));
    }
    if !is_local(location) {
        return Err(bad(
            "unsupported scheme: use a directory, s3://bucket/prefix or memory://".into(),
        ));
    }
    let dir = base_dir.join(location);
    std::fs::create_dir_all(&dir)
        .map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
    let local = LocalFileSystem::new_with_prefix(&dir).map_err(|e| bad(e.to_string()))?;
    Ok((Arc::new(local), String::new()))
}

/// Whether `location` names a directory (not s3:// or memory://).
pub(crate) fn is_local(location: &str) -> bool {
    !location.contains("://")
}
