//! `musicnn` (run by `torch_stages::musicnn`): the pre-trained baseline.

use crate::api::{Declaration, FileKind, InputSpec, OutputSpec, ParamSpec, ParamType};

/// The pre-trained models the stage offers: musicnn 0.1.0's VGG trained on
/// the Million Song Dataset's 50 tags. (MTT_vgg converts the same way but
/// is not offered; the musicnn-architecture models are other networks.)
pub const MODELS: [&str; 1] = ["MSD_vgg"];

/// What the engine knows of `musicnn` without running it.
pub const MUSICNN: Declaration = Declaration {
    name: "musicnn",
    version: 1,
    doc: "The pre-trained baseline (the paper's comparison with a pre-trained network): \
          musicnn's MSD_vgg on every fetched track, [mean, std] of its pool5 (256) over \
          non-overlapping 3 s patches as the track's 512-d vector (mono 16 kHz log-mel as \
          musicnn computes it; no TensorFlow).",
    params: &[
        ParamSpec {
            name: "model",
            ty: ParamType::Choice(&MODELS),
            default: Some("MSD_vgg"),
            doc: "the pre-trained network: MSD_vgg only (musicnn 0.1.0's VGG, 50 MSD tags)",
            in_key: true,
        },
        ParamSpec {
            name: "weights",
            ty: ParamType::Str,
            default: Some(""),
            doc: "the converted weights (scripts/musicnn_weights.py; relative to pipeline.yaml); \
                  empty: $PIPELINE_CACHE/musicnn/<model>.safetensors (default \
                  ~/.cache/mdr/musicnn/), where scripts/setup.sh puts them. Not in the key: \
                  the file must be the conversion of musicnn 0.1.0's wheel, whose blake3 the \
                  stage checks, so its place changes no result",
            in_key: false,
        },
        ParamSpec {
            name: "max_seconds",
            ty: ParamType::Float,
            default: Some("0"),
            doc: "analyse only the first this many seconds of each track (0: all of it)",
            in_key: true,
        },
    ],
    inputs: &[InputSpec {
        name: "audio",
        many: false,
        doc: "a fetch node",
    }],
    optional_inputs: &[],
    outputs: &[
        OutputSpec {
            name: "vectors",
            kind: FileKind::Table,
            doc: "track_id and `vector`, a FixedSizeList<Float32, 512>: [mean, std] of pool5 \
                  over the track's patches (what evaluate and recommend take)",
        },
        OutputSpec {
            name: "tags",
            kind: FileKind::Table,
            doc: "track_id and `tags`, a FixedSizeList<Float32, 50>: the mean over patches of \
                  the 50 MSD tag probabilities (musicnn's taggram), in musicnn's tag order",
        },
        OutputSpec {
            name: "index",
            kind: FileKind::Table,
            doc: "track_id, patches UInt32, frames UInt32 (at 16 kHz, hop 256), repeat_padded \
                  Boolean (shorter than one patch), inf_bins UInt32 (log-mel bins where \
                  musicnn's float16 overflows), source_sample_rate UInt32, source_channels \
                  UInt16, stream_end Utf8",
        },
        OutputSpec {
            name: "failures",
            kind: FileKind::Table,
            doc: "track_id, error: tracks that could not be analysed",
        },
    ],
};
