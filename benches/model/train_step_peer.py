"""Peer for the training-throughput benchmark: the same network (SS-R, the
PyTorch definition of tests/reference/model/make_reference.py), the same
step (random 216-frame crops of in-memory standardised mels, KL loss, Adam
lr 0.00025 with L2 1e-6), batch 128, on this CPU. Prints samples/s.

Usage: python train_step_peer.py [steps] [tracks] [frames]
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "reference" / "model"))
from make_reference import Network  # noqa: E402

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
tracks = int(sys.argv[2]) if len(sys.argv) > 2 else 640
frames = int(sys.argv[3]) if len(sys.argv) > 3 else 300
batch = 128

rng = np.random.default_rng(0)
mels = rng.standard_normal((tracks, 2, frames, 128), dtype=np.float32)
z = rng.dirichlet(np.ones(50), size=tracks).astype(np.float32)

torch.manual_seed(0)
model = Network("SS-R", ["tag"])
model.train()
opt = torch.optim.Adam(model.parameters(), lr=0.00025, weight_decay=1e-6)


def step():
    idx = rng.integers(0, tracks, batch)
    starts = rng.integers(0, frames - 216 + 1, batch)
    x = np.stack([mels[i, :, s:s + 216] for i, s in zip(idx, starts)])
    x, t = torch.from_numpy(x), torch.from_numpy(z[idx])
    opt.zero_grad()
    logp = torch.log_softmax(model.logits(x, 0), dim=-1)
    loss = (t * (torch.log(t.clamp_min(1e-12)) - logp)).sum(-1).mean()
    loss.backward()
    opt.step()


step()  # warm-up
start = time.perf_counter()
for _ in range(steps):
    step()
elapsed = time.perf_counter() - start
print(f"pytorch {torch.__version__} threads={torch.get_num_threads()} batch={batch} steps={steps}: "
      f"{elapsed / steps:.3f} s/step, {steps * batch / elapsed:.1f} samples/s")
