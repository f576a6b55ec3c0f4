"""Writes the benchmark's pipeline shape for both tools into a directory:
CHAINS chains of LENGTH trivial stages plus one stage gathering the chains'
ends. For `pipeline`: pipeline.yaml (read_csv, then derive steps, then
concat). For DVC: dvc.yaml with the same graph (each stage copies a small
file), and the input files both read. With --snakemake, also a Snakefile of
the same graph (a rule per chain step, copying as DVC's stages do).

usage: make_shape.py DIR CHAINS LENGTH [--no-dvc] [--snakemake]"""
import sys
from pathlib import Path

out, chains, length = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
dvc = "--no-dvc" not in sys.argv
(out / "data").mkdir(parents=True, exist_ok=True)
nodes, stages = [], []
for c in range(chains):
    (out / "data" / f"in_{c}.csv").write_text(f"g,x\na,{c}\nb,{c + 1}\n")
    nodes.append(f"  - name: c{c}_s0\n    stage: read_csv\n    params: {{path: data/in_{c}.csv}}\n")
    stages.append(
        f"  c{c}_s0:\n    cmd: cp data/in_{c}.csv out/c{c}_s0.csv\n"
        f"    deps: [data/in_{c}.csv]\n    outs: [out/c{c}_s0.csv]\n"
    )
    for s in range(1, length):
        nodes.append(
            f"  - name: c{c}_s{s}\n    stage: derive\n"
            f"    params: {{column: x, op: offset, value: {s}, output: x{s}}}\n"
            f"    inputs: {{table: c{c}_s{s - 1}}}\n"
        )
        stages.append(
            f"  c{c}_s{s}:\n    cmd: cp out/c{c}_s{s - 1}.csv out/c{c}_s{s}.csv\n"
            f"    deps: [out/c{c}_s{s - 1}.csv]\n    outs: [out/c{c}_s{s}.csv]\n"
        )
ends = [f"c{c}_s{length - 1}" for c in range(chains)]
nodes.append(f"  - name: gather\n    stage: concat\n    inputs: {{tables: [{', '.join(ends)}]}}\n")
ends_files = " ".join(f"out/{e}.csv" for e in ends)
stages.append(
    f"  gather:\n    cmd: cat {ends_files} > out/gather.csv\n"
    f"    deps: [{', '.join(f'out/{e}.csv' for e in ends)}]\n    outs: [out/gather.csv]\n"
)
# Above the default max_nodes (100,000) on purpose at the largest shape.
(out / "pipeline.yaml").write_text("jobs: 2\nmax_nodes: 1000000\nnodes:\n" + "".join(nodes))
if dvc:
    (out / "out").mkdir(exist_ok=True)
    (out / "dvc.yaml").write_text("stages:\n" + "".join(stages))
if "--snakemake" in sys.argv:
    (out / "Snakefile").write_text(
        f"""wildcard_constraints:
    c="[0-9]+",
    s="[0-9]+",

rule gather:
    input: expand("out/c{{c}}_s{length - 1}.csv", c=range({chains}))
    output: "out/gather.csv"
    shell: "cat {{input}} > {{output}}"

rule first:
    input: "data/in_{{c}}.csv"
    output: "out/c{{c}}_s0.csv"
    shell: "cp {{input}} {{output}}"

rule step:
    wildcard_constraints: s="[1-9][0-9]*"
    input: lambda w: f"out/c{{w.c}}_s{{int(w.s) - 1}}.csv"
    output: "out/c{{c}}_s{{s}}.csv"
    shell: "cp {{input}} {{output}}"
"""
    )
