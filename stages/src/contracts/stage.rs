//! Stages that read a user's file and hand on a checked, canonical table.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};

use super::{read_table, split_known, validate, Contract};
use crate::api::*;

fn contract_of(name: &str) -> Contract {
    match name {
        "tracks" => Contract::Tracks,
        "target_labels" => Contract::TargetLabels,
        "target_values" => Contract::TargetValues,
        "label_counts" => Contract::LabelCounts,
        "artist_map" => Contract::ArtistMap,
        "scalar" => Contract::Scalar,
        "runs" => Contract::Runs,
        "scores" => Contract::Scores,
        _ => Contract::Interactions,
    }
}

fn load(ctx: &StageContext) -> Result<RecordBatch, StageError> {
    let path = ctx.params.str("path")?;
    let contract = contract_of(ctx.params.str("contract")?);
    let table = read_table(path, ctx.file("path")?)?;
    Ok(validate(contract, path, &table)?)
}

/// A table that stands alone: a track manifest or a target dataset (they
/// define tracks), or a study's runs or scores made elsewhere.
pub struct LoadTable;

impl Stage for LoadTable {
    fn name(&self) -> &'static str {
        "load_table"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "Reads a track manifest, a target dataset, or a study's runs or scores made elsewhere \
         (CSV or Parquet) and checks its contract (docs/data.md)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[
            ParamSpec {
                name: "path",
                ty: ParamType::File,
                default: None,
                doc: "the CSV or Parquet file",
                in_key: true,
            },
            ParamSpec {
                name: "contract",
                ty: ParamType::Choice(&[
                    "tracks",
                    "target_labels",
                    "target_values",
                    "runs",
                    "scores",
                ]),
                default: Some("tracks"),
                doc: "what the file is: `tracks` (track_id, uri), `target_labels` / \
                      `target_values` (track_id, uri, label / value), `runs` (run, strategy, a \
                      0/1 column per source; handed on as a design's `runs` for `analyze` and \
                      `report`) or `scores` (run, dataset, repeat, metric, value; handed on as \
                      an evaluation's `scores`)",
                in_key: true,
            },
        ]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[OutputSpec {
            name: "table",
            kind: FileKind::Table,
            doc: "the table, checked against its contract",
        }]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let table = load(ctx)?;
        let rows = table.num_rows();
        Ok(Outputs::default().table("table", table).meta("rows", rows))
    }
}

/// Labels or interactions about tracks that a manifest defines: rows for
/// unknown tracks are kept out, counted, and listed in `rejected`.
pub struct LoadLabels;

impl Stage for LoadLabels {
    fn name(&self) -> &'static str {
        "load_labels"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "Reads a label or interaction table, checks its contract and its tracks against a manifest."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[
            ParamSpec {
                name: "path",
                ty: ParamType::File,
                default: None,
                doc: "the CSV or Parquet file",
                in_key: true,
            },
            ParamSpec {
                name: "contract",
                ty: ParamType::Choice(&["label_counts", "artist_map", "scalar", "interactions"]),
                default: None,
                doc: "what the file is",
                in_key: true,
            },
        ]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[InputSpec {
            name: "tracks",
            many: false,
            doc: "the manifest whose tracks the labels are about",
        }]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[
            OutputSpec {
                name: "table",
                kind: FileKind::Table,
                doc: "the rows about tracks of the manifest",
            },
            OutputSpec {
                name: "rejected",
                kind: FileKind::Table,
                doc: "the rows set aside: row, track_id, reason",
            },
        ]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let table = load(ctx)?;
        let manifest = ctx.input_table("tracks", "table")?;
        let ids = manifest
            .column_by_name("track_id")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| StageError::Input {
                slot: "tracks".into(),
                reason: "has no text column `track_id`".into(),
            })?;
        let known: HashSet<String> = (0..ids.len()).map(|i| ids.value(i).to_string()).collect();
        let (kept, unknown) = split_known(&table, &known);
        let path = ctx.params.str("path")?;
        let mut outputs = Outputs::default()
            .meta("rows", kept.num_rows())
            .meta("rejected_rows", unknown.len());
        if !unknown.is_empty() {
            let examples: Vec<String> = unknown
                .iter()
                .take(3)
                .map(|(row, id)| format!("row {row} ({id})"))
                .collect();
            outputs = outputs.meta(
                "warnings",
                vec![format!(
                    "{path}: {} rows are about tracks the manifest does not have and were set aside in `rejected`: {}{}",
                    unknown.len(),
                    examples.join(", "),
                    if unknown.len() > 3 { ", ..." } else { "" }
                )],
            );
        }
        let rejected = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("row", DataType::UInt64, false),
                Field::new("track_id", DataType::Utf8, false),
                Field::new("reason", DataType::Utf8, false),
            ])),
            vec![
                Arc::new(UInt64Array::from_iter_values(
                    unknown.iter().map(|(r, _)| *r as u64),
                )),
                Arc::new(StringArray::from_iter_values(
                    unknown.iter().map(|(_, id)| id.as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    unknown.iter().map(|_| "unknown track"),
                )),
            ],
        )?;
        Ok(outputs.table("table", kept).table("rejected", rejected))
    }
}
