//! `import_lastfm_1k`: the Last.fm-1K listening logs
//! (`userid-timestamp-artid-artname-traid-traname.tsv`: one play per line,
//! tab-separated, no header) -> interactions (user_id, track_id = the
//! track's MusicBrainz id, count = the user's plays of it), sorted by user
//! and track.
//!
//! Unlike the MSD's files, these lines hold free text scraped from users'
//! profiles, and many plays have no track MBID: a line without six fields,
//! a user or a track MBID (or one that cannot be a track id) is left out,
//! counted by reason and reported, and the other plays are imported.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray};

use super::{finish, lines, path_param, source, Rejections, TABLE};
use crate::api::*;
use crate::contracts::{shown, track_id_is_safe, Contract};

pub struct ImportLastfm1k;

impl Stage for ImportLastfm1k {
    fn name(&self) -> &'static str {
        "import_lastfm_1k"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "The Last.fm-1K listening logs as interactions: plays per user and track \
         (track MBID); plays without one are left out and counted."
    }
    fn params(&self) -> &'static [ParamSpec] {
        const PARAMS: &[ParamSpec] = &[path_param(
            "Last.fm-1K's `userid-timestamp-artid-artname-traid-traname.tsv`",
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
        let mut plays: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        let mut rejections = Rejections::default();
        for (line, text) in lines(file, bytes)? {
            if text.is_empty() {
                continue;
            }
            let place = || format!("line {line}");
            let fields: Vec<&str> = text.split('\t').collect();
            let [user, _, _, _, track, _] = fields[..] else {
                rejections.reject("lines without six tab-separated fields", || {
                    (place(), format!("{} fields", fields.len()))
                });
                continue;
            };
            if user.is_empty() {
                rejections.reject("plays without a user", || (place(), "no user".into()));
            } else if track.is_empty() {
                rejections.reject("plays without a track MBID", || (place(), shown(user)));
            } else if let Err(why) = track_id_is_safe(track) {
                rejections.reject("plays whose track MBID cannot be a track id", || {
                    (place(), format!("{}: {why}", shown(track)))
                });
            } else {
                *plays.entry((user, track)).or_default() += 1;
            }
        }
        let users: StringArray = plays.keys().map(|(user, _)| Some(*user)).collect();
        let tracks: StringArray = plays.keys().map(|(_, track)| Some(*track)).collect();
        let counts: Float64Array = plays.values().map(|&n| Some(n as f64)).collect();
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("user_id", Arc::new(users)),
            ("track_id", Arc::new(tracks)),
            ("count", Arc::new(counts)),
        ];
        finish(Contract::Interactions, file, columns, rejections)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_files::*;
    use super::*;

    const A: &str = "f1b1cf71-bd35-4e99-8624-24a6e15f133a";
    const B: &str = "1ebbd23d-8d49-4e51-b3ec-7a0d1a32c2c3";

    #[test]
    fn plays_are_counted_per_user_and_track() {
        let log = format!(
            "user_000002\t2009-05-04T23:08:57Z\tart1\tDeep Dish\t{A}\tFuck Me Im Famous\n\
             user_000001\t2009-05-04T13:54:10Z\t\tWho?\t{B}\tSong\n\
             user_000002\t2009-05-03T23:08:57Z\tart1\tDeep Dish\t{A}\tFuck Me Im Famous\n\
             user_000001\t2009-05-02T13:54:10Z\tart2\tLocal\t\tNo MBID\n\
             user_000001\tbroken line\n\
             user_000001\t2009-05-01T00:00:00Z\tart2\tName\twith\ttabs\t{B}\tx\n"
        );
        let out = run(
            &ImportLastfm1k,
            serde_json::json!({"path": "lastfm-1k.tsv"}),
            &[("path", log.as_bytes())],
        )
        .unwrap();
        assert_eq!(texts(&out, "user_id"), ["user_000001", "user_000002"]);
        assert_eq!(texts(&out, "track_id"), [B, A]);
        assert_eq!(numbers(&out, "count"), [1.0, 2.0]);
        assert_eq!(out.metadata["rejected_rows"], 3);
        assert_eq!(
            warnings(&out),
            [
                "lastfm-1k.tsv: 2 lines without six tab-separated fields, left out: \
                 line 5 (2 fields), line 6 (8 fields)",
                "lastfm-1k.tsv: 1 plays without a track MBID, left out: line 4 (user_000001)"
            ]
        );
    }

    #[test]
    fn a_log_without_a_single_track_fails() {
        let err = error(run(
            &ImportLastfm1k,
            serde_json::json!({"path": "l.tsv"}),
            &[("path", b"u1\tt\ta\tn\t\tx\n")],
        ));
        assert_eq!(err, "l.tsv: nothing to import: all 1 rows were left out");
        let err = error(run(
            &ImportLastfm1k,
            serde_json::json!({"path": "l.tsv"}),
            &[("path", b"u1\tt\ta\tn\t\xff\tx\n")],
        ));
        assert_eq!(err, "l.tsv, line 1: not UTF-8 text");
    }
}
