//! Test support: a project in a temp dir driven through the real binary,
//! and a real S3 server (s3s-fs) on loopback.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_pipeline");

/// Where a project keeps its artifacts.
#[derive(Clone)]
pub enum Backend {
    Local,
    S3 { endpoint: String, root: PathBuf },
}

/// A pipeline project in a temporary directory.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    /// Store location passed with --store.
    pub store: String,
    /// The S3 endpoint given to every command, if any.
    pub s3_endpoint: Option<String>,
}

/// A finished command.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }

    /// Node names with a given outcome in a `run --json` report.
    pub fn nodes(&self, outcome: &str) -> BTreeSet<String> {
        self.json()["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter(|n| n["outcome"] == outcome)
            .map(|n| n["node"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl From<Output> for Ran {
    fn from(o: Output) -> Self {
        Ran {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Project {
    /// A project whose store is on `backend`; `name` keeps S3 prefixes apart.
    pub fn new(backend: &Backend, name: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, s3_endpoint) = match backend {
            Backend::Local => ("store".to_string(), None),
            Backend::S3 { endpoint, .. } => {
                (format!("s3://{BUCKET}/{name}"), Some(endpoint.clone()))
            }
        };
        Project {
            dir,
            backend: backend.clone(),
            store,
            s3_endpoint,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .args(["--file", "pipeline.yaml", "--store", &self.store])
            .args(args)
            .env_remove("PIPELINE_LOG");
        if let Some(endpoint) = &self.s3_endpoint {
            s3_env(&mut cmd, endpoint);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Ran {
        self.command(args)
            .output()
            .expect("the binary starts")
            .into()
    }

    /// Files of the store's directory on disk (local dir or s3s-fs root).
    pub fn store_dir(&self) -> PathBuf {
        match &self.backend {
            Backend::Local => self.path("store"),
            Backend::S3 { root, .. } => root
                .join(BUCKET)
                .join(self.store.rsplit('/').next().unwrap()),
        }
    }

    /// Keys of the manifests on disk now.
    pub fn manifest_keys(&self) -> BTreeSet<String> {
        let dir = self.store_dir().join("manifests");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return BTreeSet::new();
        };
        entries
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".json")
                    .map(String::from)
            })
            .filter(|k| k.len() == 64)
            .collect()
    }

    /// The on-disk path of a node's output blob, found via its manifest.
    pub fn blob_of(&self, key: &str, output: &str) -> PathBuf {
        let text = std::fs::read_to_string(
            self.store_dir()
                .join("manifests")
                .join(format!("{key}.json")),
        )
        .unwrap();
        let sealed: Value = serde_json::from_str(&text).unwrap();
        let hash = sealed["manifest"]["files"][output]["blake3"]
            .as_str()
            .unwrap()
            .to_string();
        self.store_dir().join("blobs").join(&hash[..2]).join(&hash)
    }
}

pub fn s3_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1");
}

/// The key of `node` in a `run --json` report.
pub fn key_of(report: &Value, node: &str) -> String {
    report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == node)
        .unwrap_or_else(|| panic!("no node {node} in report"))["key"]
        .as_str()
        .unwrap()
        .to_string()
}

pub const BUCKET: &str = "artifacts";
const ACCESS_KEY: &str = "pipeline-test";
const SECRET_KEY: &str = "pipeline-test-secret";

/// A real S3-compatible server (s3s-fs) on a free loopback port, with its
/// files in a temp dir; killed on drop.
pub struct S3Server {
    child: Child,
    pub port: u16,
    pub root: tempfile::TempDir,
}

fn s3s_binary() -> PathBuf {
    if let Ok(path) = std::env::var("S3S_FS") {
        return PathBuf::from(path);
    }
    let cached =
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/mdr/s3s/bin/s3s-fs");
    if cached.exists() {
        return cached;
    }
    PathBuf::from("s3s-fs")
}

impl S3Server {
    pub fn start() -> S3Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(BUCKET)).unwrap();
        let port = free_port();
        let child = spawn_s3s(root.path(), port);
        S3Server { child, port, root }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn backend(&self) -> Backend {
        Backend::S3 {
            endpoint: self.endpoint(),
            root: self.root.path().to_path_buf(),
        }
    }

    /// Stops the server, keeping its files.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port and files.
    pub fn restart(&mut self) {
        self.stop();
        self.child = spawn_s3s(self.root.path(), self.port);
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn_s3s(root: &Path, port: u16) -> Child {
    let binary = s3s_binary();
    let child = Command::new(&binary)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start s3s-fs ({}): {e}; install it with \
                 `cargo install s3s-fs --version 0.14.1 --locked --features binary` (.ci/run does)",
                binary.display()
            )
        });
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "s3s-fs did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `cond` holds, polling.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}
