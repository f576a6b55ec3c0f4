//! Small table stages: read a CSV, derive a column, aggregate by group,
//! concatenate. They do honest work on Arrow data, so the engine can be
//! exercised end to end before the audio and model stages exist.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Field, Schema};

use crate::api::*;
use crate::contracts::{read_csv, CsvTypes};

fn column_f64(batch: &RecordBatch, name: &str, param: &str) -> Result<Float64Array, StageError> {
    let index = batch
        .schema()
        .index_of(name)
        .map_err(|_| StageError::Param {
            name: param.into(),
            reason: format!(
                "no column `{name}` in the input table (columns: {})",
                column_names(batch)
            ),
        })?;
    let as_f64 = cast(batch.column(index), &DataType::Float64)?;
    Ok(as_f64
        .as_any()
        .downcast_ref::<Float64Array>()
        .expect("cast to Float64 yields Float64Array")
        .clone())
}

fn column_names(batch: &RecordBatch) -> String {
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    names.join(", ")
}

/// Reads a CSV file with a header row into a table, inferring column types,
/// with the contracts' reader ([`read_csv`]).
pub struct ReadCsv;

impl Stage for ReadCsv {
    fn name(&self) -> &'static str {
        "read_csv"
    }
    fn version(&self) -> u32 {
        // 2: the crate's one CSV reader (header names trimmed).
        2
    }
    fn doc(&self) -> &'static str {
        "Reads a CSV file (header row, inferred types) into a table."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[
            ParamSpec {
                name: "path",
                ty: ParamType::File,
                default: None,
                doc: "the CSV file, relative to pipeline.yaml",
                in_key: true,
            },
            ParamSpec {
                name: "delimiter",
                ty: ParamType::Str,
                default: Some(","),
                doc: "one-byte field delimiter",
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
            doc: "the CSV's rows, its columns typed as the CSV reader infers them",
        }]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let bytes = ctx.file("path")?;
        let delimiter = match ctx.params.str("delimiter")?.as_bytes() {
            [b] => *b,
            _ => {
                return Err(StageError::Param {
                    name: "delimiter".into(),
                    reason: "must be exactly one byte".into(),
                })
            }
        };
        let table = read_csv(
            ctx.params.str("path")?,
            bytes,
            delimiter,
            CsvTypes::Inferred,
        )?;
        let rows = table.num_rows();
        Ok(Outputs::default().table("table", table).meta("rows", rows))
    }
}

/// Adds a numeric column computed from another one.
pub struct Derive;

impl Stage for Derive {
    fn name(&self) -> &'static str {
        "derive"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "Adds column `output` = op(column, value) to the input table."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[
            ParamSpec {
                name: "column",
                ty: ParamType::Str,
                default: None,
                doc: "numeric source column",
                in_key: true,
            },
            ParamSpec {
                name: "op",
                ty: ParamType::Choice(&["scale", "offset", "log1p", "square"]),
                default: Some("scale"),
                doc: "x*value, x+value, ln(1+x) or x^2",
                in_key: true,
            },
            ParamSpec {
                name: "value",
                ty: ParamType::Float,
                default: Some("1.0"),
                doc: "the operand of scale and offset",
                in_key: true,
            },
            ParamSpec {
                name: "output",
                ty: ParamType::Str,
                default: None,
                doc: "name of the new column (replaced if present)",
                in_key: true,
            },
        ]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[InputSpec {
            name: "table",
            many: false,
            doc: "the table to extend",
        }]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[OutputSpec {
            name: "table",
            kind: FileKind::Table,
            doc: "the input table with the new column",
        }]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let table = ctx.input_table("table", "table")?;
        let x = column_f64(&table, ctx.params.str("column")?, "column")?;
        let value = ctx.params.f64("value")?;
        let op = ctx.params.str("op")?;
        let f: fn(f64, f64) -> f64 = match op {
            "scale" => |x, v| x * v,
            "offset" => |x, v| x + v,
            "log1p" => |x, _| x.ln_1p(),
            _ => |x, _| x * x,
        };
        let derived: Float64Array = x.iter().map(|o| o.map(|x| f(x, value))).collect();
        let output = ctx.params.str("output")?;
        let mut fields: Vec<Field> = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (field, column) in table.schema().fields().iter().zip(table.columns()) {
            if field.name() != output {
                fields.push(field.as_ref().clone());
                columns.push(column.clone());
            }
        }
        fields.push(Field::new(output, DataType::Float64, true));
        columns.push(Arc::new(derived));
        let out = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        Ok(Outputs::default().table("table", out))
    }
}

/// Group-by statistics of one numeric column.
pub struct Aggregate;

impl Stage for Aggregate {
    fn name(&self) -> &'static str {
        "aggregate"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "Per group of `by`: count, sum, mean, min and max of `column` (nulls skipped)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[
            ParamSpec {
                name: "by",
                ty: ParamType::Str,
                default: None,
                doc: "grouping column (any type; grouped by its text)",
                in_key: true,
            },
            ParamSpec {
                name: "column",
                ty: ParamType::Str,
                default: None,
                doc: "numeric column to summarise",
                in_key: true,
            },
        ]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[InputSpec {
            name: "table",
            many: false,
            doc: "the table to summarise",
        }]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[OutputSpec {
            name: "table",
            kind: FileKind::Table,
            doc: "one row per group",
        }]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let table = ctx.input_table("table", "table")?;
        let by = ctx.params.str("by")?;
        let by_index = table.schema().index_of(by).map_err(|_| StageError::Param {
            name: "by".into(),
            reason: format!("no column `{by}` (columns: {})", column_names(&table)),
        })?;
        let groups = cast(table.column(by_index), &DataType::Utf8)?;
        let groups = groups.as_any().downcast_ref::<StringArray>().expect("Utf8");
        let values = column_f64(&table, ctx.params.str("column")?, "column")?;

        #[derive(Default)]
        struct Acc {
            count: u64,
            sum: f64,
            min: f64,
            max: f64,
        }
        let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
        for row in 0..table.num_rows() {
            let key = if groups.is_null(row) {
                ""
            } else {
                groups.value(row)
            };
            let entry = acc.entry(key.to_string()).or_insert(Acc {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                ..Default::default()
            });
            if values.is_valid(row) {
                let v = values.value(row);
                entry.count += 1;
                entry.sum += v;
                entry.min = entry.min.min(v);
                entry.max = entry.max.max(v);
            }
        }
        let keys: StringArray = acc.keys().map(Some).collect();
        let count: UInt64Array = acc.values().map(|a| Some(a.count)).collect();
        let stat = |f: fn(&Acc) -> f64| -> Float64Array {
            acc.values().map(|a| (a.count > 0).then(|| f(a))).collect()
        };
        let schema = Schema::new(vec![
            Field::new(by, DataType::Utf8, false),
            Field::new("count", DataType::UInt64, false),
            Field::new("sum", DataType::Float64, true),
            Field::new("mean", DataType::Float64, true),
            Field::new("min", DataType::Float64, true),
            Field::new("max", DataType::Float64, true),
        ]);
        let out = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(keys),
                Arc::new(count),
                Arc::new(stat(|a| a.sum)),
                Arc::new(stat(|a| a.sum / a.count as f64)),
                Arc::new(stat(|a| a.min)),
                Arc::new(stat(|a| a.max)),
            ],
        )?;
        let groups = out.num_rows();
        Ok(Outputs::default()
            .table("table", out)
            .meta("groups", groups))
    }
}

/// Stacks tables with the same schema.
pub struct Concat;

impl Stage for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "Stacks the `table` outputs of several nodes (same schema) and tags each row with its node."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[InputSpec {
            name: "tables",
            many: true,
            doc: "the nodes whose tables to stack",
        }]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        &[OutputSpec {
            name: "table",
            kind: FileKind::Table,
            doc: "the inputs' rows, in the order the config lists them",
        }]
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let ups = ctx.inputs.get("tables").cloned().unwrap_or_default();
        ctx.progress.set_total(ups.len() as u64);
        let mut batches = Vec::with_capacity(ups.len());
        for up in &ups {
            let table = up
                .files
                .table("table")
                .map_err(|reason| StageError::Input {
                    slot: "tables".into(),
                    reason: format!("node {}: {reason}", up.node),
                })?;
            let source: StringArray =
                std::iter::repeat_n(Some(up.node.as_str()), table.num_rows()).collect();
            let mut fields: Vec<Field> = table
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            fields.push(Field::new("source_node", DataType::Utf8, false));
            let mut columns = table.columns().to_vec();
            columns.push(Arc::new(source));
            batches.push(RecordBatch::try_new(
                Arc::new(Schema::new(fields)),
                columns,
            )?);
            ctx.progress.advance(1);
        }
        let Some(first) = batches.first() else {
            return Err(StageError::Input {
                slot: "tables".into(),
                reason: "no upstream nodes".into(),
            });
        };
        let schema = first.schema();
        for (batch, up) in batches.iter().zip(&ups) {
            if batch.schema() != schema {
                return Err(StageError::Input {
                    slot: "tables".into(),
                    reason: format!(
                        "node {} has columns ({}) but node {} has ({})",
                        up.node,
                        column_names(batch),
                        ups[0].node,
                        column_names(first)
                    ),
                });
            }
        }
        let out = concat_batches(&schema, &batches)?;
        Ok(Outputs::default().table("table", out))
    }
}
