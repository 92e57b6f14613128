"""Accuracy and speed of the displacement network's shipped checkpoints on a fixed held-out synthetic split.

For every scene of the split (pare-like initial estimates, seeds never used for training: the training data
draws from its own seeded stream), the person crop is resampled from the full image around the initial
estimate, the estimate is rendered with the person's texture back-projected from 4 other frames (§4,
:func:`dispkit.texture.scene_texture`; ``--texture simulated`` uses make_scene's simulated estimate instead), and
the network predicts the per-pixel field.
EPE is the mean L2 error over all rendered pixels of the split, converted to full-image pixels; the zero-field
baseline predicts no displacement (its EPE is the mean GT displacement).

    python benchmarks/bench_net.py [--n 100] [--checkpoints cpu_full cpu_no_texture cpu_texture_only PATH ...]

writes benchmarks/results/net.json. Goals (issue 5): full EPE <= 0.5 x zero-field, and full < no_texture.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import write_result

from dispkit import net as netmod
from dispkit import texture
from dispkit.body import load_body_model
from dispkit.checkpoints import CHECKPOINT_DIR
from dispkit.data.training import load_split, scene_sample, write_split

RESULTS = ROOT / "benchmarks" / "results" / "net.json"
SPLIT = ROOT / "benchmarks" / "splits" / "heldout_pare_100.npz"
HELDOUT_SEEDS = range(900_000, 900_100)


def shipped_log(name):
    path = CHECKPOINT_DIR / f"{name}.log.csv"
    if not path.is_file():
        return None
    rows = list(csv.DictReader(path.open()))
    return {"steps": int(rows[-1]["step"]), "train_samples_per_s": float(rows[-1]["samples_per_s"]),
            "train_wall_s": float(rows[-1]["elapsed_s"]), "final_train_epe_crop_px": float(rows[-1]["epe_px"])}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="scenes of the split to use")
    ap.add_argument("--checkpoints", nargs="+", default=["cpu_full", "cpu_no_texture", "cpu_texture_only"])
    ap.add_argument("--texture", choices=["backprojected", "simulated"], default="backprojected",
                    help="texture of the RGB rendering: back-projected from 4 other frames of the person (the "
                         "paper's way, as the shipped checkpoints were trained) or make_scene's simulated one")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    body = load_body_model("open")
    if not SPLIT.is_file():
        write_split(SPLIT, HELDOUT_SEEDS, "pare-like", body=body)
    models = {}
    result = {"split": str(SPLIT.relative_to(ROOT)), "regressor": "pare-like", "n_scenes": args.n,
              "texture": args.texture,
              "epe": "mean L2 over all rendered pixels of the split, full-image pixels",
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
              "checkpoints": {}}
    for name in args.checkpoints:
        try:
            models[name] = netmod.load_pretrained(name)
        except FileNotFoundError as e:
            result["checkpoints"][name] = {"missing": str(e)}
            print(f"{name}: missing ({e})")
    crops = {m.config.crop for m in models.values()} or {64}
    sums = {name: 0.0 for name in models}
    zero = {c: 0.0 for c in crops}
    count = {c: 0 for c in crops}
    times = {name: [] for name in models}
    for k, scene in enumerate(load_split(SPLIT, body=body)):
        if k >= args.n:
            break
        tex = texture.scene_texture(scene, body=body)[0] if args.texture == "backprojected" else None
        samples = {c: scene_sample(scene, c, body, texture=tex) for c in crops}
        for c, s in samples.items():
            m = s["mask"]
            zero[c] += float((s["field"][m].norm(dim=-1) / s["scale"]).sum())
            count[c] += int(m.sum())
        for name, model in models.items():
            s = samples[model.config.crop]
            views = {key: s[key][None] for key in ("rgb", "depth", "normal", "vertex_color", "mask")}
            t0 = time.perf_counter()
            pred = model.predict(s["image"][None], views)[0]
            times[name].append(time.perf_counter() - t0)
            m = s["mask"]
            sums[name] += float(((pred - s["field"])[m].norm(dim=-1) / s["scale"]).sum())
    for c in crops:
        result[f"zero_field_epe_px_crop{c}"] = zero[c] / max(count[c], 1)
    for name, model in models.items():
        c = model.config.crop
        epe = sums[name] / max(count[c], 1)
        base = zero[c] / max(count[c], 1)
        row = {"inputs": model.config.inputs, "config": model.config.name, "crop": c, "epe_px": epe,
               "zero_field_epe_px": base, "ratio_to_zero_field": epe / base,
               "inference_ms_per_frame": 1e3 * sorted(times[name])[len(times[name]) // 2],
               "params": sum(p.numel() for p in model.parameters())}
        log = shipped_log(name)
        if log:
            row.update(log)
        result["checkpoints"][name] = row
        print(f"{name:18s} EPE {epe:6.2f} px (zero field {base:.2f} px, ratio {epe / base:.2f}); "
              f"{row['inference_ms_per_frame']:.1f} ms/frame", flush=True)
    ck = result["checkpoints"]
    goals = {}
    if "cpu_full" in models:
        goals["full_ratio_to_zero_field"] = ck["cpu_full"]["ratio_to_zero_field"]
        goals["full_at_most_half_of_zero_field"] = ck["cpu_full"]["ratio_to_zero_field"] <= 0.5
        if "cpu_no_texture" in models:
            goals["full_better_than_no_texture"] = ck["cpu_full"]["epe_px"] < ck["cpu_no_texture"]["epe_px"]
    result["goals"] = goals
    print(json.dumps(goals))
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
