"""Reference designs for the greedy sequential design (Algorithm 2 of the
paper, SPEC 7), written independently of the Rust code in
stages/src/analysis/design*.

What both sides agree on (the definitions, not the code):
- Phase 1: SS-R per source, repeat-major; phase 2: the five multi-source
  strategies with all sources, repeat-major; phase 3: candidates = the five
  multi-source strategies x source subsets of size 2..m-1 (strategy-major,
  subsets by increasing bit mask over the sorted sources).
- Run ids: p1-ssr-<source>-r<k>, p2-<strategy>-<set>-r<k>, p3-<strategy>-<set>,
  with names lower-cased and every character outside [a-z0-9@.] turned into
  '-'; <set> is "all" for all eight sources, else the names joined by '.'.
- Run seed: the first 8 bytes (little endian) of
  blake3("mdr-design-run\\0" + seed as u64 LE + id), top bit cleared.
- Greedy step i: among the remaining candidates keep those whose addition
  gives the least unbalance (max over factors of max - min level count over
  the whole design, counting only levels that some remaining candidate has);
  factors: strategy (6 levels), number of sources (1..m), presence of each
  source (2 levels). Among those keep the ones whose addition gives the least
  maximum absolute correlation between model-matrix columns of different
  factors (6 strategy indicators, m source indicators; a constant column
  correlates 0), within 1e-9 of the best; pick index
  u64(blake3("mdr-design-step\\0" + seed LE + i LE)[:8]) mod count.

Here every criterion is computed naively from the full design matrix (numpy
corrcoef, counting levels), not from running sums as in Rust.

Run: $HOME/.cache/mdr/venv-labels/bin/python make_design.py
Writes design.json beside this file.
"""

import json
from pathlib import Path

import blake3
import numpy as np

SOURCES = ["self", "year", "bpm", "taste", "tag", "lyrics", "cdr_tag", "artist"]
STRATEGIES = ["SS-R", "MS-SR@FC", "MS-CR@6", "MS-CR@4", "MS-CR@2", "MSS-CR"]
MULTI = STRATEGIES[1:]
TIE = 1e-9

CASES = {
    "small": dict(sources=["self", "bpm", "tag", "lyrics", "artist"],
                  ssr_repeats=2, multi_repeats=1, greedy_runs=40, seed=7),
    "paper": dict(sources=SOURCES, ssr_repeats=6, multi_repeats=5,
                  greedy_runs=352, seed=1),
}


def slug(text):
    return "".join(c if (c.isascii() and (c.isalnum() or c in "@.")) else "-"
                   for c in text.lower())


def set_text(subset):
    if sorted(subset, key=SOURCES.index) == SOURCES:
        return "all"
    return ".".join(slug(s) for s in subset)


def u64(*parts):
    h = blake3.blake3()
    for p in parts:
        h.update(p)
    return int.from_bytes(h.digest()[:8], "little")


def run_seed(seed, run_id):
    return u64(b"mdr-design-run\0", seed.to_bytes(8, "little"),
               run_id.encode()) & (2**63 - 1)


def step_draw(seed, step):
    return u64(b"mdr-design-step\0", seed.to_bytes(8, "little"),
               step.to_bytes(8, "little"))


def row(strategy, subset, sources):
    """The model-matrix row: strategy indicators then source indicators."""
    return ([1.0 if s == strategy else 0.0 for s in STRATEGIES]
            + [1.0 if s in subset else 0.0 for s in sources])


def correlations(x):
    """Correlation of the columns of x; constant columns correlate 0."""
    x = np.asarray(x)
    centred = x - x.mean(axis=0)
    norms = np.sqrt((centred ** 2).sum(axis=0))
    varying = norms > 0
    c = np.zeros((x.shape[1], x.shape[1]))
    sub = centred[:, varying]
    c[np.ix_(varying, varying)] = np.corrcoef(sub, rowvar=False)
    return c, varying


def max_alias(x, n_strategy):
    c, _ = correlations(x)
    a = np.abs(c)
    a[:n_strategy, :n_strategy] = 0.0  # levels of one factor
    np.fill_diagonal(a, 0.0)
    return a.max()


def factor_levels(strategy, subset, sources):
    """(factor, level) pairs of one run."""
    pairs = [("strategy", strategy), ("n", len(subset))]
    pairs += [(s, s in subset) for s in sources]
    return pairs


def all_levels(sources):
    levels = [("strategy", s) for s in STRATEGIES]
    levels += [("n", k) for k in range(1, len(sources) + 1)]
    levels += [(s, v) for s in sources for v in (False, True)]
    return levels


def level_counts(design, sources):
    counts = {lv: 0 for lv in all_levels(sources)}
    for strategy, subset in design:
        for lv in factor_levels(strategy, subset, sources):
            counts[lv] += 1
    return counts


def open_levels(remaining, sources):
    levels = set()
    for strategy, subset in remaining:
        levels.update(factor_levels(strategy, subset, sources))
    return levels


def unbalance(counts, open_set, sources):
    worst = 0
    for factor in ["strategy", "n"] + sources:
        c = [counts[lv] for lv in counts if lv[0] == factor and lv in open_set]
        if len(c) >= 2:
            worst = max(worst, max(c) - min(c))
    return worst


def plan(sources, ssr_repeats, multi_repeats, greedy_runs, seed):
    m = len(sources)
    runs = []  # (id, phase, strategy, subset)
    for r in range(ssr_repeats):
        for s in sources:
            runs.append((f"p1-ssr-{slug(s)}-r{r}", 1, "SS-R", [s]))
    for r in range(multi_repeats):
        for st in MULTI:
            runs.append((f"p2-{slug(st)}-{set_text(sources)}-r{r}", 2, st,
                         list(sources)))
    candidates = []
    for st in MULTI:
        for mask in range(1 << m):
            subset = [sources[i] for i in range(m) if mask >> i & 1]
            if 2 <= len(subset) <= m - 1:
                candidates.append((st, subset))
    design = [(st, sub) for _, _, st, sub in runs]
    for step in range(greedy_runs):
        base = level_counts(design, sources)
        open_set = open_levels(candidates, sources)
        scored = []
        for k, (st, sub) in enumerate(candidates):
            counts = dict(base)
            for lv in factor_levels(st, sub, sources):
                counts[lv] += 1
            scored.append((unbalance(counts, open_set, sources), k))
        best_u = min(u for u, _ in scored)
        kept = [k for u, k in scored if u == best_u]
        aliases = [(max_alias([row(st, sub, sources) for st, sub in design + [candidates[k]]],
                              len(STRATEGIES)), k) for k in kept]
        best_a = min(a for a, _ in aliases)
        kept = [k for a, k in aliases if a <= best_a + TIE]
        pick = kept[step_draw(seed, step) % len(kept)]
        st, sub = candidates.pop(pick)
        design.append((st, sub))
        runs.append((f"p3-{slug(st)}-{set_text(sub)}", 3, st, sub))
    x = [row(st, sub, sources) for _, _, st, sub in runs]
    c, varying = correlations(x)
    labels = [l for l, v in zip(STRATEGIES + list(sources), varying) if v]
    values = c[np.ix_(varying, varying)]
    return {
        "runs": [dict(id=i, phase=p, strategy=st, sources=",".join(sub),
                      seed=run_seed(seed, i)) for i, p, st, sub in runs],
        "alias_labels": labels,
        "alias_values": values.flatten().tolist(),
        "max_unbalance": unbalance(level_counts(design, sources),
                                   open_levels(candidates, sources), sources),
        "max_abs_alias": max_alias(x, len(STRATEGIES)),
    }


def main():
    out = {"numpy": np.__version__}
    for name, params in CASES.items():
        out[name] = dict(params=params, **plan(**params))
        print(name, len(out[name]["runs"]), out[name]["max_unbalance"],
              out[name]["max_abs_alias"])
    path = Path(__file__).with_name("design.json")
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
