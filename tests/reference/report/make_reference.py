"""Reference values for the report's own statistics (Table 6): each
component as a percentage of its dataset's total (its share, the
analysis' definition), each source's Pearson correlation between its share
and its standardised SS-R performance across datasets, and the correlation
over all cells. scipy and numpy compute
them; the Rust tests read components.json.

Run: ~/.cache/mdr/venv-librosa/bin/python tests/reference/report/make_reference.py
"""
import json
import math
import pathlib

import numpy as np
from scipy import stats

DATASETS = ["ballroom", "fma", "gtzan", "irmas", "lastfm", "arousal", "valence"]
SOURCES = ["self", "year", "bpm", "taste", "tag", "lyrics", "cdr_tag", "artist"]

rng = np.random.RandomState(20190523)
rows = []
for d in DATASETS:
    for s in SOURCES:
        variance = float(rng.gamma(0.7, 0.05))
        ssr = float(rng.normal(0.3 * math.log(variance + 1e-3), 0.8))
        rows.append({"dataset": d, "source": s, "variance": variance, "ssr_y_star": ssr})
# Sources without an SS-R run on a dataset carry NaN: they must be skipped.
rows[3]["ssr_y_star"] = float("nan")  # ballroom, taste
rows[8 + 3]["ssr_y_star"] = float("nan")  # fma, taste
rows[2 * 8 + 5]["ssr_y_star"] = float("nan")  # gtzan, lyrics


def pearson(pairs):
    pairs = [(x, y) for x, y in pairs if math.isfinite(x) and math.isfinite(y)]
    if len(pairs) < 3:
        return None
    x, y = zip(*pairs)
    return float(stats.pearsonr(x, y)[0])


percent = {}
for d in DATASETS:
    total = sum(r["variance"] for r in rows if r["dataset"] == d)
    percent[d] = {r["source"]: 100.0 * r["variance"] / total for r in rows if r["dataset"] == d}
share = lambda r: percent[r["dataset"]][r["source"]] / 100.0
per_source = {
    s: pearson([(share(r), r["ssr_y_star"]) for r in rows if r["source"] == s]) for s in SOURCES
}
overall = pearson([(share(r), r["ssr_y_star"]) for r in rows])

out = {
    "rows": [{**r, "ssr_y_star": r["ssr_y_star"] if math.isfinite(r["ssr_y_star"]) else None} for r in rows],
    "per_source": per_source,
    "overall": overall,
    "percent": percent,
    "made_with": {"numpy": np.__version__, "scipy": __import__("scipy").__version__},
}
path = pathlib.Path(__file__).with_name("components.json")
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {path}: overall r = {overall:.4f}")
