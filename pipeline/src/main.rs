//! The `pipeline` command: parse, call the library, print, exit.
//! Exit codes: 0 done, 1 some node failed or the store did not verify
//! (`show` and `export` meeting a missing or corrupt blob included), 2 bad
//! input (config, references, unreachable store). A reader that stops
//! reading (`| head`) changes none of them.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pipeline::{ops, Outcome, PipelineError, RunOptions, StoreChoice, Workspace};

#[derive(Parser)]
#[command(
    name = "pipeline",
    version,
    about = "Learn and evaluate deep music representations as a content-hashed, cached pipeline"
)]
struct Cli {
    /// The pipeline file.
    #[arg(short, long, global = true, default_value = "pipeline.yaml")]
    file: PathBuf,
    /// Artifact store: a directory or s3://bucket/prefix (overrides the file).
    #[arg(long, global = true)]
    store: Option<String>,
    /// A shared remote store behind the primary one (read- and write-through).
    #[arg(long, global = true)]
    remote: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bring every node (or the selected ones) up to date.
    Run {
        /// Run only these nodes and what they need.
        #[arg(long, num_args = 1..)]
        only: Vec<String>,
        /// Recompute these nodes even if cached.
        #[arg(long, num_args = 1..)]
        force: Vec<String>,
        /// How many nodes may run at once.
        #[arg(short, long)]
        jobs: Option<usize>,
        /// Print the per-node report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Run nothing: exit 1, naming them, if any node would have to run
        /// (CI jobs that must only read a shared cache).
        #[arg(long)]
        frozen: bool,
        /// Recompute the committed nodes (those of --only, or all) without
        /// trusting the cache and compare their bytes with the committed
        /// ones: exit 1, naming them, if any differ (non-determinism).
        #[arg(long, conflicts_with_all = ["frozen", "force"])]
        check: bool,
        /// Where nodes run: local (this process) or slurm (one job per
        /// node over the shared S3 store); overrides `executor:`.
        #[arg(long)]
        executor: Option<String>,
    },
    /// Per node: cached, to run, or waiting on an upstream; and why.
    Status {
        /// Print the reasons for every node that must run, and the nodes
        /// each glob input matched.
        #[arg(long)]
        explain: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print the graph as Graphviz dot.
    Dag,
    /// Re-hash every blob reachable from a manifest.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Delete artifacts that no node of the current pipeline needs.
    Gc {
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Keep unreferenced blobs younger than this (seconds), which a
        /// concurrent run may still be publishing.
        #[arg(long, default_value_t = 3600)]
        grace: u64,
    },
    /// Write a node's output files (all, or those named) into a directory,
    /// each with the extension of its format (`.parquet`, `.json`, ...).
    Export {
        node: String,
        dir: std::path::PathBuf,
        /// Only these outputs (a folder, e.g. `mel`, names the files in it).
        files: Vec<String>,
    },
    /// Compute one node from its spec in the store (what a cluster job
    /// runs; `--store` names the store).
    ExecNode {
        /// The node's key: its spec is a checkpoint under it.
        key: String,
    },
    /// Apply a representation of the pipeline (a train node, the MFCC
    /// baseline's mel node, a musicnn node) to audio files: one vector per
    /// file, computed through the engine and cached per file in the store.
    Embed {
        /// The node whose representation is applied.
        #[arg(long)]
        model: String,
        /// Audio files, and directories searched for audio files.
        #[arg(required = true)]
        audio: Vec<PathBuf>,
        /// FILE.parquet (path, vector) or FILE.npy (float32 rows; the
        /// paths, in row order, in FILE.txt).
        #[arg(long)]
        out: PathBuf,
        /// Analyse only the first this many seconds of each file (default:
        /// as the model's own front end).
        #[arg(long)]
        max_seconds: Option<f64>,
        /// How many nodes may run at once.
        #[arg(short, long)]
        jobs: Option<usize>,
    },
    /// The stage reference: every stage (or the one named) with its
    /// version, parameters, inputs and outputs, as Markdown (docs/stages.md).
    Stages {
        /// Only this stage.
        name: Option<String>,
    },
    /// A node's manifest (the files in folders counted) and a preview of
    /// its tables.
    Show {
        node: String,
        /// Rows of each table to preview.
        #[arg(long, default_value_t = 10)]
        rows: usize,
        /// List every file, those in folders (one per track) too.
        #[arg(long)]
        files: bool,
        /// Print only the manifest, as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Our warnings; the audio decoders' own (junk skipped before a header, a
/// damaged frame) only on request, since a user cannot act on them: the
/// track's failure, if any, is reported by the stage.
const DEFAULT_LOG: &str = "warn,symphonia=error";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PIPELINE_LOG")
                .unwrap_or_else(|_| DEFAULT_LOG.into()),
        )
        .with_writer(|| RedactedStderr)
        .with_ansi(io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Nowhere to report a failure to write to stderr: ignore it.
            let mut err = io::stderr().lock();
            let _ = writeln!(err, "error: {}", storage::redact(&e.to_string()));
            // Nested errors often repeat their cause's text: print only news.
            let mut shown = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                let text = s.to_string();
                if !shown.contains(&text) {
                    let _ = writeln!(err, "  caused by: {}", storage::redact(&text));
                    shown = text;
                }
                source = s.source();
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// `pipeline embed`: writes the vectors, names every file left out; exit
/// 1 when one was.
async fn embed(
    config: pipeline::Config,
    choice: &StoreChoice,
    request: &pipeline::embed::EmbedRequest,
) -> Result<u8, PipelineError> {
    let registry = pipeline::stage_worker::engine_registry();
    let done = pipeline::embed::embed(config, &registry, choice, request).await?;
    for (file, why) in &done.failures {
        eprintln!("  not embedded {}: {why}", file.display());
    }
    let written: Vec<String> = done
        .written
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let computed = match done.ran.is_empty() {
        true => "computed nothing: every file was cached".to_string(),
        false => format!("ran {}", done.ran.join(", ")),
    };
    eprintln!(
        "pipeline: embedded {} files ({} dimensions), {} not; {computed}; wrote {}",
        done.vectors,
        done.dims,
        done.failures.len(),
        written.join(", ")
    );
    Ok(if done.failures.is_empty() { 0 } else { 1 })
}

/// Standard error for log lines, with any URL's credentials hidden (a
/// library may log the endpoint it was given). The formatter writes each
/// event at once, so no URL is split between writes.
struct RedactedStderr;

impl Write for RedactedStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stderr().write_all(storage::redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

async fn dispatch(cli: Cli) -> Result<u8, PipelineError> {
    let choice = StoreChoice {
        store: cli.store,
        remote: cli.remote,
    };
    if let Command::ExecNode { key } = &cli.command {
        // A cluster job has only the store: no pipeline.yaml.
        let location = choice.store.as_deref().ok_or_else(|| {
            PipelineError::Usage("exec-node needs --store (the store the spec is in)".into())
        })?;
        let primary = storage::Store::open(location, &std::env::current_dir().unwrap_or_default())?
            .with_manifest_key(storage::ManifestKey::from_env()?);
        let store = pipeline::ArtifactStore::new(primary, None);
        pipeline::exec_node::exec_node(store, key, &pipeline::stage_worker::engine_registry())
            .await?;
        return Ok(0);
    }
    if let Command::Stages { name } = &cli.command {
        let registry = pipeline::stage_worker::engine_registry();
        let text = match name {
            Some(name) => pipeline::reference::one(&registry, name)?,
            None => pipeline::reference::all(&registry),
        };
        write!(Stdout::default(), "{text}").map_err(PipelineError::Output)?;
        return Ok(0);
    }
    if let Command::Verify { json } = cli.command {
        // Verifying a store needs no plan: it may hold other pipelines' nodes.
        let store = pipeline::open_store(&pipeline::Config::load(&cli.file)?, &choice)?;
        return verify(&store, json).await;
    }
    if let Command::Embed {
        model,
        audio,
        out,
        max_seconds,
        jobs,
    } = cli.command
    {
        let request = pipeline::embed::EmbedRequest {
            model,
            inputs: audio,
            out,
            max_seconds,
            jobs,
        };
        return embed(pipeline::Config::load(&cli.file)?, &choice, &request).await;
    }
    let ws = Workspace::open(
        &cli.file,
        &pipeline::stage_worker::engine_registry(),
        &choice,
    )?;
    with_plan(&ws, cli.command).await
}

/// The commands that need the planned pipeline.
async fn with_plan(ws: &Workspace, command: Command) -> Result<u8, PipelineError> {
    match command {
        Command::Run {
            only,
            force,
            jobs,
            json,
            frozen,
            check,
            executor,
        } => {
            let executor = ws.executor(executor.as_deref())?;
            let opts = RunOptions {
                jobs: ws.jobs(jobs),
                only,
                force,
                progress: !json,
                frozen,
                check,
                executor: executor.clone(),
            };
            let report = match &executor {
                pipeline::Executor::Local => ws.run(&opts).await?,
                // Ctrl-C cancels this run's jobs; what they committed stays.
                pipeline::Executor::Cluster(cluster) => tokio::select! {
                    report = ws.run(&opts) => report?,
                    _ = tokio::signal::ctrl_c() => {
                        cluster.cancel_all();
                        eprintln!("pipeline: interrupted; this run's jobs are cancelled");
                        return Ok(130);
                    }
                },
            };
            if json {
                let text = serde_json::to_string_pretty(&report).expect("reports serialise");
                writeln!(Stdout::default(), "{text}").map_err(PipelineError::Output)?;
            }
            let count =
                |f: fn(&Outcome) -> bool| report.nodes.iter().filter(|n| f(&n.outcome)).count();
            let checked = count(|o| matches!(o, Outcome::Checked { .. }));
            eprintln!(
                "pipeline: {} nodes: {} ran, {} cached, {}{} failed, {} skipped",
                report.nodes.len(),
                count(|o| matches!(o, Outcome::Ran { .. })),
                count(|o| matches!(o, Outcome::Cached)),
                if check {
                    format!("{checked} checked ({} differ), ", report.differing().len())
                } else {
                    String::new()
                },
                count(|o| matches!(o, Outcome::Failed { .. })),
                count(|o| matches!(o, Outcome::Skipped { .. })),
            );
            for n in report.differing() {
                if let Outcome::Checked { differences, .. } = &n.outcome {
                    eprintln!("  differs {}: {}", n.node, differences.join("; "));
                }
            }
            for n in report.failed() {
                match &n.outcome {
                    Outcome::Failed { error } => eprintln!("  failed  {}: {error}", n.node),
                    Outcome::Skipped { failed_upstream } => {
                        eprintln!("  skipped {}: upstream `{failed_upstream}` failed", n.node)
                    }
                    _ => {}
                }
            }
            let clean = report.failed().is_empty() && report.differing().is_empty();
            Ok(if clean { 0 } else { 1 })
        }
        Command::Status { explain, json } => {
            let statuses = ws.status().await?;
            print_status(&statuses, explain, json).map_err(PipelineError::Output)?;
            Ok(0)
        }
        Command::Dag => {
            write!(Stdout::default(), "{}", ops::dag(&ws.plan)).map_err(PipelineError::Output)?;
            Ok(0)
        }
        Command::Verify { json } => verify(&ws.store, json).await,
        Command::ExecNode { .. } => unreachable!("exec-node runs without a pipeline"),
        Command::Stages { .. } => unreachable!("the reference needs no pipeline"),
        Command::Embed { .. } => unreachable!("embed plans its own pipeline"),
        Command::Gc { dry_run, grace } => {
            ws.probe().await?;
            let report = pipeline::gc::gc(&ws.plan, ws.store.primary(), dry_run, grace).await?;
            print_gc(&report, dry_run).map_err(PipelineError::Output)?;
            match &report.interrupted {
                Some(why) => {
                    eprintln!("gc stopped early: {why}");
                    Ok(1)
                }
                None => Ok(0),
            }
        }
        Command::Show {
            node,
            rows,
            files,
            json,
        } => {
            let text = pipeline::show::show(&ws.plan, &ws.store, &node, rows, files, json).await?;
            write!(Stdout::default(), "{text}").map_err(PipelineError::Output)?;
            Ok(0)
        }
        Command::Export { node, dir, files } => {
            let mut out = Stdout::default();
            for path in pipeline::export::export(&ws.plan, &ws.store, &node, &files, &dir).await? {
                writeln!(out, "{}", path.display()).map_err(PipelineError::Output)?;
            }
            Ok(0)
        }
    }
}

/// What gc deleted (or would), a line per manifest and blob.
fn print_gc(report: &pipeline::gc::GcReport, dry_run: bool) -> io::Result<()> {
    let mut out = io::BufWriter::new(Stdout::default());
    let verb = if dry_run { "would delete" } else { "deleted" };
    writeln!(
        out,
        "{verb} {} manifests and {} blobs ({} bytes), {} item records",
        report.manifests.len(),
        report.blobs.len(),
        report.bytes,
        report.items.len()
    )?;
    for m in &report.manifests {
        writeln!(out, "  manifest {m}")?;
    }
    for b in &report.blobs {
        writeln!(out, "  blob {b}")?;
    }
    for i in &report.items {
        writeln!(out, "  item {i}")?;
    }
    out.flush()
}

/// Re-hashes the primary store and the remote, if any.
async fn verify(store: &pipeline::ArtifactStore, json: bool) -> Result<u8, PipelineError> {
    store.primary().get_manifest("probe").await?;
    let mut bad = false;
    let mut out = Stdout::default();
    for store in std::iter::once(store.primary()).chain(store.remote()) {
        let report = ops::verify(store).await?;
        print_verify(&mut out, store.label(), &report, json).map_err(PipelineError::Output)?;
        bad |= !report.problems.is_empty();
    }
    Ok(if bad { 1 } else { 0 })
}

fn print_verify(
    out: &mut Stdout,
    label: &str,
    report: &ops::VerifyReport,
    json: bool,
) -> io::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        return writeln!(out);
    }
    writeln!(
        out,
        "{label}: {} manifests, {} blobs re-hashed, {} problems",
        report.manifests,
        report.blobs_checked,
        report.problems.len()
    )?;
    for p in &report.problems {
        writeln!(out, "  {p}")?;
    }
    Ok(())
}

/// Streamed: a status of many nodes is never one string in memory.
fn print_status(
    statuses: &[pipeline::status::NodeStatus],
    explain: bool,
    json: bool,
) -> io::Result<()> {
    let mut out = io::BufWriter::new(Stdout::default());
    if json {
        serde_json::to_writer_pretty(&mut out, statuses)?;
        writeln!(out)?;
    } else {
        for s in statuses {
            write!(out, "{:<14} {:<32} {}", s.state, s.node, s.stage)?;
            match &s.job {
                Some(job) if job.state == "running" => {
                    writeln!(out, "  (job {} on {})", job.record.id, job.detail)?
                }
                Some(job) => writeln!(out, "  (job {})", job.record.id)?,
                None => writeln!(out)?,
            }
            if explain {
                for r in &s.reasons {
                    writeln!(out, "{:<14}   - {r}", "")?;
                }
                for g in &s.globs {
                    writeln!(
                        out,
                        "{:<14}   input `{}`: `{}` matched {} nodes: {}",
                        "",
                        g.slot,
                        g.pattern,
                        g.matched.len(),
                        g.matched.join(", ")
                    )?;
                }
            }
        }
        let count = |state: &str| statuses.iter().filter(|s| s.state == state).count();
        let in_cluster = count("queued") + count("running");
        write!(
            out,
            "{} nodes, {} to run, {} waiting on them (cut off where they give the same outputs)",
            statuses.len(),
            count("run") + in_cluster,
            count("waiting")
        )?;
        if in_cluster > 0 {
            write!(
                out,
                "; on the cluster: {} running, {} queued",
                count("running"),
                count("queued")
            )?;
        }
        writeln!(out)?;
    }
    out.flush()
}

/// Standard output that takes a reader who has gone (`pipeline verify |
/// head -1`) as "stop printing", not as a failure: the command finishes
/// and exits with its own code. Other write errors (a full disk) fail.
#[derive(Default)]
struct Stdout {
    closed: bool,
}

impl Stdout {
    fn guard<T>(&mut self, done: T, result: io::Result<T>) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(done)
            }
            other => other,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = io::stdout().write(buf);
        self.guard(buf.len(), result)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = io::stdout().flush();
        self.guard((), result)
    }
}
