"""Reference values for the MLP probe (torch_stages/src/evaluate/mlp.rs).

Run with the labels venv (scikit-learn 1.9, numpy 2.4):

    ~/.cache/mdr/venv-labels/bin/python tests/reference/evaluate/make_mlp_reference.py

Writes mlp_reference.json beside this script:

* `features` (300 x 32, float32 values written exactly), `labels` (4
  classes), `values` (a regression target);
* `classification` / `regression`: 5 seeded 80/20 splits (test indices;
  stratified for classification) and scikit-learn's score on each with
  MLPClassifier / MLPRegressor(hidden_layer_sizes=(256, 256)), all other
  settings default, features standardised on the training part, averaged
  over `model_seeds` random states; plus the spread of the 5-split mean
  across random states, to show what a 2-point tolerance means;
* `convention`: a small network (32-16-16-out) from given initial weights,
  trained without shuffling for 30 epochs on the first split: scikit-learn's
  loss curve and test predictions, which the Rust probe must reproduce
  (same init, loss, L2 penalty and Adam convention) up to float32 rounding.
"""

import json
import pathlib
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

warnings.simplefilter("ignore", ConvergenceWarning)

N, D, K = 300, 32, 4
SPLITS = 5
MODEL_SEEDS = 10
CONVENTION_HIDDEN = (16, 16)
CONVENTION_EPOCHS = 30


def make_data(rng):
    """Four overlapping Gaussian classes in a 6-dim subspace of 32 dims,
    and a mildly non-linear regression target with noise. Chosen so that
    the scores vary little with the model's seed (see seed_sd_of_mean)."""
    labels = np.repeat(np.arange(K), N // K)
    rng.shuffle(labels)
    centres = rng.normal(0.0, 1.4, size=(K, 6))
    informative = centres[labels] + rng.normal(0.0, 1.0, size=(N, 6))
    mixing = rng.normal(0.0, 1.0, size=(6, D)) / np.sqrt(6)
    x = informative @ mixing + 0.6 * rng.normal(size=(N, D))
    # Uneven scales and offsets, so that standardisation matters.
    x = x * rng.uniform(0.5, 3.0, size=D) + rng.uniform(-2.0, 2.0, size=D)
    x = np.round(x, 4).astype(np.float32)
    z = informative
    values = z[:, 0] + 0.5 * z[:, 1] + 0.3 * np.tanh(z[:, 2]) + 0.3 * rng.normal(size=N)
    return x, labels, np.round(values, 6)


def f32(values):
    """float32 values as their shortest exact decimal text (as JSON numbers)."""
    return [json.loads(np.format_float_positional(np.float32(v), unique=True, trim="0"))
            for v in np.asarray(values, dtype=np.float32).ravel()]


def scores(model_cls, metric, x, y, splits):
    per_split = []
    for train, test in splits:
        scaler = StandardScaler().fit(x[train])
        xtr, xte = scaler.transform(x[train]), scaler.transform(x[test])
        runs = []
        for seed in range(MODEL_SEEDS):
            model = model_cls(hidden_layer_sizes=(256, 256), random_state=seed).fit(xtr, y[train])
            runs.append(metric(model, xte, y[test]))
        per_split.append(runs)
    per_split = np.array(per_split)  # [split, seed]
    means_over_splits = per_split.mean(axis=0)  # one 5-split mean per seed
    return {
        "splits": [sorted(int(i) for i in test) for _, test in splits],
        "per_split": per_split.mean(axis=1).tolist(),
        "mean": float(per_split.mean()),
        "seed_sd_of_mean": float(means_over_splits.std(ddof=1)),
        "model_seeds": MODEL_SEEDS,
    }


def accuracy(model, x, y):
    return float((model.predict(x) == y).mean())


def r2(model, x, y):
    return float(model.score(x, y))


def glorot(rng, sizes):
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(np.float32)
        b = rng.uniform(-bound, bound, size=fan_out).astype(np.float32)
        layers.append((w, b))
    return layers


def convention(model_cls, x, y, split, n_out, rng):
    """Training from given weights, no shuffling: sklearn's warm start."""
    train, test = split
    scaler = StandardScaler().fit(x[train])
    xtr = scaler.transform(x[train]).astype(np.float32)
    xte = scaler.transform(x[test]).astype(np.float32)
    init = glorot(rng, [D, *CONVENTION_HIDDEN, n_out])
    model = model_cls(
        hidden_layer_sizes=CONVENTION_HIDDEN,
        shuffle=False,
        max_iter=1,
        random_state=0,
        warm_start=True,
    )
    model.fit(xtr, y[train])  # sets up every attribute; the weights are replaced below
    model.coefs_ = [w.copy() for w, _ in init]
    model.intercepts_ = [b.copy() for _, b in init]
    model.loss_curve_ = []
    model.best_loss_ = np.inf
    model._no_improvement_count = 0
    model.t_ = 0
    model.max_iter = CONVENTION_EPOCHS
    model.fit(xtr, y[train])
    assert model.coefs_[0].dtype == np.float32
    predictions = model.predict(xte)
    return {
        "init": [{"w": f32(w), "b": f32(b)} for w, b in init],
        "x_train": f32(xtr),
        "y_train": y[train].tolist(),
        "x_test": f32(xte),
        "loss_curve": [float(v) for v in model.loss_curve_],
        "predictions": predictions.tolist(),
    }


def main():
    rng = np.random.default_rng(20240611)
    x, labels, values = make_data(rng)
    class_splits = list(StratifiedShuffleSplit(SPLITS, test_size=0.2, random_state=0).split(x, labels))
    value_splits = list(ShuffleSplit(SPLITS, test_size=0.2, random_state=0).split(x))
    out = {
        "generator": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}",
        "n": N,
        "d": D,
        "classes": K,
        "features": f32(x),
        "labels": labels.tolist(),
        "values": values.tolist(),
        "classification": scores(MLPClassifier, accuracy, x, labels, class_splits),
        "regression": scores(MLPRegressor, r2, x, values, value_splits),
        "convention": {
            "hidden": list(CONVENTION_HIDDEN),
            "epochs": CONVENTION_EPOCHS,
            "classification": convention(MLPClassifier, x, labels, class_splits[0], K, rng),
            "regression": convention(MLPRegressor, x, values, value_splits[0], 1, rng),
        },
    }
    path = pathlib.Path(__file__).with_name("mlp_reference.json")
    path.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    for task in ("classification", "regression"):
        r = out[task]
        print(f"{task}: mean {r['mean']:.4f} (per split {np.round(r['per_split'], 4)}), "
              f"sd of the 5-split mean over seeds {r['seed_sd_of_mean']:.4f}")


if __name__ == "__main__":
    main()
