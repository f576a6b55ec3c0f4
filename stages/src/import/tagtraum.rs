//! `import_tagtraum`: the tagtraum genre annotations of the MSD
//! (`msd_tagtraum_cd2.cls`, `msd_tagtraum_cd2c.cls`, ...) -> label counts
//! (track_id, item = genre, count = 1), the `cdr_tag` learning source.
//!
//! The format: lines starting with `#` are comments, then one line per
//! track, `track_id<TAB>majority genre[<TAB>minority genre]`. With
//! `minority: false` only the majority genre is taken. The file is
//! machine-written: a line without a genre, or with more than two, fails
//! the node, naming the line.

use super::{at, lines, path_param, source, track_id, Rejections, Triples, TABLE};
use crate::api::*;
use crate::contracts::Contract;

pub struct ImportTagtraum;

impl Stage for ImportTagtraum {
    fn name(&self) -> &'static str {
        "import_tagtraum"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "tagtraum's MSD genre annotations (msd_tagtraum_cd2.cls) as label counts: \
         item = genre, count = 1."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[
            path_param("a tagtraum annotation file, e.g. `msd_tagtraum_cd2.cls`"),
            ParamSpec {
                name: "minority",
                ty: ParamType::Bool,
                default: Some("true"),
                doc: "whether a track's minority genre is a label too",
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
        let minority = ctx.params.bool("minority")?;
        let mut triples = Triples::new(Contract::LabelCounts);
        for (line, text) in lines(file, bytes)? {
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = text.split('\t').collect();
            let (tid, genres) = match fields.as_slice() {
                [tid, genres @ ..] if (1..=2).contains(&genres.len()) && !genres.contains(&"") => {
                    (tid, genres)
                }
                _ => {
                    return Err(at(
                        file,
                        format_args!("line {line}"),
                        "expected track<TAB>majority genre[<TAB>minority genre]",
                    ))
                }
            };
            let tid = track_id(file, format_args!("line {line}, field 1"), tid)?;
            let taken = if minority { genres } else { &genres[..1] };
            for genre in taken {
                triples.push(tid, genre, 1.0);
            }
        }
        triples.finish(file, Rejections::default())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_files::*;
    use super::*;

    const FILE: &str = "# tagtraum MSD genre annotations CD2\n\
                        #\n\
                        TRAAAAK128F9318786\tRock\n\
                        TRAAAAV128F421A322\tRock\tPop\n";

    fn import(text: &str, minority: bool) -> Result<Outputs, StageError> {
        run(
            &ImportTagtraum,
            serde_json::json!({"path": "msd_tagtraum_cd2.cls", "minority": minority}),
            &[("path", text.as_bytes())],
        )
    }

    #[test]
    fn one_label_per_genre() {
        let out = import(FILE, true).unwrap();
        assert_eq!(
            texts(&out, "track_id"),
            [
                "TRAAAAK128F9318786",
                "TRAAAAV128F421A322",
                "TRAAAAV128F421A322"
            ]
        );
        assert_eq!(texts(&out, "item"), ["Rock", "Rock", "Pop"]);
        assert_eq!(numbers(&out, "count"), [1.0, 1.0, 1.0]);
        let out = import(FILE, false).unwrap();
        assert_eq!(texts(&out, "item"), ["Rock", "Rock"]);
    }

    #[test]
    fn a_line_without_genre_or_with_too_many_fails() {
        for bad in ["TR1\n", "TR1\tRock\tPop\tJazz\n", "TR1\t\n"] {
            assert_eq!(
                error(import(&format!("{FILE}{bad}"), true)),
                "msd_tagtraum_cd2.cls, line 5: expected track<TAB>majority genre[<TAB>minority genre]"
            );
        }
        assert_eq!(
            error(import("TR 1 \tRock\n", true)),
            "msd_tagtraum_cd2.cls, line 1, field 1: track id \"TR 1 \" has leading or trailing spaces"
        );
    }
}
