//! Target-dataset tables as the evaluation reads them: a manifest (one row
//! per track: `track_id`, then `label` or `value`, optional `split` and
//! `group`; other columns such as `uri` or checksums are ignored) and, for
//! recommendation, the interactions (`user_id`, `track_id`, `count`). These
//! are the synthetic corpus's target tables and the user contracts
//! TargetLabels / TargetValues / Interactions. Errors name the slot, row
//! (1-based) and column.

use std::collections::HashMap;

use arrow::array::{Array, Float64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;

use super::splits::{parse_given, Part};
use stages::api::StageError;
use stages::labels::csr::Csr;
use stages::table::track_ids;

/// What the manifest must provide besides track ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Classification: a text `label` per track.
    Labels,
    /// Regression: a numeric `value` per track.
    Values,
    /// Recommendation items: nothing more (a `split` column is ignored:
    /// the cold-start protocol draws its own held-out items).
    Items,
}

/// A target dataset's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub ids: Vec<String>,
    /// One per track for [`Need::Labels`], else empty.
    pub labels: Vec<String>,
    /// One per track for [`Need::Values`], else empty.
    pub values: Vec<f64>,
    pub given: Option<Vec<Part>>,
    /// A track without a group forms a group of its own.
    pub groups: Option<Vec<Option<String>>>,
}

fn input_error(slot: &str, reason: String) -> StageError {
    StageError::Input {
        slot: slot.into(),
        reason,
    }
}

/// A column cast to text, if present.
fn text(table: &RecordBatch, slot: &str, name: &str) -> Result<Option<StringArray>, StageError> {
    let Some(column) = table.column_by_name(name) else {
        return Ok(None);
    };
    let as_text = cast(column, &DataType::Utf8)
        .map_err(|e| input_error(slot, format!("column `{name}` is not text: {e}")))?;
    Ok(as_text.as_any().downcast_ref::<StringArray>().cloned())
}

/// A numeric column as Float64; every row must hold a finite number
/// (`non_negative` for counts).
fn numbers(
    table: &RecordBatch,
    slot: &str,
    name: &str,
    non_negative: bool,
) -> Result<Vec<f64>, StageError> {
    let column = table
        .column_by_name(name)
        .ok_or_else(|| missing_column(table, slot, name))?;
    if !column.data_type().is_numeric() {
        return Err(input_error(
            slot,
            format!(
                "column `{name}` must be numeric, found {}",
                column.data_type()
            ),
        ));
    }
    let as_f64 = cast(column, &DataType::Float64)?;
    let as_f64 = as_f64
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| {
            input_error(
                slot,
                format!("column `{name}` could not be read as numbers"),
            )
        })?;
    (0..as_f64.len())
        .map(|row| {
            let at = |what: String| {
                input_error(slot, format!("row {}, column `{name}`: {what}", row + 1))
            };
            if as_f64.is_null(row) {
                return Err(at("missing value".into()));
            }
            let v = as_f64.value(row);
            if !v.is_finite() {
                return Err(at(format!("{v} is not finite")));
            }
            if non_negative && v < 0.0 {
                return Err(at(format!("negative count {v}")));
            }
            Ok(v)
        })
        .collect()
}

fn missing_column(table: &RecordBatch, slot: &str, name: &str) -> StageError {
    let schema = table.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    input_error(
        slot,
        format!("has no column `{name}` (columns: {})", names.join(", ")),
    )
}

/// Reads a target manifest.
pub fn read_dataset(table: &RecordBatch, slot: &str, need: Need) -> Result<Dataset, StageError> {
    let ids = track_ids(table, slot)?;
    let mut first_row: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        if let Some(first) = first_row.insert(id, row + 1) {
            return Err(input_error(
                slot,
                format!(
                    "row {}: duplicate track id {id:?} (first at row {first})",
                    row + 1
                ),
            ));
        }
    }
    let labels = if need == Need::Labels {
        let column =
            text(table, slot, "label")?.ok_or_else(|| missing_column(table, slot, "label"))?;
        (0..column.len())
            .map(
                |row| match column.is_null(row) || column.value(row).is_empty() {
                    true => Err(input_error(
                        slot,
                        format!("row {}, column `label`: missing value", row + 1),
                    )),
                    false => Ok(column.value(row).to_string()),
                },
            )
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let values = if need == Need::Values {
        numbers(table, slot, "value", false)?
    } else {
        Vec::new()
    };
    let given = match (need, text(table, slot, "split")?) {
        (Need::Items, _) | (_, None) => None,
        (_, Some(column)) => {
            let raw: Vec<Option<&str>> = (0..column.len())
                .map(|row| (!column.is_null(row)).then(|| column.value(row)))
                .collect();
            Some(parse_given(&raw).map_err(|e| input_error(slot, format!("column `split`: {e}")))?)
        }
    };
    let groups = text(table, slot, "group")?.map(|column| {
        (0..column.len())
            .map(|row| {
                (!column.is_null(row) && !column.value(row).is_empty())
                    .then(|| column.value(row).to_string())
            })
            .collect()
    });
    Ok(Dataset {
        ids,
        labels,
        values,
        given,
        groups,
    })
}

impl Dataset {
    /// The rows at `positions`, in that order.
    pub fn subset(&self, positions: &[usize]) -> Dataset {
        let pick = |v: &[String]| -> Vec<String> {
            if v.is_empty() {
                Vec::new()
            } else {
                positions.iter().map(|&p| v[p].clone()).collect()
            }
        };
        Dataset {
            ids: pick(&self.ids),
            labels: pick(&self.labels),
            values: if self.values.is_empty() {
                Vec::new()
            } else {
                positions.iter().map(|&p| self.values[p]).collect()
            },
            given: self
                .given
                .as_ref()
                .map(|g| positions.iter().map(|&p| g[p]).collect()),
            groups: self
                .groups
                .as_ref()
                .map(|g| positions.iter().map(|&p| g[p].clone()).collect()),
        }
    }

    /// Class index per track and the class names (sorted).
    pub fn classes(&self) -> (Vec<usize>, Vec<String>) {
        let mut names = self.labels.clone();
        names.sort();
        names.dedup();
        let of_track = self
            .labels
            .iter()
            .map(|l| names.binary_search(l).unwrap_or(0))
            .collect();
        (of_track, names)
    }

    /// A dense group index per track; a track without a group gets its own.
    pub fn group_index(&self) -> Option<Vec<usize>> {
        let groups = self.groups.as_ref()?;
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut next = 0;
        Some(
            groups
                .iter()
                .map(|g| {
                    let fresh = |next: &mut usize| {
                        *next += 1;
                        *next - 1
                    };
                    match g {
                        Some(name) => *index.entry(name).or_insert_with(|| fresh(&mut next)),
                        None => fresh(&mut next),
                    }
                })
                .collect(),
        )
    }
}

/// Play counts as a users x items matrix over a given item list.
#[derive(Debug, Clone)]
pub struct Interactions {
    /// Users x items, counts summed over repeated (user, track) rows; zero
    /// counts are no interaction.
    pub counts: Csr,
    pub user_ids: Vec<String>,
    /// Rows about tracks outside the item list, left out (count, examples).
    pub unknown_rows: usize,
    pub unknown_tracks: Vec<String>,
}

/// Reads (user_id, track_id, count) rows against `items` (track ids).
pub fn read_interactions(
    table: &RecordBatch,
    slot: &str,
    items: &[String],
) -> Result<Interactions, StageError> {
    let users =
        text(table, slot, "user_id")?.ok_or_else(|| missing_column(table, slot, "user_id"))?;
    let tracks = track_ids(table, slot)?;
    let counts = numbers(table, slot, "count", true)?;
    let item_of: HashMap<&str, u32> = items
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i as u32))
        .collect();
    let mut user_of: HashMap<String, u32> = HashMap::new();
    let mut user_ids = Vec::new();
    let mut triplets = Vec::with_capacity(tracks.len());
    let mut unknown_rows = 0;
    let mut unknown_tracks: Vec<String> = Vec::new();
    for (row, (track, &count)) in tracks.iter().zip(&counts).enumerate() {
        if users.is_null(row) || users.value(row).is_empty() {
            return Err(input_error(
                slot,
                format!("row {}, column `user_id`: missing value", row + 1),
            ));
        }
        let Some(&item) = item_of.get(track.as_str()) else {
            unknown_rows += 1;
            if unknown_tracks.len() < 5 && !unknown_tracks.contains(track) {
                unknown_tracks.push(track.clone());
            }
            continue;
        };
        let name = users.value(row);
        let user = match user_of.get(name) {
            Some(&u) => u,
            None => {
                let u = user_ids.len() as u32;
                user_of.insert(name.to_string(), u);
                user_ids.push(name.to_string());
                u
            }
        };
        triplets.push((user, item, count));
    }
    Ok(Interactions {
        counts: Csr::from_triplets(user_ids.len(), items.len(), &triplets),
        user_ids,
        unknown_rows,
        unknown_tracks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .unwrap()
    }

    fn strings(v: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(v.to_vec()))
    }

    #[test]
    fn reads_labels_splits_and_groups() {
        let table = batch(vec![
            ("track_id", strings(&[Some("a"), Some("b"), Some("c")])),
            (
                "uri",
                strings(&[Some("x.wav"), Some("y.wav"), Some("z.wav")]),
            ),
            (
                "label",
                strings(&[Some("rock"), Some("jazz"), Some("rock")]),
            ),
            (
                "split",
                strings(&[Some("train"), Some("valid"), Some("test")]),
            ),
            ("group", strings(&[Some("g1"), None, Some("g1")])),
        ]);
        let d = read_dataset(&table, "dataset", Need::Labels).unwrap();
        assert_eq!(d.given, Some(vec![Part::Train, Part::Train, Part::Test]));
        let (of_track, names) = d.classes();
        assert_eq!(
            (of_track, names),
            (vec![1, 0, 1], vec!["jazz".to_string(), "rock".into()])
        );
        assert_eq!(d.group_index(), Some(vec![0, 1, 0]));
        let sub = d.subset(&[2, 0]);
        assert_eq!(sub.ids, vec!["c", "a"]);
        assert_eq!(sub.labels, vec!["rock", "rock"]);
        // Items ignore the split column.
        let items = read_dataset(&table, "items", Need::Items).unwrap();
        assert_eq!(items.given, None);
    }

    #[test]
    fn bad_manifests_name_row_and_column() {
        let bad_split = batch(vec![
            ("track_id", strings(&[Some("a"), Some("b")])),
            ("value", Arc::new(Float64Array::from(vec![0.1, 0.2]))),
            ("split", strings(&[Some("train"), Some("dev")])),
        ]);
        let err = read_dataset(&bad_split, "dataset", Need::Values)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 2: split \"dev\" is not one of train, valid, test"),
            "{err}"
        );
        let no_label = batch(vec![("track_id", strings(&[Some("a")]))]);
        let err = read_dataset(&no_label, "dataset", Need::Labels)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no column `label`"), "{err}");
        let null_value = batch(vec![
            ("track_id", strings(&[Some("a"), Some("b")])),
            ("value", Arc::new(Float64Array::from(vec![Some(0.1), None]))),
        ]);
        let err = read_dataset(&null_value, "dataset", Need::Values)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 2, column `value`: missing value"),
            "{err}"
        );
        let text_value = batch(vec![
            ("track_id", strings(&[Some("a")])),
            ("value", strings(&[Some("high")])),
        ]);
        let err = read_dataset(&text_value, "dataset", Need::Values)
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be numeric"), "{err}");
        let dup = batch(vec![
            ("track_id", strings(&[Some("a"), Some("a")])),
            ("label", strings(&[Some("x"), Some("y")])),
        ]);
        let err = read_dataset(&dup, "dataset", Need::Labels)
            .unwrap_err()
            .to_string();
        assert!(err.contains("row 2: duplicate track id"), "{err}");
    }

    #[test]
    fn interactions_sum_repeats_and_set_aside_unknown_tracks() {
        let table = batch(vec![
            (
                "user_id",
                strings(&[Some("u1"), Some("u2"), Some("u1"), Some("u1")]),
            ),
            (
                "track_id",
                strings(&[Some("a"), Some("b"), Some("zz"), Some("a")]),
            ),
            ("count", Arc::new(Int64Array::from(vec![2, 1, 5, 3]))),
        ]);
        let items = vec!["a".to_string(), "b".to_string()];
        let got = read_interactions(&table, "interactions", &items).unwrap();
        assert_eq!(got.user_ids, vec!["u1", "u2"]);
        assert_eq!(got.counts.row(0), (&[0u32][..], &[5.0][..]));
        assert_eq!(got.counts.row(1), (&[1u32][..], &[1.0][..]));
        assert_eq!(
            (got.unknown_rows, got.unknown_tracks),
            (1, vec!["zz".to_string()])
        );
        let negative = batch(vec![
            ("user_id", strings(&[Some("u1")])),
            ("track_id", strings(&[Some("a")])),
            ("count", Arc::new(Int64Array::from(vec![-1]))),
        ]);
        let err = read_interactions(&negative, "interactions", &items)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 1, column `count`: negative count -1"),
            "{err}"
        );
    }
}
