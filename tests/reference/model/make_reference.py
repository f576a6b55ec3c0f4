"""Reference for the representation network (torch_stages/src/model/net.rs).

Builds SPEC 5's CNN in PyTorch with the variable names our tch network uses,
and writes:
  - params.json: PyTorch's parameter counts of every architecture for
    m = 1..8 sources (the paper's Fig. 15);
  - forward.json: PyTorch's eval-mode representation and logits of an
    MS-CR@4 network on (bpm, self) whose every variable (batch-norm
    statistics included) and input are filled by `pattern`; the Rust test
    fills the tch network by name in the same way and must reproduce them.

With `check WEIGHTS.safetensors CONFIG.json`, it instead loads the weights a
`train` node wrote into the PyTorch model and runs one forward pass: the
weights are plain PyTorch state.

Run: ~/.cache/mdr/venv-torch/bin/python make_reference.py
"""
import json
import sys
from pathlib import Path

import torch
from torch import nn
from safetensors.torch import load_file

HERE = Path(__file__).parent
CONVS = [  # name, in, out, kernel, stride (time, bands), pool
    ("conv1", 2, 16, 5, (2, 1), True),
    ("conv2", 16, 32, 3, (1, 1), True),
    ("conv3", 32, 64, 3, (1, 1), True),
    ("conv4", 64, 64, 3, (1, 1), True),
    ("conv5", 64, 128, 3, (1, 1), True),
    ("conv6_1", 128, 256, 3, (1, 1), False),
    ("conv6_2", 256, 256, 1, (1, 1), False),
]
SHARED = {"SS-R": 8, "MS-SR@FC": 8, "MS-CR@6": 5, "MS-CR@4": 3, "MS-CR@2": 1, "MSS-CR": 0}
SOURCES = ["self", "year", "bpm", "taste", "tag", "lyrics", "cdr_tag", "artist"]


class ConvBlock(nn.Module):
    def __init__(self, cin, cout, k, stride, pool):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)
        self.bn = nn.BatchNorm2d(cout)
        self.pool = pool

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        return nn.functional.max_pool2d(y, 2) if self.pool else y


class FcFeature(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(256, 256)
        self.bn = nn.BatchNorm1d(256)

    def forward(self, x):
        y = torch.relu(self.bn(self.fc(x.mean(dim=(2, 3)))))
        return nn.functional.dropout(y, 0.5, self.training)


class Segment(nn.Module):
    def __init__(self, layers):
        super().__init__()
        for i in layers:
            if i < 7:
                name, cin, cout, k, stride, pool = CONVS[i]
                self.add_module(name, ConvBlock(cin, cout, k, stride, pool))
            else:
                self.add_module("fc_feature", FcFeature())

    def forward(self, x):
        for layer in self.children():
            x = layer(x)
        return x


class Siamese(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(512, 128)
        self.bn = nn.BatchNorm1d(128)
        self.fc2 = nn.Linear(128, 2)

    def forward(self, f):
        pairs = f.shape[0] // 2
        y = torch.cat([f[:pairs], f[pairs:]], dim=1)
        y = nn.functional.dropout(torch.relu(self.bn(self.fc1(y))), 0.5, self.training)
        return self.fc2(y)


class Network(nn.Module):
    def __init__(self, strategy, sources):
        super().__init__()
        shared = SHARED[strategy]
        self.trunk = Segment(range(shared))
        self.branched = shared < 8
        for i, s in enumerate(sources):
            if self.branched:
                self.add_module(f"branch{i}", Segment(range(shared, 8)))
            self.add_module(f"head{i}", Siamese() if s == "self" else nn.Linear(256, 50))
        self.n = len(sources)

    def feature(self, x, i):
        y = self.trunk(x)
        return getattr(self, f"branch{i}")(y) if self.branched else y

    def representation(self, x):
        y = self.trunk(x)
        if not self.branched:
            return y
        return torch.cat([getattr(self, f"branch{i}")(y) for i in range(self.n)], dim=1)

    def logits(self, x, i):
        return getattr(self, f"head{i}")(self.feature(x, i))


def count(strategy, sources):
    return sum(p.numel() for p in Network(strategy, sources).parameters())


def state_for_tch(model):
    """Our names: PyTorch's, without the num_batches_tracked counters."""
    return {k: v.contiguous() for k, v in model.state_dict().items() if "num_batches_tracked" not in k}


def make_reference():
    counts = {s: {} for s in SHARED}
    for strategy in SHARED:
        for m in range(1, 9):
            if strategy == "SS-R" and m > 1:
                continue
            # sources 1..m of the paper's order starting after self, then self
            sources = (SOURCES[1:] + SOURCES[:1])[:m]
            counts[strategy][str(m)] = count(strategy, sources)
    counts["SS-R tag"] = count("SS-R", ["tag"])
    counts["SS-R self"] = count("SS-R", ["self"])
    (HERE / "params.json").write_text(json.dumps(counts, indent=1) + "\n")

    model = Network("MS-CR@4", ["bpm", "self"])
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if "num_batches_tracked" not in name:
                t.copy_(pattern(name, t.shape))
    model.eval()
    x = pattern("input", (4, 2, 216, 128))
    with torch.no_grad():
        out = {
            "strategy": "MS-CR@4",
            "sources": ["bpm", "self"],
            "representation": model.representation(x).flatten().tolist(),
            "logits0": model.logits(x, 0).flatten().tolist(),
            "logits1": model.logits(x, 1).flatten().tolist(),
        }
    (HERE / "forward.json").write_text(json.dumps(out) + "\n")


def pattern(name, shape):
    """Deterministic values both sides compute (torch_stages/src/model/net.rs
    tests): no weight file to commit. Variances are kept positive."""
    n = 1
    for d in shape:
        n *= d
    i = torch.arange(n, dtype=torch.float64)
    v = torch.sin(1.0 + 0.618 * i + 0.1 * len(name))
    if name.endswith("running_var"):
        v = 1.0 + 0.5 * v * v
    elif name.endswith("bn.weight"):
        v = 1.0 + 0.25 * v
    elif name != "input":
        v = 0.1 * v
    return v.to(torch.float32).reshape(shape)


def check(weights_path, config_path):
    config = json.loads(Path(config_path).read_text())
    model = Network(config["strategy"], config["sources"])
    missing, unexpected = model.load_state_dict(load_file(weights_path), strict=False)
    missing = [k for k in missing if "num_batches_tracked" not in k]
    assert not missing and not unexpected, (missing, unexpected)
    model.eval()
    with torch.no_grad():
        rep = model.representation(torch.zeros(1, 2, 216, 128))
    print(f"loaded {config['strategy']} {config['sources']}: representation {tuple(rep.shape)}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        make_reference()
