use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};

use crate::{Result, StoreError};

/// An S3 client for `bucket` configured from the usual `AWS_*` variables
/// (`AWS_ENDPOINT_URL`, `AWS_REGION`, keys), allowing plain http when the
/// endpoint is http (loopback test servers) and defaulting the region.
/// Callers add their own timeouts and retry policy.
pub fn s3_builder(bucket: &str) -> AmazonS3Builder {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .or_else(|_| std::env::var("AWS_ENDPOINT"))
        .unwrap_or_default();
    if endpoint.starts_with("http://") {
        builder = builder.with_allow_http(true);
    }
    if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
        builder = builder.with_region("us-east-1");
    }
    builder
}

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
