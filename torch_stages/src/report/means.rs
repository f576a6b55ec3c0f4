//! Scores averaged over split repeats, per dataset and representation, and
//! what each representation id refers to (a design run or a baseline).

use std::collections::BTreeMap;

use super::inputs::{Run, Score};
use super::stats::mean;
use stages::api::StageError;

/// The MFCC baseline's representation id.
pub const MFCC: &str = "mfcc";
/// Prefix of the random-network baselines' ids ("rand:SS-R").
pub const RAND_PREFIX: &str = "rand:";
/// Prefix of the pre-trained baselines' ids (the `musicnn` stage's).
pub const MUSICNN_PREFIX: &str = "musicnn:";
/// The pre-trained baseline the figures and tables show: musicnn's MSD_vgg.
pub const MUSICNN: &str = "musicnn:MSD_vgg";

/// Whether a representation id is a design run or a baseline.
pub fn is_known(representation: &str, runs: &[Run]) -> bool {
    representation == MFCC
        || representation.starts_with(RAND_PREFIX)
        || representation.starts_with(MUSICNN_PREFIX)
        || runs.iter().any(|r| r.id == representation)
}

/// Mean score per (dataset, representation), and each dataset's metric.
pub struct Means {
    pub by_representation: BTreeMap<(String, String), f64>,
    pub metric: BTreeMap<String, String>,
}

impl Means {
    /// Averages over repeats; a dataset scored with two metrics is an error
    /// (its scores would not be comparable).
    pub fn of(scores: &[Score]) -> Result<Self, StageError> {
        let mut values: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
        let mut metric: BTreeMap<String, String> = BTreeMap::new();
        for s in scores {
            let known = metric
                .entry(s.dataset.clone())
                .or_insert_with(|| s.metric.clone());
            if *known != s.metric {
                return Err(StageError::Data(format!(
                    "dataset `{}` is scored with two metrics, `{known}` and `{}` \
                     (representation `{}`)",
                    s.dataset, s.metric, s.representation
                )));
            }
            values
                .entry((s.dataset.clone(), s.representation.clone()))
                .or_default()
                .push(s.value);
        }
        let by_representation = values
            .into_iter()
            .filter_map(|(key, v)| mean(&v).map(|m| (key, m)))
            .collect();
        Ok(Means {
            by_representation,
            metric,
        })
    }

    pub fn get(&self, dataset: &str, representation: &str) -> Option<f64> {
        self.by_representation
            .get(&(dataset.to_string(), representation.to_string()))
            .copied()
    }
}
