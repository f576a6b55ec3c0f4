//! `file_tags`: the tags that fetched audio files carry (artist, album,
//! genre; [`crate::audio::tags`]) as label tables, for a folder of music
//! that comes with no labels but its files' own metadata:
//!
//! - `tags`: (track_id, item, count), items `album:<album>` and
//!   `genre:<genre>`, count 1: a `tag`-like source for `factorize` and the
//!   track-tag counts of `factorize_artist`;
//! - `artist_map`: (track_id, artist_id), for `factorize_artist`;
//! - `artist_target`: (track_id, uri, label = artist), a classification
//!   target (composer identification) for `evaluate`.
//!
//! It reads the fetch node's bytes, so its key is their content: a file
//! retagged re-runs it. A track with no such tag, or whose file cannot be
//! opened (the mel node reports why), is left out and counted.

use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};

use super::{finish, Rejections, Triples};
use crate::api::*;
use crate::audio::tags::{read_tags, Tags};
use crate::contracts::{shown, Contract};
use crate::table::{text_column, track_ids};

pub struct ImportFileTags;

const TABLES: &[&str] = &["tags", "artist_map", "artist_target"];

impl Stage for ImportFileTags {
    fn name(&self) -> &'static str {
        "file_tags"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "The artist, album and genre tags of fetched audio files as a label table: tag counts \
         (album:, genre: items), an artist map, or an artist classification target."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[ParamSpec {
            name: "table",
            ty: ParamType::Choice(TABLES),
            default: None,
            doc: "tags: (track_id, item, count) of album: and genre: items; artist_map: \
                  (track_id, artist_id); artist_target: (track_id, uri, label = artist)",
            in_key: true,
        }]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[InputSpec {
            name: "audio",
            many: false,
            doc: "a fetch node",
        }]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        super::TABLE
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let upstream = ctx.input("audio")?;
        let not_fetch = |e: String| StageError::Input {
            slot: "audio".into(),
            reason: format!("node {} (expected a fetch node): {e}", upstream.node),
        };
        let fetched = upstream.files.table("fetched").map_err(not_fetch)?;
        let ids = track_ids(&fetched, "audio")?;
        let uris = text_column(&fetched, "uri", "audio")?;
        let place = format!("node {}", upstream.node);
        let mut rejections = Rejections::default();
        let mut read: Vec<(usize, Tags)> = Vec::new();
        for (row, id) in ids.iter().enumerate() {
            let audio = format!("audio/{id}");
            let bytes = upstream.files.bytes(&audio).map_err(not_fetch)?;
            match read_tags(&bytes) {
                Ok(tags) => read.push((row, tags)),
                Err(e) => rejections.reject("files whose tags cannot be read", || {
                    (shown(id), e.to_string())
                }),
            }
        }
        let table = ctx.params.str("table")?;
        let untagged = |rejections: &mut Rejections, row: usize, what: &'static str| {
            rejections.reject(what, || (shown(&ids[row]), "no such tag".into()));
        };
        match table {
            "tags" => {
                let mut counts = Triples::new(Contract::LabelCounts);
                for (row, tags) in &read {
                    let items = [("album", &tags.album), ("genre", &tags.genre)];
                    let mut any = false;
                    for (kind, value) in items {
                        if let Some(value) = value {
                            counts.push(&ids[*row], &format!("{kind}:{value}"), 1.0);
                            any = true;
                        }
                    }
                    if !any {
                        untagged(
                            &mut rejections,
                            *row,
                            "tracks without an album or genre tag",
                        );
                    }
                }
                counts.finish(&place, rejections)
            }
            _ => {
                let mut kept: Vec<(usize, &str)> = Vec::new();
                for (row, tags) in &read {
                    match &tags.artist {
                        Some(artist) => kept.push((*row, artist)),
                        None => untagged(&mut rejections, *row, "tracks without an artist tag"),
                    }
                }
                let track_id: ArrayRef = Arc::new(StringArray::from_iter_values(
                    kept.iter().map(|(row, _)| ids[*row].as_str()),
                ));
                let artists: ArrayRef =
                    Arc::new(StringArray::from_iter_values(kept.iter().map(|(_, a)| *a)));
                let (contract, columns) = if table == "artist_map" {
                    let columns = vec![("track_id", track_id), ("artist_id", artists)];
                    (Contract::ArtistMap, columns)
                } else {
                    let uri: ArrayRef = Arc::new(StringArray::from_iter_values(
                        kept.iter().map(|(row, _)| uris.value(*row)),
                    ));
                    let columns = vec![("track_id", track_id), ("uri", uri), ("label", artists)];
                    (Contract::TargetLabels, columns)
                };
                finish(contract, &place, columns, rejections)
            }
        }
    }
}
