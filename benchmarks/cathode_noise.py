"""The robustness study of Finke et al. (arXiv 2309.13111, "Back to the roots"): CATHODE's
classifier with K uninformative Gaussian inputs appended, the MLP against the tree
ensemble (``cathode.classifier.kind`` mlp | hgb, ``noise_features: K``).

It reruns the classifier stage in process on the files of a finished search point (after
`make run`, or any config's CATHODE branch) and prints max SIC per method, kind and K as
a Markdown table (and JSON with --json):

    python benchmarks/cathode_noise.py --point results/cathode/sr3.50/seed0/s800 \
        --kinds mlp hgb --noise 0 5 10 --methods cathode idealized

The classifier's other settings are the config's (``--config``, default the embedded
default run's), the seed the point's. Max SIC: median and 16-84% band over the runs, as in
the summary (``genhep.cathode.sic.run_summary``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from genhep.cathode.files import read_events  # noqa: E402
from genhep.cathode.sic import run_summary  # noqa: E402
from genhep.cathode.stage_classify import STAGE as CLASSIFY  # noqa: E402


def method_inputs(point: Path, method: str, family: str, oversampling: float) -> dict:
    """The classifier stage's inputs of ``method`` at a point: label 1 the SR data, label
    0 the template (cathode), the true SR background capped as the workflow caps it
    (idealized) or the short sidebands (cwola); the (window, seed)'s test set."""
    fixed = point.parent / "fixed"
    label0 = {
        "cathode": point / "template" / f"{family}.h5",
        "idealized": fixed / "reference.h5",
        "cwola": point / "data" / "sb_short.h5",
    }[method]
    inputs = {"label1": point / "data" / "sr_data.h5", "label0": label0, "test": fixed / "test.h5"}
    extra = {"label0_ratio": float(oversampling)} if method == "idealized" else {}
    return {"inputs": inputs, "extra": extra}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--point", type=Path, required=True, help="a point's directory")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--family", default="maf", help="the CATHODE template's family")
    parser.add_argument("--kinds", nargs="+", default=["mlp", "hgb"])
    parser.add_argument("--noise", nargs="+", type=int, default=[0, 5, 10])
    parser.add_argument("--methods", nargs="+", default=["cathode", "idealized"])
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    cathode = yaml.safe_load(args.config.read_text())["cathode"]
    classifier = {k: v for k, v in cathode.get("classifier", {}).items() if k != "mem_mb"}
    oversampling = cathode.get("interpolation", {}).get("oversampling", 4)
    seed = int(args.point.parent.name.removeprefix("seed"))
    labels = read_events(args.point.parent / "fixed" / "test.h5").label
    tpr = np.linspace(0.0, 1.0, 201)[1:]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for method in args.methods:
            job = method_inputs(args.point, method, args.family, oversampling)
            for kind in args.kinds:
                for k in args.noise:
                    settings = {**classifier, "kind": kind, "noise_features": k, "seed": seed}
                    settings |= {"method": method, **job["extra"]}
                    out = Path(tmp) / f"{method}_{kind}_{k}.h5"
                    start = time.perf_counter()
                    CLASSIFY(settings, job["inputs"], {"scores": out})
                    seconds = time.perf_counter() - start
                    with h5py.File(out, "r") as f:
                        summary = run_summary(labels, f["scores"][...], tpr)
                        pull = float(f.attrs["null_pull"])
                    lo, mid, hi = summary["max_sic"]
                    rows.append(
                        {"method": method, "kind": kind, "noise_features": k, "max_sic": mid}
                        | {"max_sic_16": lo, "max_sic_84": hi, "null_pull": pull}
                        | {"seconds": seconds}
                    )
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(f"max SIC with K noise features, point {args.point}\n")
    print("| method | classifier | K | max SIC (median [16%, 84%]) | check pull | seconds |")
    print("|---|---|---:|---|---:|---:|")
    for r in rows:
        print(
            f"| {r['method']} | {r['kind']} | {r['noise_features']} "
            f"| {r['max_sic']:.2f} [{r['max_sic_16']:.2f}, {r['max_sic_84']:.2f}] "
            f"| {r['null_pull']:+.1f} | {r['seconds']:.0f} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
