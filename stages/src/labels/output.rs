//! The Arrow tables the factorize stages return.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, FixedSizeListArray, Float32Array, Float64Array, RecordBatch, StringArray, UInt32Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;

use super::gmm::Gmm;
use super::topics::TopItem;

/// `(track_id Utf8, z FixedSizeList<Float32, k>)`: one distribution per
/// track. Float32 is what the network trains on, and halves the storage;
/// rounding moves a row's sum by under 1e-7. `z_nk` is `n x k` in f64.
pub fn z_table(tracks: &[String], z_nk: &[f64], k: usize) -> Result<RecordBatch, ArrowError> {
    let values: Float32Array = z_nk.iter().map(|&v| Some(v as f32)).collect();
    let z = fixed_list(Arc::new(values), DataType::Float32, k)?;
    batch(vec![
        ("track_id", Arc::new(StringArray::from_iter_values(tracks))),
        ("z", z),
    ])
}

/// `(item Utf8, p FixedSizeList<Float64, k>)`: row w holds P(item w |
/// topic z) for every topic z; each topic's column sums to 1 over items.
/// Item-major keeps it one row per item instead of k x items.
pub fn topic_item_table(
    items: &[String],
    phi_wk: &[f64],
    k: usize,
) -> Result<RecordBatch, ArrowError> {
    let values = Float64Array::from(phi_wk.to_vec());
    let p = fixed_list(Arc::new(values), DataType::Float64, k)?;
    batch(vec![
        ("item", Arc::new(StringArray::from_iter_values(items))),
        ("p", p),
    ])
}

/// `(topic UInt32, rank UInt32, item Utf8, weight Float64)`, rank 1 =
/// strongest: the paper's Table 2.
pub fn top_items_table(items: &[String], top: &[TopItem]) -> Result<RecordBatch, ArrowError> {
    batch(vec![
        (
            "topic",
            Arc::new(top.iter().map(|t| t.topic as u32).collect::<UInt32Array>()),
        ),
        (
            "rank",
            Arc::new(top.iter().map(|t| t.rank as u32).collect::<UInt32Array>()),
        ),
        (
            "item",
            Arc::new(StringArray::from_iter_values(
                top.iter().map(|t| &items[t.item]),
            )),
        ),
        (
            "weight",
            Arc::new(top.iter().map(|t| t.weight).collect::<Float64Array>()),
        ),
    ])
}

/// `(component UInt32, weight, mean, variance: Float64)`, in the data's
/// units, components by ascending mean (the order of z's entries).
pub fn gmm_table(gmm: &Gmm) -> Result<RecordBatch, ArrowError> {
    let k = gmm.means.len() as u32;
    batch(vec![
        ("component", Arc::new((0..k).collect::<UInt32Array>())),
        ("weight", Arc::new(Float64Array::from(gmm.weights.clone()))),
        ("mean", Arc::new(Float64Array::from(gmm.means.clone()))),
        (
            "variance",
            Arc::new(Float64Array::from(gmm.variances.clone())),
        ),
    ])
}

fn fixed_list(values: ArrayRef, ty: DataType, k: usize) -> Result<ArrayRef, ArrowError> {
    let size = i32::try_from(k)
        .map_err(|_| ArrowError::InvalidArgumentError(format!("list size {k} too large")))?;
    let field = Arc::new(Field::new("item", ty, false));
    Ok(Arc::new(FixedSizeListArray::try_new(
        field, size, values, None,
    )?))
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch, ArrowError> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), false))
        .collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
}
