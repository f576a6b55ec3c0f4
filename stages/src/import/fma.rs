//! `import_fma`: FMA's `fma_metadata/tracks.csv` -> a classification target
//! manifest of one subset (label = `track.genre_top`, split = `set.split`).
//!
//! tracks.csv is pandas' CSV of a two-level header: its first row names each
//! column's group (`track`, `set`), the second the column (`genre_top`,
//! `split`), and a third row holds only the index's name, `track_id`; the
//! first column is the track id. Fields are quoted, with commas and line
//! breaks inside, hence the `csv` crate, whose positions give the line a
//! record starts on. The audio follows FMA's layout: track 2 of
//! `fma_medium` is `fma_medium/000/000002.mp3`.
//!
//! Subsets nest (small in medium in large) and `set.subset` names the
//! smallest that holds a track, so `subset: medium` takes the tracks marked
//! small or medium (as FMA's own loader does); the others are counted in
//! `other_subsets`. A track without a top genre (most of fma_large's) is
//! left out and counted. A malformed record, an id that is not a number, a
//! split or subset FMA does not define, or a track listed twice fails the
//! node, naming the line and the column.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};

use super::{at, finish, path_param, source, Rejections, TABLE};
use crate::api::*;
use crate::contracts::Contract;

const SUBSETS: &[&str] = &["small", "medium", "large"];

pub struct ImportFma;

impl Stage for ImportFma {
    fn name(&self) -> &'static str {
        "import_fma"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "FMA's tracks.csv as a classification target manifest: label = top genre, \
         split = the dataset's, uri = FMA's audio layout."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[
            path_param("FMA's `fma_metadata/tracks.csv`"),
            ParamSpec {
                name: "audio_root",
                ty: ParamType::Str,
                default: None,
                doc: "the folder (or URL prefix) holding the subset's `000/000002.mp3`, \
                      e.g. `fma_medium`",
                in_key: true,
            },
            ParamSpec {
                name: "subset",
                ty: ParamType::Choice(SUBSETS),
                default: Some("large"),
                doc: "the tracks of this subset (large: all of them)",
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
        let root = ctx.params.str("audio_root")?.trim_end_matches('/');
        let subset = ctx.params.str("subset")?;
        let largest = SUBSETS.iter().position(|s| *s == subset).unwrap_or(2);
        let mut records = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
            .into_records();
        let mut next = || -> Result<Option<csv::StringRecord>, StageError> {
            records.next().transpose().map_err(|e| unreadable(file, e))
        };
        let header = |which: &str| StageError::Data(format!("{file}: no {which} header row"));
        let groups = next()?.ok_or_else(|| header("first"))?;
        let names = next()?.ok_or_else(|| header("second"))?;
        let column = |group: &str, name: &str| {
            (0..groups.len())
                .find(|&i| groups.get(i) == Some(group) && names.get(i) == Some(name))
                .ok_or_else(|| {
                    StageError::Data(format!(
                        "{file}: no column `{group}.{name}` in the header rows (is this FMA's \
                         tracks.csv?)"
                    ))
                })
        };
        let (genre_at, split_at, subset_at) = (
            column("track", "genre_top")?,
            column("set", "split")?,
            column("set", "subset")?,
        );
        let mut rejections = Rejections::default();
        let mut other_subsets = 0;
        let mut line_of: HashMap<u64, u64> = HashMap::new();
        let (mut ids, mut uris, mut labels, mut splits) = (vec![], vec![], vec![], vec![]);
        let mut first = true;
        while let Some(record) = next()? {
            let line = record.position().map_or(0, |p| p.line());
            let field = |i: usize| record.get(i).unwrap_or_default();
            let place = |name: &str| format!("line {line}, column `{name}`");
            let raw_id = field(0);
            if std::mem::take(&mut first) && raw_id == "track_id" {
                continue; // the index's name: pandas' third header row
            }
            let id: u64 = raw_id.parse().map_err(|_| {
                at(
                    file,
                    place("track_id"),
                    format!("{raw_id:?} is not a track number"),
                )
            })?;
            if let Some(first) = line_of.insert(id, line) {
                return Err(at(
                    file,
                    place("track_id"),
                    format!("track {id} again (first on line {first})"),
                ));
            }
            let track_subset = field(subset_at);
            let Some(rank) = SUBSETS.iter().position(|s| *s == track_subset) else {
                return Err(at(
                    file,
                    place("set.subset"),
                    format!("{track_subset:?} is not one of small, medium, large"),
                ));
            };
            let split = match field(split_at) {
                "training" => "train",
                "validation" => "valid",
                "test" => "test",
                other => {
                    return Err(at(
                        file,
                        place("set.split"),
                        format!("{other:?} is not one of training, validation, test"),
                    ))
                }
            };
            if rank > largest {
                other_subsets += 1;
                continue;
            }
            let genre = field(genre_at);
            if genre.is_empty() {
                rejections.reject("tracks without a top genre", || {
                    (format!("line {line}"), format!("track {id}"))
                });
                continue;
            }
            ids.push(id.to_string());
            uris.push(format!("{root}/{:03}/{id:06}.mp3", id / 1000));
            labels.push(genre.to_string());
            splits.push(split);
        }
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("track_id", Arc::new(StringArray::from(ids))),
            ("uri", Arc::new(StringArray::from(uris))),
            ("label", Arc::new(StringArray::from(labels))),
            ("split", Arc::new(StringArray::from(splits))),
        ];
        let outputs = finish(Contract::TargetLabels, file, columns, rejections)?;
        Ok(outputs.meta("other_subsets", other_subsets))
    }
}

/// A record the CSV reader could not read, at its line.
fn unreadable(file: &str, e: csv::Error) -> StageError {
    let line = e.position().map(|p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields, where the header rows have {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
        _ => format!("unreadable CSV: {e}"),
    };
    match line {
        Some(line) => at(file, format_args!("line {line}"), message),
        None => StageError::Data(format!("{file}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_files::*;
    use super::*;

    /// tracks.csv's shape: pandas' two header rows and the index row, a
    /// quoted field with a comma and a line break.
    const HEADER: &str = ",album,set,set,track,track\n\
                          ,comments,split,subset,genre_top,title\n\
                          track_id,,,,,\n";

    fn import(rows: &str, params: serde_json::Value) -> Result<Outputs, StageError> {
        let csv = format!("{HEADER}{rows}");
        let mut all =
            serde_json::json!({"path": "fma_metadata/tracks.csv", "audio_root": "fma_medium/"});
        all.as_object_mut()
            .unwrap()
            .extend(params.as_object().unwrap().clone());
        run(&ImportFma, all, &[("path", csv.as_bytes())])
    }

    const ROWS: &str = "2,0,training,small,Hip-Hop,Food\n\
                        3,\"a, b\nstill the comment\",validation,medium,Hip-Hop,Electric Ave\n\
                        5,0,test,small,,Untitled\n\
                        1024,0,training,large,Rock,\"Air, \"\"live\"\"\"\n\
                        155066,0,test,medium,Pop,x\n";

    #[test]
    fn the_subsets_tracks_with_their_genre_split_and_audio_path() {
        let out = import(ROWS, serde_json::json!({"subset": "medium"})).unwrap();
        assert_eq!(texts(&out, "track_id"), ["2", "3", "155066"]);
        assert_eq!(
            texts(&out, "uri"),
            [
                "fma_medium/000/000002.mp3",
                "fma_medium/000/000003.mp3",
                "fma_medium/155/155066.mp3"
            ]
        );
        assert_eq!(texts(&out, "label"), ["Hip-Hop", "Hip-Hop", "Pop"]);
        assert_eq!(texts(&out, "split"), ["train", "valid", "test"]);
        assert_eq!(out.metadata["other_subsets"], 1);
        assert_eq!(out.metadata["rejected"]["tracks without a top genre"], 1);
        assert_eq!(
            warnings(&out),
            ["fma_metadata/tracks.csv: 1 tracks without a top genre, left out: line 7 (track 5)"]
        );
        let all = import(ROWS, serde_json::json!({})).unwrap();
        assert_eq!(texts(&all, "track_id"), ["2", "3", "1024", "155066"]);
        let small = import(ROWS, serde_json::json!({"subset": "small"})).unwrap();
        assert_eq!(texts(&small, "track_id"), ["2"]);
    }

    #[test]
    fn malformed_records_fail_naming_line_and_column() {
        let cases = [
            (
                "2,0,training,small,Rock\n",
                "line 4: 5 fields, where the header rows have 6",
            ),
            (
                "2,0,training,small,Rock,x\nx2,0,test,small,Rock,y\n",
                "line 5, column `track_id`: \"x2\" is not a track number",
            ),
            (
                "2,0,train,small,Rock,x\n",
                "line 4, column `set.split`: \"train\" is not one of training, validation, test",
            ),
            (
                "2,0,test,tiny,Rock,x\n",
                "line 4, column `set.subset`: \"tiny\" is not one of small, medium, large",
            ),
            (
                "2,0,test,small,Rock,x\n2,0,test,small,Rock,x\n",
                "line 5, column `track_id`: track 2 again (first on line 4)",
            ),
        ];
        for (rows, expected) in cases {
            let err = error(import(rows, serde_json::json!({})));
            assert_eq!(err, format!("fma_metadata/tracks.csv, {expected}"));
        }
        let err = error(run(
            &ImportFma,
            serde_json::json!({"path": "t.csv", "audio_root": "a"}),
            &[("path", b"track_id,genre\n1,Rock\n")],
        ));
        assert_eq!(
            err,
            "t.csv: no column `track.genre_top` in the header rows (is this FMA's tracks.csv?)"
        );
        let err = error(import("5,0,test,small,,x\n", serde_json::json!({})));
        assert_eq!(
            err,
            "fma_metadata/tracks.csv: nothing to import: all 1 rows were left out"
        );
    }
}
