//! The representation network of SPEC 5 and its six architectures.
//!
//! The feature network is a chain of eight parameterised layers: conv1..conv5,
//! conv6-1, conv6-2 (conv -> batch norm -> ReLU [-> 2x2 max-pool]) and
//! fc-feature (global average pool -> linear -> batch norm -> ReLU ->
//! dropout 0.5). Every architecture is the same chain cut in two: the first
//! `shared` layers form one trunk, the remaining layers are copied once per
//! source (a branch), and every source has its own output head. So
//!
//! | strategy | shared layers | representation |
//! |----------|---------------|----------------|
//! | SS-R, MS-SR@FC | all 8 (no branches) | 256 |
//! | MS-CR@6 | conv1..conv5 (branches start at conv6-1) | 256 m |
//! | MS-CR@4 | conv1..conv3 (branches start at conv4) | 256 m |
//! | MS-CR@2 | conv1 (branches start at conv2) | 256 m |
//! | MSS-CR | none | 256 m |
//!
//! "MS-CR@k" branches *at* the k-th convolution, as the paper's Fig. 5 draws
//! it; this is what makes MS-CR@6 with all eight sources about 6.4 times
//! the size of SS-R, as the paper reports (6.3), where sharing conv6 too
//! would give 2.1.
//!
//! Input: `[batch, 2 channels, 216 frames, 128 bands]`, time on axis 2.
//! Heads: a 50-way linear layer for a label source (softmax in the loss), and
//! for `self` the Siamese head: concat of the two crops' features (512) ->
//! linear 128 -> batch norm -> ReLU -> dropout -> linear 2.

use std::sync::Mutex;

use tch::nn;
use tch::Tensor;

use stages::study::{Source, Strategy};

/// Crop length in frames (~2.5 s at hop 256).
pub const CROP_FRAMES: i64 = 216;
/// Mel bands.
pub const BANDS: i64 = 128;
/// Input channels (stereo).
pub const CHANNELS: i64 = 2;
/// Width of fc-feature: the representation of one branch.
pub const FEATURE_DIM: i64 = 256;
/// Output size of a label source's head (its z has k = 50 entries).
pub const TOPICS: i64 = 50;
/// Layers of the feature network (7 convolutions + fc-feature).
pub const LAYERS: usize = 8;
const DROPOUT: f64 = 0.5;

/// One convolution of the chain.
struct ConvSpec {
    name: &'static str,
    in_channels: i64,
    out_channels: i64,
    kernel: i64,
    /// Stride on (time, bands).
    stride: [i64; 2],
    pool: bool,
}

const CONVS: [ConvSpec; 7] = [
    conv("conv1", CHANNELS, 16, 5, [2, 1], true),
    conv("conv2", 16, 32, 3, [1, 1], true),
    conv("conv3", 32, 64, 3, [1, 1], true),
    conv("conv4", 64, 64, 3, [1, 1], true),
    conv("conv5", 64, 128, 3, [1, 1], true),
    conv("conv6_1", 128, 256, 3, [1, 1], false),
    conv("conv6_2", 256, FEATURE_DIM, 1, [1, 1], false),
];

const fn conv(
    name: &'static str,
    in_channels: i64,
    out_channels: i64,
    kernel: i64,
    stride: [i64; 2],
    pool: bool,
) -> ConvSpec {
    ConvSpec {
        name,
        in_channels,
        out_channels,
        kernel,
        stride,
        pool,
    }
}

/// Weights are created as zeros and filled by [`Network::initialise`] from
/// the run's own generator: libtorch's generator is global to the process,
/// so two trainings running at once would draw from each other's stream.
const LATER: nn::Init = nn::Init::Const(0.0);

fn linear(path: nn::Path, inputs: i64, outputs: i64) -> nn::Linear {
    let config = nn::LinearConfig {
        ws_init: LATER,
        bs_init: Some(nn::Init::Const(0.0)),
        bias: true,
    };
    nn::linear(path, inputs, outputs, config)
}

/// PyTorch's batch-norm defaults (tch's own draw the scale at random).
fn batch_norm() -> nn::BatchNormConfig {
    nn::BatchNormConfig {
        ws_init: nn::Init::Const(1.0),
        bs_init: nn::Init::Const(0.0),
        ..Default::default()
    }
}

/// Inverted dropout with a mask from `rng` (not libtorch's global
/// generator, for the reason given at [`LATER`]).
fn dropout(x: &Tensor, rng: &Mutex<fastrand::Rng>) -> Tensor {
    let n = x.numel();
    let keep = 1.0 - DROPOUT;
    let mask: Vec<f32> = {
        let mut rng = rng.lock().unwrap_or_else(|e| e.into_inner());
        (0..n)
            .map(|_| {
                if rng.f64() < keep {
                    (1.0 / keep) as f32
                } else {
                    0.0
                }
            })
            .collect()
    };
    x * Tensor::from_slice(&mask)
        .view(x.size().as_slice())
        .to_device(x.device())
}

enum Layer {
    Conv {
        conv: nn::Conv<[i64; 2]>,
        bn: nn::BatchNorm,
        pool: bool,
    },
    Feature {
        fc: nn::Linear,
        bn: nn::BatchNorm,
    },
}

impl Layer {
    fn new(path: &nn::Path, index: usize) -> Layer {
        match CONVS.get(index) {
            Some(spec) => {
                let k = spec.kernel;
                let config = nn::ConvConfigND::<[i64; 2]> {
                    stride: spec.stride,
                    padding: [k / 2, k / 2],
                    ws_init: LATER,
                    bs_init: nn::Init::Const(0.0),
                    ..Default::default()
                };
                let p = path / spec.name;
                Layer::Conv {
                    conv: nn::conv(
                        &p / "conv",
                        spec.in_channels,
                        spec.out_channels,
                        [k, k],
                        config,
                    ),
                    bn: nn::batch_norm2d(&p / "bn", spec.out_channels, batch_norm()),
                    pool: spec.pool,
                }
            }
            None => {
                let p = path / "fc_feature";
                Layer::Feature {
                    fc: linear(&p / "fc", FEATURE_DIM, FEATURE_DIM),
                    bn: nn::batch_norm1d(&p / "bn", FEATURE_DIM, batch_norm()),
                }
            }
        }
    }

    fn forward_t(&self, x: &Tensor, train: bool, rng: &Mutex<fastrand::Rng>) -> Tensor {
        match self {
            Layer::Conv { conv, bn, pool } => {
                let y = x.apply(conv).apply_t(bn, train).relu();
                if *pool {
                    y.max_pool2d_default(2)
                } else {
                    y
                }
            }
            Layer::Feature { fc, bn } => {
                let y = x
                    .mean_dim(&[2i64, 3][..], false, x.kind())
                    .apply(fc)
                    .apply_t(bn, train)
                    .relu();
                if train {
                    dropout(&y, rng)
                } else {
                    y
                }
            }
        }
    }
}

/// A contiguous run of layers of the chain.
struct Segment(Vec<Layer>);

impl Segment {
    fn new(path: &nn::Path, layers: std::ops::Range<usize>) -> Segment {
        Segment(layers.map(|i| Layer::new(path, i)).collect())
    }

    fn forward_t(&self, x: &Tensor, train: bool, rng: &Mutex<fastrand::Rng>) -> Tensor {
        self.0.iter().fold(x.shallow_clone(), |y, layer| {
            layer.forward_t(&y, train, rng)
        })
    }
}

/// A source's output layer(s).
enum Head {
    /// Logits over the source's 50 topics / components.
    Distribution(nn::Linear),
    /// Same/different logits from two crops' features.
    Siamese {
        fc1: nn::Linear,
        bn: nn::BatchNorm,
        fc2: nn::Linear,
    },
}

impl Head {
    fn new(path: nn::Path, source: Source) -> Head {
        match source {
            Source::SelfSupervised => Head::Siamese {
                fc1: linear(&path / "fc1", 2 * FEATURE_DIM, 128),
                bn: nn::batch_norm1d(&path / "bn", 128, batch_norm()),
                fc2: linear(&path / "fc2", 128, 2),
            },
            _ => Head::Distribution(linear(path, FEATURE_DIM, TOPICS)),
        }
    }
}

/// How many layers of the chain a strategy shares across sources.
pub fn shared_layers(strategy: Strategy) -> usize {
    match strategy {
        Strategy::SsR | Strategy::MsSrFc => LAYERS,
        Strategy::MsCr6 => 5,
        Strategy::MsCr4 => 3,
        Strategy::MsCr2 => 1,
        Strategy::MssCr => 0,
    }
}

/// Width of the representation a strategy yields for `sources` sources.
pub fn representation_dim(strategy: Strategy, sources: usize) -> i64 {
    if shared_layers(strategy) == LAYERS {
        FEATURE_DIM
    } else {
        FEATURE_DIM * sources as i64
    }
}

/// The network of one experimental run. Variables live in the VarStore the
/// network was built in, named `trunk.*`, `branch<i>.*`, `head<i>.*` with
/// `i` the source's position in `sources`.
pub struct Network {
    pub strategy: Strategy,
    pub sources: Vec<Source>,
    trunk: Segment,
    branches: Vec<Segment>,
    heads: Vec<Head>,
    /// Dropout masks (see [`Network::reseed_dropout`]).
    dropout_rng: Mutex<fastrand::Rng>,
}

impl Network {
    /// Builds the network; `sources` must be non-empty, SS-R takes exactly one.
    pub fn new(root: &nn::Path, strategy: Strategy, sources: &[Source]) -> Result<Network, String> {
        if sources.is_empty() {
            return Err("a network needs at least one source".into());
        }
        if strategy == Strategy::SsR && sources.len() != 1 {
            return Err(format!(
                "SS-R takes exactly one source, got {}",
                Source::format_set(sources)
            ));
        }
        let shared = shared_layers(strategy);
        let trunk = Segment::new(&(root / "trunk"), 0..shared);
        let branches = if shared == LAYERS {
            Vec::new()
        } else {
            (0..sources.len())
                .map(|i| Segment::new(&(root / format!("branch{i}")), shared..LAYERS))
                .collect()
        };
        let heads = sources
            .iter()
            .enumerate()
            .map(|(i, &s)| Head::new(root / format!("head{i}"), s))
            .collect();
        Ok(Network {
            strategy,
            sources: sources.to_vec(),
            trunk,
            branches,
            heads,
            dropout_rng: Mutex::new(fastrand::Rng::with_seed(0)),
        })
    }

    /// Xavier-uniform initialisation of every conv and linear weight of
    /// the network in `vs`, drawn from `seed` in variable-name order
    /// (biases 0, batch-norm scales 1, as created).
    pub fn initialise(vs: &nn::VarStore, seed: u64) {
        let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rng = fastrand::Rng::with_seed(seed);
        for (_, mut var) in named.into_iter().filter(|(n, _)| n.ends_with(".weight")) {
            let shape = var.size();
            if shape.len() < 2 {
                continue; // batch-norm scale
            }
            let receptive: i64 = shape[2..].iter().product();
            let (fan_in, fan_out) = (shape[1] * receptive, shape[0] * receptive);
            let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
            let values: Vec<f32> = (0..var.numel())
                .map(|_| ((rng.f64() * 2.0 - 1.0) * bound) as f32)
                .collect();
            let init = Tensor::from_slice(&values)
                .view(shape.as_slice())
                .to_device(var.device());
            tch::no_grad(|| var.copy_(&init));
        }
    }

    /// Restarts the dropout masks' generator (each epoch, from the run's
    /// seed, so a resumed run draws the masks an uninterrupted one would).
    pub fn reseed_dropout(&self, seed: u64) {
        *self.dropout_rng.lock().unwrap_or_else(|e| e.into_inner()) =
            fastrand::Rng::with_seed(seed);
    }

    /// Width of the representation (fc-feature, concatenated over branches).
    pub fn representation_dim(&self) -> i64 {
        representation_dim(self.strategy, self.sources.len())
    }

    /// The variable-name prefixes on source `i`'s path (trunk, its branch,
    /// its head): what its optimizer updates.
    pub fn path_prefixes(&self, i: usize) -> Vec<String> {
        let mut prefixes = vec!["trunk.".to_string(), format!("head{i}.")];
        if !self.branches.is_empty() {
            prefixes.push(format!("branch{i}."));
        }
        prefixes
    }

    /// fc-feature of source `i`'s path: `[batch, 256]`.
    pub fn source_feature_t(&self, x: &Tensor, i: usize, train: bool) -> Tensor {
        let shared = self.trunk.forward_t(x, train, &self.dropout_rng);
        match self.branches.get(i) {
            Some(branch) => branch.forward_t(&shared, train, &self.dropout_rng),
            None => shared,
        }
    }

    /// The representation: `[batch, representation_dim]`.
    pub fn representation_t(&self, x: &Tensor, train: bool) -> Tensor {
        let shared = self.trunk.forward_t(x, train, &self.dropout_rng);
        if self.branches.is_empty() {
            return shared;
        }
        let features: Vec<Tensor> = self
            .branches
            .iter()
            .map(|b| b.forward_t(&shared, train, &self.dropout_rng))
            .collect();
        Tensor::cat(&features, 1)
    }

    /// Logits of source `i` for input `x`. For a label source `x` is
    /// `[batch, 2, 216, 128]` and the result `[batch, 50]`; for `self` `x`
    /// holds the first crops of all pairs, then the second crops
    /// (`[2 pairs, ...]`), and the result is `[pairs, 2]`.
    pub fn logits_t(&self, x: &Tensor, i: usize, train: bool) -> Tensor {
        let feature = self.source_feature_t(x, i, train);
        match &self.heads[i] {
            Head::Distribution(fc) => feature.apply(fc),
            Head::Siamese { fc1, bn, fc2 } => {
                let pairs = feature.size()[0] / 2;
                let both = Tensor::cat(
                    &[feature.narrow(0, 0, pairs), feature.narrow(0, pairs, pairs)],
                    1,
                );
                let hidden = both.apply(fc1).apply_t(bn, train).relu();
                let hidden = if train {
                    dropout(&hidden, &self.dropout_rng)
                } else {
                    hidden
                };
                hidden.apply(fc2)
            }
        }
    }
}

/// Trainable parameters of the network of `strategy` on `sources`, counted
/// as PyTorch counts them (batch-norm running statistics excluded).
pub fn parameter_count(strategy: Strategy, sources: &[Source]) -> Result<usize, String> {
    let vs = nn::VarStore::new(tch::Device::Cpu);
    Network::new(&vs.root(), strategy, sources)?;
    Ok(vs.trainable_variables().iter().map(|t| t.numel()).sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    fn all_but_self() -> Vec<Source> {
        Source::ALL[1..].to_vec()
    }

    #[test]
    fn base_cnn_has_the_pytorch_parameter_count() {
        // 576,482 as PyTorch counts the same network (tests/reference/model).
        assert_eq!(
            parameter_count(Strategy::SsR, &[Source::Tag]).unwrap(),
            576_482
        );
    }

    fn reference(file: &str) -> serde_json::Value {
        let path = format!(
            "{}/../tests/reference/model/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn parameter_counts_equal_pytorch_for_every_strategy_and_m() {
        let counts = reference("params.json");
        // make_reference.py's order: the paper's sources after self, then self.
        let order: Vec<Source> = Source::ALL[1..]
            .iter()
            .chain(&Source::ALL[..1])
            .copied()
            .collect();
        for strategy in Strategy::ALL {
            for m in 1..=8usize {
                let Some(want) = counts[strategy.name()][m.to_string()].as_u64() else {
                    continue;
                };
                let got = parameter_count(strategy, &order[..m]).unwrap();
                assert_eq!(got as u64, want, "{strategy} with {m} sources");
            }
        }
        assert_eq!(
            counts["SS-R self"].as_u64().unwrap() as usize,
            parameter_count(Strategy::SsR, &[Source::SelfSupervised]).unwrap()
        );
    }

    /// make_reference.py's `pattern`: the same values on both sides.
    fn pattern(name: &str, shape: &[i64]) -> Tensor {
        let n: i64 = shape.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|i| {
                let v = (1.0 + 0.618 * i as f64 + 0.1 * name.len() as f64).sin();
                let v = if name.ends_with("running_var") {
                    1.0 + 0.5 * v * v
                } else if name.ends_with("bn.weight") {
                    1.0 + 0.25 * v
                } else if name != "input" {
                    0.1 * v
                } else {
                    v
                };
                v as f32
            })
            .collect();
        Tensor::from_slice(&values).view(shape)
    }

    #[test]
    fn forward_pass_equals_pytorch_on_the_same_weights() {
        let want = reference("forward.json");
        let vs = nn::VarStore::new(Device::Cpu);
        let sources = [Source::Bpm, Source::SelfSupervised];
        let net = Network::new(&vs.root(), Strategy::MsCr4, &sources).unwrap();
        for (name, mut var) in vs.variables() {
            tch::no_grad(|| var.copy_(&pattern(&name, &var.size())));
        }
        let x = pattern("input", &[4, CHANNELS, CROP_FRAMES, BANDS]);
        let outputs = [
            ("representation", net.representation_t(&x, false)),
            ("logits0", net.logits_t(&x, 0, false)),
            ("logits1", net.logits_t(&x, 1, false)),
        ];
        for (key, got) in outputs {
            let got = Vec::<f32>::try_from(got.flatten(0, -1)).unwrap();
            let want: Vec<f64> = want[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(got.len(), want.len(), "{key}");
            let worst = got
                .iter()
                .zip(&want)
                .map(|(g, w)| (f64::from(*g) - w).abs())
                .fold(0.0, f64::max);
            assert!(worst < 1e-5, "{key}: max abs difference {worst}");
        }
    }

    #[test]
    fn sizes_relative_to_ss_r_match_the_paper() {
        let ssr = parameter_count(Strategy::SsR, &[Source::Tag]).unwrap() as f64;
        let all = Source::ALL.to_vec();
        let ratio = |s| parameter_count(s, &all).unwrap() as f64 / ssr;
        // The paper: MS-CR@6 about 6.3x, MS-SR@FC about 1.2x SS-R.
        assert!(
            (ratio(Strategy::MsCr6) - 6.3).abs() < 0.3,
            "{}",
            ratio(Strategy::MsCr6)
        );
        assert!(
            (ratio(Strategy::MsSrFc) - 1.2).abs() < 0.1,
            "{}",
            ratio(Strategy::MsSrFc)
        );
        assert!(ratio(Strategy::MssCr) > ratio(Strategy::MsCr2));
        assert!(ratio(Strategy::MsCr2) > ratio(Strategy::MsCr4));
        assert!(ratio(Strategy::MsCr4) > ratio(Strategy::MsCr6));
    }

    #[test]
    fn shapes_of_every_strategy() {
        let sources = all_but_self();
        for strategy in Strategy::ALL {
            let set: Vec<Source> = if strategy == Strategy::SsR {
                vec![Source::Bpm]
            } else {
                sources.clone()
            };
            let vs = nn::VarStore::new(Device::Cpu);
            let net = Network::new(&vs.root(), strategy, &set).unwrap();
            let x = Tensor::randn(
                [3, CHANNELS, CROP_FRAMES, BANDS],
                (Kind::Float, Device::Cpu),
            );
            let rep = net.representation_t(&x, false);
            assert_eq!(rep.size(), [3, representation_dim(strategy, set.len())]);
            assert_eq!(net.logits_t(&x, 0, false).size(), [3, TOPICS]);
        }
        assert_eq!(representation_dim(Strategy::MsSrFc, 8), 256);
        assert_eq!(representation_dim(Strategy::MsCr4, 8), 2048);
    }

    #[test]
    fn siamese_head_gives_two_logits_per_pair() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = Network::new(&vs.root(), Strategy::SsR, &[Source::SelfSupervised]).unwrap();
        let x = Tensor::randn(
            [8, CHANNELS, CROP_FRAMES, BANDS],
            (Kind::Float, Device::Cpu),
        );
        assert_eq!(net.logits_t(&x, 0, false).size(), [4, 2]);
    }

    #[test]
    fn bad_source_sets_are_refused() {
        let vs = nn::VarStore::new(Device::Cpu);
        assert!(Network::new(&vs.root(), Strategy::MsCr2, &[]).is_err());
        let err = Network::new(&vs.root(), Strategy::SsR, &[Source::Tag, Source::Bpm])
            .err()
            .unwrap();
        assert!(err.contains("SS-R takes exactly one source"), "{err}");
    }
}
