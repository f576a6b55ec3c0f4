//! `synth_table` checks every table with the contract a user's file of its
//! kind passes; target manifests name their tracks' audio files.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, RecordBatch, StringArray};
use serde_json::json;

use crate::api::*;
use crate::contracts::{validate, Contract};
use crate::synth::corpus::audio_uri;
use crate::synth::{SynthParams, SynthTable, LEARNING_TABLES, TARGET_TABLES};
use crate::test_support::{params_with_defaults, NoProgress, NoSink};

fn synth_table(name: &str) -> Result<RecordBatch, StageError> {
    let params = params_with_defaults(
        &SynthTable,
        json!({"preset": "tiny", "seed": 2, "table": name}),
    );
    let ctx = StageContext {
        node: name,
        params: &params,
        inputs: &BTreeMap::new(),
        files: &BTreeMap::new(),
        progress: &NoProgress,
        sink: &NoSink,
        base_dir: Path::new("."),
        local_roots: &[],
    };
    let mut outputs = SynthTable.run(&ctx)?;
    match outputs.files.remove("table") {
        Some(Output::Table(table)) => Ok(table),
        _ => panic!("{name}: no table"),
    }
}

fn texts(table: &RecordBatch, column: &str) -> Vec<String> {
    let c = table
        .column_by_name(column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("Utf8");
    (0..c.len()).map(|i| c.value(i).to_string()).collect()
}

#[test]
fn every_table_passes_the_contract_of_its_kind() {
    let corpus = super::corpus(&SynthParams::tiny(2));
    let contracts = [
        ("tag", Contract::LabelCounts),
        ("taste", Contract::LabelCounts),
        ("lyrics", Contract::LabelCounts),
        ("cdr_tag", Contract::LabelCounts),
        ("artist", Contract::ArtistMap),
        ("bpm", Contract::Scalar),
        ("year", Contract::Scalar),
        ("gtzan", Contract::TargetLabels),
        ("fma", Contract::TargetLabels),
        ("ballroom", Contract::TargetLabels),
        ("irmas", Contract::TargetLabels),
        ("arousal", Contract::TargetValues),
        ("valence", Contract::TargetValues),
        ("lastfm", Contract::TargetLabels),
        ("lastfm_interactions", Contract::Interactions),
    ];
    let names: Vec<&str> = contracts.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, [&LEARNING_TABLES[..], &TARGET_TABLES[..]].concat());
    for (name, contract) in contracts {
        let table = synth_table(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let raw = corpus.table(name).expect("the corpus has it");
        assert_eq!(
            table,
            validate(contract, name, raw).expect("valid"),
            "{name}"
        );
        assert_eq!(table.num_rows(), raw.num_rows(), "{name}");
        if matches!(contract, Contract::TargetLabels | Contract::TargetValues) {
            let uris = texts(&table, "uri");
            let expected: Vec<String> = texts(&table, "track_id")
                .iter()
                .map(|id| audio_uri(id))
                .collect();
            assert_eq!(uris, expected, "{name}");
        }
    }
    let Err(e) = synth_table("charts") else {
        panic!("an unknown table")
    };
    assert!(e.to_string().contains("no table `charts`"), "{e}");
}
