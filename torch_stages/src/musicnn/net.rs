//! musicnn's VGG (musicnn 0.1.0, `models.vgg(x, is_training, 50,
//! num_filters=128)`) in tch, for inference with its pre-trained weights.
//!
//! Input `[N, 187, 96]` (frames, mel bands) -> `[N, 1, 187, 96]` ->
//! batch norm -> five blocks of conv 3x3 'same' (128 filters) -> ReLU ->
//! batch norm -> max-pool (VALID): `[4, 1]` stride `[2, 2]`, then `[2, 2]`
//! stride 2 three times, then `[4, 4]` stride 4 -> pool5 `[N, 128, 2, 1]`
//! -> flattened in TensorFlow's NHWC order (`h * 128 + c`, 256) -> dense 50
//! (the tags' logits; sigmoid for probabilities). Batch norms use their
//! moving statistics with TF's epsilon 1e-3; the dropouts are inactive.
//!
//! One departure from a plain port, to be TF's network: TensorFlow's ReLU
//! turns NaN into 0, libtorch's keeps it. musicnn's log-mel is inf where
//! its float16 overflows (loud music; see `stages::audio::musicnn`), the
//! convolutions then meet inf - inf, and TF's answer is finite where
//! libtorch's would be NaN. [`tf_relu`] does what TF does: measured on
//! Wesnoth's battle.ogg (106 patches, 81% of them with inf bins), pool5
//! within 6.3e-6 of TF's on every patch; a plain ReLU gives NaN on 78%.
//!
//! Variable names are those scripts/musicnn_weights.py writes:
//! `bn_input`, `conv1`..`conv5`, `bn1`..`bn5`, `dense`.

use std::collections::HashMap;

use tch::nn::{self, Module};
use tch::{Device, Tensor};

use stages::audio::musicnn::{N_MELS, PATCH_FRAMES};

/// Filters of every convolution.
pub const FILTERS: i64 = 128;
/// Width of pool5 flattened: the per-patch feature.
pub const POOL5_DIM: i64 = 256;
/// MSD tags.
pub const TAGS: i64 = 50;
/// TF's `tf.compat.v1.layers.batch_normalization` default.
const EPSILON: f64 = 1e-3;
/// (kernel, stride) of the five max-pools, on (time, bands).
const POOLS: [([i64; 2], [i64; 2]); 5] = [
    ([4, 1], [2, 2]),
    ([2, 2], [2, 2]),
    ([2, 2], [2, 2]),
    ([2, 2], [2, 2]),
    ([4, 4], [4, 4]),
];

/// MSD's 50 tags in the order of the network's outputs (musicnn's
/// `configuration.MSD_LABELS`).
pub const MSD_TAGS: [&str; 50] = [
    "rock",
    "pop",
    "alternative",
    "indie",
    "electronic",
    "female vocalists",
    "dance",
    "00s",
    "alternative rock",
    "jazz",
    "beautiful",
    "metal",
    "chillout",
    "male vocalists",
    "classic rock",
    "soul",
    "indie rock",
    "Mellow",
    "electronica",
    "80s",
    "folk",
    "90s",
    "chill",
    "instrumental",
    "punk",
    "oldies",
    "blues",
    "hard rock",
    "ambient",
    "acoustic",
    "experimental",
    "female vocalist",
    "guitar",
    "Hip-Hop",
    "70s",
    "party",
    "country",
    "easy listening",
    "sexy",
    "catchy",
    "funk",
    "electro",
    "heavy metal",
    "Progressive rock",
    "60s",
    "rnb",
    "indie pop",
    "sad",
    "House",
    "happy",
];

struct Block {
    conv: nn::Conv2D,
    bn: nn::BatchNorm,
    pool: ([i64; 2], [i64; 2]),
}

/// The network; build it in a [`nn::VarStore`] and [`load`] its weights.
pub struct Vgg {
    bn_input: nn::BatchNorm,
    blocks: Vec<Block>,
    dense: nn::Linear,
}

fn batch_norm(path: nn::Path, channels: i64) -> nn::BatchNorm {
    nn::batch_norm2d(
        path,
        channels,
        nn::BatchNormConfig {
            eps: EPSILON,
            ..Default::default()
        },
    )
}

impl Vgg {
    pub fn new(p: &nn::Path) -> Vgg {
        let conv = nn::ConvConfig {
            padding: 1,
            ..Default::default()
        };
        let blocks = POOLS
            .iter()
            .enumerate()
            .map(|(i, &pool)| Block {
                conv: nn::conv2d(
                    p / format!("conv{}", i + 1),
                    if i == 0 { 1 } else { FILTERS },
                    FILTERS,
                    3,
                    conv,
                ),
                bn: batch_norm(p / format!("bn{}", i + 1), FILTERS),
                pool,
            })
            .collect();
        Vgg {
            bn_input: batch_norm(p / "bn_input", 1),
            blocks,
            dense: nn::linear(p / "dense", POOL5_DIM, TAGS, Default::default()),
        }
    }

    /// `x: [N, 187, 96]` log-mel patches -> (pool5 `[N, 256]` in TF's
    /// flatten order, tag logits `[N, 50]`). Inference only.
    pub fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        debug_assert_eq!(&x.size()[1..], [PATCH_FRAMES as i64, N_MELS as i64]);
        let mut h = x.unsqueeze(1).apply_t(&self.bn_input, false);
        for block in &self.blocks {
            let (kernel, stride) = block.pool;
            h = tf_relu(&h.apply(&block.conv))
                .apply_t(&block.bn, false)
                .max_pool2d(kernel, stride, [0, 0], [1, 1], false);
        }
        let pool5 = h.permute([0, 2, 3, 1]).flatten(1, -1);
        let logits = self.dense.forward(&pool5);
        (pool5, logits)
    }
}

/// TensorFlow's ReLU: `max(x, 0)`, and 0 for NaN (see the module doc).
pub fn tf_relu(x: &Tensor) -> Tensor {
    let y = x.relu();
    let nan = y.isnan();
    y.masked_fill(&nan, 0.0)
}

/// Builds the network on `device` with the weights `bytes` (safetensors of
/// scripts/musicnn_weights.py): every variable must be there with its
/// shape, and nothing else.
pub fn load(bytes: &[u8], device: Device) -> Result<(nn::VarStore, Vgg), String> {
    let mut vs = nn::VarStore::new(device);
    let net = Vgg::new(&vs.root());
    let saved: HashMap<String, Tensor> = crate::model::weights::from_bytes(bytes)?;
    let vars = vs.variables();
    for (name, var) in &vars {
        let value = saved
            .get(name)
            .ok_or_else(|| format!("the weights lack `{name}`"))?;
        if value.size() != var.size() {
            return Err(format!(
                "`{name}` has shape {:?}, the network {:?}",
                value.size(),
                var.size()
            ));
        }
        let mut var = var.shallow_clone();
        tch::no_grad(|| var.copy_(value));
    }
    if let Some(extra) = saved.keys().find(|k| !vars.contains_key(*k)) {
        return Err(format!(
            "the weights have `{extra}`, which the network lacks"
        ));
    }
    vs.freeze();
    Ok((vs, net))
}
