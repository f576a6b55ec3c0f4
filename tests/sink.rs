//! Per-item outputs and resumption: a stage that emits items one by one and
//! is interrupted keeps what it recorded; the next attempt skips those.

use std::collections::BTreeSet;
use std::sync::Arc;

use pipeline::{Outcome, RunOptions, StoreChoice, Workspace};
use stages::{InputSpec, Output, Outputs, ParamSpec, ParamType, Stage, StageContext, StageError};

use crate::support::*;

/// Emits `items` small files; fails after `fail_after` of them while the
/// file named by `fail_flag` exists (removing it), like a crash mid-way.
struct Emitter;

impl Stage for Emitter {
    fn name(&self) -> &'static str {
        "emitter"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "test stage: emits numbered items"
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[
            ParamSpec {
                name: "items",
                ty: ParamType::Int,
                default: None,
                doc: "",
                in_key: true,
            },
            ParamSpec {
                name: "fail_after",
                ty: ParamType::Int,
                default: None,
                doc: "",
                in_key: true,
            },
            ParamSpec {
                name: "fail_flag",
                ty: ParamType::Str,
                default: None,
                doc: "",
                in_key: true,
            },
        ]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let items = ctx.params.i64("items")?;
        let flag = std::path::PathBuf::from(ctx.params.str("fail_flag")?);
        let mut produced = 0;
        for i in 0..items {
            let name = format!("item/{i:03}");
            if ctx.sink.has(&name) {
                continue;
            }
            if i == ctx.params.i64("fail_after")? && std::fs::remove_file(&flag).is_ok() {
                return Err(StageError::Data(format!("interrupted at item {i}")));
            }
            ctx.sink
                .emit(&name, Output::Bytes(format!("payload {i}").into_bytes()))
                .map_err(StageError::Data)?;
            produced += 1;
        }
        ctx.sink
            .save_checkpoint("done", b"yes".to_vec())
            .map_err(StageError::Data)?;
        Ok(Outputs::default().meta("produced", produced))
    }
}

#[test]
fn an_interrupted_node_keeps_its_recorded_items() {
    let p = Project::new(&Backend::Local, "sink");
    let flag = p.path("fail-once");
    std::fs::write(&flag, "").unwrap();
    p.write(
        "pipeline.yaml",
        &format!(
            "nodes:\n  - name: emit\n    stage: emitter\n    params: {{items: 40, fail_after: 20, fail_flag: '{}'}}\n",
            flag.display()
        ),
    );
    let mut registry = torch_stages::registry();
    registry.insert(Arc::new(Emitter));
    let choice = StoreChoice {
        store: Some(p.store.clone()),
        remote: None,
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let run = || {
        let ws = Workspace::open(&p.path("pipeline.yaml"), &registry, &choice).unwrap();
        runtime
            .block_on(ws.run(&RunOptions {
                jobs: 1,
                ..Default::default()
            }))
            .unwrap()
    };

    let first = run();
    assert!(
        matches!(&first.nodes[0].outcome, Outcome::Failed { error } if error.contains("interrupted at item 20"))
    );
    assert!(p.manifest_keys().is_empty());

    let second = run();
    assert!(
        matches!(second.nodes[0].outcome, Outcome::Ran { .. }),
        "{:?}",
        second.nodes[0]
    );
    let key = second.nodes[0].key.clone().unwrap();
    let sealed: serde_json::Value = serde_json::from_slice(
        &std::fs::read(p.store_dir().join(format!("manifests/{key}.json"))).unwrap(),
    )
    .unwrap();
    let manifest = &sealed["manifest"];
    // The first 16 items were recorded before the interruption: only the rest ran again.
    assert_eq!(manifest["metadata"]["produced"], 24);
    let names: BTreeSet<String> = manifest["files"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(names, (0..40).map(|i| format!("item/{i:03}")).collect());
    // Committed: the checkpoints are gone, and the store verifies.
    let left = std::fs::read_dir(p.store_dir().join("checkpoints").join(&key))
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(left, 0, "checkpoints left after commit");
    p.run(&["verify"]).ok();
}
