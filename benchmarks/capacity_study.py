"""Capacity of the CPU displacement network at equal wall time: width, stacks and crop size, measured out of
distribution.

Issue 16 asks for the network's capacity to be chosen by measurement. Each variant of the ``cpu`` config (wider
layers, one more hourglass stack, 96² or 128² crops; ``field_scale`` grows with the crop as in ``cpu96``) is
trained *from scratch* on the same broad training stream (:mod:`dispkit.data.broad`, seed 0, batch 8) for the
same wall-time budget. The budget is turned into a number of steps per variant by measuring every variant's
end-to-end throughput side by side first (interleaved, so a busy machine slows all alike), so that the
comparison does not depend on what else the machine does during the long runs. Every run gets its own full
warm-up + cosine schedule and resumes after an interruption (``runs/capacity/<variant>/last.pt``).

The trained networks are then evaluated together (one :func:`dispkit.evaluation.network_epe` call per split, the
same renderings for all) on the out-of-distribution split and on the single-photograph split of ``bench_net.py``
(``hopper``; stored under the key ``photo`` here); the
measure is the EPE over the zero field (lower is better).

    python benchmarks/capacity_study.py [--minutes 10] [--variants base wide stacks3 crop96 crop128] [--n 20]

writes benchmarks/results/capacity.json and capacity.png (about 6 x MINUTES + 15 minutes on 2 cores, plus the
texture pool's first build). What it measures is the ranking at a short budget from scratch, not the capacity
the long fine-tuned ``cpu_full`` run would reach.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import check_args, parser, run, write_result
from bench_net import SPLITS, photo_folder
from bench_train import _end_to_end_rate

from dispkit import evaluation as ev
from dispkit import machine
from dispkit import net as netmod
from dispkit import train as trainmod
from dispkit.body import load_body_model
from dispkit.checkpoints import model_from_checkpoint
from dispkit.data.synthetic import make_scene
from dispkit.data.training import load_split, write_split

RESULTS = ROOT / "benchmarks" / "results" / "capacity.json"
_BASE = netmod.CONFIGS["cpu"]
#: the variants: one change each from the shipped ``cpu`` config
VARIANTS = {
    "base": replace(_BASE, name="cap_base"),
    "wide": replace(_BASE, name="cap_wide", stem_width=24, block_width=24, features=96),
    "stacks3": replace(_BASE, name="cap_stacks3", stacks=3),
    "crop96": replace(_BASE, name="cap_crop96", crop=96, field_scale=6.0),
    "crop128": replace(_BASE, name="cap_crop128", crop=128, field_scale=8.0),
}


def _register() -> None:
    """Make the variants known to :mod:`dispkit.net` by name, as the training code builds networks by name."""
    for cfg in VARIANTS.values():
        netmod.CONFIGS[cfg.name] = cfg


def _train_config(variant: str, steps: int, runs: Path) -> trainmod.TrainConfig:
    return trainmod.TrainConfig(config=VARIANTS[variant].name, steps=steps, warmup=min(50, steps // 10),
                                log_every=25, checkpoint_every=50, out=str(runs / variant), distribution="broad")


def _plot(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["variants"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, split in zip(axes, ("ood", "photo")):
        vals = [result["variants"][n][split]["ratio_to_zero_field"] for n in names]
        bars = ax.bar(names, vals, color=["#4c72b0" if n == "base" else "#999999" for n in names])
        ax.bar_label(bars, [f"{v:.2f}" for v in vals], fontsize=8)
        ax.set_title(f"{split} split: EPE / zero field (lower is better)")
        ax.set_ylim(0, max(1.05, max(vals) * 1.1))
        ax.axhline(1.0, color="k", lw=0.7, ls=":")
    labels = [f"{n}\n{result['variants'][n]['params'] / 1e3:.0f}k params\n{result['variants'][n]['steps']} steps"
              for n in names]
    for ax in axes:
        ax.set_xticks(range(len(names)), labels, fontsize=7)
    fig.suptitle(f"cpu network variants, each trained from scratch for {result['minutes']:g} min of this machine's "
                 "measured throughput", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="wall-time budget per variant (measured throughput)")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"from {', '.join(VARIANTS)}")
    ap.add_argument("--n", type=int, default=20, help="scenes of each evaluation split")
    ap.add_argument("--probe-steps", type=int, default=12, help="timed steps of each throughput measurement")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "capacity"), help="the variants' run folders (resumable)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    check_args(ap, args, choices={"--variants": (args.variants, list(VARIANTS))})
    if args.minutes <= 0 or args.n < 1 or args.probe_steps < 2:
        ap.error("--minutes must be > 0, --n >= 1 and --probe-steps >= 2")
    _register()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    probe_file = runs / "throughput.json"
    rates = json.loads(probe_file.read_text()) if probe_file.is_file() else {}
    todo = [v for v in args.variants if v not in rates]
    for r in range(2 if todo else 0):  # two interleaved rounds; the mean of the two
        for v in todo:
            cfg = _train_config(v, 1, runs)
            rate = _end_to_end_rate(replace(cfg, threads=max(1, (os.cpu_count() or 1) - cfg.workers)),
                                    trainmod.resolve_precision("auto", "cpu"), args.probe_steps)
            rates.setdefault(v + "_rounds", []).append(rate)
            print(f"throughput round {r + 1}/2 {v}: {rate:.1f} samples/s", flush=True)
    for v in todo:
        rates[v] = float(np.mean(rates[v + "_rounds"]))
    probe_file.write_text(json.dumps(rates, indent=1))
    result = {"minutes": args.minutes, "n_scenes": args.n, "batch_size": 8, "distribution": "broad",
              "machine": machine.describe(), "variants": {}}
    models = {}
    for v in args.variants:
        steps = max(10, int(round(args.minutes * 60 * rates[v] / 8)))
        cfg = replace(_train_config(v, steps, runs), threads=max(1, (os.cpu_count() or 1) - 1))
        last = runs / v / "last.pt"
        done = last.is_file() and torch.load(last, map_location="cpu", weights_only=False)["step"] >= steps
        if not done:
            print(f"== {v}: {steps} steps ({rates[v]:.1f} samples/s x {args.minutes:g} min)", flush=True)
            trainmod.train(cfg, resume=True, progress=True)
        models[v] = model_from_checkpoint(last)
        result["variants"][v] = {"config": VARIANTS[v].to_dict(), "samples_per_s": rates[v], "steps": steps,
                                 "params": sum(p.numel() for p in models[v].parameters())}
    body = load_body_model("open")
    for split in ("ood", "photo"):
        if split == "photo":
            folder, _ = photo_folder("")
            scenes = [make_scene(960_000 + i, "pare-like", body=body, background_dir=folder) for i in range(args.n)]
        else:
            path, seeds, regressor, distribution, size = SPLITS[split]
            if not path.is_file():
                write_split(path, seeds, regressor, *size, body=body, distribution=distribution)
            scenes = [s for _, s in zip(range(args.n), load_split(path, body=body))]
        r = ev.network_epe(scenes, models, body)
        for v in models:
            result["variants"][v][split] = {k: r[v][k] for k in ("epe_px", "zero_field_epe_px", "ratio_to_zero_field",
                                                                  "scene_ratio_median", "inference_ms_per_frame")}
            print(f"{split:5s} {v:8s} ratio {r[v]['ratio_to_zero_field']:.3f} (median {r[v]['scene_ratio_median']:.3f})"
                  f", {r[v]['inference_ms_per_frame']:.1f} ms/frame", flush=True)
    best = min(result["variants"], key=lambda v: result["variants"][v]["ood"]["ratio_to_zero_field"])
    result["best_ood"] = best
    write_result(result, args.out)
    _plot(result, Path(args.out).with_suffix(".png"))
    print(f"best out of distribution at {args.minutes:g} min: {best}")
    return result


if __name__ == "__main__":
    run(main)
