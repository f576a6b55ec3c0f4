//! `import_musixmatch`: the musiXmatch dataset's bag-of-words files
//! (`mxm_dataset_train.txt`, `mxm_dataset_test.txt`) -> label counts
//! (track_id, item = word stem, count), the `lyrics` learning source.
//!
//! The format: lines starting with `#` are comments; one line starting with
//! `%` lists the vocabulary, comma-separated; then one line per track,
//! `track_id,mxm_track_id,word:count,...`, where `word` is a 1-based index
//! into the vocabulary. The file is machine-written, so anything else (a
//! track line before the vocabulary, a second vocabulary, a pair that is not
//! `index:count`, an index outside the vocabulary, a count that is not a
//! positive whole number) fails the node, naming the line and the field
//! (counted from 1, the track id being field 1).

use super::{at, lines, path_param, source, track_id, Rejections, Triples, TABLE};
use crate::api::*;
use crate::contracts::Contract;

pub struct ImportMusixmatch;

impl Stage for ImportMusixmatch {
    fn name(&self) -> &'static str {
        "import_musixmatch"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "A musiXmatch bag-of-words file (mxm_dataset_train.txt) as label counts: \
         item = word stem, count = occurrences."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[path_param(
            "a musiXmatch bag-of-words file, e.g. `mxm_dataset_train.txt`",
        )];
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
        let mut words: Option<Vec<&str>> = None;
        let mut triples = Triples::new(Contract::LabelCounts);
        for (line, text) in lines(file, bytes)? {
            let here = format!("line {line}");
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            if let Some(list) = text.strip_prefix('%') {
                if words.is_some() {
                    return Err(at(file, &here, "a second word list (`%` line)"));
                }
                words = Some(list.split(',').collect());
                continue;
            }
            let Some(words) = &words else {
                return Err(at(file, &here, "a track before the word list (`%` line)"));
            };
            let mut fields = text.split(',');
            let tid = fields.next().unwrap_or_default();
            let tid = track_id(file, format_args!("line {line}, field 1"), tid)?;
            if fields.next().is_none() {
                return Err(at(file, &here, "no musiXmatch track id (field 2)"));
            }
            for (i, pair) in fields.enumerate() {
                let place = || format!("line {line}, field {}", i + 3);
                let parsed = pair.split_once(':').and_then(|(index, count)| {
                    Some((index.parse::<usize>().ok()?, count.parse::<u32>().ok()?))
                });
                let Some((index, count)) = parsed.filter(|&(_, count)| count > 0) else {
                    return Err(at(
                        file,
                        place(),
                        format!("{pair:?} is not word:count with a positive count"),
                    ));
                };
                let Some(word) = index.checked_sub(1).and_then(|i| words.get(i)) else {
                    return Err(at(
                        file,
                        place(),
                        format!(
                            "word {index} is not in the word list (1 to {})",
                            words.len()
                        ),
                    ));
                };
                triples.push(tid, word, f64::from(count));
            }
        }
        triples.finish(file, Rejections::default())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_files::*;
    use super::*;

    const HEADER: &str = "# MUSIXMATCH DATASET - TRAINING\n\
                          # comment, with a comma\n\
                          %i,the,you,amor\n";

    fn import(rows: &str) -> Result<Outputs, StageError> {
        let text = format!("{HEADER}{rows}");
        run(
            &ImportMusixmatch,
            serde_json::json!({"path": "mxm_dataset_train.txt"}),
            &[("path", text.as_bytes())],
        )
    }

    #[test]
    fn word_counts_by_track() {
        let out =
            import("TRAAAAV128F421A322,4623710,1:6,4:2\nTRAAABD128F429CF47,6477168,2:1\n").unwrap();
        assert_eq!(
            texts(&out, "track_id"),
            [
                "TRAAAAV128F421A322",
                "TRAAAAV128F421A322",
                "TRAAABD128F429CF47"
            ]
        );
        assert_eq!(texts(&out, "item"), ["i", "amor", "the"]);
        assert_eq!(numbers(&out, "count"), [6.0, 2.0, 1.0]);
        assert_eq!(out.metadata["rejected_rows"], 0);
    }

    #[test]
    fn malformed_lines_fail_naming_line_and_field() {
        let cases = [
            (
                "TR1,1,1:2,5:1\n",
                "line 4, field 4: word 5 is not in the word list (1 to 4)",
            ),
            (
                "TR1,1,0:1\n",
                "line 4, field 3: word 0 is not in the word list (1 to 4)",
            ),
            (
                "TR1,1,2:x\n",
                "line 4, field 3: \"2:x\" is not word:count with a positive count",
            ),
            (
                "TR1,1,2:0\n",
                "line 4, field 3: \"2:0\" is not word:count with a positive count",
            ),
            (
                "TR1,1,2\n",
                "line 4, field 3: \"2\" is not word:count with a positive count",
            ),
            ("TR1\n", "line 4: no musiXmatch track id (field 2)"),
            (",1,1:1\n", "line 4, field 1: track id \"\" is empty"),
            ("%a,b\n", "line 4: a second word list (`%` line)"),
        ];
        for (rows, expected) in cases {
            assert_eq!(
                error(import(rows)),
                format!("mxm_dataset_train.txt, {expected}")
            );
        }
        let err = error(run(
            &ImportMusixmatch,
            serde_json::json!({"path": "m.txt"}),
            &[("path", b"# c\nTR1,1,1:1\n%a\n")],
        ));
        assert_eq!(
            err,
            "m.txt, line 2: a track before the word list (`%` line)"
        );
        assert_eq!(
            error(import("")),
            "mxm_dataset_train.txt: nothing to import"
        );
    }
}
