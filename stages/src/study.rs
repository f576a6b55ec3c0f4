//! The factors of the study (SPEC 5, 7): the learning sources and the six
//! architectures ("strategies"), shared by training, design, evaluation,
//! analysis and the report so that their names are spelled one way.

use std::fmt;
use std::str::FromStr;

/// A learning source (SPEC 4). `SelfSupervised` is the Siamese `self` task,
/// which needs no labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    SelfSupervised,
    Year,
    Bpm,
    Taste,
    Tag,
    Lyrics,
    CdrTag,
    Artist,
}

impl Source {
    /// All eight, in the paper's order (the canonical order of source sets).
    pub const ALL: [Source; 8] = [
        Source::SelfSupervised,
        Source::Year,
        Source::Bpm,
        Source::Taste,
        Source::Tag,
        Source::Lyrics,
        Source::CdrTag,
        Source::Artist,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Source::SelfSupervised => "self",
            Source::Year => "year",
            Source::Bpm => "bpm",
            Source::Taste => "taste",
            Source::Tag => "tag",
            Source::Lyrics => "lyrics",
            Source::CdrTag => "cdr_tag",
            Source::Artist => "artist",
        }
    }

    /// Parses a comma-separated set ("tag,bpm"), returned in canonical
    /// order without duplicates; the error names the unknown source.
    pub fn parse_set(text: &str) -> Result<Vec<Source>, String> {
        let mut set = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Source>, _>>()?;
        set.sort();
        set.dedup();
        if set.is_empty() {
            return Err(format!("no source in `{text}`"));
        }
        Ok(set)
    }

    /// The canonical text of a set: names in canonical order, comma-joined.
    pub fn format_set(set: &[Source]) -> String {
        let mut sorted = set.to_vec();
        sorted.sort();
        sorted.dedup();
        sorted
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl FromStr for Source {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Source::ALL
            .into_iter()
            .find(|s| s.name() == text)
            .ok_or_else(|| {
                let names: Vec<_> = Source::ALL.iter().map(|s| s.name()).collect();
                format!("unknown source `{text}` (known: {})", names.join(", "))
            })
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the network branches into per-source copies (SPEC 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strategy {
    /// One source, one network.
    SsR,
    /// Everything shared, one fc-feature, per-source output layers.
    MsSrFc,
    /// Shared up to conv6, per-source branches after.
    MsCr6,
    /// Shared up to conv4.
    MsCr4,
    /// Shared up to conv2.
    MsCr2,
    /// Nothing shared: one network per source.
    MssCr,
}

impl Strategy {
    /// In the order of Model 2's ordinal r* (SPEC 7).
    pub const ALL: [Strategy; 6] = [
        Strategy::SsR,
        Strategy::MsSrFc,
        Strategy::MsCr6,
        Strategy::MsCr4,
        Strategy::MsCr2,
        Strategy::MssCr,
    ];

    /// Their names, in the same order (for parameter choices).
    pub const NAMES: [&'static str; 6] = [
        "SS-R", "MS-SR@FC", "MS-CR@6", "MS-CR@4", "MS-CR@2", "MSS-CR",
    ];

    pub fn name(self) -> &'static str {
        Strategy::NAMES[self as usize]
    }

    /// Model 2's ordinal coding: SS-R 0, MS-SR@FC 0.2, ..., MSS-CR 1.
    pub fn ordinal(self) -> f64 {
        let index = Strategy::ALL.iter().position(|s| *s == self).unwrap_or(0);
        index as f64 / 5.0
    }
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Strategy::ALL
            .into_iter()
            .find(|s| s.name() == text)
            .ok_or_else(|| {
                let names: Vec<_> = Strategy::ALL.iter().map(|s| s.name()).collect();
                format!("unknown strategy `{text}` (known: {})", names.join(", "))
            })
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_sets_are_canonical() {
        let set = Source::parse_set("bpm, self,bpm,artist").unwrap();
        assert_eq!(Source::format_set(&set), "self,bpm,artist");
        assert!(Source::parse_set("bpm,genre")
            .unwrap_err()
            .contains("unknown source `genre`"));
        assert!(Source::parse_set(" , ").is_err());
    }

    #[test]
    fn strategies_round_trip_and_order() {
        for s in Strategy::ALL {
            assert_eq!(s.name().parse::<Strategy>().unwrap(), s);
        }
        assert_eq!(Strategy::SsR.ordinal(), 0.0);
        assert!((Strategy::MsCr4.ordinal() - 0.6).abs() < 1e-12);
        assert_eq!(Strategy::MssCr.ordinal(), 1.0);
    }
}
