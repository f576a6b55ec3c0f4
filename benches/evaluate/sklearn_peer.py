"""scikit-learn peer of torch_stages/benches/evaluate.rs: the same 5-split MLP
evaluation on the same data (written by the Rust bench into DIR).

    python sklearn_peer.py DIR [rounds]

Per split: StandardScaler fitted on the training part, then
MLPClassifier(hidden_layer_sizes=(256, 256)) with scikit-learn's defaults
(the probe's settings: Adam lr 1e-3, alpha 1e-4, batch min(200, n), at most
200 epochs, tol 1e-4 / n_iter_no_change 10), then test accuracy. The
features stay float32, as the representation tables store them, so both
sides compute in float32.
"""

import json
import pathlib
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

warnings.simplefilter("ignore", ConvergenceWarning)


def main():
    d = pathlib.Path(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    meta = json.loads((d / "splits.json").read_text())
    x = np.fromfile(d / "features.f32", dtype="<f4").reshape(meta["tracks"], meta["dim"])
    y = np.fromfile(d / "labels.i64", dtype="<i8")
    threads = {p["internal_api"]: p["num_threads"] for p in threadpool_info()}
    for _ in range(rounds):
        start = time.perf_counter()
        accuracy, epochs = 0.0, []
        for repeat, test in enumerate(meta["test"]):
            mask = np.zeros(len(y), dtype=bool)
            mask[test] = True
            scaler = StandardScaler().fit(x[~mask])
            model = MLPClassifier(hidden_layer_sizes=(256, 256), random_state=repeat)
            model.fit(scaler.transform(x[~mask]), y[~mask])
            accuracy += model.score(scaler.transform(x[mask]), y[mask]) / len(meta["test"])
            epochs.append(model.n_iter_)
        elapsed = time.perf_counter() - start
        print(f"scikit-learn {sklearn.__version__} ({threads}): {elapsed:.2f} s for "
              f"{len(meta['test'])} splits, mean accuracy {accuracy:.4f}, epochs {epochs}")


if __name__ == "__main__":
    main()
