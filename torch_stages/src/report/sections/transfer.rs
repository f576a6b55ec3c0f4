//! Section 3: does each learning source transfer to the target dataset
//! that shares its latent factor (tempo to dance style, genre tags to
//! genre, ...)? Per (source, target) pair named by the report's
//! `shared_latents` parameter: the source's mean SS-R score on that
//! target, the Rand, MFCC and (where scored) musicnn baselines, the SS-R minus Rand difference
//! paired by split repeat with its standard error, whether SS-R beats Rand
//! by more than that noise, and the source's rank among all single sources
//! there. The check the study's claims rest on, stated as a table rather
//! than read off a figure.

use crate::report::document::{Block, Cell, Section, Table};
use crate::report::inputs::{Score, StudyInputs};
use crate::report::means::{Means, MFCC, MUSICNN, RAND_PREFIX};
use crate::report::stats::{fmt, mean};
use stages::api::StageError;
use stages::study::{Source, Strategy};

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

/// SS-R minus Rand, paired by split repeat (both are scored on the same
/// splits, so split difficulty cancels): over every (SS-R run, repeat).
/// Its standard error covers split noise only, not the training seed's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    pub mean: f64,
    /// None with fewer than two pairs.
    pub standard_error: Option<f64>,
    pub pairs: usize,
}

impl Difference {
    fn of(values: &[f64]) -> Option<Difference> {
        let m = mean(values)?;
        let n = values.len();
        let standard_error = (n >= 2).then(|| {
            let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64;
            (var / n as f64).sqrt()
        });
        Some(Difference {
            mean: m,
            standard_error,
            pairs: n,
        })
    }
}

/// Whether SS-R beats Rand: by more than two standard errors either way,
/// or not distinguishable from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No,
    Unclear,
}

/// One row of the table.
pub struct Check {
    pub source: Source,
    pub dataset: String,
    pub ssr: f64,
    pub rand: Option<f64>,
    pub mfcc: Option<f64>,
    /// The pre-trained baseline (musicnn's MSD_vgg).
    pub musicnn: Option<f64>,
    /// None without Rand scores on the same repeats.
    pub difference: Option<Difference>,
    /// 1 = the best single source on this dataset.
    pub rank: usize,
    pub sources_ranked: usize,
}

impl Check {
    /// None without a paired difference.
    pub fn beats_rand(&self) -> Option<Verdict> {
        let d = self.difference?;
        Some(match d.standard_error {
            Some(se) if d.mean > 2.0 * se => Verdict::Yes,
            Some(se) if d.mean < -2.0 * se => Verdict::No,
            _ => Verdict::Unclear,
        })
    }
}

/// SS-R minus Rand per (run, repeat) where both have a score.
fn paired_difference(scores: &[Score], runs: &[&str], rand: &str, dataset: &str) -> Vec<f64> {
    let of = |representation: &str| -> Vec<&Score> {
        scores
            .iter()
            .filter(|s| s.dataset == dataset && s.representation == representation)
            .collect()
    };
    let rand = of(rand);
    runs.iter()
        .flat_map(|run| of(run))
        .filter_map(|s| {
            rand.iter()
                .find(|r| r.repeat == s.repeat)
                .map(|r| s.value - r.value)
        })
        .collect()
}

/// The checks that the scores allow; a pair without SS-R scores is named
/// in the returned notes instead.
pub fn checks(
    inputs: &StudyInputs,
    means: &Means,
    pairs: &[SharedLatent],
) -> (Vec<Check>, Vec<String>) {
    let rand_id = format!("{RAND_PREFIX}{}", Strategy::SsR.name());
    let ssr_runs = |source: Source| -> Vec<&str> {
        inputs
            .runs
            .iter()
            .filter(|r| r.strategy == Strategy::SsR && r.sources == [source])
            .map(|r| r.id.as_str())
            .collect()
    };
    let ssr_mean = |source: Source, dataset: &str| -> Option<f64> {
        let values: Vec<f64> = ssr_runs(source)
            .into_iter()
            .filter_map(|run| means.get(dataset, run))
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
            musicnn: means.get(&pair.dataset, MUSICNN),
            difference: Difference::of(&paired_difference(
                &inputs.scores,
                &ssr_runs(pair.source),
                &rand_id,
                &pair.dataset,
            )),
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
    let count = |v: Verdict| checks.iter().filter(|c| c.beats_rand() == Some(v)).count();
    s.text(format!(
        "Each row pairs a learning source with the target dataset whose labels come from the \
         same latent factor. SS-R: the mean over that source's SS-R runs (each averaged over \
         split repeats); SS-R - Rand: the difference paired by split repeat, with its standard \
         error (split noise only: it does not cover the training seed); beats Rand: by more \
         than two standard errors (yes), less by as much (no), or neither (unclear); rank: its \
         place among the single sources on that dataset. {} of {} sources beat the random \
         network there, {} are unclear, {} do worse.",
        count(Verdict::Yes),
        checks.len(),
        count(Verdict::Unclear),
        count(Verdict::No),
    ));
    let opt = |v: Option<f64>| v.map_or("NA".to_string(), fmt);
    let rows = checks
        .iter()
        .map(|c| {
            let verdict = match c.beats_rand() {
                Some(Verdict::Yes) => "yes",
                Some(Verdict::No) => "no",
                Some(Verdict::Unclear) => "unclear",
                None => "NA",
            };
            let difference = match c.difference {
                Some(Difference {
                    mean,
                    standard_error: Some(se),
                    ..
                }) => format!("{mean:+.3} ± {se:.3}"),
                Some(d) => format!("{:+.3}", d.mean),
                None => "NA".into(),
            };
            vec![
                Cell::plain(c.source.name()),
                Cell::plain(c.dataset.clone()),
                Cell {
                    text: fmt(c.ssr),
                    bold: c.beats_rand() == Some(Verdict::Yes),
                },
                Cell::plain(opt(c.rand)),
                Cell::plain(opt(c.mfcc)),
                Cell::plain(opt(c.musicnn)),
                Cell::plain(difference),
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
            "musicnn",
            "SS-R - Rand",
            "beats Rand",
            "rank",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }));
    Ok(s)
}
