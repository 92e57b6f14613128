"""Accuracy and speed of the displacement network's shipped checkpoints on the in- and out-of-distribution splits.

For every scene of a split (pare-like estimates on held-out seeds of the kit's generator, and ood-pare-like
estimates on the out-of-distribution scenes of dispkit.data.ood; the training data draws from its own seeded
stream; dispkit.evaluation.network_epe), the person crop is resampled from the full image around the initial
estimate, the estimate is rendered with the person's texture back-projected from 4 other frames (§4,
:func:`dispkit.texture.scene_texture`; ``--texture simulated`` uses make_scene's simulated estimate instead), and
the network predicts the per-pixel field.
EPE is the mean L2 error over all rendered pixels of the split, converted to full-image pixels; the zero-field
baseline predicts no displacement (its EPE is the mean GT displacement). Beside the ratio over all pixels of the
split (where the largest people weigh most) the median of the per-scene ratios and the count of scenes where
the prediction is worse than none.

A third split, ``photo``, is the held-out-appearance split: the in-distribution generator's people, poses, cameras
and regressor errors (seeds 960 000 +) in clothing families no training scene wears (camouflage, tartan, patches of
held-out photographs), before the held-out photographs of :mod:`dispkit.data.photos` (no crop of them is ever
drawn in training), under :func:`dispkit.data.wide.shade_wide`'s lights (``make_scene(distribution="photo")``).
A fourth, ``hopper``, is the earlier single-photograph split: the kit's people and clothing over random crops of
matplotlib's ``grace_hopper.jpg`` (one of the held-out photographs), or over the images of ``--photos DIR``.

    python benchmarks/bench_net.py [--n 100] [--checkpoints cpu_full cpu_no_texture cpu_texture_only PATH ...]

writes benchmarks/results/net.json. Goals: full EPE <= 0.38 x the zero field in distribution, <= 0.45 x out of
distribution and <= 0.50 x on the held-out-appearance split.
"""
from __future__ import annotations

import csv
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import check_args, parser, run, write_result

from dispkit import evaluation as ev
from dispkit import net as netmod
from dispkit.body import load_body_model
from dispkit.checkpoints import CHECKPOINT_DIR
from dispkit.data.synthetic import make_scene
from dispkit.data.training import load_split, write_split

RESULTS = ROOT / "benchmarks" / "results" / "net.json"
SPLITS = {  # the in-distribution split and the out-of-distribution one (dispkit.data.ood), as benchmarks/tables.py
    "id": (ROOT / "benchmarks" / "splits" / "heldout_pare_100.npz", range(900_000, 900_100), "pare-like", "kit",
           (320, 240)),
    "ood": (ROOT / "benchmarks" / "splits" / "ood_pare_100.npz", range(950_000, 950_100), "ood-pare-like", "ood",
            (240, 426)),
    "photo": (ROOT / "benchmarks" / "splits" / "photo_pare_100.npz", range(960_000, 960_100), "pare-like", "photo",
              (320, 240)),
}


def photo_folder(photos: str) -> tuple[str, str]:
    """A folder holding only photographs for the photo split, and what it holds (for the JSON)."""
    if photos:
        folder = Path(photos).expanduser()
        names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        return str(folder), f"{len(names)} photographs of {folder}"
    import matplotlib

    src = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    folder = Path(tempfile.mkdtemp(prefix="dispkit_photos_"))
    shutil.copy(src, folder / src.name)
    return str(folder), "matplotlib's sample photograph grace_hopper.jpg (random crops)"


def shipped_log(name):
    path = CHECKPOINT_DIR / f"{name}.log.csv"
    if not path.is_file():
        return None
    rows = list(csv.DictReader(path.open()))
    return {"steps": int(rows[-1]["step"]), "train_samples_per_s": float(rows[-1]["samples_per_s"]),
            "train_wall_s": float(rows[-1]["elapsed_s"]), "final_train_epe_crop_px": float(rows[-1]["epe_px"])}


def main(argv=None):
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="scenes of the split to use")
    ap.add_argument("--checkpoints", nargs="+", default=["cpu_full", "cpu_no_texture", "cpu_texture_only"])
    ap.add_argument("--texture", choices=["backprojected", "simulated"], default="backprojected",
                    help="texture of the RGB rendering: back-projected from 4 other frames of the person (the "
                         "paper's way, as the shipped checkpoints were trained) or make_scene's simulated one")
    ap.add_argument("--photos", default="", help="a folder of photographs for the hopper split (default: "
                                                 "matplotlib's sample photograph)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    check_args(ap, args, nets=args.checkpoints)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    body = load_body_model("open")
    models = {}
    result = {"splits": {}, "regressor": "pare-like", "n_scenes": args.n, "texture": args.texture,
              "epe": "mean L2 over all rendered pixels of the split, full-image pixels",
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
              "checkpoints": {}}
    for name in args.checkpoints:
        models[name] = netmod.load_pretrained(name)
    for split in (*SPLITS, "hopper"):
        if split == "hopper":
            folder, photos = photo_folder(args.photos)
            scenes = [make_scene(960_000 + i, "pare-like", body=body, background_dir=folder) for i in range(args.n)]
            where, regressor = f"kit generator, seeds 960000+, over {photos}", "pare-like"
        else:
            path, seeds, regressor, distribution, size = SPLITS[split]
            if not path.is_file():
                write_split(path, seeds, regressor, *size, body=body, distribution=distribution)
            scenes = [s for _, s in zip(range(args.n), load_split(path, body=body))]
            where = str(path.relative_to(ROOT))
        r = ev.network_epe(scenes, models, body, texture=args.texture)
        result["splits"][split] = {"split": where, "regressor": regressor,
                                   "n_scenes": len(scenes), "zero_field_epe_px": r["zero_field_epe_px"]}
        for name, model in models.items():
            row = {"inputs": model.config.inputs, "config": model.config.name, "crop": model.config.crop,
                   "params": sum(p.numel() for p in model.parameters()), **r[name]}
            if split == "id":
                row.update(shipped_log(name) or {})
            result["checkpoints"].setdefault(name, {})[split] = row
            print(f"{split:3s} {name:18s} EPE {row['epe_px']:6.2f} px (zero field {row['zero_field_epe_px']:.2f} px, "
                  f"ratio {row['ratio_to_zero_field']:.3f}; per-scene median {row['scene_ratio_median']:.3f}, "
                  f"{row['scenes_worse_than_zero_field']}/{len(scenes)} scenes worse than the zero field); "
                  f"{row['inference_ms_per_frame']:.1f} ms/frame", flush=True)
    ck = result["checkpoints"]
    goals = {}
    if "cpu_full" in models:
        for split in (*SPLITS, "hopper"):
            goals[f"full_ratio_to_zero_field_{split}"] = ck["cpu_full"][split]["ratio_to_zero_field"]
            goals[f"full_scene_ratio_median_{split}"] = ck["cpu_full"][split]["scene_ratio_median"]
        for split, goal in (("id", 0.38), ("ood", 0.45), ("photo", 0.50)):
            goals[f"{split}_at_most_{goal:.2f}_of_zero_field"] = ck["cpu_full"][split]["ratio_to_zero_field"] <= goal
        if "cpu_no_texture" in models:
            full, nt = ck["cpu_full"]["id"]["epe_px"], ck["cpu_no_texture"]["id"]["epe_px"]
            goals["full_better_than_no_texture_id"] = full < nt
    result["goals"] = goals
    print(json.dumps(goals))
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    run(main)
