"""Reference values for the report's exact t-SNE (report/tsne.rs) from
scikit-learn: the affinities P, the KL divergence and its gradient at
given points, and the first 10 iterations of TSNE(method="exact")'s
descent (early exaggeration) from a given start. Not a whole run: from a
start of scale 1e-4 the exaggerated phase is chaotic (a relative change of
1e-12 in the start moves scikit-learn's own final map by tens of units),
so only the first iterations are comparable; after 10 that change has
grown to 6e-10. The data are small integers, so that the squared distances
scikit-learn casts to float32 are exact and both sides start from the same
numbers.

Run: ~/.cache/mdr/venv-librosa/bin/python torch_stages/src/report/tests/tsne_reference.py
"""
import json
import pathlib

import numpy as np
import sklearn
from scipy.spatial.distance import squareform
from sklearn.manifold._t_sne import _gradient_descent, _joint_probabilities, _kl_divergence
from sklearn.metrics import pairwise_distances

rng = np.random.RandomState(16)
centres = np.array([[0, 0, 0, 0, 0], [9, 0, 4, 0, 0], [0, 8, 0, 5, 3]])
X = np.vstack([c + rng.randint(-2, 3, size=(8, 5)) for c in centres]).astype(np.float64)
n = X.shape[0]
perplexity = (n - 1) / 3.0

distances = pairwise_distances(X, metric="euclidean", squared=True)
P = _joint_probabilities(distances, perplexity, 0)
Y = rng.normal(size=(n, 2))
kl, grad = _kl_divergence(Y.ravel(), P, 1, n, 2)

start = 1e-4 * rng.normal(size=(n, 2))
STEPS = 10
# What TSNE._tsne runs first: exaggeration 12, momentum 0.5, learning
# rate "auto" = max(n / 12 / 4, 50).
descended, _, _ = _gradient_descent(
    _kl_divergence,
    start.ravel().copy(),
    it=0,
    max_iter=STEPS,
    n_iter_check=50,
    min_grad_norm=1e-7,
    learning_rate=max(n / 12 / 4, 50),
    verbose=0,
    kwargs={"skip_num_points": 0},
    args=[P * 12.0, 1, n, 2],
    n_iter_without_progress=250,
    momentum=0.5,
)

out = {
    "x": X.tolist(),
    "perplexity": perplexity,
    "p": squareform(P).tolist(),
    "y": Y.tolist(),
    "kl": float(kl),
    "gradient": grad.reshape(n, 2).tolist(),
    "start": start.tolist(),
    "steps": STEPS,
    "descended": descended.reshape(n, 2).tolist(),
    "made_with": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
}
path = pathlib.Path(__file__).with_name("tsne.json")
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {path}: KL {kl:.6f} at the given points")
