//! `import_msd_summary`: a table of MSD track fields, as exported from the
//! MSD's summary file (`msd_summary_file.h5`) to CSV or Parquet (columns
//! such as track_id, artist_id, artist_name, year, tempo) -> one learning
//! source's table: the artist map (track_id, artist_id) or scalar labels
//! (track_id, value) of year or tempo (the `year` and `bpm` sources).
//!
//! It is read by the contracts' reader and its track ids checked as theirs
//! are (with errors naming the row and column, as `load_labels` gives).
//! The MSD writes 0 for an unknown year or tempo: such a track, like one
//! with the field empty, is left out and counted. A value that is not a
//! finite number fails the node, naming the row and column.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use super::{finish, path_param, source, Rejections, TABLE};
use crate::api::*;
use crate::contracts::{read_table, unique_track_ids, Contract, ContractError};

pub struct ImportMsdSummary;

impl Stage for ImportMsdSummary {
    fn name(&self) -> &'static str {
        "import_msd_summary"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "MSD track fields (a CSV or Parquet export of the summary file) as the artist \
         map, or year or tempo scalar labels (0 = unknown, left out)."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[
            path_param("the CSV or Parquet table, one row per track, with a `track_id` column"),
            ParamSpec {
                name: "field",
                ty: ParamType::Choice(&["artist", "year", "tempo"]),
                default: None,
                doc: "artist: the artist map (`artist` source); year, tempo: scalar labels \
                      (`year`, `bpm` sources)",
                in_key: true,
            },
            ParamSpec {
                name: "column",
                ty: ParamType::Str,
                default: Some(""),
                doc: "the column holding the field (e.g. `artist_name`); empty: artist_id, \
                      year or tempo",
                in_key: true,
            },
        ];
        PARAMS
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        TABLE
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let (file, bytes) = source(ctx, "path")?;
        let field = ctx.params.str("field")?;
        let name = match (ctx.params.str("column")?, field) {
            ("", "artist") => "artist_id",
            ("", other) => other,
            (given, _) => given,
        };
        let table = read_table(file, bytes)?;
        let column = |name: &str| {
            table.column_by_name(name).ok_or_else(|| {
                let schema = table.schema();
                let present: Vec<&str> =
                    schema.fields().iter().map(|f| f.name().as_str()).collect();
                ContractError::at(
                    file,
                    None,
                    name,
                    format!("missing (columns present: {})", present.join(", ")),
                )
            })
        };
        let ids = unique_track_ids(file, column("track_id")?)?;
        let values = cast(column(name)?, &DataType::Utf8)
            .map_err(|e| ContractError::at(file, None, name, e.to_string()))?;
        let values = values.as_any().downcast_ref::<StringArray>().expect("Utf8");
        let mut rejections = Rejections::default();
        let mut kept: Vec<&str> = Vec::new();
        let (mut artists, mut numbers) = (Vec::new(), Vec::new());
        for row in 0..ids.len() {
            let value = if values.is_null(row) {
                ""
            } else {
                values.value(row).trim()
            };
            let number = match field {
                "artist" => None,
                _ if value.is_empty() => Some(0.0),
                _ => Some(
                    value
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite())
                        .ok_or_else(|| {
                            ContractError::at(
                                file,
                                Some(row + 1),
                                name,
                                format!("{value:?} is not a finite number"),
                            )
                        })?,
                ),
            };
            if value.is_empty() || number == Some(0.0) {
                rejections.reject(unknown(field), || {
                    (format!("row {}", row + 1), ids.value(row).into())
                });
                continue;
            }
            kept.push(ids.value(row));
            match number {
                Some(number) => numbers.push(number),
                None => artists.push(value),
            }
        }
        let ids: ArrayRef = Arc::new(StringArray::from(kept));
        let (contract, columns): (Contract, Vec<(&str, ArrayRef)>) = match field {
            "artist" => (
                Contract::ArtistMap,
                vec![
                    ("track_id", ids),
                    ("artist_id", Arc::new(StringArray::from(artists))),
                ],
            ),
            _ => (
                Contract::Scalar,
                vec![
                    ("track_id", ids),
                    ("value", Arc::new(Float64Array::from(numbers))),
                ],
            ),
        };
        finish(contract, file, columns, rejections)
    }
}

/// The reason a track without the field is left out.
fn unknown(field: &str) -> &'static str {
    match field {
        "artist" => "tracks without an artist",
        "year" => "tracks of unknown year (0 or empty)",
        _ => "tracks of unknown tempo (0 or empty)",
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_files::*;
    use super::*;

    const CSV: &str = "track_id,artist_id,artist_name,year,tempo\n\
                       TRA,ARX,\"Nine, Inch\",1994,121.5\n\
                       TRB,ARY,Bob,0,0.0\n\
                       TRC,,Cy,,96\n";

    fn import(csv: &str, params: serde_json::Value) -> Result<Outputs, StageError> {
        let mut all = serde_json::json!({"path": "msd.csv"});
        all.as_object_mut()
            .unwrap()
            .extend(params.as_object().unwrap().clone());
        run(&ImportMsdSummary, all, &[("path", csv.as_bytes())])
    }

    #[test]
    fn one_field_per_node_unknowns_left_out() {
        let artists = import(CSV, serde_json::json!({"field": "artist"})).unwrap();
        assert_eq!(texts(&artists, "track_id"), ["TRA", "TRB"]);
        assert_eq!(texts(&artists, "artist_id"), ["ARX", "ARY"]);
        assert_eq!(
            warnings(&artists),
            ["msd.csv: 1 tracks without an artist, left out: row 3 (TRC)"]
        );
        let names = import(
            CSV,
            serde_json::json!({"field": "artist", "column": "artist_name"}),
        )
        .unwrap();
        assert_eq!(texts(&names, "artist_id"), ["Nine, Inch", "Bob", "Cy"]);
        let years = import(CSV, serde_json::json!({"field": "year"})).unwrap();
        assert_eq!(texts(&years, "track_id"), ["TRA"]);
        assert_eq!(numbers(&years, "value"), [1994.0]);
        assert_eq!(
            warnings(&years),
            ["msd.csv: 2 tracks of unknown year (0 or empty), left out: row 2 (TRB), row 3 (TRC)"]
        );
        let tempi = import(CSV, serde_json::json!({"field": "tempo"})).unwrap();
        assert_eq!(numbers(&tempi, "value"), [121.5, 96.0]);
        assert_eq!(tempi.metadata["rejected_rows"], 1);
    }

    #[test]
    fn errors_name_the_row_and_column_as_load_labels_does() {
        let cases = [
            (
                "track_id,year\nTRA,1990\nTRA,1991\n",
                "row 2, column `track_id`: duplicate track id \"TRA\" (first at row 1)",
            ),
            (
                "track_id,year\nTRA,1990\n,1991\n",
                "row 2, column `track_id`: missing value",
            ),
            (
                "track_id,year\nTRA,nineteen\n",
                "row 1, column `year`: \"nineteen\" is not a finite number",
            ),
            (
                "track_id,year\nTRA,inf\n",
                "row 1, column `year`: \"inf\" is not a finite number",
            ),
            (
                "track_id,tempo\nTRA,1\n",
                "column `year`: missing (columns present: track_id, tempo)",
            ),
        ];
        for (csv, expected) in cases {
            assert_eq!(
                error(import(csv, serde_json::json!({"field": "year"}))),
                format!("msd.csv, {expected}")
            );
        }
    }
}
