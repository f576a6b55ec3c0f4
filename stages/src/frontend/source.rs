//! Where a track's bytes come from: `http(s)://` URLs, `s3://bucket/key`
//! objects, local files (a path relative to pipeline.yaml's directory, or
//! a `file://` URI) and, when fetch has a `files` input, the output files of
//! that node (named by a relative path), and one attempt at reading them.
//!
//! Every attempt ends in the bytes or a [`Failure`] that says whether another
//! attempt could help (see [`super::retry`]). `timeout_s` bounds connecting,
//! the wait for a response, and every wait for more data in the middle of a
//! body: a stalled transfer fails, a slow but moving one does not. A body
//! shorter than the server announced (a connection cut or reset mid-body) is
//! a failure too, never a short file. A source larger than the fetcher's
//! byte limit (announced, or found while reading) is a permanent failure,
//! and is never read whole.
//!
//! Local files are read by [`crate::local_files::read_regular`]: only
//! regular files, within the limit. Which paths may be read at all is
//! decided before (fetch admits every local path of its manifest first).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use object_store::aws::AmazonS3ConfigKey;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, ObjectStoreExt, RetryConfig};

use super::retry::{status_is_transient, Failure};
use crate::api::Upstream;
use crate::local_files::{read_regular, size, Unreadable};

/// A parsed track URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Http(String),
    S3 {
        bucket: String,
        key: String,
    },
    File(PathBuf),
    /// An output file, by name, of the node on fetch's `files` input.
    NodeFile(String),
}

/// What a relative path (plain, or after `file://`) is relative to.
#[derive(Debug, Clone, Copy)]
pub enum Base<'a> {
    /// A directory: pipeline.yaml's.
    Dir(&'a Path),
    /// The node on fetch's `files` input: the path is one of its file names.
    NodeFiles,
}

impl Source {
    /// Parses `uri`; relative paths start at `base`.
    pub fn parse(uri: &str, base: Base) -> Result<Source, String> {
        let Some((scheme, rest)) = uri.split_once("://") else {
            if uri.is_empty() {
                return Err("the uri is empty".into());
            }
            return Ok(Source::path(uri, base));
        };
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "http" | "https" => Ok(Source::Http(uri.to_string())),
            "s3" => match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(Source::S3 {
                    bucket: bucket.to_string(),
                    key: key.to_string(),
                }),
                _ => Err("an s3:// uri needs a bucket and a key: s3://bucket/key".into()),
            },
            "file" => {
                // file:///abs/path and file://localhost/abs/path; anything
                // else after file:// is taken as a path relative to base.
                let rest = match rest.strip_prefix("localhost") {
                    Some(path) if path.starts_with('/') => path,
                    _ => rest,
                };
                let path = percent_decode(rest)?;
                if path.is_empty() {
                    return Err("a file:// uri needs a path".into());
                }
                Ok(Source::path(&path, base))
            }
            other => Err(format!(
                "unsupported scheme `{other}://`: use http(s)://, s3://, file:// or a path"
            )),
        }
    }

    /// A local path: an absolute one as it is, a relative one from `base`.
    fn path(path: &str, base: Base) -> Source {
        match base {
            Base::Dir(dir) => Source::File(dir.join(path)),
            Base::NodeFiles if Path::new(path).is_relative() => Source::NodeFile(path.to_string()),
            Base::NodeFiles => Source::File(path.into()),
        }
    }

    /// Whether reading it goes over the network (and is worth caching).
    pub fn is_remote(&self) -> bool {
        !matches!(self, Source::File(_) | Source::NodeFile(_))
    }
}

/// Decodes `%XX` escapes (as in file:// URIs).
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape at byte {i} of {text:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} does not decode to UTF-8"))
}

/// Makes single attempts at reading sources; shared by the worker threads.
pub struct Fetcher {
    handle: tokio::runtime::Handle,
    /// A runtime of our own when the caller has none (unit tests).
    _own: Option<tokio::runtime::Runtime>,
    http: reqwest::Client,
    s3: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    timeout: Duration,
    /// The most bytes one source may have.
    max_bytes: u64,
    /// The node on fetch's `files` input, if it has one.
    node_files: Option<Upstream>,
}

impl Fetcher {
    pub fn new(timeout: Duration, connections: usize, max_bytes: u64) -> Result<Fetcher, String> {
        let (handle, own) = match tokio::runtime::Handle::try_current() {
            Ok(handle) => (handle, None),
            Err(_) => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start an async runtime: {e}"))?;
                (runtime.handle().clone(), Some(runtime))
            }
        };
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .pool_max_idle_per_host(connections)
            .user_agent(concat!("mdr-pipeline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))?;
        Ok(Fetcher {
            handle,
            _own: own,
            http,
            s3: Mutex::new(HashMap::new()),
            timeout,
            max_bytes,
            node_files: None,
        })
    }

    /// Reads [`Source::NodeFile`]s from the files of `node`.
    pub fn with_node_files(mut self, node: Upstream) -> Fetcher {
        self.node_files = Some(node);
        self
    }

    /// One attempt at reading `source` whole. Call from a plain thread (not
    /// from async code).
    pub fn attempt(&self, source: &Source) -> Result<Vec<u8>, Failure> {
        match source {
            Source::File(path) => read_regular(path, self.max_bytes).map_err(|e| match e {
                Unreadable::TooLarge(_) => self.too_large(),
                e if e.may_pass() => Failure::transient(e.to_string()),
                e => Failure::permanent(e.to_string()),
            }),
            Source::NodeFile(name) => self.read_node_file(name),
            Source::Http(url) => self.handle.block_on(self.http_get(url)),
            Source::S3 { bucket, key } => {
                let store = self.s3_store(bucket)?;
                self.handle.block_on(self.s3_get(store.as_ref(), key))
            }
        }
    }

    fn read_node_file(&self, name: &str) -> Result<Vec<u8>, Failure> {
        let Some(node) = &self.node_files else {
            return Err(Failure::permanent(format!(
                "`{name}` names a file of the `files` input, which is not connected"
            )));
        };
        if !node.files.has(name) {
            return Err(Failure::permanent(format!(
                "node `{}` has no file `{name}`",
                node.node
            )));
        }
        // Present but unreadable: a store error, worth another attempt.
        node.files.bytes(name).map_err(|e| {
            Failure::transient(format!("cannot read `{name}` of node `{}`: {e}", node.node))
        })
    }

    async fn http_get(&self, url: &str) -> Result<Vec<u8>, Failure> {
        let t = self.timeout;
        let mut response = match tokio::time::timeout(t, self.http.get(url).send()).await {
            Err(_) => {
                return Err(Failure::transient(format!(
                    "no response within {}",
                    seconds(t)
                )))
            }
            Ok(Err(e)) => return Err(reqwest_failure(e)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if !status.is_success() {
            let message = format!("HTTP {status}");
            if !status_is_transient(status.as_u16()) {
                return Err(Failure::permanent(message));
            }
            let mut failure = Failure::transient(message);
            if matches!(status.as_u16(), 429 | 503) {
                failure.retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
            }
            return Err(failure);
        }
        let expected = response.content_length();
        self.within_limit(expected.unwrap_or(0))?;
        let mut body = Vec::with_capacity(expected.unwrap_or(0).min(64 << 20) as usize);
        loop {
            match tokio::time::timeout(t, response.chunk()).await {
                Err(_) => {
                    return Err(Failure::transient(format!(
                        "the transfer stalled: no data for {} after {}",
                        seconds(t),
                        progress(body.len(), expected)
                    )))
                }
                Ok(Err(e)) => {
                    return Err(Failure::transient(format!(
                        "the transfer broke after {}: {}",
                        progress(body.len(), expected),
                        chain(&e.without_url())
                    )))
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => {
                    self.within_limit((body.len() + chunk.len()) as u64)?;
                    body.extend_from_slice(&chunk)
                }
            }
        }
        check_length(body, expected)
    }

    fn s3_store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, Failure> {
        let mut stores = self.s3.lock().expect("s3 lock");
        if let Some(store) = stores.get(bucket) {
            return Ok(store.clone());
        }
        // Configured like the artifact store's S3 client, but our own retry
        // policy and timeouts govern: object_store's are off (its
        // total-request timeout only guards against a hung client).
        let store = s3_env::s3_builder(bucket)
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                format!("{}ms", self.timeout.as_millis().max(1)),
            )
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "3600s")
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 0,
                retry_timeout: Duration::from_secs(1),
            })
            .build()
            .map_err(|e| Failure::permanent(format!("cannot set up S3 access: {e}")))?;
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        stores.insert(bucket.to_string(), store.clone());
        Ok(store)
    }

    async fn s3_get(&self, store: &dyn ObjectStore, key: &str) -> Result<Vec<u8>, Failure> {
        let t = self.timeout;
        let path = object_store::path::Path::parse(key)
            .map_err(|e| Failure::permanent(format!("bad S3 key {key:?}: {e}")))?;
        let result = match tokio::time::timeout(t, store.get(&path)).await {
            Err(_) => {
                return Err(Failure::transient(format!(
                    "no response within {}",
                    seconds(t)
                )))
            }
            Ok(Err(e)) => return Err(object_store_failure(e)),
            Ok(Ok(result)) => result,
        };
        let expected = Some(result.meta.size);
        self.within_limit(result.meta.size)?;
        let mut body = Vec::with_capacity(result.meta.size.min(64 << 20) as usize);
        let mut stream = result.into_stream();
        loop {
            match tokio::time::timeout(t, stream.next()).await {
                Err(_) => {
                    return Err(Failure::transient(format!(
                        "the transfer stalled: no data for {} after {}",
                        seconds(t),
                        progress(body.len(), expected)
                    )))
                }
                Ok(Some(Err(e))) => {
                    return Err(Failure::transient(format!(
                        "the transfer broke after {}: {e}",
                        progress(body.len(), expected)
                    )))
                }
                Ok(None) => break,
                Ok(Some(Ok(chunk))) => {
                    self.within_limit((body.len() + chunk.len()) as u64)?;
                    body.extend_from_slice(&chunk)
                }
            }
        }
        check_length(body, expected)
    }

    /// A permanent failure once a source has (or announces) more than
    /// `max_bytes`: asking again returns as many.
    fn within_limit(&self, bytes: u64) -> Result<(), Failure> {
        if bytes > self.max_bytes {
            return Err(self.too_large());
        }
        Ok(())
    }

    fn too_large(&self) -> Failure {
        Failure::permanent(format!(
            "larger than the limit of {} (max_track_mib)",
            size(self.max_bytes)
        ))
    }
}

fn check_length(body: Vec<u8>, expected: Option<u64>) -> Result<Vec<u8>, Failure> {
    match expected {
        Some(n) if body.len() as u64 != n => Err(Failure::transient(format!(
            "the body ended after {} of the {n} bytes announced",
            body.len()
        ))),
        _ => Ok(body),
    }
}

fn reqwest_failure(e: reqwest::Error) -> Failure {
    let permanent = e.is_builder() || e.is_redirect();
    let message = chain(&e.without_url());
    if permanent {
        Failure::permanent(message)
    } else {
        Failure::transient(message)
    }
}

fn object_store_failure(e: object_store::Error) -> Failure {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => Failure::permanent("no such S3 object"),
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
            Failure::permanent(format!("S3 access denied: {e}"))
        }
        E::InvalidPath { .. } | E::NotSupported { .. } | E::NotImplemented { .. } => {
            Failure::permanent(e.to_string())
        }
        other => Failure::transient(other.to_string()),
    }
}

/// An error and its causes, without repeating a cause its parent already
/// quotes.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

fn progress(got: usize, expected: Option<u64>) -> String {
    match expected {
        Some(n) => format!("{got} of {n} bytes"),
        None => format!("{got} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_uris() {
        let base = Base::Dir(Path::new("/proj"));
        assert_eq!(
            Source::parse("https://x.org/a.mp3?x=1", base),
            Ok(Source::Http("https://x.org/a.mp3?x=1".into()))
        );
        assert_eq!(
            Source::parse("s3://media/previews/a b.mp3", base),
            Ok(Source::S3 {
                bucket: "media".into(),
                key: "previews/a b.mp3".into()
            })
        );
        assert_eq!(
            Source::parse("audio/a.wav", base),
            Ok(Source::File("/proj/audio/a.wav".into()))
        );
        assert_eq!(
            Source::parse("file:///data/a%20b.wav", base),
            Ok(Source::File("/data/a b.wav".into()))
        );
        assert_eq!(
            Source::parse("file://localhost/data/a.wav", base),
            Ok(Source::File("/data/a.wav".into()))
        );
        assert_eq!(
            Source::parse("file://audio/a.wav", base),
            Ok(Source::File("/proj/audio/a.wav".into()))
        );
        assert!(Source::parse("s3://bucket", base).is_err());
        assert!(Source::parse("s3:///key", base).is_err());
        assert!(Source::parse("ftp://x/a", base).is_err());
        assert!(Source::parse("file:///a%2", base).is_err());
        assert!(Source::parse("", base).is_err());

        // With a `files` input, relative paths name that node's files.
        let node = Base::NodeFiles;
        assert_eq!(
            Source::parse("audio/a.wav", node),
            Ok(Source::NodeFile("audio/a.wav".into()))
        );
        assert_eq!(
            Source::parse("file://audio/a%20b.wav", node),
            Ok(Source::NodeFile("audio/a b.wav".into()))
        );
        assert_eq!(
            Source::parse("/data/a.wav", node),
            Ok(Source::File("/data/a.wav".into()))
        );
        assert_eq!(
            Source::parse("file:///data/a.wav", node),
            Ok(Source::File("/data/a.wav".into()))
        );
    }

    #[test]
    fn a_missing_or_oversized_file_is_a_permanent_failure() {
        let dir = tempfile::tempdir().unwrap();
        let fetcher = Fetcher::new(Duration::from_secs(1), 1, 3).unwrap();
        let missing = fetcher.attempt(&Source::File(dir.path().join("nope.wav")));
        assert_eq!(missing, Err(Failure::permanent("no such file")));
        std::fs::write(dir.path().join("a.wav"), b"abc").unwrap();
        let got = fetcher.attempt(&Source::File(dir.path().join("a.wav")));
        assert_eq!(got, Ok(b"abc".to_vec()));
        std::fs::write(dir.path().join("b.wav"), b"abcd").unwrap();
        let big = fetcher.attempt(&Source::File(dir.path().join("b.wav")));
        assert_eq!(
            big,
            Err(Failure::permanent(
                "larger than the limit of 3 bytes (max_track_mib)"
            ))
        );
    }

    /// Serves `response` to one connection on a loopback port, then closes.
    fn serve_once(response: Vec<u8>) -> u16 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(&response);
        });
        port
    }

    #[test]
    fn an_http_body_over_the_limit_is_refused_announced_or_not() {
        let fetcher = Fetcher::new(Duration::from_secs(5), 1, 1000).unwrap();
        let too_big = "larger than the limit of 1000 bytes (max_track_mib)";
        let announced = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n".to_vec());
        let got = fetcher.attempt(&Source::Http(format!("http://127.0.0.1:{announced}/a")));
        assert_eq!(got, Err(Failure::permanent(too_big)));
        // No length announced: the body ends when the connection does.
        let mut unannounced = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        unannounced.extend(vec![7u8; 5000]);
        let port = serve_once(unannounced);
        let got = fetcher.attempt(&Source::Http(format!("http://127.0.0.1:{port}/a")));
        assert_eq!(got, Err(Failure::permanent(too_big)));
        let mut fits = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        fits.extend(vec![7u8; 1000]);
        let port = serve_once(fits);
        let got = fetcher.attempt(&Source::Http(format!("http://127.0.0.1:{port}/a")));
        assert_eq!(got, Ok(vec![7u8; 1000]));
    }

    #[test]
    fn http_failures_are_classified() {
        // A port nobody listens on: connection refused, worth a retry.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let fetcher = Fetcher::new(Duration::from_secs(1), 1, 1 << 20).unwrap();
        let refused = fetcher
            .attempt(&Source::Http(format!("http://127.0.0.1:{port}/a")))
            .unwrap_err();
        assert!(refused.retry, "{refused:?}");
        let bad = fetcher
            .attempt(&Source::Http("http://[not a host/a".into()))
            .unwrap_err();
        assert!(!bad.retry, "{bad:?}");
    }
}
