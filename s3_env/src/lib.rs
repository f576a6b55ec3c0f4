//! An S3 client configured from the environment, one way for the two
//! places that talk to S3: the artifact store (`storage`) and the fetch
//! stage's `s3://` sources (`stages`), which must not depend on each other.

use object_store::aws::AmazonS3Builder;

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
