//! A study made elsewhere: a user's `runs` table (the representations
//! learnt, by strategy and sources) and `scores` table (how each run and
//! baseline scored). Past the cells' checks (check.rs), each run's sources
//! must suit its strategy and each score be given once. They are handed on
//! as the tables the `design` and the evaluation stages write, so that
//! `analyze` and `report` read a user's study as they read their own
//! ([`study_table`]).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};

use super::check::unique_ids;
use super::ContractError;
use crate::api::Upstream;
use crate::study::{Source, Strategy};

/// The output of a `load_table` node.
pub const LOADED: &str = "table";

/// Which output of upstream `up` holds the study's table `name` (`runs` or
/// `scores`): the stage's own (a design's `runs`, an evaluation's
/// `scores`) where the node has it, else the `table` of a `load_table`
/// node, which the contract of the same name made alike.
pub fn study_table(up: &Upstream, name: &'static str) -> Result<&'static str, String> {
    if up.files.has(name) {
        Ok(name)
    } else if up.files.has(LOADED) {
        Ok(LOADED)
    } else {
        Err(format!(
            "has no table `{name}`, nor a `{LOADED}` (a load_table node's with contract `{name}`)"
        ))
    }
}

/// A checked runs table as the design's `runs`: run_id, phase (given, or
/// 1 for SS-R, 2 for a multi-source run on every source the table uses, 3
/// otherwise, as the design numbers them), strategy, sources (canonical
/// text), n_sources, seed (null where not given).
pub(super) fn runs(file: &str, table: &RecordBatch) -> Result<RecordBatch, ContractError> {
    let ids = text(table, "run");
    unique_ids(file, "run", "run", ids)?;
    let strategies = text(table, "strategy");
    let indicators: Vec<&BooleanArray> = Source::ALL
        .iter()
        .map(|s| column::<BooleanArray>(table, s.name()))
        .collect();
    let phases = table
        .column_by_name("phase")
        .map(|c| c.as_any().downcast_ref::<Int64Array>().expect("Int64"));
    let mut runs = Vec::with_capacity(table.num_rows());
    for row in 0..table.num_rows() {
        let at =
            |column: &str, message: String| ContractError::at(file, Some(row + 1), column, message);
        let strategy: Strategy = strategies
            .value(row)
            .parse()
            .map_err(|e| at("strategy", e))?;
        let sources: Vec<Source> = Source::ALL
            .iter()
            .zip(&indicators)
            .filter(|(_, present)| present.value(row))
            .map(|(s, _)| *s)
            .collect();
        let (fits, needed) = match strategy {
            Strategy::SsR => (sources.len() == 1, "exactly one source"),
            _ => (sources.len() >= 2, "at least two sources"),
        };
        if !fits {
            let given = match sources.len() {
                0 => "none (every one is 0)".to_string(),
                n => format!("{n} ({})", Source::format_set(&sources)),
            };
            return Err(at(
                "strategy",
                format!("strategy {strategy} needs {needed}; the source columns give {given}"),
            ));
        }
        let phase = phases.map(|p| p.value(row));
        if let Some(p) = phase.filter(|p| !(1..=3).contains(p)) {
            return Err(at("phase", format!("phase {p} is not 1, 2 or 3")));
        }
        runs.push((strategy, sources, phase));
    }
    let mut every: Vec<Source> = runs.iter().flat_map(|r| r.1.clone()).collect();
    every.sort();
    every.dedup();
    let phase = |(strategy, sources, given): &(Strategy, Vec<Source>, Option<i64>)| {
        given.unwrap_or(match strategy {
            Strategy::SsR => 1,
            _ if *sources == every => 2,
            _ => 3,
        })
    };
    let seeds = match table.column_by_name("seed") {
        Some(seeds) => seeds.clone(),
        None => new_null_array(&DataType::Int64, runs.len()),
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ids.clone()),
        Arc::new(Int64Array::from_iter_values(runs.iter().map(phase))),
        Arc::new(StringArray::from_iter_values(
            runs.iter().map(|r| r.0.name()),
        )),
        Arc::new(StringArray::from_iter_values(
            runs.iter().map(|r| Source::format_set(&r.1)),
        )),
        Arc::new(Int64Array::from_iter_values(
            runs.iter().map(|r| r.1.len() as i64),
        )),
        seeds,
    ];
    let schema = Schema::new(vec![
        Field::new("run_id", DataType::Utf8, false),
        Field::new("phase", DataType::Int64, false),
        Field::new("strategy", DataType::Utf8, false),
        Field::new("sources", DataType::Utf8, false),
        Field::new("n_sources", DataType::Int64, false),
        Field::new("seed", DataType::Int64, true),
    ]);
    RecordBatch::try_new(Arc::new(schema), columns)
        .map_err(|e| ContractError::file(file, e.to_string()))
}

/// A checked scores table as an evaluation's `scores`: representation
/// (the run, or a baseline), dataset, repeat, metric, value; one row per
/// (run, dataset, repeat, metric).
pub(super) fn scores(file: &str, table: &RecordBatch) -> Result<RecordBatch, ContractError> {
    let runs = text(table, "run");
    let datasets = text(table, "dataset");
    let repeats = column::<Int64Array>(table, "repeat");
    let metrics = text(table, "metric");
    let mut first_row = HashMap::new();
    for row in 0..table.num_rows() {
        let (run, dataset, repeat, metric) = (
            runs.value(row),
            datasets.value(row),
            repeats.value(row),
            metrics.value(row),
        );
        if let Some(first) = first_row.insert((run, dataset, repeat, metric), row + 1) {
            return Err(ContractError::at(
                file,
                Some(row + 1),
                "repeat",
                format!(
                    "run {run:?}, dataset {dataset:?}, metric {metric:?}: repeat {repeat} is \
                     given twice (first at row {first})"
                ),
            ));
        }
    }
    let schema = table.schema();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.name().as_str() {
            "run" => f.as_ref().clone().with_name("representation"),
            _ => f.as_ref().clone(),
        })
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), table.columns().to_vec())
        .map_err(|e| ContractError::file(file, e.to_string()))
}

/// A column of a table check.rs has validated.
fn column<'a, A: Array + 'static>(table: &'a RecordBatch, name: &str) -> &'a A {
    table
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<A>())
        .expect("the contract's columns are present, with their types")
}

fn text<'a>(table: &'a RecordBatch, name: &str) -> &'a StringArray {
    column(table, name)
}

#[cfg(test)]
mod tests {
    use arrow::array::Float64Array;

    use super::super::check::tests::{check, fails};
    use super::super::{validate, Contract};
    use super::*;

    const RUNS: &str = "run,strategy,self,year,bpm,taste,tag,lyrics,cdr_tag,artist";
    const SCORES: &str = "run,dataset,repeat,metric,value";

    fn runs_csv(rows: &[&str]) -> String {
        format!("{RUNS}\n{}\n", rows.join("\n"))
    }

    fn scores_csv(rows: &[&str]) -> String {
        format!("{SCORES}\n{}\n", rows.join("\n"))
    }

    fn strings(t: &RecordBatch, name: &str) -> Vec<String> {
        let c = text(t, name);
        (0..c.len()).map(|i| c.value(i).to_string()).collect()
    }

    fn ints(t: &RecordBatch, name: &str) -> Vec<Option<i64>> {
        column::<Int64Array>(t, name).iter().collect()
    }

    #[test]
    fn runs_become_the_designs_runs_table() {
        let t = check(
            Contract::Runs,
            &runs_csv(&[
                "a,SS-R,0,0,1,0,0,0,0,0",
                "b,MS-CR@2,1,0,1,0,0,0,0,0",
                "c,MSS-CR,TRUE,false,1,0,0,0,0,0",
            ]),
        )
        .unwrap();
        let schema = t.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "run_id",
                "phase",
                "strategy",
                "sources",
                "n_sources",
                "seed"
            ]
        );
        assert_eq!(strings(&t, "run_id"), ["a", "b", "c"]);
        // Phase 2: on every source the table uses (self and bpm).
        assert_eq!(ints(&t, "phase"), [Some(1), Some(2), Some(2)]);
        assert_eq!(strings(&t, "sources"), ["bpm", "self,bpm", "self,bpm"]);
        assert_eq!(ints(&t, "n_sources"), [Some(1), Some(2), Some(2)]);
        assert_eq!(ints(&t, "seed"), [None, None, None]);

        let given = check(
            Contract::Runs,
            &format!(
                "{RUNS},phase,seed\na,SS-R,0,0,1,0,0,0,0,0,1,9223372036854775807\n\
                 b,MS-SR@FC,1,1,1,0,0,0,0,0,3,-4\n"
            ),
        )
        .unwrap();
        assert_eq!(ints(&given, "phase"), [Some(1), Some(3)]);
        assert_eq!(ints(&given, "seed"), [Some(i64::MAX), Some(-4)]);
    }

    #[test]
    fn bad_runs_name_file_row_and_column() {
        fails(
            Contract::Runs,
            &runs_csv(&["a,SS-R,0,0,1,0,0,0,0,0", "b,MS-CR@3,1,1,0,0,0,0,0,0"]),
            "in.csv, row 2, column `strategy`: unknown strategy `MS-CR@3` (known: SS-R, \
             MS-SR@FC, MS-CR@6, MS-CR@4, MS-CR@2, MSS-CR)",
        );
        fails(
            Contract::Runs,
            &runs_csv(&["a,SS-R,0,0,1,0,0,0,0,0", "b,MS-CR@2,1,0,2,0,0,0,0,0"]),
            "in.csv, row 2, column `bpm`: \"2\" is not 0, 1, true or false",
        );
        fails(
            Contract::Runs,
            &runs_csv(&["a,SS-R,0,0,1,0,0,0,0,"]),
            "in.csv, row 1, column `artist`: missing value",
        );
        fails(
            Contract::Runs,
            "run,strategy,self,year,bpm,taste,tag,lyrics,cdr_tag\na,SS-R,0,0,1,0,0,0,0\n",
            "in.csv, column `artist`: missing: a runs table needs it (columns present: run, \
             strategy, self, year, bpm, taste, tag, lyrics, cdr_tag)",
        );
        fails(
            Contract::Runs,
            &runs_csv(&["a,SS-R,1,0,1,0,0,0,0,0"]),
            "in.csv, row 1, column `strategy`: strategy SS-R needs exactly one source; the \
             source columns give 2 (self,bpm)",
        );
        fails(
            Contract::Runs,
            &runs_csv(&["a,MSS-CR,0,0,0,0,0,0,0,1"]),
            "in.csv, row 1, column `strategy`: strategy MSS-CR needs at least two sources; the \
             source columns give 1 (artist)",
        );
        fails(
            Contract::Runs,
            &runs_csv(&["a,SS-R,0,0,0,0,0,0,0,0"]),
            "in.csv, row 1, column `strategy`: strategy SS-R needs exactly one source; the \
             source columns give none (every one is 0)",
        );
        fails(
            Contract::Runs,
            &runs_csv(&["a,SS-R,0,0,1,0,0,0,0,0", "a,SS-R,0,1,0,0,0,0,0,0"]),
            "in.csv, row 2, column `run`: duplicate run \"a\" (first at row 1)",
        );
        fails(
            Contract::Runs,
            &format!("{RUNS},phase\na,SS-R,0,0,1,0,0,0,0,0,4\n"),
            "in.csv, row 1, column `phase`: phase 4 is not 1, 2 or 3",
        );
        fails(
            Contract::Runs,
            &format!("{RUNS},seed\na,SS-R,0,0,1,0,0,0,0,0,1.5\n"),
            "in.csv, row 1, column `seed`: \"1.5\" is not an integer",
        );
    }

    #[test]
    fn parquet_indicators_may_be_booleans_or_numbers() {
        let n = 2;
        let mut fields = vec![
            Field::new("run", DataType::Utf8, false),
            Field::new("strategy", DataType::Utf8, false),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["a", "b"])),
            Arc::new(StringArray::from(vec!["SS-R", "MS-CR@4"])),
        ];
        for (i, s) in Source::ALL.iter().enumerate() {
            let column: ArrayRef = match i {
                0 => Arc::new(BooleanArray::from(vec![false, true])),
                1 => Arc::new(Int64Array::from(vec![1, 1])),
                _ => Arc::new(Float64Array::from(vec![0.0; n])),
            };
            fields.push(Field::new(s.name(), column.data_type().clone(), false));
            columns.push(column);
        }
        let table =
            RecordBatch::try_new(Arc::new(Schema::new(fields.clone())), columns.clone()).unwrap();
        let t = validate(Contract::Runs, "r.parquet", &table).unwrap();
        assert_eq!(strings(&t, "sources"), ["year", "self,year"]);

        columns[4] = Arc::new(Float64Array::from(vec![0.0, 0.5]));
        let table =
            RecordBatch::try_new(Arc::new(Schema::new(fields.clone())), columns.clone()).unwrap();
        let err = validate(Contract::Runs, "r.parquet", &table).unwrap_err();
        assert_eq!(
            err.to_string(),
            "r.parquet, row 2, column `bpm`: 0.5 is not 0 or 1"
        );

        fields.push(Field::new("seed", DataType::Float64, false));
        columns[4] = Arc::new(Float64Array::from(vec![0.0; n]));
        columns.push(Arc::new(Float64Array::from(vec![1.0, 2.0])));
        let table = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        let err = validate(Contract::Runs, "r.parquet", &table).unwrap_err();
        assert_eq!(
            err.to_string(),
            "r.parquet, column `seed`: must be an integer, found Float64"
        );
    }

    #[test]
    fn scores_become_an_evaluations_scores_table() {
        let t = check(
            Contract::Scores,
            &format!(
                "{SCORES},task\na,gtzan,0,accuracy,0.5,classification\n\
                 mfcc,gtzan,0,accuracy,0.25,\na,gtzan,1,accuracy,0.75,\n"
            ),
        )
        .unwrap();
        let schema = t.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["representation", "dataset", "repeat", "metric", "value"]
        );
        assert_eq!(strings(&t, "representation"), ["a", "mfcc", "a"]);
        assert_eq!(ints(&t, "repeat"), [Some(0), Some(0), Some(1)]);
        let values = column::<Float64Array>(&t, "value");
        assert_eq!(values.values(), &[0.5, 0.25, 0.75]);
    }

    #[test]
    fn bad_scores_name_file_row_and_column() {
        fails(
            Contract::Scores,
            &scores_csv(&[
                "a,gtzan,0,accuracy,0.5",
                "a,gtzan,1,accuracy,0.6",
                "a,gtzan,0,accuracy,0.7",
            ]),
            "in.csv, row 3, column `repeat`: run \"a\", dataset \"gtzan\", metric \
             \"accuracy\": repeat 0 is given twice (first at row 1)",
        );
        fails(
            Contract::Scores,
            &scores_csv(&["a,gtzan,0,accuracy,0.5", "a,gtzan,1,accuracy,"]),
            "in.csv, row 2, column `value`: missing value",
        );
        fails(
            Contract::Scores,
            &scores_csv(&["a,gtzan,0,accuracy,NaN"]),
            "in.csv, row 1, column `value`: NaN",
        );
        fails(
            Contract::Scores,
            &scores_csv(&["a,gtzan,first,accuracy,0.5"]),
            "in.csv, row 1, column `repeat`: \"first\" is not an integer",
        );
        fails(
            Contract::Scores,
            &scores_csv(&["a,,0,accuracy,0.5"]),
            "in.csv, row 1, column `dataset`: missing value",
        );
        fails(
            Contract::Scores,
            "run,dataset,repeat,value\na,gtzan,0,0.5\n",
            "in.csv, column `metric`: missing: a scores table needs it (columns present: run, \
             dataset, repeat, value)",
        );
    }
}
