#!/usr/bin/env python3
"""musicnn's MSD_vgg checkpoint (a TensorFlow tensor bundle inside the
`musicnn` 0.1.0 wheel) -> safetensors in PyTorch layout, without TensorFlow.

    python3 scripts/musicnn_weights.py WHEEL OUT.safetensors [--model MSD_vgg]

WHEEL is musicnn-0.1.0-py3-none-any.whl (or an unpacked `musicnn/` folder).
Needs numpy only. The output is deterministic (same wheel, same bytes).

The bundle: `<model>/.index` is a LevelDB-format table (uncompressed
blocks) whose keys are the variable names and whose values are
BundleEntryProto messages (dtype, shape, shard, offset, size, crc32c) into
`<model>/.data-00000-of-00001`. Adam's slots (`.../Adam`, `.../Adam_1`) and
the optimiser's counters are skipped; every tensor read is checked against
its (masked, as TF stores it) crc32c.

Names and layouts written (torch_stages/src/model/musicnn.rs builds the
network with these names):

  bn_input.{weight,bias,running_mean,running_var}    [1]
  conv{1..5}.weight  [128, in, 3, 3]  (TF kernel [kh, kw, in, out] -> [out, in, kh, kw])
  conv{1..5}.bias    [128]
  bn{1..5}.{weight,bias,running_mean,running_var}    [128]
  dense.weight       [50, 256]        (TF [in, out] transposed)
  dense.bias         [50]

TF's batch norm is gamma/beta/moving_mean/moving_variance (epsilon 1e-3,
recorded in the metadata). The dense layer's input index is TF's flatten of
pool5 in NHWC order, `h * 128 + c` for pool5 [N, 2, 1, 128]: the network
must flatten the same way (it permutes to NHWC before flattening), so the
dense weight needs no reordering and its pool5 features are TF's.
"""

import io
import json
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np

MAGIC = 0xDB4775248B80FB57
DTYPES = {1: np.float32}  # TF DataType DT_FLOAT


def varint(buf, pos):
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def block_entries(data, offset, size):
    """The (key, value) pairs of one uncompressed table block."""
    block = data[offset : offset + size]
    kind = data[offset + size]
    if kind != 0:
        raise ValueError(f"compressed table block (type {kind}) not supported")
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * restarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        value_len, pos = varint(block, pos)
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        yield key, block[pos : pos + value_len]
        pos += value_len


def table(index):
    """Every (key, value) of a LevelDB-format table."""
    footer = index[-48:]
    if struct.unpack_from("<Q", footer, 40)[0] != MAGIC:
        raise ValueError("not a TensorFlow bundle index (bad table magic)")
    pos = 0
    _, pos = varint(footer, pos)  # metaindex handle
    _, pos = varint(footer, pos)
    idx_offset, pos = varint(footer, pos)
    idx_size, pos = varint(footer, pos)
    for _, handle in block_entries(index, idx_offset, idx_size):
        off, p = varint(handle, 0)
        size, _ = varint(handle, p)
        yield from block_entries(index, off, size)


def fields(msg):
    """Protobuf fields: {number: [values]} (varints as ints, fixed32 as
    ints, length-delimited as bytes)."""
    out, pos = {}, 0
    while pos < len(msg):
        tag, pos = varint(msg, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = varint(msg, pos)
        elif wire == 1:
            value = struct.unpack_from("<Q", msg, pos)[0]
            pos += 8
        elif wire == 2:
            n, pos = varint(msg, pos)
            value = msg[pos : pos + n]
            pos += n
        elif wire == 5:
            value = struct.unpack_from("<I", msg, pos)[0]
            pos += 4
        else:
            raise ValueError(f"protobuf wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def entry(value):
    """BundleEntryProto -> (dtype, shape, shard, offset, size, crc32c)."""
    f = fields(value)
    shape = []
    for dim in fields(f.get(2, [b""])[0]).get(2, []):
        shape.append(fields(dim).get(1, [0])[0])
    if 7 in f:
        raise ValueError("sliced tensors are not supported")
    return (
        f.get(1, [0])[0],
        shape,
        f.get(3, [0])[0],
        f.get(4, [0])[0],
        f.get(5, [0])[0],
        f.get(6, [None])[0],
    )


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc32c(data):
    c = 0xFFFFFFFF
    t = CRC_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(crc):
    """TF's masked crc (crc32c::Mask)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def read_bundle(files, model):
    """{variable name: float32 array} of `model`'s checkpoint."""
    index = files(f"musicnn/{model}/.index")
    data = files(f"musicnn/{model}/.data-00000-of-00001")
    tensors = {}
    for key, value in table(index):
        if key == b"":
            continue  # the BundleHeaderProto
        name = key.decode()
        if name.endswith(("/Adam", "/Adam_1")) or name.startswith(("beta1_power", "beta2_power")):
            continue
        dtype, shape, shard, offset, size, crc = entry(value)
        if dtype not in DTYPES:
            continue  # e.g. global_step (int64)
        if shard != 0:
            raise ValueError(f"{name}: shard {shard} (expected one data file)")
        raw = data[offset : offset + size]
        if len(raw) != size or crc is None or masked(crc32c(raw)) != crc:
            raise ValueError(f"{name}: its bytes do not match the index's crc32c")
        tensors[name] = np.frombuffer(raw, dtype="<f4").reshape(shape).copy()
    return tensors


def to_torch(tf):
    """TF variable names and layouts -> ours (see the module doc)."""
    out = {}

    def bn(prefix, ours):
        out[f"{ours}.weight"] = tf.pop(f"{prefix}/gamma")
        out[f"{ours}.bias"] = tf.pop(f"{prefix}/beta")
        out[f"{ours}.running_mean"] = tf.pop(f"{prefix}/moving_mean")
        out[f"{ours}.running_var"] = tf.pop(f"{prefix}/moving_variance")

    bn("batch_normalization", "bn_input")
    for i in range(1, 6):
        out[f"conv{i}.weight"] = tf.pop(f"{i}CNN/kernel").transpose(3, 2, 0, 1)
        out[f"conv{i}.bias"] = tf.pop(f"{i}CNN/bias")
        bn(f"batch_normalization_{i}", f"bn{i}")
    out["dense.weight"] = tf.pop("dense/kernel").T
    out["dense.bias"] = tf.pop("dense/bias")
    if tf:
        raise ValueError(f"variables not converted: {sorted(tf)}")
    return {k: np.ascontiguousarray(v, dtype="<f4") for k, v in out.items()}


def safetensors_bytes(tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name in sorted(tensors):
        raw = tensors[name].tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(tensors[name].shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def open_source(path):
    path = Path(path)
    if path.is_dir():
        root = path.parent if path.name == "musicnn" else path
        return lambda name: (root / name).read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    return archive.read


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    model = "MSD_vgg"
    if "--model" in argv:
        model = argv[argv.index("--model") + 1]
        args.remove(model)
    if len(args) != 2:
        sys.exit(__doc__)
    if model not in ("MSD_vgg", "MTT_vgg"):
        sys.exit(f"only the VGG models are converted, not {model}")
    tensors = to_torch(read_bundle(open_source(args[0]), model))
    metadata = {
        "source": f"musicnn 0.1.0 (ISC licence, Jordi Pons), musicnn/{model}",
        "model": model,
        "batch_norm_epsilon": "0.001",
        "dense_input_order": "NHWC flatten of pool5 [N, 2, 1, 128]: h * 128 + c",
    }
    out = Path(args[1])
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(safetensors_bytes(tensors, metadata))
    tmp.replace(out)
    total = sum(t.size for t in tensors.values())
    print(f"{out}: {len(tensors)} tensors, {total} floats", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
