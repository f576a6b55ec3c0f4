//! The representation under evaluation: a table with a text `track_id` and
//! exactly one FixedSizeList<Float32, D> column (`vector` for the learned
//! representations, `mfcc` for the MFCC baseline), read into a dense
//! row-major `[tracks, D]` matrix.

use std::collections::HashMap;

use arrow::array::{Array, FixedSizeListArray, Float32Array, RecordBatch};
use arrow::datatypes::DataType;

use stages::api::StageError;
use stages::table::{first_and_count, track_ids};

/// At most this many track ids are named in a message.
const NAMED: usize = 5;

/// One vector per track.
#[derive(Debug, Clone)]
pub struct Features {
    pub ids: Vec<String>,
    pub dim: usize,
    /// `[ids.len(), dim]`, row-major.
    pub values: Vec<f32>,
    /// The name of the vector column (for messages and metadata).
    pub column: String,
}

/// Reads the representation table `file` of input slot `slot`.
pub fn read_features(table: &RecordBatch, slot: &str, file: &str) -> Result<Features, StageError> {
    let bad = |reason: String| StageError::Input {
        slot: slot.into(),
        reason: format!("table `{file}`: {reason}"),
    };
    let schema = table.schema();
    let lists: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| matches!(schema.field(i).data_type(), DataType::FixedSizeList(..)))
        .collect();
    let index = match lists.as_slice() {
        [one] => *one,
        [] => return Err(bad("has no FixedSizeList<Float32> column".into())),
        many => {
            let names: Vec<&str> = many
                .iter()
                .map(|&i| schema.field(i).name().as_str())
                .collect();
            return Err(bad(format!(
                "has {} vector columns ({}); expected exactly one",
                many.len(),
                names.join(", ")
            )));
        }
    };
    let column = schema.field(index).name().clone();
    let list = table
        .column(index)
        .as_any()
        .downcast_ref::<FixedSizeListArray>()
        .ok_or_else(|| bad(format!("column `{column}` is not a FixedSizeList")))?;
    let values = list
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .ok_or_else(|| {
            bad(format!(
                "column `{column}` holds {}, not Float32",
                list.value_type()
            ))
        })?;
    let dim = usize::try_from(list.value_length()).unwrap_or(0);
    if dim == 0 {
        return Err(bad(format!("column `{column}` has vectors of length 0")));
    }
    let ids = track_ids(table, slot)?;
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
    for (row, id) in ids.iter().enumerate() {
        if let Some(first) = seen.insert(id, row) {
            return Err(bad(format!(
                "track {id:?} appears twice (rows {} and {})",
                first + 1,
                row + 1
            )));
        }
    }
    let offset = list.offset() * dim;
    let flat = &values.values()[offset..offset + ids.len() * dim];
    for (row, id) in ids.iter().enumerate() {
        let vector = &flat[row * dim..(row + 1) * dim];
        let has_null = list.is_null(row)
            || (values.null_count() > 0
                && (0..dim).any(|k| values.is_null(offset + row * dim + k)));
        if has_null {
            return Err(bad(format!(
                "row {} (track {id:?}): missing vector values",
                row + 1
            )));
        }
        if let Some(k) = vector.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "row {} (track {id:?}): value {} of `{column}` is {}",
                row + 1,
                k,
                vector[k]
            )));
        }
    }
    Ok(Features {
        ids,
        dim,
        values: flat.to_vec(),
        column,
    })
}

impl Features {
    /// The vectors of `wanted` tracks, in that order, for those that have
    /// one: `(positions in wanted, [found, dim] values)`; the others are
    /// named by [`missing`].
    pub fn gather(&self, wanted: &[String]) -> (Vec<usize>, Vec<f32>) {
        let row_of: HashMap<&str, usize> = self
            .ids
            .iter()
            .enumerate()
            .map(|(row, id)| (id.as_str(), row))
            .collect();
        let mut found = Vec::new();
        let mut values = Vec::new();
        for (position, id) in wanted.iter().enumerate() {
            if let Some(&row) = row_of.get(id.as_str()) {
                found.push(position);
                values.extend_from_slice(&self.values[row * self.dim..(row + 1) * self.dim]);
            }
        }
        (found, values)
    }
}

/// The ids of `wanted` not at `found` positions (sorted ascending).
pub fn missing<'a>(wanted: &'a [String], found: &[usize]) -> Vec<&'a str> {
    let mut present = vec![false; wanted.len()];
    for &p in found {
        present[p] = true;
    }
    wanted
        .iter()
        .zip(present)
        .filter(|(_, p)| !p)
        .map(|(id, _)| id.as_str())
        .collect()
}

/// "a, b, c, d, e and 7 more".
pub fn name_some(ids: &[&str]) -> String {
    first_and_count(ids, ids.len(), NAMED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn table(ids: &[&str], values: Vec<f32>, dim: i32, extra_list: bool) -> RecordBatch {
        let item = Arc::new(Field::new("item", DataType::Float32, true));
        let list = |v: Vec<f32>| {
            Arc::new(
                FixedSizeListArray::try_new(
                    item.clone(),
                    dim,
                    Arc::new(Float32Array::from(v)),
                    None,
                )
                .unwrap(),
            )
        };
        let mut fields = vec![
            Field::new("track_id", DataType::Utf8, false),
            Field::new("vector", DataType::FixedSizeList(item.clone(), dim), false),
        ];
        let mut columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(StringArray::from(ids.to_vec())),
            list(values.clone()),
        ];
        if extra_list {
            fields.push(Field::new(
                "other",
                DataType::FixedSizeList(item.clone(), dim),
                false,
            ));
            columns.push(list(values));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn reads_and_gathers_vectors() {
        let t = table(&["a", "b", "c"], vec![1., 2., 3., 4., 5., 6.], 2, false);
        let f = read_features(&t, "features", "vectors").unwrap();
        assert_eq!((f.dim, f.column.as_str()), (2, "vector"));
        let wanted: Vec<String> = ["c", "x", "a"].iter().map(|s| s.to_string()).collect();
        let (found, values) = f.gather(&wanted);
        assert_eq!(found, vec![0, 2]);
        assert_eq!(values, vec![5., 6., 1., 2.]);
        assert_eq!(missing(&wanted, &found), vec!["x"]);
        assert_eq!(
            name_some(&["a", "b", "c", "d", "e", "f", "g"]),
            "a, b, c, d, e and 2 more"
        );
    }

    #[test]
    fn bad_tables_are_refused_with_the_reason() {
        let two = table(&["a"], vec![1., 2.], 2, true);
        let err = read_features(&two, "features", "vectors")
            .unwrap_err()
            .to_string();
        assert!(err.contains("2 vector columns (vector, other)"), "{err}");
        let nan = table(&["a", "b"], vec![1., 2., f32::NAN, 0.], 2, false);
        let err = read_features(&nan, "features", "vectors")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("row 2 (track \"b\")") && err.contains("NaN"),
            "{err}"
        );
        let dup = table(&["a", "a"], vec![1., 2., 3., 4.], 2, false);
        let err = read_features(&dup, "features", "vectors")
            .unwrap_err()
            .to_string();
        assert!(err.contains("appears twice (rows 1 and 2)"), "{err}");
        let none = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "track_id",
                DataType::Utf8,
                false,
            )])),
            vec![Arc::new(StringArray::from(vec!["a"]))],
        )
        .unwrap();
        let err = read_features(&none, "features", "mfcc")
            .unwrap_err()
            .to_string();
        assert!(err.contains("table `mfcc`: has no FixedSizeList"), "{err}");
    }
}
