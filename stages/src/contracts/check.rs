//! The contracts themselves: required and optional columns, their types,
//! and the rules every row must follow.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::compute::{cast, cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field, Schema};

use super::{study, ContractError};
use crate::study::Source;

/// The kinds of table a user brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// track_id, uri, optional blake3 / sha256 checksums.
    Tracks,
    /// track_id, item, count: tag, taste, lyrics and cdr_tag sources.
    LabelCounts,
    /// track_id, artist_id.
    ArtistMap,
    /// track_id, value: bpm and year.
    Scalar,
    /// A classification target dataset: track_id, uri, label, optional
    /// split and group, optional checksums.
    TargetLabels,
    /// A regression target dataset: as TargetLabels with value for label.
    TargetValues,
    /// user_id, track_id, count: recommendation interactions.
    Interactions,
    /// A study's runs made elsewhere: run, strategy, one 0/1 column per
    /// source, optional phase and seed; handed on as the design's `runs`
    /// table (see `study`).
    Runs,
    /// Their scores: run, dataset, repeat, metric, value; handed on as an
    /// evaluation's `scores` table.
    Scores,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// A track id: text that is safe as a file name.
    TrackId,
    Text,
    /// A finite number.
    Number,
    /// A finite, non-negative number.
    Count,
    /// A whole number (read as such, so 63-bit seeds keep every digit).
    Integer,
    /// 0 or 1 (true or false).
    Indicator,
    Uri,
    /// Lowercase or uppercase hex of 32 bytes.
    Hash,
    Split,
}

struct Column {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn req(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        required: true,
    }
}

const fn opt(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        required: false,
    }
}

impl Contract {
    pub fn name(self) -> &'static str {
        match self {
            Contract::Tracks => "track manifest",
            Contract::LabelCounts => "label counts",
            Contract::ArtistMap => "artist map",
            Contract::Scalar => "scalar labels",
            Contract::TargetLabels => "classification dataset",
            Contract::TargetValues => "regression dataset",
            Contract::Interactions => "interactions",
            Contract::Runs => "runs table",
            Contract::Scores => "scores table",
        }
    }

    fn columns(self) -> &'static [Column] {
        use Kind::*;
        match self {
            Contract::Tracks => {
                const COLUMNS: &[Column] = &[
                    req("track_id", TrackId),
                    req("uri", Uri),
                    opt("blake3", Hash),
                    opt("sha256", Hash),
                ];
                COLUMNS
            }
            Contract::LabelCounts => {
                const COLUMNS: &[Column] = &[
                    req("track_id", TrackId),
                    req("item", Text),
                    req("count", Count),
                ];
                COLUMNS
            }
            Contract::ArtistMap => {
                const COLUMNS: &[Column] = &[req("track_id", TrackId), req("artist_id", Text)];
                COLUMNS
            }
            Contract::Scalar => {
                const COLUMNS: &[Column] = &[req("track_id", TrackId), req("value", Number)];
                COLUMNS
            }
            Contract::TargetLabels => {
                const COLUMNS: &[Column] = &[
                    req("track_id", TrackId),
                    req("uri", Uri),
                    req("label", Text),
                    opt("split", Split),
                    opt("group", Text),
                    opt("blake3", Hash),
                    opt("sha256", Hash),
                ];
                COLUMNS
            }
            Contract::TargetValues => {
                const COLUMNS: &[Column] = &[
                    req("track_id", TrackId),
                    req("uri", Uri),
                    req("value", Number),
                    opt("split", Split),
                    opt("group", Text),
                    opt("blake3", Hash),
                    opt("sha256", Hash),
                ];
                COLUMNS
            }
            Contract::Interactions => {
                const COLUMNS: &[Column] = &[
                    req("user_id", Text),
                    req("track_id", TrackId),
                    req("count", Count),
                ];
                COLUMNS
            }
            Contract::Runs => {
                const fn source(s: Source) -> Column {
                    req(s.name(), Indicator)
                }
                const COLUMNS: &[Column] = &[
                    req("run", Text),
                    req("strategy", Text),
                    source(Source::ALL[0]),
                    source(Source::ALL[1]),
                    source(Source::ALL[2]),
                    source(Source::ALL[3]),
                    source(Source::ALL[4]),
                    source(Source::ALL[5]),
                    source(Source::ALL[6]),
                    source(Source::ALL[7]),
                    opt("phase", Integer),
                    opt("seed", Integer),
                ];
                COLUMNS
            }
            Contract::Scores => {
                const COLUMNS: &[Column] = &[
                    req("run", Text),
                    req("dataset", Text),
                    req("repeat", Integer),
                    req("metric", Text),
                    req("value", Number),
                ];
                COLUMNS
            }
        }
    }

    /// Whether each track may appear once only.
    fn unique_tracks(self) -> bool {
        matches!(
            self,
            Contract::Tracks
                | Contract::TargetLabels
                | Contract::TargetValues
                | Contract::ArtistMap
                | Contract::Scalar
        )
    }
}

/// Checks `table` against `contract` and returns it in canonical form: the
/// contract's columns only (absent optional ones dropped), text as Utf8,
/// numbers as Float64; a study's runs and scores as the stages' own tables
/// (`study`).
pub fn validate(
    contract: Contract,
    file: &str,
    table: &RecordBatch,
) -> Result<RecordBatch, ContractError> {
    let schema = table.schema();
    let present: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for column in contract.columns() {
        let Ok(index) = schema.index_of(column.name) else {
            if column.required {
                return Err(ContractError::at(
                    file,
                    None,
                    column.name,
                    format!(
                        "missing: a {} needs it (columns present: {})",
                        contract.name(),
                        present.join(", ")
                    ),
                ));
            }
            continue;
        };
        let array = table.column(index);
        let checked: ArrayRef = match column.kind {
            Kind::Number | Kind::Count => Arc::new(numbers(file, column, array)?),
            Kind::Integer => Arc::new(integers(file, column, array)?),
            Kind::Indicator => Arc::new(indicators(file, column, array)?),
            _ => Arc::new(texts(file, column, array)?),
        };
        fields.push(Field::new(
            column.name,
            checked.data_type().clone(),
            !column.required,
        ));
        arrays.push(checked);
    }
    let out = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| ContractError::file(file, e.to_string()))?;
    if contract.unique_tracks() {
        no_duplicates(file, &out)?;
    }
    match contract {
        Contract::Runs => study::runs(file, &out),
        Contract::Scores => study::scores(file, &out),
        _ => Ok(out),
    }
}

fn texts(file: &str, column: &Column, array: &ArrayRef) -> Result<StringArray, ContractError> {
    let as_text = match array.data_type() {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt32
        | DataType::UInt64 => cast(array, &DataType::Utf8)
            .map_err(|e| ContractError::at(file, None, column.name, e.to_string()))?,
        other => {
            return Err(ContractError::at(
                file,
                None,
                column.name,
                format!("must be text, found {other}"),
            ));
        }
    };
    let strings = as_text
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8 gives a StringArray")
        .clone();
    for row in 0..strings.len() {
        let at = |message: String| ContractError::at(file, Some(row + 1), column.name, message);
        if strings.is_null(row) || strings.value(row).is_empty() {
            if column.required {
                return Err(at("missing value".into()));
            }
            continue;
        }
        let value = strings.value(row);
        match column.kind {
            Kind::TrackId => {
                track_id_is_safe(value).map_err(|why| at(format!("track id {value:?} {why}")))?
            }
            Kind::Uri => {
                uri_is_supported(value).map_err(|why| at(format!("uri {value:?} {why}")))?
            }
            Kind::Hash if !(value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())) => {
                return Err(at(format!("{value:?} is not 64 hex digits")));
            }
            Kind::Split if !["train", "valid", "test"].contains(&value) => {
                return Err(at(format!(
                    "split {value:?} is not one of train, valid, test"
                )));
            }
            _ => {}
        }
    }
    Ok(strings)
}

/// A text column parsed value by value (trimmed; empty or null: None),
/// naming the row of a value that is not `what`.
fn parsed<T: std::str::FromStr>(
    file: &str,
    column: &Column,
    array: &ArrayRef,
    what: &str,
) -> Result<Vec<Option<T>>, ContractError> {
    let text = cast(array, &DataType::Utf8)
        .map_err(|e| ContractError::at(file, None, column.name, e.to_string()))?;
    let text = text.as_any().downcast_ref::<StringArray>().expect("Utf8");
    (0..text.len())
        .map(|row| {
            let raw = if text.is_null(row) {
                ""
            } else {
                text.value(row).trim()
            };
            if raw.is_empty() {
                return Ok(None);
            }
            raw.parse::<T>().map(Some).map_err(|_| {
                ContractError::at(
                    file,
                    Some(row + 1),
                    column.name,
                    format!("{raw:?} is not {what}"),
                )
            })
        })
        .collect()
}

fn numbers(file: &str, column: &Column, array: &ArrayRef) -> Result<Float64Array, ContractError> {
    let values: Vec<Option<f64>> = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            parsed::<f64>(file, column, array, "a number")?
        }
        t if t.is_numeric() => {
            let cast = cast(array, &DataType::Float64)
                .map_err(|e| ContractError::at(file, None, column.name, e.to_string()))?;
            cast.as_any()
                .downcast_ref::<Float64Array>()
                .expect("Float64")
                .iter()
                .collect()
        }
        other => {
            return Err(ContractError::at(
                file,
                None,
                column.name,
                format!("must be numeric, found {other}"),
            ));
        }
    };
    for (row, value) in values.iter().enumerate() {
        let at = |message: &str| {
            ContractError::at(file, Some(row + 1), column.name, message.to_string())
        };
        match value {
            None => return Err(at("missing value")),
            Some(v) if v.is_nan() => return Err(at("NaN")),
            Some(v) if !v.is_finite() => return Err(at(&format!("{v} is not finite"))),
            Some(v) if column.kind == Kind::Count && *v < 0.0 => {
                return Err(at(&format!("negative count {v}")))
            }
            _ => {}
        }
    }
    Ok(values.into_iter().collect())
}

/// Whole numbers: integer columns, or text that is one (a float column or
/// "3.0" is not).
fn integers(file: &str, column: &Column, array: &ArrayRef) -> Result<Int64Array, ContractError> {
    let whole =
        |e: &dyn std::fmt::Display| ContractError::at(file, None, column.name, e.to_string());
    let values: Int64Array = match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            parsed::<i64>(file, column, array, "an integer")?
                .into_iter()
                .collect()
        }
        t if t.is_integer() => {
            let options = CastOptions {
                safe: false,
                ..CastOptions::default()
            };
            let cast =
                cast_with_options(array, &DataType::Int64, &options).map_err(|e| whole(&e))?;
            cast.as_any()
                .downcast_ref::<Int64Array>()
                .expect("Int64")
                .clone()
        }
        other => return Err(whole(&format!("must be an integer, found {other}"))),
    };
    missing_values(file, column, &values)?;
    Ok(values)
}

/// 0 or 1: a Boolean column, numbers, or text (`0`, `1`, `true`, `false`
/// in any case).
fn indicators(
    file: &str,
    column: &Column,
    array: &ArrayRef,
) -> Result<BooleanArray, ContractError> {
    let at =
        |row: usize, message: String| ContractError::at(file, Some(row + 1), column.name, message);
    let whole =
        |e: &dyn std::fmt::Display| ContractError::at(file, None, column.name, e.to_string());
    let values: BooleanArray = match array.data_type() {
        DataType::Boolean => array
            .as_any()
            .downcast_ref::<BooleanArray>()
            .expect("Boolean")
            .clone(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = cast(array, &DataType::Utf8).map_err(|e| whole(&e))?;
            let text = text.as_any().downcast_ref::<StringArray>().expect("Utf8");
            (0..text.len())
                .map(|row| {
                    let raw = if text.is_null(row) {
                        ""
                    } else {
                        text.value(row).trim()
                    };
                    match raw.to_ascii_lowercase().as_str() {
                        "" => Ok(None),
                        "1" | "true" => Ok(Some(true)),
                        "0" | "false" => Ok(Some(false)),
                        _ => Err(at(row, format!("{raw:?} is not 0, 1, true or false"))),
                    }
                })
                .collect::<Result<_, _>>()?
        }
        t if t.is_numeric() => {
            let numbers = cast(array, &DataType::Float64).map_err(|e| whole(&e))?;
            let numbers = numbers
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("Float64");
            numbers
                .iter()
                .enumerate()
                .map(|(row, v)| match v {
                    None => Ok(None),
                    Some(1.0) => Ok(Some(true)),
                    Some(0.0) => Ok(Some(false)),
                    Some(v) => Err(at(row, format!("{v} is not 0 or 1"))),
                })
                .collect::<Result<_, _>>()?
        }
        other => return Err(whole(&format!("must be 0/1 or Boolean, found {other}"))),
    };
    missing_values(file, column, &values)?;
    Ok(values)
}

/// The first empty cell of a column that must be filled, as an error.
fn missing_values(file: &str, column: &Column, values: &dyn Array) -> Result<(), ContractError> {
    match (0..values.len()).find(|&row| values.is_null(row)) {
        Some(row) => Err(ContractError::at(
            file,
            Some(row + 1),
            column.name,
            "missing value",
        )),
        None => Ok(()),
    }
}

/// Track ids become file and object names: nothing that could leave a
/// directory or confuse a terminal (bidirectional controls reorder what is
/// shown), and no spaces at the ends, which a spreadsheet adds unseen and
/// which would make ` t1` and `t1` two tracks.
pub(crate) fn track_id_is_safe(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("is empty".into());
    }
    if id.contains("..") {
        return Err("contains `..`".into());
    }
    if id.contains('/') || id.contains('\\') {
        return Err("contains a path separator".into());
    }
    if id.chars().any(char::is_control) {
        return Err("contains a control character".into());
    }
    if let Some(c) = id.chars().find(|c| is_bidi_control(*c)) {
        return Err(format!(
            "contains the bidirectional control character U+{:04X}",
            u32::from(c)
        ));
    }
    if id.trim() != id {
        return Err("has leading or trailing spaces".into());
    }
    if id.len() > 200 {
        return Err("is longer than 200 bytes".into());
    }
    Ok(())
}

/// `text` as a warning may show it: as it is, or quoted and escaped if it
/// holds control or bidirectional characters (a file name may).
pub(crate) fn shown(text: &str) -> String {
    if text.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        format!("{text:?}")
    } else {
        text.to_string()
    }
}

/// The Unicode characters that change the display order of text.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn uri_is_supported(uri: &str) -> Result<(), &'static str> {
    match uri.split_once("://") {
        None => Ok(()), // a path, relative to pipeline.yaml
        Some(("http" | "https" | "s3" | "file", rest)) if !rest.is_empty() => Ok(()),
        Some(_) => Err("has an unsupported scheme: use http(s)://, s3://, file:// or a path"),
    }
}

/// A table's `track_id` column checked as the contracts whose tracks are
/// unique check it, for a stage that takes other columns its own way.
pub(crate) fn unique_track_ids(file: &str, ids: &ArrayRef) -> Result<StringArray, ContractError> {
    let ids = texts(file, &req("track_id", Kind::TrackId), ids)?;
    unique(file, &ids)?;
    Ok(ids)
}

fn no_duplicates(file: &str, table: &RecordBatch) -> Result<(), ContractError> {
    unique(file, track_ids(table))
}

fn unique(file: &str, ids: &StringArray) -> Result<(), ContractError> {
    unique_ids(file, "track_id", "track id", ids)
}

/// The first id of column `column` that repeats an earlier one, as an
/// error calling it a duplicate `what`.
pub(super) fn unique_ids(
    file: &str,
    column: &str,
    what: &str,
    ids: &StringArray,
) -> Result<(), ContractError> {
    let mut first_row: HashMap<&str, usize> = HashMap::new();
    for row in 0..ids.len() {
        if let Some(first) = first_row.insert(ids.value(row), row + 1) {
            return Err(ContractError::at(
                file,
                Some(row + 1),
                column,
                format!(
                    "duplicate {what} {:?} (first at row {first})",
                    ids.value(row)
                ),
            ));
        }
    }
    Ok(())
}

fn track_ids(table: &RecordBatch) -> &StringArray {
    table
        .column_by_name("track_id")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .expect("validated tables have a Utf8 track_id")
}

/// Splits a validated table into rows whose track is in `known` and the
/// 1-based row numbers and ids of the others, which callers must report.
pub fn split_known(
    table: &RecordBatch,
    known: &HashSet<String>,
) -> (RecordBatch, Vec<(usize, String)>) {
    let ids = track_ids(table);
    let mut unknown = Vec::new();
    let keep: arrow::array::BooleanArray = (0..ids.len())
        .map(|row| {
            let ok = known.contains(ids.value(row));
            if !ok {
                unknown.push((row + 1, ids.value(row).to_string()));
            }
            Some(ok)
        })
        .collect();
    let kept = arrow::compute::filter_record_batch(table, &keep).expect("mask matches the table");
    (kept, unknown)
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::read_table;
    use super::*;

    /// `csv` read as in.csv and checked against `contract`.
    pub(in crate::contracts) fn check(
        contract: Contract,
        csv: &str,
    ) -> Result<RecordBatch, String> {
        let table = read_table("in.csv", csv.as_bytes()).map_err(|e| e.to_string())?;
        validate(contract, "in.csv", &table).map_err(|e| e.to_string())
    }

    /// Asserts that `csv` violates `contract` with error `expected`.
    pub(in crate::contracts) fn fails(contract: Contract, csv: &str, expected: &str) {
        match check(contract, csv) {
            Ok(_) => panic!("accepted: {csv}"),
            Err(e) => assert_eq!(e, expected),
        }
    }

    #[test]
    fn a_good_manifest_is_canonicalised() {
        let t = check(
            Contract::Tracks,
            "track_id,uri,extra\n1,a.wav,x\nt2,https://h/b.mp3,y\n",
        )
        .unwrap();
        assert_eq!(t.num_columns(), 2);
        assert_eq!(track_ids(&t).value(0), "1");
    }

    #[test]
    fn each_violation_names_file_row_and_column() {
        fails(
            Contract::Tracks,
            "track_id\nt1\n",
            "in.csv, column `uri`: missing: a track manifest needs it (columns present: track_id)",
        );
        fails(
            Contract::Tracks,
            "track_id,uri\nt1,a.wav\nt1,b.wav\n",
            "in.csv, row 2, column `track_id`: duplicate track id \"t1\" (first at row 1)",
        );
        fails(
            Contract::Tracks,
            "track_id,uri\n../etc,a.wav\n",
            "in.csv, row 1, column `track_id`: track id \"../etc\" contains `..`",
        );
        fails(
            Contract::Tracks,
            "track_id,uri\na/b,a.wav\n",
            "in.csv, row 1, column `track_id`: track id \"a/b\" contains a path separator",
        );
        fails(
            Contract::Tracks,
            "track_id,uri\n\"a\u{7}\",a.wav\n",
            "in.csv, row 1, column `track_id`: track id \"a\\u{7}\" contains a control character",
        );
        fails(
            Contract::Tracks,
            "track_id,uri\nt1,a.wav\n\"evil\u{202E}vaw.exe\",b.wav\n",
            "in.csv, row 2, column `track_id`: track id \"evil\\u{202e}vaw.exe\" contains the \
             bidirectional control character U+202E",
        );
        fails(
            Contract::Tracks,
            "track_id,uri\n t1,a.wav\n",
            "in.csv, row 1, column `track_id`: track id \" t1\" has leading or trailing spaces",
        );
        fails(
            Contract::LabelCounts,
            "track_id,item,count\nt1 ,rock,1\n",
            "in.csv, row 1, column `track_id`: track id \"t1 \" has leading or trailing spaces",
        );
        fails(Contract::Tracks, "track_id,uri\nt1,ftp://x/a\n", "in.csv, row 1, column `uri`: uri \"ftp://x/a\" has an unsupported scheme: use http(s)://, s3://, file:// or a path");
        fails(
            Contract::Tracks,
            "track_id,uri,blake3\nt1,a,abc\n",
            "in.csv, row 1, column `blake3`: \"abc\" is not 64 hex digits",
        );
        fails(
            Contract::LabelCounts,
            "track_id,item,count\nt1,rock,2\nt1,pop,-1\n",
            "in.csv, row 2, column `count`: negative count -1",
        );
        fails(
            Contract::LabelCounts,
            "track_id,item,count\nt1,rock,many\n",
            "in.csv, row 1, column `count`: \"many\" is not a number",
        );
        fails(
            Contract::LabelCounts,
            "track_id,item,count\nt1,rock,inf\n",
            "in.csv, row 1, column `count`: inf is not finite",
        );
        fails(
            Contract::Scalar,
            "track_id,value\nt1,NaN\n",
            "in.csv, row 1, column `value`: NaN",
        );
        fails(
            Contract::Scalar,
            "track_id,value\nt1,\n",
            "in.csv, row 1, column `value`: missing value",
        );
        fails(
            Contract::TargetLabels,
            "track_id,uri,label,split\nt1,a,rock,dev\n",
            "in.csv, row 1, column `split`: split \"dev\" is not one of train, valid, test",
        );
        fails(Contract::Tracks, "", "in.csv: the file is empty");
        fails(
            Contract::Tracks,
            "track_id,uri\n",
            "in.csv: the table has no rows",
        );
    }

    #[test]
    fn unreadable_bytes_are_named() {
        let err = read_table("x.csv", &[0xff, 0xfe, 0x00, 0x41])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x.csv: not UTF-8 text (and not Parquet)"),
            "{err}"
        );
        let ragged = read_table("r.csv", b"track_id,uri\nt1,a,extra\n")
            .unwrap_err()
            .to_string();
        assert!(ragged.starts_with("r.csv: unreadable CSV"), "{ragged}");
    }

    #[test]
    fn wrong_parquet_types_are_named() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("track_id", DataType::Utf8, false),
            Field::new("value", DataType::Boolean, false),
        ]));
        let table = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["t1"])),
                Arc::new(arrow::array::BooleanArray::from(vec![true])),
            ],
        )
        .unwrap();
        let err = validate(Contract::Scalar, "s.parquet", &table)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "s.parquet, column `value`: must be numeric, found Boolean"
        );
    }

    #[test]
    fn unknown_tracks_are_split_off_with_their_rows() {
        let t = check(
            Contract::LabelCounts,
            "track_id,item,count\nt1,a,1\nzz,b,2\nt2,c,3\n",
        )
        .unwrap();
        let known: HashSet<String> = ["t1".to_string(), "t2".to_string()].into();
        let (kept, unknown) = split_known(&t, &known);
        assert_eq!(kept.num_rows(), 2);
        assert_eq!(unknown, vec![(2, "zz".to_string())]);
    }
}
