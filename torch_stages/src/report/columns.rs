//! Typed access to the columns of an upstream table. Every error names the
//! input slot, the upstream node, the table, the column and (for nulls) the
//! row, so that a malformed upstream is found without reading code.

use arrow::array::{
    Array, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    UInt32Array,
};
use arrow::datatypes::DataType;

use stages::api::{StageError, Upstream};
use stages::contracts::study_table;

/// One loaded upstream table and where it came from.
pub struct Table<'a> {
    pub slot: &'a str,
    pub node: &'a str,
    pub name: &'a str,
    pub batch: RecordBatch,
}

impl<'a> Table<'a> {
    /// Loads table `name` of an upstream node of `slot`.
    pub fn load(slot: &'a str, up: &'a Upstream, name: &'a str) -> Result<Self, StageError> {
        let batch = up.files.table(name).map_err(|reason| StageError::Input {
            slot: slot.into(),
            reason: format!("node `{}`, table `{name}`: {reason}", up.node),
        })?;
        Ok(Table {
            slot,
            node: &up.node,
            name,
            batch,
        })
    }

    /// Loads the study's table `name` (`runs` or `scores`) of an upstream
    /// node of `slot`: the node's own, or a `load_table` node's
    /// (`study_table`).
    pub fn load_study(
        slot: &'a str,
        up: &'a Upstream,
        name: &'static str,
    ) -> Result<Self, StageError> {
        let table = study_table(up, name).map_err(|reason| StageError::Input {
            slot: slot.into(),
            reason: format!("node `{}`: {reason}", up.node),
        })?;
        Table::load(slot, up, table)
    }

    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// An input error about this table.
    pub fn error(&self, reason: impl std::fmt::Display) -> StageError {
        StageError::Input {
            slot: self.slot.into(),
            reason: format!("node `{}`, table `{}`: {reason}", self.node, self.name),
        }
    }

    fn column<A: Array + 'static>(
        &self,
        column: &str,
        expected: DataType,
    ) -> Result<&A, StageError> {
        let array = self.nullable::<A>(column, expected)?;
        if array.null_count() > 0 {
            let row = (0..array.len())
                .find(|&row| array.is_null(row))
                .unwrap_or(0);
            return Err(self.error(format!("column `{column}` is null at row {row}")));
        }
        Ok(array)
    }

    /// A column that may hold nulls.
    fn nullable<A: Array + 'static>(
        &self,
        column: &str,
        expected: DataType,
    ) -> Result<&A, StageError> {
        let schema = self.batch.schema();
        let index = schema.index_of(column).map_err(|_| {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            self.error(format!(
                "no column `{column}` (columns: {})",
                names.join(", ")
            ))
        })?;
        let array = self.batch.column(index);
        if array.data_type() != &expected {
            return Err(self.error(format!(
                "column `{column}` is {}, expected {expected}",
                array.data_type()
            )));
        }
        array
            .as_any()
            .downcast_ref::<A>()
            .ok_or_else(|| self.error(format!("column `{column}` is not a plain {expected} array")))
    }

    pub fn utf8(&self, column: &str) -> Result<Vec<String>, StageError> {
        let array: &StringArray = self.column(column, DataType::Utf8)?;
        Ok(array.iter().flatten().map(String::from).collect())
    }

    pub fn f64(&self, column: &str) -> Result<Vec<f64>, StageError> {
        let array: &Float64Array = self.column(column, DataType::Float64)?;
        Ok(array.values().to_vec())
    }

    pub fn i64(&self, column: &str) -> Result<Vec<i64>, StageError> {
        let array: &Int64Array = self.column(column, DataType::Int64)?;
        Ok(array.values().to_vec())
    }

    /// An Int64 column whose nulls are `None`.
    pub fn optional_i64(&self, column: &str) -> Result<Vec<Option<i64>>, StageError> {
        let array: &Int64Array = self.nullable(column, DataType::Int64)?;
        Ok(array.iter().collect())
    }

    pub fn u32(&self, column: &str) -> Result<Vec<u32>, StageError> {
        let array: &UInt32Array = self.column(column, DataType::UInt32)?;
        Ok(array.values().to_vec())
    }

    /// A column of fixed-size float32 lists (track vectors): the list width
    /// and the values, row-major.
    pub fn f32_rows(&self, column: &str) -> Result<(usize, Vec<f32>), StageError> {
        let schema = self.batch.schema();
        let expected = match schema.field_with_name(column).map(|f| f.data_type()) {
            Ok(t @ DataType::FixedSizeList(item, _)) if item.data_type() == &DataType::Float32 => {
                t.clone()
            }
            Ok(other) => {
                return Err(self.error(format!(
                    "column `{column}` is {other}, expected a fixed-size list of Float32"
                )))
            }
            Err(_) => return Err(self.error(format!("no column `{column}`"))),
        };
        let array: &FixedSizeListArray = self.column(column, expected)?;
        let values = array
            .values()
            .as_any()
            .downcast_ref::<Float32Array>()
            .ok_or_else(|| self.error(format!("column `{column}` has no plain Float32 values")))?;
        if values.null_count() > 0 {
            return Err(self.error(format!("column `{column}` holds a null value")));
        }
        let width = array.value_length() as usize;
        let start = array.offset() * width;
        Ok((
            width,
            values.values()[start..start + array.len() * width].to_vec(),
        ))
    }

    /// Parses a text column cell by cell; the error names the row.
    pub fn parsed<T>(
        &self,
        column: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, StageError> {
        self.utf8(column)?
            .iter()
            .enumerate()
            .map(|(row, text)| {
                parse(text).map_err(|e| self.error(format!("column `{column}`, row {row}: {e}")))
            })
            .collect()
    }
}
