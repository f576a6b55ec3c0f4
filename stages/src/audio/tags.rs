//! The tags an audio file carries (Vorbis comments in Ogg and FLAC, ID3 in
//! MP3), as symphonia reads them while it opens the file: artist, album
//! and genre, the metadata a folder of music brings as learning sources.
//! (symphonia 0.6.1 parses a WAV file's INFO list but does not hand it on:
//! a WAV file reads as untagged.)
//!
//! A tag that is absent, or holds only white space, is `None`; where a
//! file states a tag twice (ID3 before the stream and Vorbis comments in
//! it), the later statement wins, as players show it.

use symphonia::core::meta::StandardTag;

use super::decode::open;
use super::AudioError;

/// The tags of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    pub artist: Option<String>,
    pub album: Option<String>,
    pub genre: Option<String>,
}

/// The tags of the audio file in `bytes`; an error where the bytes are not
/// an audio file that can be opened.
pub fn read_tags(bytes: &[u8]) -> Result<Tags, AudioError> {
    let mut reader = open(bytes)?;
    let mut tags = Tags::default();
    let mut metadata = reader.metadata();
    let mut revisions = Vec::new();
    while let Some(revision) = metadata.pop() {
        revisions.push(revision);
    }
    revisions.extend(metadata.current().cloned());
    for revision in &revisions {
        let per_track = revision.per_track.iter().map(|t| &t.metadata);
        for tag in std::iter::once(&revision.media)
            .chain(per_track)
            .flat_map(|m| &m.tags)
        {
            let (slot, value) = match &tag.std {
                Some(StandardTag::Artist(v)) => (&mut tags.artist, v),
                Some(StandardTag::Album(v)) => (&mut tags.album, v),
                Some(StandardTag::Genre(v)) => (&mut tags.genre, v),
                _ => continue,
            };
            let value = value.trim();
            if !value.is_empty() {
                *slot = Some(value.to_string());
            }
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::test_util::{reference_bytes, sine, wav, WavFormat};

    #[test]
    fn artist_album_and_genre_of_vorbis_and_flac_files() {
        // Written by libsndfile: tests/reference/audio/make_tagged.py.
        for name in ["tagged.ogg", "tagged.flac"] {
            let tags = read_tags(&reference_bytes(name)).unwrap();
            let expected = Tags {
                artist: Some("Maxstack".into()),
                album: Some("Endgame: Singularity Original Soundtrack".into()),
                genre: Some("Electronic".into()),
            };
            assert_eq!(tags, expected, "{name}");
        }
    }

    #[test]
    fn a_file_without_tags_has_none_and_junk_is_an_error() {
        let tone = wav(22_050, &[sine(440.0, 22_050, 0.1, 0.5)], WavFormat::Pcm16);
        assert_eq!(read_tags(&tone).unwrap(), Tags::default());
        assert!(matches!(read_tags(b""), Err(AudioError::Empty)));
        assert!(read_tags(b"OggS, but not really").is_err());
    }
}
