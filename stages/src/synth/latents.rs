//! The latent factors of every track, drawn before any sound or label:
//! artists first (a group of tracks sharing genre, key, tempo range,
//! timbre and era), then tracks around their artist, then mood and year
//! from what the track sounds like. Labels and audio are both functions of
//! these latents, which is what makes the labels learnable from audio.

use super::style::{Dance, Genre, Instrument, Mode, Rhythm};
use super::SynthParams;
use crate::rng::Rng;

/// The target datasets, each with its own tracks and artists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetSet {
    /// Genre classification, artist-grouped splits (GTZAN-like).
    Gtzan,
    /// Top-level genre, given split (FMA-medium-like).
    Fma,
    /// Dance style from tempo and rhythm (Extended-Ballroom-like).
    Ballroom,
    /// Predominant instrument, given split (IRMAS-like).
    Irmas,
    /// Arousal and valence regression, given split (MediaEval-like).
    Emotion,
    /// Cold-start recommendation from listening counts (Last.fm-1K-like).
    Lastfm,
}

impl TargetSet {
    pub const ALL: [TargetSet; 6] = [
        TargetSet::Gtzan,
        TargetSet::Fma,
        TargetSet::Ballroom,
        TargetSet::Irmas,
        TargetSet::Emotion,
        TargetSet::Lastfm,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TargetSet::Gtzan => "gtzan",
            TargetSet::Fma => "fma",
            TargetSet::Ballroom => "ballroom",
            TargetSet::Irmas => "irmas",
            TargetSet::Emotion => "emotion",
            TargetSet::Lastfm => "lastfm",
        }
    }
}

/// Whether a track feeds the learning sources or one target dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Learning,
    Target(TargetSet),
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Learning => "learning",
            Role::Target(set) => set.name(),
        }
    }
}

/// Everything about one track that its audio and labels derive from.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackLatent {
    /// A safe file name: `syn_l00042`, `syn_gtzan_0007`.
    pub track_id: String,
    pub role: Role,
    pub artist_id: String,
    pub genre: Genre,
    /// Set for Ballroom-like tracks: overrides tempo range and rhythm.
    pub dance: Option<Dance>,
    /// The professional (CDR-like) genre label of the artist.
    pub subgenre: &'static str,
    /// The groove (drum, bass and accompaniment patterns).
    pub rhythm: Rhythm,
    /// Beats per bar: 3 or 4.
    pub meter: u8,
    /// The true tempo in beats per minute (the `bpm` table adds estimator
    /// errors; the audio has exactly this beat).
    pub bpm: f64,
    /// Tonic pitch class, 0 = C.
    pub key: u8,
    pub mode: Mode,
    /// The predominant (lead) instrument.
    pub instrument: Instrument,
    pub accompaniment: Instrument,
    /// 0 = dark, 1 = bright (spectral roll-off of every voice).
    pub brightness: f64,
    /// 0 = soft and sparse, 1 = loud, dense, drum-heavy.
    pub energy: f64,
    /// In [-1, 1]: from tempo and energy, plus noise.
    pub arousal: f64,
    /// In [-1, 1]: from mode and brightness, plus noise.
    pub valence: f64,
    /// Release year, correlated with brightness (and genre) plus noise.
    pub year: i32,
    /// Relative popularity (> 0, mean about 1): drives tag and play counts.
    pub popularity: f64,
    pub production: Production,
}

/// How a track was recorded and mixed: an artist's habit, with a little
/// per-track variation. Nuisance factors on purpose, so the same genre or
/// instrument does not always give the same spectrum.
#[derive(Debug, Clone, PartialEq)]
pub struct Production {
    /// Tuning of the pitched drums (multiplier, 0.8..1.25).
    pub kit_pitch: f64,
    /// Length of drum decays (multiplier, 0.7..1.4).
    pub kit_decay: f64,
    /// Three-band EQ in dB: below 250 Hz, 250 Hz..3 kHz, above 3 kHz.
    pub eq_db: [f64; 3],
    /// Reverb send, 0..0.4.
    pub room: f64,
    /// Level of the predominant instrument relative to its usual, dB
    /// (-4..4, plus 6 in the instrument-labelled target; it stays the
    /// loudest voice).
    pub lead_db: f64,
    /// Noise floor below the mix's RMS, dB (12..45).
    pub snr_db: f64,
}

/// An artist's shared traits; each track varies around them.
#[derive(Debug, Clone)]
struct Artist {
    id: String,
    genre: Genre,
    dance: Option<Dance>,
    subgenre: &'static str,
    key: u8,
    mode: Mode,
    rhythm: Rhythm,
    meter: u8,
    tempo_center_bpm: f64,
    tempo_range_bpm: (f64, f64),
    brightness: f64,
    energy: f64,
    lead: Instrument,
    accompaniment: Instrument,
    year_center: f64,
    popularity: f64,
    production: Production,
}

/// What a pool balances its tracks over (a target's label), if anything.
#[derive(Debug, Clone, Copy)]
enum Balance {
    /// Each artist's genre drawn uniformly.
    None,
    Genre,
    Dance,
    Instrument,
}

impl Balance {
    fn classes(self) -> usize {
        match self {
            Balance::None => 1,
            Balance::Genre => Genre::ALL.len(),
            Balance::Dance => Dance::ALL.len(),
            Balance::Instrument => Instrument::ALL.len(),
        }
    }
}

/// Every track of the corpus: learning tracks, then each target set in
/// `TargetSet::ALL` order. Deterministic in `params`.
pub fn plan_tracks(params: &SynthParams) -> Vec<TrackLatent> {
    let mut tracks = pool(
        params,
        Role::Learning,
        params.learning_tracks,
        Balance::None,
    );
    for set in TargetSet::ALL {
        let (balance, n_tracks) = match set {
            TargetSet::Gtzan | TargetSet::Fma => (Balance::Genre, params.target_tracks),
            TargetSet::Ballroom => (Balance::Dance, params.ballroom_tracks),
            TargetSet::Irmas => (Balance::Instrument, params.target_tracks),
            TargetSet::Emotion => (Balance::None, params.emotion_tracks),
            TargetSet::Lastfm => (Balance::None, params.target_tracks),
        };
        tracks.extend(pool(params, Role::Target(set), n_tracks, balance));
    }
    tracks
}

/// The track id of track `index` in a pool.
pub fn track_id(role: Role, index: usize) -> String {
    match role {
        Role::Learning => format!("syn_l{index:05}"),
        Role::Target(set) => format!("syn_{}_{index:04}", set.name()),
    }
}

fn artist_id(role: Role, class: usize, index: usize) -> String {
    let tag = match role {
        Role::Learning => "l".to_string(),
        Role::Target(set) => set.name().to_string(),
    };
    format!("syn_art_{tag}_{class}_{index:03}")
}

/// One role's tracks: classes round-robin (balanced labels), artists
/// within a class, tracks around their artist.
fn pool(params: &SynthParams, role: Role, n_tracks: usize, balance: Balance) -> Vec<TrackLatent> {
    let classes = balance.classes();
    let per_artist = match role {
        Role::Learning => params.tracks_per_artist,
        Role::Target(_) => params.target_tracks_per_artist,
    };
    let mut artists: Vec<Vec<Artist>> = Vec::with_capacity(classes);
    for class in 0..classes {
        let in_class = n_tracks / classes + usize::from(class < n_tracks % classes);
        let count = in_class.div_ceil(per_artist).max(1);
        let list = (0..count)
            .map(|index| {
                let id = artist_id(role, class, index);
                let mut rng = Rng::derive(params.seed, &["artist", &id]);
                let (genre, dance, lead) = match balance {
                    Balance::None => (*rng.pick(&Genre::ALL), None, None),
                    Balance::Genre => (Genre::ALL[class], None, None),
                    Balance::Dance => {
                        let dance = Dance::ALL[class];
                        (*rng.pick(&Dance::BAND_GENRES), Some(dance), None)
                    }
                    Balance::Instrument => {
                        (*rng.pick(&Genre::ALL), None, Some(Instrument::ALL[class]))
                    }
                };
                make_artist(&mut rng, id, genre, dance, lead)
            })
            .collect();
        artists.push(list);
    }
    // Which class and artist each track gets is shuffled per seed, so
    // neither labels nor artist groups follow the track numbering.
    let mut rng = Rng::derive(params.seed, &["pool", role.name()]);
    let mut class_of: Vec<usize> = (0..n_tracks).map(|i| i % classes).collect();
    rng.shuffle(&mut class_of);
    let mut slots: Vec<Vec<usize>> = artists
        .iter()
        .enumerate()
        .map(|(class, list)| {
            let in_class = class_of.iter().filter(|&&c| c == class).count();
            let mut slot: Vec<usize> = (0..in_class).map(|i| i % list.len()).collect();
            rng.shuffle(&mut slot);
            slot
        })
        .collect();
    (0..n_tracks)
        .map(|index| {
            let class = class_of[index];
            let artist = &artists[class][slots[class].pop().unwrap_or(0)];
            let id = track_id(role, index);
            let mut rng = Rng::derive(params.seed, &["track", &id]);
            let forced_lead = matches!(balance, Balance::Instrument);
            make_track(&mut rng, id, role, artist, forced_lead)
        })
        .collect()
}

fn make_artist(
    rng: &mut Rng,
    id: String,
    genre: Genre,
    dance: Option<Dance>,
    lead: Option<Instrument>,
) -> Artist {
    let style = genre.style();
    let tempo_range_bpm = dance.map_or(style.tempo_bpm, Dance::tempo_bpm);
    let rhythm = match dance {
        Some(d) => d.rhythm(),
        None => {
            let weights: Vec<f64> = style.rhythms.iter().map(|r| r.1).collect();
            style.rhythms[rng.weighted(&weights)].0
        }
    };
    let meter = match rhythm {
        Rhythm::Waltz => 3,
        Rhythm::Orchestral if rng.chance(style.p_triple_meter) => 3,
        _ => 4,
    };
    let lead = lead.unwrap_or_else(|| draw_instrument(rng, &style.palette, None));
    let accompaniment = draw_instrument(rng, &style.palette, Some(lead));
    let brightness = rng.range(style.brightness.0, style.brightness.1);
    Artist {
        id,
        genre,
        dance,
        subgenre: genre.subgenres()[rng.below(genre.subgenres().len())],
        key: rng.below(12) as u8,
        mode: if rng.chance(style.p_major) {
            Mode::Major
        } else {
            Mode::Minor
        },
        rhythm,
        meter,
        tempo_center_bpm: rng.range(tempo_range_bpm.0, tempo_range_bpm.1),
        tempo_range_bpm,
        brightness,
        energy: rng.range(style.energy.0, style.energy.1),
        lead,
        accompaniment,
        year_center: FIRST_YEAR + YEARS_PER_BRIGHTNESS * brightness + rng.gauss(0.0, 2.0),
        popularity: (rng.gauss(0.0, 0.6)).exp(),
        production: Production {
            kit_pitch: rng.range(0.8, 1.25),
            kit_decay: rng.range(0.7, 1.4),
            eq_db: [0; 3].map(|_| rng.gauss(0.0, 3.0).clamp(-6.0, 6.0)),
            room: (style.room + rng.gauss(0.0, 0.06)).clamp(0.0, 0.4),
            lead_db: rng.range(-3.0, 3.0),
            snr_db: rng.range(15.0, 42.0),
        },
    }
}

/// A palette draw with a floor for every instrument (so no genre
/// fixes its instrument), never `exclude`.
fn draw_instrument(rng: &mut Rng, palette: &[f64; 7], exclude: Option<Instrument>) -> Instrument {
    let weights: Vec<f64> = Instrument::ALL
        .iter()
        .zip(palette)
        .map(|(&inst, &w)| if Some(inst) == exclude { 0.0 } else { w + 0.05 })
        .collect();
    Instrument::ALL[rng.weighted(&weights)]
}

/// A brighter sound is a later one (older recordings are duller: narrower
/// bandwidth), so brightness is the year label's audible cue and the
/// latent it shares with valence; genres meet the years through their
/// brightness ranges (classical duller and older, electronic brighter and
/// newer). A brightness step of 0.1 is eight years.
const FIRST_YEAR: f64 = 1940.0;
const YEARS_PER_BRIGHTNESS: f64 = 80.0;

/// Spread of a track's tempo around its artist's (log scale): about 15%.
const TRACK_TEMPO_SD: f64 = 0.15;

fn make_track(
    rng: &mut Rng,
    track_id: String,
    role: Role,
    artist: &Artist,
    forced_lead: bool,
) -> TrackLatent {
    let style = artist.genre.style();
    let (lo, hi) = artist.tempo_range_bpm;
    // Around the artist's tempo, but widely (a band plays ballads and fast
    // numbers), so that an artist's sound does not give away the tempo; a
    // draw outside the style's range is redrawn uniformly inside it
    // (clamping would pile tracks on the edges).
    let jittered = artist.tempo_center_bpm * rng.gauss(0.0, TRACK_TEMPO_SD).exp();
    let bpm = if (lo..=hi).contains(&jittered) {
        jittered
    } else {
        rng.range(lo, hi)
    };
    let mode = if rng.chance(0.85) {
        artist.mode
    } else if artist.mode == Mode::Major {
        Mode::Minor
    } else {
        Mode::Major
    };
    let key = if rng.chance(0.8) {
        artist.key
    } else {
        rng.below(12) as u8
    };
    let instrument = if forced_lead || rng.chance(0.75) {
        artist.lead
    } else {
        draw_instrument(rng, &style.palette, None)
    };
    let accompaniment = if artist.accompaniment == instrument {
        draw_instrument(rng, &style.palette, Some(instrument))
    } else {
        artist.accompaniment
    };
    let brightness = (artist.brightness + rng.gauss(0.0, 0.07)).clamp(0.0, 1.0);
    let energy = (artist.energy + rng.gauss(0.0, 0.08)).clamp(0.0, 1.0);
    let tempo_z = (bpm - 115.0) / 30.0;
    let arousal = (0.7 * tempo_z + 2.4 * (energy - 0.55) + rng.gauss(0.0, 0.25)).tanh();
    let mode_sign = if mode == Mode::Major { 1.0 } else { -1.0 };
    // Brightness carries most of valence: a probe on pooled features
    // hears the spectrum's tilt, hardly the mode (checked on every
    // representation of the default study), and a target nothing can
    // hear tells the representations apart by noise only.
    let valence =
        (0.25 * mode_sign + 3.0 * (brightness - 0.5) + 0.15 * tempo_z + rng.gauss(0.0, 0.25))
            .tanh();
    let year = (artist.year_center
        + YEARS_PER_BRIGHTNESS * (brightness - artist.brightness)
        + rng.gauss(0.0, 1.0))
    .round()
    .clamp(FIRST_YEAR, 2020.0) as i32;
    let base = &artist.production;
    let production = Production {
        eq_db: base
            .eq_db
            .map(|g| (g + rng.gauss(0.0, 1.0)).clamp(-7.0, 7.0)),
        // Instrument-labelled clips are chosen where the labelled
        // instrument clearly leads (as IRMAS's are): 6 dB up.
        lead_db: (base.lead_db + rng.gauss(0.0, 0.7)).clamp(-4.0, 4.0)
            + if forced_lead { 6.0 } else { 0.0 },
        snr_db: (base.snr_db + rng.gauss(0.0, 3.0)).clamp(12.0, 45.0),
        ..base.clone()
    };
    TrackLatent {
        track_id,
        role,
        artist_id: artist.id.clone(),
        genre: artist.genre,
        dance: artist.dance,
        subgenre: artist.subgenre,
        rhythm: artist.rhythm,
        meter: artist.meter,
        bpm,
        key,
        mode,
        instrument,
        accompaniment,
        brightness,
        energy,
        arousal,
        valence,
        year,
        popularity: artist.popularity * rng.gauss(0.0, 0.4).exp(),
        production,
    }
}
