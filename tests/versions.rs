//! Bumping a stage's version invalidates exactly its nodes and their
//! descendants. Driven through the library, with a registry in which one
//! real stage reports a higher version, as a new release of it would.

use std::sync::Arc;

use pipeline::{RunOptions, StoreChoice, Workspace};
use stages::{InputSpec, Outputs, ParamSpec, Registry, Stage, StageContext, StageError};

use crate::scenarios::{small_project, ALL};
use crate::support::*;

/// The real `derive` stage, one version later.
struct Bumped(Arc<dyn Stage>);

impl Stage for Bumped {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn version(&self) -> u32 {
        self.0.version() + 1
    }
    fn doc(&self) -> &'static str {
        self.0.doc()
    }
    fn params(&self) -> &'static [ParamSpec] {
        self.0.params()
    }
    fn inputs(&self) -> &'static [InputSpec] {
        self.0.inputs()
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        self.0.run(ctx)
    }
}

pub fn run_with(registry: &Registry, project: &Project) -> pipeline::RunReport {
    let opts = RunOptions {
        jobs: 2,
        ..Default::default()
    };
    run_opts(registry, project, &opts)
}

/// [`run_with`] with the given options.
pub fn run_opts(registry: &Registry, project: &Project, opts: &RunOptions) -> pipeline::RunReport {
    let choice = StoreChoice {
        store: Some(project.store.clone()),
        remote: None,
    };
    let ws = Workspace::open(&project.path("pipeline.yaml"), registry, &choice).unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(ws.run(opts))
        .unwrap()
}

pub fn ran(report: &pipeline::RunReport) -> std::collections::BTreeSet<String> {
    report.ran().into_iter().collect()
}

#[test]
fn a_version_bump_reruns_the_stage_and_cuts_off_what_reads_the_same_bytes() {
    let p = small_project(&Backend::Local, "versions");
    let standard = torch_stages::registry();
    assert_eq!(ran(&run_with(&standard, &p)), set(&ALL));
    assert!(ran(&run_with(&standard, &p)).is_empty());

    let mut bumped = standard.clone();
    bumped.insert(Arc::new(Bumped(standard.find("derive").unwrap())));
    // derive runs at scaled, shifted and squares; stats_* and gathered are
    // downstream, and cut off: the bumped stage gives the same bytes.
    let expected = set(&["scaled", "shifted", "squares"]);
    let report = run_with(&bumped, &p);
    assert_eq!(ran(&report), expected);
    let why = report
        .nodes
        .iter()
        .find(|n| n.node == "scaled")
        .map(|n| format!("{:?}", n.outcome))
        .unwrap();
    assert!(
        why.contains("stage `derive` version bumped: 1 -> 2"),
        "{why}"
    );
    assert!(ran(&run_with(&bumped, &p)).is_empty());
}
