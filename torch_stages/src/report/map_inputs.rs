//! The optional inputs of the map (the paper's Fig. 16): one model's track
//! vectors on the genre target, that target's labels, and the model's
//! output heads, which turn each block of a vector into topic scores.

use std::collections::BTreeMap;

use safetensors::tensor::{Dtype, SafeTensors};
use serde_json::Value;

use super::columns::Table;
use crate::model::net::{representation_dim, shared_layers, FEATURE_DIM, LAYERS, TOPICS};
use stages::api::{StageContext, StageError, Upstream};
use stages::declarations::report::{MAP_LABELS, MAP_MODEL, MAP_VECTORS};
use stages::study::{Source, Strategy};

/// Track vectors as the extract stage writes them: `[mean, std]` of the
/// representation over a track's slices.
#[derive(Debug, Clone)]
pub struct Vectors {
    pub node: String,
    pub ids: Vec<String>,
    pub width: usize,
    /// Row-major, `ids.len()` x `width`.
    pub values: Vec<f32>,
}

/// The target's label per track.
#[derive(Debug, Clone)]
pub struct Labels {
    pub node: String,
    pub by_track: BTreeMap<String, String>,
}

/// A label source's output layer: 50 logits from its block's 256 features.
#[derive(Debug, Clone)]
pub struct Head {
    pub source: Source,
    /// Which 256-wide block of the representation feeds it (0 for every
    /// head of a strategy without branches).
    pub block: usize,
    /// `TOPICS` x `FEATURE_DIM`, row-major.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Head {
    /// Logits of the topics from a vector's mean part: the head is linear,
    /// so this is also the mean of the per-slice logits.
    pub fn logits(&self, vector: &[f32]) -> Vec<f64> {
        let d = FEATURE_DIM as usize;
        let feature = &vector[self.block * d..(self.block + 1) * d];
        self.weight
            .chunks_exact(d)
            .zip(&self.bias)
            .map(|(row, b)| {
                let dot: f64 = row.iter().zip(feature).map(|(w, x)| f64::from(w * x)).sum();
                dot + f64::from(*b)
            })
            .collect()
    }
}

/// The mapped model: what it is and its label sources' heads (`self` has
/// a same/different head, no topics).
#[derive(Debug, Clone)]
pub struct Model {
    pub node: String,
    pub strategy: Strategy,
    pub sources: Vec<Source>,
    pub seed: Option<i64>,
    pub heads: Vec<Head>,
}

impl Model {
    /// The width of the vectors the model extracts.
    pub fn vector_width(&self) -> usize {
        2 * representation_dim(self.strategy, self.sources.len()) as usize
    }
}

#[derive(Debug, Clone, Default)]
pub struct MapInputs {
    pub vectors: Option<Vectors>,
    pub labels: Option<Labels>,
    pub model: Option<Model>,
}

impl MapInputs {
    pub fn read(ctx: &StageContext) -> Result<Self, StageError> {
        let up = |slot: &str| -> Result<Option<&Upstream>, StageError> {
            match ctx.inputs.get(slot) {
                None => Ok(None),
                Some(_) => ctx.input(slot).map(Some),
            }
        };
        Ok(MapInputs {
            vectors: up(MAP_VECTORS)?.map(read_vectors).transpose()?,
            labels: up(MAP_LABELS)?.map(read_labels).transpose()?,
            model: up(MAP_MODEL)?.map(read_model).transpose()?,
        })
    }
}

fn read_vectors(up: &Upstream) -> Result<Vectors, StageError> {
    let t = Table::load(MAP_VECTORS, up, "vectors")?;
    let ids = t.utf8("track_id")?;
    let (width, values) = t.f32_rows("vector")?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(t.error(format!(
            "track {}: a non-finite value",
            ids[i / width.max(1)]
        )));
    }
    Ok(Vectors {
        node: up.node.clone(),
        ids,
        width,
        values,
    })
}

fn read_labels(up: &Upstream) -> Result<Labels, StageError> {
    let t = Table::load(MAP_LABELS, up, "table")?;
    Ok(Labels {
        node: up.node.clone(),
        by_track: t
            .utf8("track_id")?
            .into_iter()
            .zip(t.utf8("label")?)
            .collect(),
    })
}

fn read_model(up: &Upstream) -> Result<Model, StageError> {
    let bad = |reason: String| StageError::Input {
        slot: MAP_MODEL.into(),
        reason: format!("node `{}` (expected a train node): {reason}", up.node),
    };
    let config: Value = serde_json::from_slice(&up.files.bytes("config").map_err(bad)?)
        .map_err(|e| bad(format!("file `config` is not JSON: {e}")))?;
    let strategy: Strategy = config["strategy"]
        .as_str()
        .ok_or_else(|| bad("config lacks `strategy`".into()))?
        .parse()
        .map_err(bad)?;
    let names: Vec<&str> = config["sources"]
        .as_array()
        .ok_or_else(|| bad("config lacks `sources`".into()))?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // The order the network was built in (the train stage parses it so).
    let sources = Source::parse_set(&names.join(",")).map_err(bad)?;
    let bytes = up.files.bytes("weights").map_err(bad)?;
    let weights = SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("weights: {e:?}")))?;
    let floats = |name: &str, shape: &[usize]| -> Result<Vec<f32>, StageError> {
        let view = weights
            .tensor(name)
            .map_err(|e| bad(format!("weights lack `{name}`: {e:?}")))?;
        if view.dtype() != Dtype::F32 || view.shape() != shape {
            return Err(bad(format!(
                "`{name}` is {:?} {:?}, expected F32 {shape:?}",
                view.dtype(),
                view.shape()
            )));
        }
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    };
    let branched = shared_layers(strategy) < LAYERS;
    let (topics, width) = (TOPICS as usize, FEATURE_DIM as usize);
    let heads = sources
        .iter()
        .enumerate()
        .filter(|(_, s)| **s != Source::SelfSupervised)
        .map(|(i, &source)| {
            Ok(Head {
                source,
                block: if branched { i } else { 0 },
                weight: floats(&format!("head{i}.weight"), &[topics, width])?,
                bias: floats(&format!("head{i}.bias"), &[topics])?,
            })
        })
        .collect::<Result<_, StageError>>()?;
    Ok(Model {
        node: up.node.clone(),
        strategy,
        sources,
        seed: config["seed"].as_i64(),
        heads,
    })
}
