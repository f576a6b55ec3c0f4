"""Reference values for the 1-D Gaussian mixture of the bpm and year sources.

Draws values from a known three-component mixture (tempo-like units), fits
scikit-learn's GaussianMixture to them, and writes gmm.json: the values, the
mixture they came from, and scikit-learn's average log-likelihood per value
(`score`) for each fitted number of components. The Rust test
`labels::tests::gmm` fits the same values and must land within 1%.

Run: $HOME/.cache/mdr/venv-labels/bin/python make_gmm.py
"""

import json
from pathlib import Path

import numpy as np
import sklearn
from sklearn.mixture import GaussianMixture

WEIGHTS = [0.5, 0.3, 0.2]
MEANS = [90.0, 122.0, 160.0]
STDS = [8.0, 5.0, 12.0]
N = 2000
SEED = 20180101
FITS = [3, 10, 50]


def main() -> None:
    rng = np.random.default_rng(SEED)
    component = rng.choice(len(WEIGHTS), size=N, p=WEIGHTS)
    values = rng.normal(np.take(MEANS, component), np.take(STDS, component))
    x = values.reshape(-1, 1)
    fits = []
    for k in FITS:
        gm = GaussianMixture(
            n_components=k, max_iter=1000, tol=1e-8, n_init=5, random_state=0
        ).fit(x)
        fits.append(
            {
                "k": k,
                "mean_log_likelihood": float(gm.score(x)),
                "converged": bool(gm.converged_),
                "means": sorted(gm.means_.ravel().tolist()),
            }
        )
    out = {
        "generator": f"scikit-learn {sklearn.__version__} GaussianMixture("
        "max_iter=1000, tol=1e-8, n_init=5, random_state=0)",
        "mixture": {"weights": WEIGHTS, "means": MEANS, "stds": STDS, "seed": SEED},
        "values": [float(v) for v in values],
        "fits": fits,
    }
    path = Path(__file__).with_name("gmm.json")
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
