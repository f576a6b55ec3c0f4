//! The stage reference: `pipeline stages` from the registry, and
//! docs/stages.md, which must be its output.

use crate::support::*;

const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/stages.md");

/// Needs no pipeline.yaml: the project directory has none.
fn stages(args: &[&str]) -> Ran {
    let p = Project::new(&Backend::Local, "stages");
    p.run(&[&["stages"][..], args].concat())
}

#[test]
fn docs_stages_md_is_the_stage_reference() {
    let generated = stages(&[]).ok().stdout;
    let committed = std::fs::read_to_string(DOCS).unwrap_or_default();
    if generated != committed {
        let line = generated
            .lines()
            .zip(committed.lines())
            .position(|(a, b)| a != b)
            .map_or(
                generated.lines().count().min(committed.lines().count()),
                |i| i,
            )
            + 1;
        panic!(
            "docs/stages.md is stale (first difference at line {line}); regenerate it with\n  \
             cargo run -p pipeline --bin pipeline -- stages > docs/stages.md"
        );
    }
}

#[test]
fn every_stage_is_listed_the_workers_too() {
    let all = stages(&[]).ok().stdout;
    let registry = pipeline::stage_worker::engine_registry();
    for name in registry.names() {
        assert!(
            all.contains(&format!("\n## {name}\n")),
            "no section for {name}"
        );
    }
    // train and evaluate run in pipeline-worker; their declarations are here.
    for name in ["train", "evaluate", "report"] {
        assert!(registry.names().contains(&name), "{name}");
    }
}

#[test]
fn one_stage_shows_its_parameters_inputs_and_outputs() {
    let evaluate = stages(&["evaluate"]).ok().stdout;
    let version = pipeline::stage_worker::engine_registry()
        .find("evaluate")
        .unwrap()
        .version();
    assert!(
        evaluate.starts_with(&format!("## evaluate\n\nVersion {version}. ")),
        "{evaluate}"
    );
    for row in [
        "| `repeats` | an integer | `5` | yes |",
        "| `task` | one of classification, regression | required | yes |",
        "| `dataset` | one node | yes |",
        "| `scores` | table (Parquet) |",
    ] {
        assert!(evaluate.contains(row), "{row} missing from\n{evaluate}");
    }
    let fetch = stages(&["fetch"]).ok().stdout;
    assert!(fetch.contains("| `files` | one node | no |"), "{fetch}");
    assert!(
        fetch.contains("| `jobs` | an integer | `8` | no |"),
        "{fetch}"
    );
    let train = stages(&["train"]).ok().stdout;
    assert!(
        train.contains("| `weights` | bytes (`.safetensors`) |"),
        "{train}"
    );

    let unknown = stages(&["evaluat"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("no stage named `evaluat` (stages: aggregate, analyze, concat,"),
        "{}",
        unknown.stderr
    );
}
