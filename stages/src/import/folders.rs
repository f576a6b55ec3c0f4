//! `import_folders`: a dataset laid out as one folder per class (GTZAN's
//! `genres/<genre>/*.wav`, Extended Ballroom, IRMAS's training excerpts)
//! -> a classification target manifest.
//!
//! The root is a directory parameter: the engine lists it into the node's
//! key (a file added or removed re-runs the node) and hands this stage the
//! listing, sorted, so the manifest is in path order and the same on every
//! machine. Each audio file (by extension, any case) becomes a track: id
//! the file name without its extension, uri the root joined with its path
//! (a local path that `fetch` reads, under the same `allow_paths:` rules),
//! label the name of its top folder, and with `group_pattern`, group from
//! the file name. Other files are ignored and counted (`ignored_files`).
//!
//! Rejected, counted and reported (a dataset's odd file should not stop the
//! others): an audio file directly under the root (no class), a name the
//! pattern does not match, a name that cannot be a track id, and a second
//! file with the same id (the first, in path order, is kept).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use regex::Regex;

use super::{finish, source, Rejections, TABLE};
use crate::api::*;
use crate::contracts::{shown, track_id_is_safe, Contract};
use crate::local_files::listed_paths;

pub struct ImportFolders;

impl Stage for ImportFolders {
    fn name(&self) -> &'static str {
        "import_folders"
    }
    fn version(&self) -> u32 {
        1
    }
    fn doc(&self) -> &'static str {
        "A dataset of one folder per class (GTZAN, Extended Ballroom, IRMAS) as a \
         classification target manifest: label = top folder, id = file name."
    }
    fn params(&self) -> &'static [ParamSpec] {
        &[
            ParamSpec {
                name: "root",
                ty: ParamType::Dir,
                default: None,
                doc: "the folder holding the class folders (GTZAN's `genres`)",
                in_key: true,
            },
            ParamSpec {
                name: "extensions",
                ty: ParamType::StrList,
                default: Some("[wav, mp3, ogg, opus, flac, au, aiff, m4a]"),
                doc: "the audio files' extensions (any case); other files are ignored",
                in_key: true,
            },
            ParamSpec {
                name: "group_pattern",
                ty: ParamType::Str,
                default: Some(""),
                doc: "a regular expression on the file name giving the `group` (its first \
                      capture group, else its match), e.g. `^(.+?) - ` for an artist prefix; \
                      empty: no group",
                in_key: true,
            },
        ]
    }
    fn inputs(&self) -> &'static [InputSpec] {
        &[]
    }
    fn outputs(&self) -> &'static [OutputSpec] {
        TABLE
    }
    fn run(&self, ctx: &StageContext) -> Result<Outputs, StageError> {
        let (root, listing) = source(ctx, "root")?;
        let paths = listed_paths(listing).map_err(|reason| StageError::Param {
            name: "root".into(),
            reason,
        })?;
        let extensions: Vec<String> = ctx
            .params
            .str_list("extensions")?
            .iter()
            .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
            .collect();
        let pattern = match ctx.params.str("group_pattern")? {
            "" => None,
            text => Some(Regex::new(text).map_err(|e| StageError::Param {
                name: "group_pattern".into(),
                reason: e.to_string(),
            })?),
        };
        let prefix = root.trim_end_matches('/');
        let mut rejections = Rejections::default();
        let mut ignored = 0;
        let mut first_of: HashMap<&str, &str> = HashMap::new();
        let (mut ids, mut uris, mut labels, mut groups) = (vec![], vec![], vec![], vec![]);
        for path in &paths {
            let name = path.rsplit('/').next().unwrap_or(path);
            let Some((id, extension)) = name.rsplit_once('.') else {
                ignored += 1;
                continue;
            };
            if !extensions.contains(&extension.to_ascii_lowercase()) {
                ignored += 1;
                continue;
            }
            let place = || (shown(path), shown(id));
            let Some((label, _)) = path.split_once('/') else {
                rejections.reject("audio files outside a class folder", place);
                continue;
            };
            let group = match &pattern {
                None => None,
                Some(pattern) => match pattern.captures(name) {
                    Some(found) => found.get(1).or(found.get(0)).map(|m| m.as_str()),
                    None => {
                        rejections.reject("file names `group_pattern` does not match", place);
                        continue;
                    }
                },
            };
            if let Err(why) = track_id_is_safe(id) {
                rejections.reject("file names that cannot be track ids", || (shown(path), why));
                continue;
            }
            if let Some(first) = first_of.get(id) {
                rejections.reject("files whose id an earlier file has", || {
                    (shown(path), format!("as {}", shown(first)))
                });
                continue;
            }
            first_of.insert(id, path);
            ids.push(id);
            uris.push(format!("{prefix}/{path}"));
            labels.push(label);
            groups.push(group);
        }
        let mut columns: Vec<(&str, ArrayRef)> = vec![
            ("track_id", Arc::new(StringArray::from(ids))),
            ("uri", Arc::new(StringArray::from(uris))),
            ("label", Arc::new(StringArray::from(labels))),
        ];
        if pattern.is_some() {
            columns.push(("group", Arc::new(StringArray::from(groups))));
        }
        let outputs = finish(Contract::TargetLabels, root, columns, rejections)?;
        Ok(outputs.meta("ignored_files", ignored))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_files::*;
    use super::*;
    use crate::local_files::list_dir;

    fn listing(files: &[&str]) -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        for file in files {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"RIFF").unwrap();
        }
        let listing = list_dir(dir.path()).unwrap();
        (dir, listing)
    }

    #[test]
    fn one_track_per_audio_file_labelled_by_its_folder_in_path_order() {
        let (_dir, listing) = listing(&[
            "rock/rock.00001.WAV",
            "blues/blues.00001.wav",
            "blues/blues.00000.wav",
            "blues/notes.txt",
            "bextract.mf",
            "loose.wav",
            "pop/live/pop.00007.mp3",
        ]);
        let out = run(
            &ImportFolders,
            serde_json::json!({"root": "data/genres/"}),
            &[("root", &listing)],
        )
        .unwrap();
        assert_eq!(
            texts(&out, "track_id"),
            ["blues.00000", "blues.00001", "pop.00007", "rock.00001"]
        );
        assert_eq!(
            texts(&out, "uri"),
            [
                "data/genres/blues/blues.00000.wav",
                "data/genres/blues/blues.00001.wav",
                "data/genres/pop/live/pop.00007.mp3",
                "data/genres/rock/rock.00001.WAV"
            ]
        );
        assert_eq!(texts(&out, "label"), ["blues", "blues", "pop", "rock"]);
        assert!(table(&out).column_by_name("group").is_none());
        assert_eq!(out.metadata["ignored_files"], 2);
        assert_eq!(out.metadata["rejected_rows"], 1);
        assert_eq!(
            warnings(&out),
            ["data/genres/: 1 audio files outside a class folder, left out: loose.wav (loose)"]
        );
    }

    #[test]
    fn groups_from_the_file_name_and_odd_files_left_out() {
        let (_dir, listing) = listing(&[
            "Jive/Ann - One.wav",
            "Jive/Bob - Two.wav",
            "Tango/Ann - Two.wav",
            "Tango/untitled.wav",
            "Waltz/Ann - One.wav",
            "Waltz/Cy - Bad\u{202E}.wav",
        ]);
        let out = run(
            &ImportFolders,
            serde_json::json!({"root": "ballroom", "group_pattern": "^(.+?) - "}),
            &[("root", &listing)],
        )
        .unwrap();
        assert_eq!(
            texts(&out, "track_id"),
            ["Ann - One", "Bob - Two", "Ann - Two"]
        );
        assert_eq!(texts(&out, "group"), ["Ann", "Bob", "Ann"]);
        assert_eq!(texts(&out, "label"), ["Jive", "Jive", "Tango"]);
        assert_eq!(out.metadata["rejected_rows"], 3);
        let warnings = warnings(&out);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert_eq!(
            warnings[0],
            "ballroom: 1 file names `group_pattern` does not match, left out: \
             Tango/untitled.wav (untitled)"
        );
        assert_eq!(
            warnings[1],
            "ballroom: 1 file names that cannot be track ids, left out: \"Waltz/Cy - Bad\\u{202e}.wav\" \
             (contains the bidirectional control character U+202E)"
        );
        assert_eq!(
            warnings[2],
            "ballroom: 1 files whose id an earlier file has, left out: \
             Waltz/Ann - One.wav (as Jive/Ann - One.wav)"
        );
    }

    #[test]
    fn a_bad_pattern_or_an_empty_tree_fails() {
        let (_dir, listing) = listing(&["a/x.txt", "y.wav"]);
        let err = error(run(
            &ImportFolders,
            serde_json::json!({"root": "r", "group_pattern": "("}),
            &[("root", &listing)],
        ));
        assert!(
            err.starts_with("parameter `group_pattern`: regex parse error"),
            "{err}"
        );
        let err = error(run(
            &ImportFolders,
            serde_json::json!({"root": "r"}),
            &[("root", &listing)],
        ));
        assert_eq!(err, "r: nothing to import: all 1 rows were left out");
    }
}
