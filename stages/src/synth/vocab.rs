//! Word lists and topics behind the `tag` and `lyrics` sources.
//!
//! A vocabulary is the built-in topical words first, then filler up to the
//! requested size: misspellings of topical tags (social tags are full of
//! them) and pronounceable pseudo-words drawn from a Zipf tail, the
//! one-off tags and rare words that make real count matrices long-tailed.

use std::collections::HashMap;

use super::style::{Genre, Instrument};
use crate::rng::{Categorical, Rng};

/// Tag words per genre, most typical first. Some words are shared between
/// genres ("latin", "dance", "instrumental") on purpose.
fn genre_tags(genre: Genre) -> &'static [&'static str] {
    match genre {
        Genre::Classical => &[
            "classical",
            "orchestral",
            "instrumental",
            "symphony",
            "baroque",
            "piano",
            "chamber music",
            "composer",
            "romantic era",
            "opera",
            "strings",
            "neoclassical",
        ],
        Genre::Jazz => &[
            "jazz",
            "smooth jazz",
            "swing",
            "bebop",
            "jazz standards",
            "cool jazz",
            "big band",
            "instrumental",
            "lounge",
            "fusion",
            "vocal jazz",
            "saxophone",
        ],
        Genre::Rock => &[
            "rock",
            "classic rock",
            "alternative",
            "indie rock",
            "hard rock",
            "guitar",
            "alternative rock",
            "punk",
            "grunge",
            "rock n roll",
            "garage rock",
            "power pop",
        ],
        Genre::Electronic => &[
            "electronic",
            "electronica",
            "house",
            "techno",
            "dance",
            "edm",
            "trance",
            "club",
            "synthpop",
            "electro",
            "deep house",
            "minimal",
        ],
        Genre::HipHop => &[
            "hip hop",
            "hip-hop",
            "rap",
            "underground hip hop",
            "beats",
            "old school",
            "boom bap",
            "instrumental hip hop",
            "trip-hop",
            "urban",
            "east coast",
            "lofi",
        ],
        Genre::Waltz => &[
            "waltz",
            "ballroom",
            "viennese",
            "strauss",
            "orchestral",
            "easy listening",
            "light music",
            "dance hall",
            "nostalgic",
            "vintage",
            "three four",
            "salon",
        ],
        Genre::Tango => &[
            "tango",
            "argentine tango",
            "bandoneon",
            "milonga",
            "nuevo tango",
            "latin",
            "buenos aires",
            "passionate",
            "dramatic",
            "ballroom",
            "orquesta tipica",
            "accordion",
        ],
        Genre::ChaCha => &[
            "cha cha",
            "latin",
            "cuban",
            "mambo",
            "salsa",
            "latin dance",
            "ballroom",
            "rumba",
            "tropical",
            "latin jazz",
            "dance",
            "son cubano",
        ],
    }
}

/// Mood tags by quadrant of the arousal-valence plane.
const MOOD_TAGS: [&[&str]; 4] = [
    // Aroused and positive.
    &[
        "happy",
        "upbeat",
        "energetic",
        "fun",
        "party",
        "feel good",
        "uplifting",
        "cheerful",
        "summer",
        "catchy",
    ],
    // Aroused and negative.
    &[
        "aggressive",
        "angry",
        "intense",
        "dark",
        "heavy",
        "tense",
        "powerful",
        "furious",
        "loud",
        "driving",
    ],
    // Calm and negative.
    &[
        "sad",
        "melancholy",
        "depressing",
        "lonely",
        "melancholic",
        "somber",
        "bittersweet",
        "haunting",
        "gloomy",
        "rainy day",
    ],
    // Calm and positive.
    &[
        "chill",
        "relaxing",
        "mellow",
        "calm",
        "peaceful",
        "romantic",
        "dreamy",
        "soft",
        "soothing",
        "beautiful",
    ],
];

fn instrument_tags(instrument: Instrument) -> &'static [&'static str] {
    match instrument {
        Instrument::Piano => &["piano", "solo piano", "keys"],
        Instrument::Organ => &["organ", "hammond", "accordion"],
        Instrument::Violin => &["violin", "strings", "fiddle"],
        Instrument::Trumpet => &["trumpet", "brass", "horns"],
        Instrument::Flute => &["flute", "woodwind", "flutes"],
        Instrument::Guitar => &["guitar", "acoustic guitar", "guitar solo"],
        Instrument::Synth => &["synth", "synthesizer", "analog synth"],
    }
}

const DECADE_TAGS: [&str; 9] = [
    "40s", "50s", "60s", "70s", "80s", "90s", "00s", "2010s", "2020s",
];
const ERA_TAGS: [&str; 3] = ["oldies", "retro", "modern"];
const TEMPO_TAGS: [&str; 5] = ["slow", "fast", "midtempo", "groovy", "danceable"];
const PERSONAL_TAGS: [&str; 24] = [
    "favorites",
    "favourite",
    "seen live",
    "love",
    "awesome",
    "cool",
    "good",
    "amazing",
    "best",
    "great",
    "check out",
    "albums i own",
    "to listen",
    "my playlist",
    "fav",
    "under 2000 listeners",
    "5 stars",
    "4 stars",
    "loved",
    "spotify",
    "want to see live",
    "favourite songs",
    "listened",
    "memories",
];

/// Lyrics themes; each track's words mix a few of them.
pub const THEMES: [(&str, &[&str]); 10] = [
    (
        "love",
        &[
            "love", "heart", "kiss", "baby", "darling", "hold", "forever", "tender", "arms",
            "touch", "sweet", "together", "dream", "desire",
        ],
    ),
    (
        "heartbreak",
        &[
            "tears", "cry", "alone", "goodbye", "broken", "lost", "pain", "memory", "leave",
            "cold", "gone", "regret", "lonely", "sorrow",
        ],
    ),
    (
        "party",
        &[
            "dance", "party", "tonight", "move", "floor", "club", "music", "body", "crazy", "jump",
            "shake", "groove", "lights", "loud",
        ],
    ),
    (
        "street",
        &[
            "street", "money", "game", "hustle", "block", "real", "hood", "flow", "cash", "boss",
            "city", "grind", "crew", "respect",
        ],
    ),
    (
        "nature",
        &[
            "sun", "sky", "river", "mountain", "rain", "sea", "wind", "flower", "tree", "moon",
            "field", "spring", "snow", "earth",
        ],
    ),
    (
        "faith",
        &[
            "lord", "soul", "heaven", "grace", "pray", "holy", "light", "glory", "spirit", "angel",
            "sing", "praise", "eternal", "hymn",
        ],
    ),
    (
        "travel",
        &[
            "road", "train", "highway", "miles", "home", "journey", "wander", "ocean", "town",
            "ride", "far", "away", "station", "west",
        ],
    ),
    (
        "night",
        &[
            "night",
            "midnight",
            "stars",
            "dark",
            "shadow",
            "whisper",
            "neon",
            "smoke",
            "bar",
            "late",
            "blue",
            "moonlight",
            "wine",
            "slow",
        ],
    ),
    (
        "protest",
        &[
            "fight",
            "war",
            "freedom",
            "people",
            "world",
            "stand",
            "rise",
            "power",
            "truth",
            "change",
            "burn",
            "revolution",
            "voice",
            "lies",
        ],
    ),
    (
        "home",
        &[
            "mother", "father", "family", "child", "house", "old", "remember", "village", "years",
            "garden", "table", "brother", "letter", "return",
        ],
    ),
];

/// Common function words: most lyrics tokens, weak signal (TF-IDF's job).
const STOPWORDS: [&str; 48] = [
    "i", "you", "the", "a", "to", "me", "and", "it", "my", "in", "of", "we", "is", "on", "your",
    "that", "be", "all", "no", "so", "do", "for", "with", "oh", "know", "just", "but", "what",
    "this", "can", "up", "now", "like", "when", "get", "got", "yeah", "go", "one", "down", "out",
    "see", "come", "time", "let", "way", "say", "never",
];

/// Per-genre prior weight of each lyrics theme (`THEMES` order).
pub fn theme_weights(genre: Genre) -> [f64; 10] {
    match genre {
        Genre::Classical => [1.0, 0.3, 0.1, 0.1, 3.0, 3.0, 0.5, 0.5, 0.3, 1.0],
        Genre::Jazz => [3.0, 1.0, 0.8, 0.3, 0.3, 0.2, 2.0, 3.0, 0.2, 0.3],
        Genre::Rock => [2.0, 1.0, 0.8, 0.8, 0.4, 0.2, 1.0, 2.0, 2.0, 0.4],
        Genre::Electronic => [1.0, 0.3, 4.0, 0.5, 0.2, 0.1, 0.3, 3.0, 0.2, 0.1],
        Genre::HipHop => [0.6, 0.4, 2.0, 4.0, 0.1, 0.2, 0.3, 0.8, 1.2, 1.0],
        Genre::Waltz => [3.0, 0.8, 0.3, 0.1, 2.0, 0.6, 0.5, 0.6, 0.1, 2.0],
        Genre::Tango => [2.0, 4.0, 0.3, 0.3, 0.2, 0.1, 0.5, 2.0, 0.2, 0.5],
        Genre::ChaCha => [3.0, 0.4, 3.0, 0.2, 0.5, 0.1, 1.0, 0.8, 0.1, 0.3],
    }
}

/// Social-tag topics over a vocabulary, by what they describe.
pub struct TagTopics {
    pub words: Vec<String>,
    pub genre: Vec<Topic>,
    /// By `mood_quadrant`.
    pub mood: Vec<Topic>,
    /// By `Instrument::index`.
    pub instrument: Vec<Topic>,
    /// By decade index (1940s = 0), clamped.
    pub era: Vec<Topic>,
    /// slow, mid, fast.
    pub tempo: Vec<Topic>,
    /// Personal, misspelt and one-off tags.
    pub junk: Topic,
}

pub struct LyricsTopics {
    pub words: Vec<String>,
    /// By `THEMES` order.
    pub themes: Vec<Topic>,
    pub stopwords: Topic,
    pub rare: Topic,
}

/// A distribution over word indices.
pub struct Topic {
    words: Vec<usize>,
    dist: Categorical,
}

impl Topic {
    /// Zipf-like weights 1/(rank+1)^s over `words` (most typical first).
    fn zipf(words: Vec<usize>, s: f64) -> Topic {
        let weights: Vec<f64> = (0..words.len())
            .map(|r| (r as f64 + 1.0).powf(-s))
            .collect();
        Topic::weighted(words, &weights)
    }

    fn weighted(words: Vec<usize>, weights: &[f64]) -> Topic {
        Topic {
            dist: Categorical::new(weights),
            words,
        }
    }

    pub fn draw(&self, rng: &mut Rng) -> usize {
        self.words[self.dist.draw(rng)]
    }
}

/// A vocabulary under construction: words in first-seen order.
#[derive(Default)]
struct Words {
    list: Vec<String>,
    index: HashMap<String, usize>,
}

impl Words {
    fn id(&mut self, word: &str) -> usize {
        if let Some(&i) = self.index.get(word) {
            return i;
        }
        self.list.push(word.to_string());
        self.index.insert(word.to_string(), self.list.len() - 1);
        self.list.len() - 1
    }

    fn ids(&mut self, words: &[&str]) -> Vec<usize> {
        words.iter().map(|w| self.id(w)).collect()
    }

    /// Adds unseen words from `candidates` until `size` words exist;
    /// returns the ids added.
    fn fill(&mut self, size: usize, candidates: impl Iterator<Item = String>) -> Vec<usize> {
        let mut added = Vec::new();
        for word in candidates {
            if self.list.len() >= size {
                break;
            }
            if !self.index.contains_key(&word) {
                added.push(self.id(&word));
            }
        }
        added
    }
}

/// The fixed topical tag words (the smallest valid `tag_vocab`).
pub fn tag_topic_words() -> usize {
    topical_tags().list.len()
}

/// The fixed topical lyrics words (the smallest valid `lyrics_vocab`).
pub fn lyrics_topic_words() -> usize {
    let mut words = Words::default();
    words.ids(&STOPWORDS);
    for (_, list) in THEMES {
        words.ids(list);
    }
    words.list.len()
}

fn topical_tags() -> Words {
    let mut words = Words::default();
    for genre in Genre::ALL {
        words.ids(genre_tags(genre));
    }
    for list in MOOD_TAGS {
        words.ids(list);
    }
    for inst in Instrument::ALL {
        words.ids(instrument_tags(inst));
    }
    words.ids(&DECADE_TAGS);
    words.ids(&ERA_TAGS);
    words.ids(&TEMPO_TAGS);
    words.ids(&PERSONAL_TAGS);
    words
}

/// Builds the tag vocabulary (exactly `size` words, `size` >= the topical
/// words) and its topics.
pub fn tag_topics(size: usize) -> TagTopics {
    let mut words = topical_tags();
    let genre = Genre::ALL
        .iter()
        .map(|&g| Topic::zipf(words.ids(genre_tags(g)), 0.9))
        .collect();
    let mood = MOOD_TAGS
        .iter()
        .map(|list| Topic::zipf(words.ids(list), 0.7))
        .collect();
    let instrument = Instrument::ALL
        .iter()
        .map(|&i| Topic::zipf(words.ids(instrument_tags(i)), 1.0))
        .collect();
    let decades = words.ids(&DECADE_TAGS);
    let era_words = words.ids(&ERA_TAGS);
    let era = (0..decades.len())
        .map(|d| {
            let mut ids = vec![decades[d]];
            let mut weights = vec![1.0];
            for n in [d.wrapping_sub(1), d + 1] {
                if let Some(&w) = decades.get(n) {
                    ids.push(w);
                    weights.push(0.15);
                }
            }
            // oldies before 1970, modern from 2000, retro for the 70s-80s.
            let era_word = if d <= 2 {
                0
            } else if d >= 6 {
                2
            } else {
                1
            };
            ids.push(era_words[era_word]);
            weights.push(0.5);
            Topic::weighted(ids, &weights)
        })
        .collect();
    let t = words.ids(&TEMPO_TAGS);
    let tempo = vec![
        Topic::weighted(vec![t[0], t[2]], &[1.0, 0.2]),
        Topic::weighted(vec![t[2], t[3], t[4]], &[1.0, 0.5, 0.5]),
        Topic::weighted(vec![t[1], t[4], t[3]], &[1.0, 0.6, 0.2]),
    ];
    let mut junk_ids = words.ids(&PERSONAL_TAGS);
    let typos: Vec<String> = Genre::ALL
        .iter()
        .flat_map(|&g| genre_tags(g).iter())
        .chain(MOOD_TAGS.iter().flat_map(|l| l.iter()))
        .filter_map(|w| misspell(w))
        .collect();
    junk_ids.extend(words.fill(size, typos.into_iter()));
    junk_ids.extend(words.fill(size, pseudo_words(0x7A6)));
    TagTopics {
        words: words.list,
        genre,
        mood,
        instrument,
        era,
        tempo,
        junk: Topic::zipf(junk_ids, 1.05),
    }
}

/// Builds the lyrics vocabulary (exactly `size` words, `size` >= the
/// topical words) and its topics.
pub fn lyrics_topics(size: usize) -> LyricsTopics {
    let mut words = Words::default();
    let stopwords = Topic::zipf(words.ids(&STOPWORDS), 0.8);
    let themes = THEMES
        .iter()
        .map(|(_, list)| Topic::zipf(words.ids(list), 0.6))
        .collect();
    let rare_ids = words.fill(size, pseudo_words(0x3F1));
    // A vocabulary exactly the topical size has no rare words: stopwords
    // stand in so the topic is never empty.
    let rare = if rare_ids.is_empty() {
        Topic::zipf(words.ids(&STOPWORDS), 1.0)
    } else {
        Topic::zipf(rare_ids, 1.1)
    };
    LyricsTopics {
        words: words.list,
        themes,
        stopwords,
        rare,
    }
}

/// Which mood-tag quadrant an (arousal, valence) point falls in.
pub fn mood_quadrant(arousal: f64, valence: f64) -> usize {
    match (arousal >= 0.0, valence >= 0.0) {
        (true, true) => 0,
        (true, false) => 1,
        (false, false) => 2,
        (false, true) => 3,
    }
}

/// Swaps two letters in the middle of a word longer than three letters.
fn misspell(word: &str) -> Option<String> {
    let mut chars: Vec<char> = word.chars().collect();
    if chars.len() < 4 {
        return None;
    }
    let at = chars.len() / 2 - 1;
    if chars[at] == chars[at + 1] || chars[at] == ' ' || chars[at + 1] == ' ' {
        return None;
    }
    chars.swap(at, at + 1);
    Some(chars.into_iter().collect())
}

/// An endless, deterministic stream of pronounceable non-words.
fn pseudo_words(salt: u64) -> impl Iterator<Item = String> {
    const ONSETS: [&str; 12] = ["b", "d", "f", "k", "l", "m", "n", "p", "r", "s", "t", "v"];
    const VOWELS: [&str; 5] = ["a", "e", "i", "o", "u"];
    let mut rng = Rng::new(salt);
    std::iter::repeat_with(move || {
        let syllables = 2 + rng.below(3);
        (0..syllables)
            .map(|_| format!("{}{}", rng.pick(&ONSETS), rng.pick(&VOWELS)))
            .collect::<String>()
    })
}
