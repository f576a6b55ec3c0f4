//! Section 3: does each learning source transfer to the target dataset
//! that shares its latent factor (tempo to dance style, genre tags to
//! genre, ...)? Per (source, target) pair named by the report's
//! `shared_latents` parameter: the source's mean SS-R score on that
//! target, the Rand and MFCC baselines, whether SS-R beats Rand, and the
//! source's rank among all single sources there. The check the study's
//! claims rest on, stated as a table rather than read off a figure.

use crate::api::StageError;
use crate::report::document::{Block, Cell, Section, Table};
use crate::report::inputs::StudyInputs;
use crate::report::means::{Means, MFCC, RAND_PREFIX};
use crate::report::stats::{fmt, mean};
use crate::study::{Source, Strategy};

/// One `source=dataset` entry of `shared_latents`.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedLatent {
    pub source: Source,
    pub dataset: String,
}

/// Parses `source=dataset` entries; the error names the bad entry.
pub fn parse(entries: &[String]) -> Result<Vec<SharedLatent>, String> {
    entries
        .iter()
        .map(|entry| {
            let (source, dataset) = entry
                .split_once('=')
                .filter(|(_, d)| !d.trim().is_empty())
                .ok_or_else(|| format!("entry `{entry}` is not `source=dataset`"))?;
            let source = source
                .trim()
                .parse()
                .map_err(|e| format!("entry `{entry}`: {e}"))?;
            Ok(SharedLatent {
                source,
                dataset: dataset.trim().to_string(),
            })
        })
        .collect()
}

/// One row of the table.
pub struct Check {
    pub source: Source,
    pub dataset: String,
    pub ssr: f64,
    pub rand: Option<f64>,
    pub mfcc: Option<f64>,
    /// 1 = the best single source on this dataset.
    pub rank: usize,
    pub sources_ranked: usize,
}

impl Check {
    pub fn beats_rand(&self) -> Option<bool> {
        self.rand.map(|r| self.ssr > r)
    }
}

/// The checks that the scores allow; a pair without SS-R scores is named
/// in the returned notes instead.
pub fn checks(
    inputs: &StudyInputs,
    means: &Means,
    pairs: &[SharedLatent],
) -> (Vec<Check>, Vec<String>) {
    let rand_id = format!("{RAND_PREFIX}{}", Strategy::SsR.name());
    let ssr_mean = |source: Source, dataset: &str| -> Option<f64> {
        let values: Vec<f64> = inputs
            .runs
            .iter()
            .filter(|r| r.strategy == Strategy::SsR && r.sources == [source])
            .filter_map(|r| means.get(dataset, &r.id))
            .collect();
        mean(&values)
    };
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for pair in pairs {
        let Some(ssr) = ssr_mean(pair.source, &pair.dataset) else {
            notes.push(format!(
                "{} on {}: no SS-R score of this source on this dataset.",
                pair.source, pair.dataset
            ));
            continue;
        };
        let others: Vec<f64> = Source::ALL
            .into_iter()
            .filter_map(|s| ssr_mean(s, &pair.dataset))
            .collect();
        out.push(Check {
            source: pair.source,
            dataset: pair.dataset.clone(),
            ssr,
            rand: means.get(&pair.dataset, &rand_id),
            mfcc: means.get(&pair.dataset, MFCC),
            rank: 1 + others.iter().filter(|&&v| v > ssr).count(),
            sources_ranked: others.len(),
        });
    }
    (out, notes)
}

pub fn section(
    inputs: &StudyInputs,
    means: &Means,
    pairs: &[SharedLatent],
) -> Result<Section, StageError> {
    let mut s = Section::new(
        "transfer",
        "Does each source transfer to the target that shares its latent?",
    );
    if pairs.is_empty() {
        s.missing("no (source, target) pair is named (the report's `shared_latents`).");
        return Ok(s);
    }
    let (checks, notes) = checks(inputs, means, pairs);
    for note in notes {
        s.missing(note);
    }
    if checks.is_empty() {
        return Ok(s);
    }
    let beating = checks
        .iter()
        .filter(|c| c.beats_rand() == Some(true))
        .count();
    s.text(format!(
        "Each row pairs a learning source with the target dataset whose labels come from the \
         same latent factor. SS-R: the mean over that source's SS-R runs (each averaged over \
         split repeats); rank: its place among the single sources on that dataset. {beating} \
         of {} sources beat the random network there.",
        checks.len()
    ));
    let opt = |v: Option<f64>| v.map_or("NA".to_string(), fmt);
    let rows = checks
        .iter()
        .map(|c| {
            let verdict = match c.beats_rand() {
                Some(true) => "yes",
                Some(false) => "no",
                None => "NA",
            };
            vec![
                Cell::plain(c.source.name()),
                Cell::plain(c.dataset.clone()),
                Cell {
                    text: fmt(c.ssr),
                    bold: c.beats_rand() == Some(true),
                },
                Cell::plain(opt(c.rand)),
                Cell::plain(opt(c.mfcc)),
                Cell::plain(verdict),
                Cell::plain(format!("{} of {}", c.rank, c.sources_ranked)),
            ]
        })
        .collect();
    s.push(Block::Table(Table {
        caption: "Each source's SS-R score on the target sharing its latent, against the \
                  baselines (bold: beats Rand)"
            .into(),
        header: [
            "source",
            "target",
            "SS-R",
            "Rand",
            "MFCC",
            "beats Rand",
            "rank",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }));
    Ok(s)
}
