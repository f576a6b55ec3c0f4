//! The generator's parameters, its two presets, and their validation.

use super::SynthError;

/// Fraction of learning tracks that carry each source's label (the rest
/// are simply absent from that table, as in the MSD where not every song
/// has tags, lyrics or a play history). By default every source labels
/// every learning track: the paper equalised the samples per source, and
/// the authors' sampler draws every source's batches from one track list.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub tag: f64,
    pub taste: f64,
    pub lyrics: f64,
    pub cdr_tag: f64,
    pub artist: f64,
    pub bpm: f64,
    pub year: f64,
}

impl Default for Coverage {
    fn default() -> Self {
        Coverage::equal(1.0)
    }
}

impl Coverage {
    /// Every source at one fraction.
    pub fn equal(fraction: f64) -> Self {
        Coverage {
            tag: fraction,
            taste: fraction,
            lyrics: fraction,
            cdr_tag: fraction,
            artist: fraction,
            bpm: fraction,
            year: fraction,
        }
    }

    fn named(&self) -> [(&'static str, f64); 7] {
        [
            ("coverage.tag", self.tag),
            ("coverage.taste", self.taste),
            ("coverage.lyrics", self.lyrics),
            ("coverage.cdr_tag", self.cdr_tag),
            ("coverage.artist", self.artist),
            ("coverage.bpm", self.bpm),
            ("coverage.year", self.year),
        ]
    }
}

/// Everything the corpus depends on. Same parameters, same corpus, byte
/// for byte (audio and tables).
#[derive(Debug, Clone, PartialEq)]
pub struct SynthParams {
    pub seed: u64,
    /// Length of every rendered track, seconds.
    pub duration_s: f32,
    /// Output sample rate, Hz (the study's 22,050).
    pub sample_rate: u32,
    /// Tracks with learning-source labels (never in a target dataset).
    pub learning_tracks: usize,
    /// Tracks in each of the GTZAN-, FMA-, IRMAS- and Last.fm-like target
    /// datasets (disjoint sets).
    pub target_tracks: usize,
    /// Tracks in the Ballroom-like set: its eight dances differ only by
    /// meter and tempo bands a few BPM apart, which takes more test tracks
    /// per class to tell representations apart than a genre does.
    pub ballroom_tracks: usize,
    /// Tracks in the emotion (arousal and valence) set: a regression probe
    /// on a few hundred 512-dim vectors needs more training tracks than a
    /// classifier before its R^2 says anything (MediaEval's has 1,744).
    pub emotion_tracks: usize,
    /// Mean tracks per learning artist; an artist shares genre, key, tempo range,
    /// timbre and era across its tracks.
    pub tracks_per_artist: usize,
    /// Mean tracks per artist in the target sets: fewer than in learning,
    /// so that an artist-disjoint test part holds several artists (the
    /// real target sets have hundreds).
    pub target_tracks_per_artist: usize,
    /// Simulated listeners behind the `taste` source.
    pub taste_users: usize,
    /// Simulated listeners of the Last.fm-like recommendation target.
    pub lastfm_users: usize,
    /// Social-tag vocabulary size (at least the built-in topical words).
    pub tag_vocab: usize,
    /// Lyrics vocabulary size (at least the built-in topical words).
    pub lyrics_vocab: usize,
    pub coverage: Coverage,
    /// Share of `bpm` labels off by a factor 2 or 1/2, as tempo
    /// estimators are.
    pub bpm_octave_error_rate: f64,
    /// Share of `cdr_tag` labels naming a wrong genre.
    pub cdr_label_noise: f64,
}

impl SynthParams {
    /// For tests: small and fast (5 s tracks).
    pub fn tiny(seed: u64) -> Self {
        SynthParams {
            seed,
            duration_s: 5.0,
            sample_rate: 22_050,
            learning_tracks: 48,
            target_tracks: 24,
            ballroom_tracks: 32,
            emotion_tracks: 24,
            tracks_per_artist: 4,
            target_tracks_per_artist: 4,
            taste_users: 40,
            lastfm_users: 24,
            tag_vocab: 300,
            lyrics_vocab: 400,
            coverage: Coverage::default(),
            bpm_octave_error_rate: 0.05,
            cdr_label_noise: 0.08,
        }
    }

    /// The default study: sized so that rendering, mel, factorization,
    /// training small CNNs on CPU and evaluation fit in about a quarter of
    /// an hour on two cores. Tracks are 10 s (not the datasets' 30 s):
    /// extraction and the front end scale with duration, and 10 s still
    /// gives every track two 216-frame slices.
    pub fn default_study(seed: u64) -> Self {
        SynthParams {
            duration_s: 10.0,
            learning_tracks: 240,
            target_tracks: 100,
            ballroom_tracks: 160,
            emotion_tracks: 400,
            tracks_per_artist: 5,
            target_tracks_per_artist: 2,
            taste_users: 150,
            lastfm_users: 80,
            tag_vocab: 400,
            lyrics_vocab: 800,
            ..SynthParams::tiny(seed)
        }
    }

    /// Samples per channel of every track.
    pub fn samples_per_track(&self) -> usize {
        (f64::from(self.duration_s) * f64::from(self.sample_rate)).round() as usize
    }

    /// Checks every parameter; the error names the first bad one.
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |name: &str, reason: String| {
            Err(SynthError::InvalidParam {
                name: name.to_string(),
                reason,
            })
        };
        if !(self.duration_s.is_finite() && self.duration_s >= 1.0 && self.duration_s <= 600.0) {
            return bad(
                "duration_s",
                format!("must be between 1 and 600 seconds, got {}", self.duration_s),
            );
        }
        if !(8_000..=192_000).contains(&self.sample_rate) {
            return bad(
                "sample_rate",
                format!("must be 8000..=192000 Hz, got {}", self.sample_rate),
            );
        }
        let counts = [
            ("learning_tracks", self.learning_tracks, 8, 1_000_000),
            ("target_tracks", self.target_tracks, 8, 1_000_000),
            ("ballroom_tracks", self.ballroom_tracks, 8, 1_000_000),
            ("emotion_tracks", self.emotion_tracks, 8, 1_000_000),
            ("tracks_per_artist", self.tracks_per_artist, 1, 10_000),
            (
                "target_tracks_per_artist",
                self.target_tracks_per_artist,
                1,
                10_000,
            ),
            ("taste_users", self.taste_users, 2, 1_000_000),
            ("lastfm_users", self.lastfm_users, 2, 1_000_000),
            ("tag_vocab", self.tag_vocab, 1, 1_000_000),
            ("lyrics_vocab", self.lyrics_vocab, 1, 1_000_000),
        ];
        for (name, value, min, max) in counts {
            if !(min..=max).contains(&value) {
                return bad(name, format!("must be {min}..={max}, got {value}"));
            }
        }
        let minimum_tags = super::vocab::tag_topic_words();
        if self.tag_vocab < minimum_tags {
            return bad(
                "tag_vocab",
                format!(
                    "must hold the {minimum_tags} topical tag words, got {}",
                    self.tag_vocab
                ),
            );
        }
        let minimum_lyrics = super::vocab::lyrics_topic_words();
        if self.lyrics_vocab < minimum_lyrics {
            return bad(
                "lyrics_vocab",
                format!(
                    "must hold the {minimum_lyrics} topical lyrics words, got {}",
                    self.lyrics_vocab
                ),
            );
        }
        let fractions = self.coverage.named().into_iter().chain([
            ("bpm_octave_error_rate", self.bpm_octave_error_rate),
            ("cdr_label_noise", self.cdr_label_noise),
        ]);
        for (name, value) in fractions {
            if !(0.0..=1.0).contains(&value) {
                return bad(name, format!("must be a fraction in [0, 1], got {value}"));
            }
        }
        Ok(())
    }
}
