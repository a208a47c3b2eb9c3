#!/usr/bin/env python3
"""Compare `maskscope inspect --lens --knockout --norms --rollout --head-stats --head-importance` with the
reference of Scripts/make_inside_fixtures.py on any checkpoint (issue #11's check on the real shapes).

    /root/msvenv/bin/python Scripts/make_inside_fixtures.py --model DIR --text "Paris is the <mask> of France." --out /tmp/ref.json
    /root/msvenv/bin/python Scripts/compare_inside.py --reference /tmp/ref.json [--binary .build/release/maskscope]

For each case of the reference: maskscope runs on the same model and text; the lens (top-5 ids in order, scores,
the final top's rank and probability per layer), the knock-outs (fill-mask top-5 and lens), the head importance,
the attention norms, the rollout and the head statistics (values and labels) are compared. Prints the largest
difference per field; exits 1 when a value differs by more than --tolerance (1e-5, relative to the largest
magnitude for the norms) or an id, rank or label differs.  Standard library only.
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def flat(x):
    if isinstance(x, list):
        for item in x:
            yield from flat(item)
    else:
        yield x


class Report:
    def __init__(self, tolerance):
        self.tolerance = tolerance
        self.worst = {}
        self.bad = []

    def close(self, field, got, want, relative=False):
        got, want = list(flat(got)), list(flat(want))
        if len(got) != len(want):
            self.bad.append(f"{field}: {len(got)} values, reference {len(want)}")
            return
        scale = max((abs(w) for w in want if w is not None), default=1.0) if relative else 1.0
        worst = 0.0
        for g, w in zip(got, want):
            if g is None or w is None:
                if g != w:
                    self.bad.append(f"{field}: {g} vs {w}")
                continue
            worst = max(worst, abs(g - w) / scale)
        self.worst[field] = max(self.worst.get(field, 0.0), worst)
        if worst > self.tolerance:
            self.bad.append(f"{field}: largest difference {worst:.3g} > {self.tolerance:g}")

    def equal(self, field, got, want):
        self.worst.setdefault(field + " (exact)", 0.0)
        if got != want:
            self.bad.append(f"{field}: {got!r} vs {want!r}")


def lens_compare(report, field, got, want):
    for g, w in zip(got, want):
        for layer, (gl, wl) in enumerate(zip(g["layers"], w["layers"])):
            report.equal(f"{field} ids", [c["token"] for c in gl], [c["token"] for c in wl])
            report.close(f"{field} scores", [c["score"] for c in gl], [c["score"] for c in wl])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--binary", default=str(REPO / ".build/release/maskscope"))
    ap.add_argument("--tolerance", type=float, default=1e-5)
    args = ap.parse_args()
    reference = json.loads(Path(args.reference).read_text())
    report = Report(args.tolerance)

    def inspect(model, text, *flags):
        out = subprocess.run([args.binary, "inspect", "--model", model, "--json", "--top-k", "5", *flags, text],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)

    for case in reference["cases"]:
        model = str(Path(case["path"]) if Path(case["path"]).is_absolute() else REPO / case["path"])
        text = case["text"]
        got = inspect(model, text, "--lens", "--norms", "--rollout", "--head-stats", "--head-importance")
        report.equal("ids", got["ids"], case["ids"])
        for g, w in zip(got["masks"], case["masks"]):
            report.equal("fill-mask ids", [c["token"] for c in g["top"]], [c["token"] for c in w["top"]])
            report.close("fill-mask scores", [c["score"] for c in g["top"]], [c["score"] for c in w["top"]])
        lens_compare(report, "lens", got["lens"], case["lens"])
        if case.get("attention_norms") is not None:
            report.close("attention norms (relative)", got["attention_norms"], case["attention_norms"], relative=True)
        report.close("rollout", got["rollout"], case["rollout"])
        for gl, wl in zip(got["head_stats"], case["head_stats"]):
            for g, w in zip(gl, wl):
                for key in ("entropy", "entropy_max", "to_bos", "to_eos", "to_prev", "to_self", "to_next", "to_punct"):
                    report.close(f"head stats {key}", [g[key]], [w[key]])
                report.equal("head labels", g["label"], w["label"])
        imp = case["head_importance"]
        report.equal("head importance target", got["head_importance"]["token"], imp["target"])
        report.close("head importance deltas", got["head_importance"]["delta"], imp["delta"])
        for k in case["knockout"]:
            knocked = inspect(model, text, "--lens", "--knockout", ",".join(k["names"]))
            report.equal("knockout echo", sorted(knocked["knockout"]), sorted(k["names"]))
            for g, w in zip(knocked["masks"], k["masks"]):
                report.equal("knockout fill-mask ids", [c["token"] for c in g["top"]], [c["token"] for c in w["top"]])
                report.close("knockout fill-mask scores", [c["score"] for c in g["top"]], [c["score"] for c in w["top"]])
            lens_compare(report, "knockout lens", knocked["lens"], k["lens"])

    print(f"{'field':<34}{'largest difference':>20}")
    for field, worst in sorted(report.worst.items()):
        print(f"{field:<34}{worst:>20.3g}")
    for line in report.bad[:20]:
        print("MISMATCH " + line)
    print("RESULT: " + ("match" if not report.bad else f"{len(report.bad)} mismatches"))
    sys.exit(1 if report.bad else 0)


if __name__ == "__main__":
    main()
