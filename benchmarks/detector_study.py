"""The structure of a real detector's errors beside the simulated OpenPose's, on the same renderings.

BlazePose (:mod:`dispkit.detectors`) and the simulated OpenPose (:func:`dispkit.data.observations.simulate_openpose`,
at its calibrated level) detect the people of calibration scenes (kit generator, pare-like, seeds 800000+: apart
from every evaluation split); both are scored against the true BODY_25 keypoints of the rendered body
(:func:`dispkit.detectors.error_structure`): per-keypoint error distribution and offset, miss, outlier and
left/right swap rates, and how confidence relates to error.

Then ``--validate``: the simulated OpenPose with BlazePose's measured structure
(:data:`dispkit.data.observations.BLAZEPOSE_STRUCTURE`) gets its one noise level calibrated as the kit's own was
(SMPLify + GMM from pare-like estimates at the paper's 80.8 / 74.5 on the calibration scenes 800000-800019), and
both simulations and BlazePose itself are fitted on the in-distribution split (every estimator, every prior): their
ratios to the initial MPJPE beside the paper's OpenPose ratios, the validation of each simulation.

    python benchmarks/detector_study.py [--n 40] [--validate] [--n-validate 10]

writes benchmarks/results/detector_study.{json,png} (and detector_validation.png).
"""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import check_args, parser, run, write_result

from dispkit import detectors
from dispkit import evaluation as ev
from dispkit.body import OPENPOSE_NAMES, load_body_model
from dispkit.data import observations as obs
from dispkit.data.synthetic import make_scene
from dispkit.render import render

RESULTS = ROOT / "benchmarks" / "results" / "detector_study.json"
SEEDS = 800_000
#: keypoints both skeletons define the same way up to a definition gap (the small toes have no BlazePose landmark)
SHOWN = [n for n in OPENPOSE_NAMES if "SmallToe" not in n]


def detections(scenes, body, batch: int = 10):
    """BlazePose and the simulated OpenPose on the scenes, with the truth, the person sizes and visibility."""
    out = {k: [] for k in ("bp_kp", "bp_conf", "op_kp", "op_conf", "truth", "size", "visible")}
    det = detectors.BlazePose()
    definition = obs.DetectorDefinition(body)
    for b in ev.batches(scenes, body, batch):
        kp, conf = det(torch.stack([s.image for s in b.scenes]))
        views = render(b.go.vertices, body, b.cam, modalities=("depth",))
        op_kp, op_conf = obs.simulate_openpose(body, b.go.vertices, b.cam, b.size, ev._rng(b, 1), views=views,
                                               definition=definition)
        vis = obs.keypoint_visibility(definition, b.go.vertices, b.cam, views["depth"])
        for k, v in (("bp_kp", kp), ("bp_conf", conf), ("op_kp", op_kp), ("op_conf", op_conf),
                     ("truth", b.cam.project(b.go.openpose)), ("size", b.size), ("visible", vis >= 0.25)):
            out[k].append(v.detach().cpu())
    return {k: torch.cat(v) for k, v in out.items()}


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(16, 4.2), gridspec_kw={"width_ratios": [2.2, 1, 1]})
    x = np.arange(len(SHOWN))
    for k, (name, col) in enumerate((("BlazePose", "tab:red"), ("simulated OpenPose", "tab:blue"))):
        s = result[name]["per_keypoint"]
        med = [s[n]["median"] or 0 for n in SHOWN]
        p90 = [s[n]["p90"] or 0 for n in SHOWN]
        ax[0].bar(x + (k - 0.5) * 0.4, med, 0.4, color=col, label=f"{name}: median")
        ax[0].scatter(x + (k - 0.5) * 0.4, p90, color=col, marker="_", s=80, label=f"{name}: 90th percentile")
        q = result[name]["error_by_confidence_quartile"]
        rho = result[name]["all"]["spearman_conf_error"]
        ax[1].plot([1, 2, 3, 4], q, "o-", color=col, label=f"{name} (Spearman {rho:+.2f})")
        rates = [result[name]["all"]["miss_rate"], result[name]["all"]["outlier_rate"],
                 result[name]["swap_rate"]["arm"] or 0, result[name]["swap_rate"]["leg"] or 0]
        ax[2].bar(np.arange(4) + (k - 0.5) * 0.4, rates, 0.4, color=col, label=name)
    ax[0].set_xticks(x, SHOWN, rotation=60, fontsize=8)
    ax[0].set_ylabel("error / person size")
    ax[0].set_title("per-keypoint error against the true BODY_25 keypoints")
    ax[0].legend(fontsize=7)
    ax[1].set_xticks([1, 2, 3, 4], ["lowest", "2nd", "3rd", "highest"])
    ax[1].set_xlabel("confidence quartile")
    ax[1].set_ylabel("median error / person size")
    ax[1].set_title("does confidence say where the errors are?")
    ax[1].legend(fontsize=7)
    ax[2].set_xticks(np.arange(4), ["missed", "outliers", "arm swaps", "leg swaps"])
    ax[2].set_ylabel("rate")
    ax[2].set_title("misses, outliers, left/right swaps")
    ax[2].legend(fontsize=7)
    fig.suptitle(f"{result['n_scenes']} calibration scenes (kit generator, pare-like; seeds {SEEDS}+)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def validate(body, n: int, n_cal: int = 20) -> dict:
    """Calibrate the BlazePose-structured simulation's level, then the OP rows of both simulations and the
    BlazePose rows on the in-distribution split, beside the paper's OpenPose ratios."""
    from tables import SPLITS, split_scenes

    from dispkit import paper
    from dispkit.fit import FitConfig

    cfg = FitConfig()
    cal_scenes = [make_scene(SEEDS + k, "pare-like", body=body) for k in range(n_cal)]
    cal = ev.calibrate_level(cal_scenes, body, "openpose", 80.8 / 74.5, config=cfg, lo=0.0, hi=4.0, iters=6,
                             openpose_structure=obs.BLAZEPOSE_STRUCTURE)
    print(f"BlazePose-structured simulation: level {cal['level']:.3f} -> ratio {cal['ratio']:.3f}", flush=True)
    out = {"calibration": cal, "n_scenes": n, "rows": []}
    for reg in SPLITS["id"]:
        scenes = split_scenes("id", reg, n, body)
        priors = ["gmm", "vposer"] if reg == "hmr-like" else ["gmm", "vposer", "cnf"]
        runs = {"kit structure": ev.evaluate_split(scenes, body, ["OP", "BlazePose"], priors, config=cfg,
                                                   progress=False),
                "BlazePose structure": ev.evaluate_split(scenes, body, ["OP"], priors, config=cfg, progress=False,
                                                         openpose_level=cal["level"],
                                                         openpose_structure=obs.BLAZEPOSE_STRUCTURE)}
        init = runs["kit structure"]["rows"]["init"]["MPJPE"]
        for p in priors:
            row = ev.row_name(p, "OP")
            out["rows"].append({
                "estimator": reg, "prior": p, "paper": paper.ratio_to_init(reg, row),
                "simulated, kit structure": runs["kit structure"]["rows"][row]["MPJPE"] / init,
                "simulated, BlazePose structure": runs["BlazePose structure"]["rows"][row]["MPJPE"] / init,
                "BlazePose (real)": runs["kit structure"]["rows"][ev.row_name(p, "BlazePose")]["MPJPE"] / init})
        print(f"validation {reg} done", flush=True)
    for key in ("simulated, kit structure", "simulated, BlazePose structure", "BlazePose (real)"):
        d = [abs(r[key] - r["paper"]) for r in out["rows"] if r["paper"] is not None]
        out[f"mean |ratio - paper|, {key}"] = float(np.mean(d))
    return out


def plot_validation(val: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in val["rows"] if r["paper"] is not None]
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    styles = (("simulated, kit structure", "o", "tab:blue"), ("simulated, BlazePose structure", "s", "tab:orange"),
              ("BlazePose (real)", "*", "tab:red"))
    for key, marker, col in styles:
        err = val[f"mean |ratio - paper|, {key}"]
        ax.scatter([r["paper"] for r in rows], [r[key] for r in rows], marker=marker, color=col, s=60,
                   label=f"{key} (mean |kit - paper| {err:.2f})")
    for r in rows:
        ax.annotate(f"{r['estimator'].split('-')[0]} {r['prior']}", (r["paper"], r["simulated, kit structure"]),
                    fontsize=6, xytext=(3, 3), textcoords="offset points")
    vals = [r[k] for r in rows for k in ("paper", "simulated, kit structure", "simulated, BlazePose structure",
                                          "BlazePose (real)")]
    lim = [min(vals) - 0.05, max(vals) + 0.05]
    ax.plot(lim, lim, "k:", lw=1)
    ax.axhline(1.0, color="grey", lw=0.6)
    ax.set_xlabel("paper: OpenPose fit / initial MPJPE (3DPW)")
    ax.set_ylabel("kit: keypoint fit / initial MPJPE (in distribution)")
    ax.set_title(f"validation rows, {val['n_scenes']} scenes per estimator", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40, help="calibration scenes")
    ap.add_argument("--validate", action="store_true", help="calibrate the BlazePose-structured simulation and "
                    "fit the validation rows")
    ap.add_argument("--n-validate", type=int, default=10, help="scenes per estimator of the validation")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    check_args(ap, args)
    if not detectors.available():
        ap.error(detectors.missing_message())
    t0 = time.perf_counter()
    body = load_body_model("open")
    scenes = [make_scene(SEEDS + k, "pare-like", body=body) for k in range(args.n)]
    d = detections(scenes, body)
    result = {"n_scenes": args.n, "seeds": [SEEDS, SEEDS + args.n - 1], "openpose_level": obs.OPENPOSE_LEVEL,
              "truth": "the rendered body's BODY_25 keypoints (dispkit.body, out.openpose) projected",
              "size": "the initial estimate's projected extent (pixels), as the fits' person scale",
              "visible": "keypoint_visibility >= 0.25 (a quarter of the keypoint's support vertices seen)"}
    for name, kp, conf in (("BlazePose", d["bp_kp"], d["bp_conf"]), ("simulated OpenPose", d["op_kp"], d["op_conf"])):
        result[name] = detectors.error_structure(kp, conf, d["truth"], d["size"], d["visible"])
    if args.validate:
        result["validation"] = validate(body, args.n_validate)
        plot_validation(result["validation"], Path(args.out).with_name("detector_validation.png"))
    result["wall_s"] = time.perf_counter() - t0
    result["machine"] = {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__}
    write_result(result, args.out)
    plot(result, Path(args.out).with_suffix(".png"))
    for name in ("BlazePose", "simulated OpenPose"):
        a = result[name]["all"]
        print(f"{name}: median error {a['median']:.3f} x size, 90th pct {a['p90']:.3f}, missed {a['miss_rate']:.3f}, "
              f"outliers {a['outlier_rate']:.3f}, swaps {result[name]['swap_rate']}, "
              f"Spearman(conf, error) {a['spearman_conf_error']:+.2f}")
    return result


if __name__ == "__main__":
    run(main)
