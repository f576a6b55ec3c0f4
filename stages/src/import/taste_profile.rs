//! `import_taste_profile`: the Echo Nest Taste Profile's
//! `train_triplets.txt` (user, song, play count; tab-separated) -> label
//! counts (track_id, item = user, count = plays), the `taste` learning
//! source, or interactions (user_id, track_id, count).
//!
//! The triplets name MSD songs (`SO...`), the study's tables MSD tracks
//! (`TR...`), so the stage also takes the MSD's `unique_tracks.txt`
//! (`track<SEP>song<SEP>artist<SEP>title`), which maps every track to its
//! song. A song with several tracks (the MSD's duplicates) takes the first
//! in sorted order, so the result does not depend on the file's order;
//! they are counted in `songs_with_several_tracks`. Plays of a song the
//! map lacks are left out and counted. Both files are machine-written: a
//! line with a field missing, a play count that is not a positive whole
//! number, or an id that cannot be a track id fails the node, naming the
//! file, line and field.

use std::collections::HashMap;

use super::{at, lines, path_param, source, track_id, Rejections, Triples, TABLE};
use crate::api::*;
use crate::contracts::Contract;

pub struct ImportTasteProfile;

impl Stage for ImportTasteProfile {
    fn name(&self) -> &'static str {
        "import_taste_profile"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "The Taste Profile's train_triplets.txt, songs mapped to MSD tracks, as label \
         counts (item = user) or interactions."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[
            path_param("the Taste Profile's `train_triplets.txt` (user, song, count)"),
            ParamSpec {
                name: "tracks",
                ty: ParamType::File,
                default: None,
                doc: "the MSD's `unique_tracks.txt` (track<SEP>song<SEP>artist<SEP>title)",
                in_key: true,
            },
            ParamSpec {
                name: "contract",
                ty: ParamType::Choice(&["label_counts", "interactions"]),
                default: Some("label_counts"),
                doc: "label_counts: (track_id, item = user, count), the `taste` source; \
                      interactions: (user_id, track_id, count)",
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
        let (map_file, map_bytes) = source(ctx, "tracks")?;
        let (track_of, several) = song_tracks(map_file, map_bytes)?;
        let (file, bytes) = source(ctx, "path")?;
        let contract = match ctx.params.str("contract")? {
            "interactions" => Contract::Interactions,
            _ => Contract::LabelCounts,
        };
        let mut triples = Triples::new(contract);
        let mut rejections = Rejections::default();
        for (line, text) in lines(file, bytes)? {
            if text.is_empty() {
                continue;
            }
            let mut fields = text.split('\t');
            let mut field = |name: &str| match fields.next() {
                Some(value) if !value.is_empty() => Ok(value),
                _ => Err(at(file, format_args!("line {line}"), format!("no {name}"))),
            };
            let (user, song, count) = (field("user")?, field("song")?, field("play count")?);
            let plays: u64 = count.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                at(
                    file,
                    format_args!("line {line}, field `count`"),
                    format!("{count:?} is not a positive whole number"),
                )
            })?;
            let Some(track) = track_of.get(song) else {
                rejections.reject("plays of songs without a track in `tracks`", || {
                    (format!("line {line}"), song.to_string())
                });
                continue;
            };
            match contract {
                Contract::Interactions => triples.push(user, track, plays as f64),
                _ => triples.push(track, user, plays as f64),
            }
        }
        let outputs = triples.finish(file, rejections)?;
        Ok(outputs.meta("songs_with_several_tracks", several))
    }
}

/// Song -> its first track (in sorted order), and how many songs have
/// several.
fn song_tracks<'a>(
    file: &str,
    bytes: &'a [u8],
) -> Result<(HashMap<&'a str, &'a str>, usize), StageError> {
    let mut tracks: HashMap<&str, Vec<&str>> = HashMap::new();
    for (line, text) in lines(file, bytes)? {
        if text.is_empty() {
            continue;
        }
        let mut fields = text.split("<SEP>");
        let (Some(track), Some(song)) = (fields.next(), fields.next()) else {
            return Err(at(
                file,
                format_args!("line {line}"),
                "expected track<SEP>song<SEP>artist<SEP>title",
            ));
        };
        let track = track_id(file, format_args!("line {line}, field `track`"), track)?;
        tracks.entry(song).or_default().push(track);
    }
    let several = tracks.values().filter(|t| t.len() > 1).count();
    let first = tracks
        .into_iter()
        .map(|(song, tracks)| (song, tracks.into_iter().min().expect("one or more")))
        .collect();
    Ok((first, several))
}

#[cfg(test)]
mod tests {
    use super::super::test_files::*;
    use super::*;

    const TRACKS: &str = "TRB<SEP>SOA<SEP>Artist<SEP>Title\r\n\
                          TRA<SEP>SOA<SEP>Artist<SEP>Title (dup)\r\n\
                          TRC<SEP>SOC<SEP>Other<SEP>x\r\n";

    fn import(triplets: &str, contract: &str) -> Result<Outputs, StageError> {
        run(
            &ImportTasteProfile,
            serde_json::json!({"path": "train_triplets.txt", "tracks": "unique_tracks.txt", "contract": contract}),
            &[("path", triplets.as_bytes()), ("tracks", TRACKS.as_bytes())],
        )
    }

    #[test]
    fn plays_by_track_as_labels_or_interactions() {
        let triplets = "u1\tSOA\t3\nu1\tSOC\t1\nu2\tSOZ\t7\nu2\tSOA\t12\n";
        let out = import(triplets, "label_counts").unwrap();
        assert_eq!(texts(&out, "track_id"), ["TRA", "TRC", "TRA"]);
        assert_eq!(texts(&out, "item"), ["u1", "u1", "u2"]);
        assert_eq!(numbers(&out, "count"), [3.0, 1.0, 12.0]);
        assert_eq!(out.metadata["songs_with_several_tracks"], 1);
        assert_eq!(
            warnings(&out),
            ["train_triplets.txt: 1 plays of songs without a track in `tracks`, left out: line 3 (SOZ)"]
        );
        let out = import(triplets, "interactions").unwrap();
        assert_eq!(texts(&out, "user_id"), ["u1", "u1", "u2"]);
        assert_eq!(texts(&out, "track_id"), ["TRA", "TRC", "TRA"]);
    }

    #[test]
    fn malformed_lines_fail_naming_file_line_and_field() {
        let err = error(import("u1\tSOA\t3\nu1\tSOA\n", "label_counts"));
        assert_eq!(err, "train_triplets.txt, line 2: no play count");
        let err = error(import("u1\tSOA\t0\n", "label_counts"));
        assert_eq!(
            err,
            "train_triplets.txt, line 1, field `count`: \"0\" is not a positive whole number"
        );
        let err = error(run(
            &ImportTasteProfile,
            serde_json::json!({"path": "t.txt", "tracks": "u.txt"}),
            &[
                ("path", b"u1\tSOA\t1\n"),
                ("tracks", b"TRA<SEP>SOA\nTRB SOB\n"),
            ],
        ));
        assert_eq!(
            err,
            "u.txt, line 2: expected track<SEP>song<SEP>artist<SEP>title"
        );
        let err = error(run(
            &ImportTasteProfile,
            serde_json::json!({"path": "t.txt", "tracks": "u.txt"}),
            &[("path", b"u1\tSOA\t1\n"), ("tracks", b"TR/A<SEP>SOA\n")],
        ));
        assert_eq!(
            err,
            "u.txt, line 1, field `track`: track id \"TR/A\" contains a path separator"
        );
    }
}
