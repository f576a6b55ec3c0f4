//! The musical vocabulary of the corpus: genres, ballroom dance styles,
//! instruments and modes, each with the ranges and habits that the latents
//! are drawn from. Genres overlap on purpose (tempo ranges, palettes), so a
//! genre is recognisable from a combination of cues, never from one alone.

/// Major or (natural, with a raised leading tone on V) minor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Major,
    Minor,
}

impl Mode {
    /// Semitones of the seven scale degrees above the tonic.
    pub fn scale(self) -> [i32; 7] {
        match self {
            Mode::Major => [0, 2, 4, 5, 7, 9, 11],
            Mode::Minor => [0, 2, 3, 5, 7, 8, 10],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Major => "major",
            Mode::Minor => "minor",
        }
    }
}

/// The predominant (lead) and accompanying instruments: additive timbres
/// with distinct spectral shapes and envelopes (see `instruments`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Instrument {
    /// Bright attack, exponential decay.
    Piano,
    /// Drawbar partials, sustained, no decay.
    Organ,
    /// Sawtooth-like partials, slow attack, vibrato.
    Violin,
    /// Many strong partials (bright), swelling attack.
    Trumpet,
    /// Near-sine with breath noise.
    Flute,
    /// Plucked: comb-shaped spectrum, fast decay.
    Guitar,
    /// Odd partials (square-like), gated.
    Synth,
}

impl Instrument {
    pub const ALL: [Instrument; 7] = [
        Instrument::Piano,
        Instrument::Organ,
        Instrument::Violin,
        Instrument::Trumpet,
        Instrument::Flute,
        Instrument::Guitar,
        Instrument::Synth,
    ];

    /// The label used in tables (IRMAS-like target, tags).
    pub fn name(self) -> &'static str {
        match self {
            Instrument::Piano => "piano",
            Instrument::Organ => "organ",
            Instrument::Violin => "violin",
            Instrument::Trumpet => "trumpet",
            Instrument::Flute => "flute",
            Instrument::Guitar => "guitar",
            Instrument::Synth => "synth",
        }
    }

    pub fn index(self) -> usize {
        Instrument::ALL
            .iter()
            .position(|&i| i == self)
            .unwrap_or_default()
    }

    /// The MIDI range a melody on this instrument stays in.
    pub fn melody_range_midi(self) -> (i32, i32) {
        match self {
            Instrument::Piano => (60, 84),
            Instrument::Organ => (55, 79),
            Instrument::Violin => (62, 86),
            Instrument::Trumpet => (58, 80),
            Instrument::Flute => (67, 91),
            Instrument::Guitar => (52, 76),
            Instrument::Synth => (60, 84),
        }
    }
}

/// What the drums, bass and accompaniment play within a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rhythm {
    /// Soft timpani on every beat, pizzicato-like bass, sustained chords.
    Orchestral,
    /// Ride cymbal swing, hi-hat on 2 and 4, feathered kick, walking bass.
    Swing,
    /// Kick on 1 and 3, snare on 2 and 4, eighth-note hi-hats.
    Backbeat,
    /// Kick on every beat, clap on 2 and 4, off-beat open hats.
    FourOnFloor,
    /// Heavy kick and snare, swung sixteenth hats.
    BoomBap,
    /// Oom-pah-pah in 3/4: bass and kick on 1, chord stabs on 2 and 3.
    Waltz,
    /// Marcato: staccato stabs on all four beats, accent on 1 and 4-and.
    Tango,
    /// Cowbell on the beats, conga, the cha-cha-cha on 4, 4-and, 1.
    ChaCha,
    /// Clave and conga on the beats, slow sensual bass on 1 and 2-and.
    Rumba,
}

impl Rhythm {
    pub fn name(self) -> &'static str {
        match self {
            Rhythm::Orchestral => "orchestral",
            Rhythm::Swing => "swing",
            Rhythm::Backbeat => "backbeat",
            Rhythm::FourOnFloor => "four_on_floor",
            Rhythm::BoomBap => "boom_bap",
            Rhythm::Waltz => "waltz",
            Rhythm::Tango => "tango",
            Rhythm::ChaCha => "chacha",
            Rhythm::Rumba => "rumba",
        }
    }
}

/// The genres of the corpus (the GTZAN-like target's labels). Three are
/// ballroom styles, so tempo and rhythm matter as much as timbre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Genre {
    Classical,
    Jazz,
    Rock,
    Electronic,
    HipHop,
    Waltz,
    Tango,
    ChaCha,
}

/// How a genre sounds: every range is what artists of the genre draw
/// their own centres from.
#[derive(Debug, Clone, Copy)]
pub struct GenreStyle {
    pub tempo_bpm: (f64, f64),
    /// Probability of a 3/4 bar for the orchestral rhythm (the waltz
    /// rhythm is always 3/4, the others 4/4).
    pub p_triple_meter: f64,
    pub p_major: f64,
    /// 0 = dark (steep spectral roll-off), 1 = bright.
    pub brightness: (f64, f64),
    /// 0 = soft and sparse, 1 = loud, dense and drum-heavy.
    pub energy: (f64, f64),
    /// Grooves an artist of the genre plays, with weights: mostly the
    /// genre's own, sometimes a neighbour's (fusion, latin jazz, a
    /// four-on-the-floor rock song), so no pattern is a genre's alone.
    pub rhythms: &'static [(Rhythm, f64)],
    /// Weights for the predominant instrument, in `Instrument::ALL` order.
    pub palette: [f64; 7],
    /// Chord progressions as scale degrees (0 = tonic), one chord a bar.
    pub progressions: &'static [&'static [u8]],
    /// Seventh chords (jazz) instead of triads.
    pub sevenths: bool,
    /// Delay of off-beat eighths, as a fraction of a beat (1/6 = triplet swing).
    pub swing: f64,
    /// Typical reverb send (0..0.4); each artist varies around it.
    pub room: f64,
}

const POP: &[&[u8]] = &[&[0, 4, 5, 3], &[0, 3, 4, 3], &[0, 5, 3, 4], &[5, 3, 0, 4]];
const CLASSICAL: &[&[u8]] = &[&[0, 3, 4, 0], &[0, 1, 4, 0], &[0, 5, 1, 4], &[0, 4, 5, 2]];
const JAZZ: &[&[u8]] = &[&[1, 4, 0, 0], &[0, 5, 1, 4], &[2, 5, 1, 4]];
const DARK: &[&[u8]] = &[&[0, 6, 5, 4], &[0, 3, 4, 0], &[0, 5, 2, 6]];
const LOOP: &[&[u8]] = &[&[0, 0, 5, 5], &[0, 5, 3, 4], &[0, 3, 0, 3]];
const WALTZ: &[&[u8]] = &[&[0, 0, 4, 4, 4, 4, 0, 0], &[0, 3, 4, 0], &[0, 1, 4, 0]];

impl Genre {
    pub const ALL: [Genre; 8] = [
        Genre::Classical,
        Genre::Jazz,
        Genre::Rock,
        Genre::Electronic,
        Genre::HipHop,
        Genre::Waltz,
        Genre::Tango,
        Genre::ChaCha,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Genre::Classical => "classical",
            Genre::Jazz => "jazz",
            Genre::Rock => "rock",
            Genre::Electronic => "electronic",
            Genre::HipHop => "hiphop",
            Genre::Waltz => "waltz",
            Genre::Tango => "tango",
            Genre::ChaCha => "chacha",
        }
    }

    pub fn index(self) -> usize {
        Genre::ALL
            .iter()
            .position(|&g| g == self)
            .unwrap_or_default()
    }

    /// The FMA-like target's coarser top-level genre.
    pub fn top_genre(self) -> &'static str {
        match self {
            Genre::Classical => "classical",
            Genre::Jazz => "jazz",
            Genre::Rock => "rock",
            Genre::Electronic => "electronic",
            Genre::HipHop => "hiphop",
            Genre::Waltz | Genre::Tango | Genre::ChaCha => "international",
        }
    }

    /// The professional (CDR-like) sub-genres, one per artist.
    pub fn subgenres(self) -> &'static [&'static str] {
        match self {
            Genre::Classical => &[
                "classical/baroque",
                "classical/romantic",
                "classical/modern",
            ],
            Genre::Jazz => &["jazz/swing", "jazz/bebop", "jazz/cool"],
            Genre::Rock => &[
                "pop-rock/classic rock",
                "pop-rock/indie",
                "pop-rock/hard rock",
            ],
            Genre::Electronic => &["dance/house", "dance/techno", "dance/synthpop"],
            Genre::HipHop => &["urban/hip hop", "urban/rap", "urban/trip hop"],
            Genre::Waltz => &[
                "ballroom/waltz",
                "ballroom/viennese waltz",
                "light music/salon",
            ],
            Genre::Tango => &["world/tango", "world/nuevo tango", "ballroom/tango"],
            Genre::ChaCha => &["latin/cha cha", "latin/mambo", "ballroom/latin"],
        }
    }

    pub fn style(self) -> GenreStyle {
        let palette = |p: [f64; 7]| p;
        match self {
            Genre::Classical => GenreStyle {
                tempo_bpm: (60.0, 100.0),
                p_triple_meter: 0.3,
                p_major: 0.6,
                brightness: (0.1, 0.45),
                energy: (0.1, 0.45),
                rhythms: &[(Rhythm::Orchestral, 0.85), (Rhythm::Waltz, 0.15)],
                palette: palette([0.3, 0.05, 0.35, 0.08, 0.2, 0.02, 0.0]),
                progressions: CLASSICAL,
                sevenths: false,
                swing: 0.0,
                room: 0.2,
            },
            Genre::Jazz => GenreStyle {
                tempo_bpm: (100.0, 210.0),
                p_triple_meter: 0.0,
                p_major: 0.55,
                brightness: (0.3, 0.6),
                energy: (0.3, 0.6),
                rhythms: &[
                    (Rhythm::Swing, 0.75),
                    (Rhythm::Rumba, 0.1),
                    (Rhythm::Backbeat, 0.15),
                ],
                palette: palette([0.35, 0.1, 0.02, 0.35, 0.05, 0.13, 0.0]),
                progressions: JAZZ,
                sevenths: true,
                swing: 1.0 / 6.0,
                room: 0.15,
            },
            Genre::Rock => GenreStyle {
                tempo_bpm: (100.0, 180.0),
                p_triple_meter: 0.0,
                p_major: 0.6,
                brightness: (0.55, 0.9),
                energy: (0.6, 1.0),
                rhythms: &[
                    (Rhythm::Backbeat, 0.7),
                    (Rhythm::FourOnFloor, 0.1),
                    (Rhythm::BoomBap, 0.1),
                    (Rhythm::Swing, 0.1),
                ],
                palette: palette([0.12, 0.15, 0.03, 0.02, 0.0, 0.58, 0.1]),
                progressions: POP,
                sevenths: false,
                swing: 0.0,
                room: 0.1,
            },
            Genre::Electronic => GenreStyle {
                tempo_bpm: (120.0, 175.0),
                p_triple_meter: 0.0,
                p_major: 0.45,
                brightness: (0.6, 1.0),
                energy: (0.6, 0.95),
                rhythms: &[
                    (Rhythm::FourOnFloor, 0.65),
                    (Rhythm::BoomBap, 0.2),
                    (Rhythm::Backbeat, 0.15),
                ],
                palette: palette([0.15, 0.1, 0.05, 0.0, 0.05, 0.0, 0.65]),
                progressions: LOOP,
                sevenths: false,
                swing: 0.0,
                room: 0.12,
            },
            Genre::HipHop => GenreStyle {
                tempo_bpm: (80.0, 100.0),
                p_triple_meter: 0.0,
                p_major: 0.3,
                brightness: (0.35, 0.7),
                energy: (0.5, 0.8),
                rhythms: &[
                    (Rhythm::BoomBap, 0.75),
                    (Rhythm::FourOnFloor, 0.1),
                    (Rhythm::Backbeat, 0.15),
                ],
                palette: palette([0.3, 0.05, 0.15, 0.12, 0.08, 0.0, 0.3]),
                progressions: DARK,
                sevenths: false,
                swing: 1.0 / 12.0,
                room: 0.06,
            },
            Genre::Waltz => GenreStyle {
                tempo_bpm: (84.0, 96.0),
                p_triple_meter: 1.0,
                p_major: 0.75,
                brightness: (0.25, 0.55),
                energy: (0.2, 0.5),
                rhythms: &[(Rhythm::Waltz, 1.0)],
                palette: palette([0.25, 0.1, 0.4, 0.1, 0.15, 0.0, 0.0]),
                progressions: WALTZ,
                sevenths: false,
                swing: 0.0,
                room: 0.18,
            },
            Genre::Tango => GenreStyle {
                tempo_bpm: (120.0, 134.0),
                p_triple_meter: 0.0,
                p_major: 0.2,
                brightness: (0.35, 0.65),
                energy: (0.5, 0.8),
                rhythms: &[(Rhythm::Tango, 0.85), (Rhythm::Backbeat, 0.15)],
                palette: palette([0.25, 0.35, 0.35, 0.0, 0.0, 0.05, 0.0]),
                progressions: DARK,
                sevenths: false,
                swing: 0.0,
                room: 0.12,
            },
            Genre::ChaCha => GenreStyle {
                tempo_bpm: (116.0, 128.0),
                p_triple_meter: 0.0,
                p_major: 0.65,
                brightness: (0.5, 0.8),
                energy: (0.5, 0.8),
                rhythms: &[(Rhythm::ChaCha, 0.7), (Rhythm::Rumba, 0.3)],
                palette: palette([0.3, 0.0, 0.0, 0.4, 0.2, 0.1, 0.0]),
                progressions: POP,
                sevenths: false,
                swing: 0.0,
                room: 0.1,
            },
        }
    }
}

/// Ballroom dance styles (the Extended-Ballroom-like target, eight of its
/// thirteen classes): separable by meter and tempo only, as the paper says
/// of the real dataset. The tempo bands are competition tempi, narrowed
/// where two of them overlap (cha-cha and tango) so that tempo alone
/// decides; within a meter, neighbouring bands are a few BPM apart, so a
/// coarse sense of "slow" or "fast" is not enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dance {
    Waltz,
    VienneseWaltz,
    Rumba,
    Foxtrot,
    ChaCha,
    Tango,
    Jive,
    Quickstep,
}

impl Dance {
    pub const ALL: [Dance; 8] = [
        Dance::Waltz,
        Dance::VienneseWaltz,
        Dance::Rumba,
        Dance::Foxtrot,
        Dance::ChaCha,
        Dance::Tango,
        Dance::Jive,
        Dance::Quickstep,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dance::Waltz => "waltz",
            Dance::VienneseWaltz => "viennese_waltz",
            Dance::Rumba => "rumba",
            Dance::Foxtrot => "foxtrot",
            Dance::ChaCha => "chacha",
            Dance::Tango => "tango",
            Dance::Jive => "jive",
            Dance::Quickstep => "quickstep",
        }
    }

    /// The genres whose palette, harmony and timbre ballroom bands play
    /// in. A band's genre is drawn from these whatever its dance, so the
    /// timbre says nothing about the dance: tempo and groove do, as in
    /// Extended Ballroom, whose classes are separable by tempo alone.
    pub const BAND_GENRES: [Genre; 4] = [Genre::Waltz, Genre::Tango, Genre::ChaCha, Genre::Jazz];

    /// Tempo range in BPM, disjoint within a meter.
    pub fn tempo_bpm(self) -> (f64, f64) {
        match self {
            Dance::Waltz => (84.0, 90.0),
            Dance::VienneseWaltz => (168.0, 180.0),
            Dance::Rumba => (96.0, 104.0),
            Dance::Foxtrot => (112.0, 120.0),
            Dance::ChaCha => (122.0, 128.0),
            Dance::Tango => (130.0, 136.0),
            Dance::Jive => (168.0, 176.0),
            Dance::Quickstep => (200.0, 208.0),
        }
    }

    /// The groove: 3/4 for the waltzes, one plain backbeat for every 4/4
    /// dance, so that within a meter only the tempo tells dances apart.
    pub fn rhythm(self) -> Rhythm {
        match self {
            Dance::Waltz | Dance::VienneseWaltz => Rhythm::Waltz,
            _ => Rhythm::Backbeat,
        }
    }
}
