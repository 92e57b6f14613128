"""Texture ablations (Table 3 of the paper) on held-out synthetic scenes with the shipped checkpoints.

For every scene of the held-out pare-like split, the person's texture is estimated the paper's way: back-projected
from 4 other frames of the same person (:func:`dispkit.texture.scene_texture`: GT meshes, the frames of
:func:`dispkit.data.synthetic.reference_frames`), as the shipped checkpoints were trained. Variants of the
network's input:

* ``full (estimated texture)``; ``+ noise N(0,10)``, ``+ noise N(0,30)`` (pixel-wise); ``+ brightness N(0,25)``,
  ``+ brightness N(0,50)`` (one offset per texture; 0-255 scale); ``wrong texture`` (the next scene's person);
* ``no texture`` (the model trained without RGB renderings) and ``texture only`` (RGB renderings only).

For each: EPE of the predicted field (full-image pixels, over rendered pixels) and SMPLify (GMM and VPoser) with
the predicted dense term; metrics in mm on the 24 SMPL joints.

    python benchmarks/texture_ablation.py [--n 20] [--priors gmm vposer]

writes benchmarks/results/texture_ablation.json and .md. Goal (issue 7): the paper's ordering -- full best, the
wrong texture worst among textured inputs, the no-texture model still better than the initial estimate.
"""
from __future__ import annotations

import argparse
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

from _common import add_fit_arguments, fit_config, stack_params, write_result

from dispkit import fit, pipeline, texture
from dispkit import net as netmod
from dispkit.body import load_body_model
from dispkit.data.training import load_split
from dispkit.displacement import pixel_field, vertex_displacements
from dispkit.metrics import evaluate
from dispkit.terms import DATA_WEIGHTS

RESULTS = ROOT / "benchmarks" / "results" / "texture_ablation.json"
SPLIT = ROOT / "benchmarks" / "splits" / "heldout_pare_100.npz"
METRICS = ("MPJPE", "PA-MPJPE", "PVE", "PA-PVE")
VARIANTS = ("full (estimated texture)", "+ noise N(0,10)", "+ noise N(0,30)", "+ brightness N(0,25)",
            "+ brightness N(0,50)", "wrong texture", "no texture", "texture only")


def variant_inputs(name, est, wrong, seeds):
    """(checkpoint, textures [B,S,S,3]) of a variant."""
    if name.startswith("+ noise"):
        sigma = float(name.split("(0,")[1].rstrip(")"))
        return "cpu_full", torch.stack([texture.degrade(t, "noise", sigma, s) for t, s in zip(est, seeds)])
    if name.startswith("+ brightness"):
        sigma = float(name.split("(0,")[1].rstrip(")"))
        return "cpu_full", torch.stack([texture.degrade(t, "brightness", sigma, s) for t, s in zip(est, seeds)])
    if name == "wrong texture":
        return "cpu_full", wrong
    if name == "no texture":
        return "cpu_no_texture", est
    if name == "texture only":
        return "cpu_texture_only", est
    return "cpu_full", est


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--priors", nargs="+", default=["gmm", "vposer"])
    add_fit_arguments(ap)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    body = load_body_model("open")
    nets = {k: netmod.load_pretrained(k) for k in ("cpu_full", "cpu_no_texture", "cpu_texture_only")}
    cfg = fit_config(args)
    scenes = [s for k, s in zip(range(args.n), load_split(SPLIT, body=body))]
    args.n = len(scenes)  # the split may hold fewer
    t_start = time.perf_counter()
    estimates, tex_err = [], []
    for s in scenes:
        est, info = texture.scene_texture(s, 4, body=body)
        estimates.append(est)
        tex_err.append(texture.texture_error(est, s.texture, body, info["seen"]) | {"coverage": info["coverage"]})
    print(f"textures estimated: {time.perf_counter() - t_start:.0f} s", flush=True)
    rows = {"init": {m: [] for m in METRICS}}
    epe = {v: [0.0, 0] for v in VARIANTS}
    for c0 in range(0, args.n, args.batch):
        chunk = scenes[c0:c0 + args.batch]
        B = len(chunk)
        cam = chunk[0].camera
        gt, init = stack_params(chunk, "gt"), stack_params(chunk, "init")
        with torch.no_grad():
            go, io = body(**gt), body(**init)
        m0 = evaluate(io.vertices, go.vertices, io.joints, go.joints, per_frame=True)
        for m in METRICS:
            rows["init"][m] += m0[m].tolist()
        est = torch.stack(estimates[c0:c0 + B])
        wrong = torch.stack([estimates[(c0 + i + 1) % len(estimates)] for i in range(B)])  # the next scene's person
        image = torch.stack([s.image for s in chunk])
        for v in VARIANTS:
            ckpt, tex = variant_inputs(v, est, wrong, [s.seed for s in chunk])
            term, ex = pipeline.predicted_dense_term(image, io.vertices, cam, tex, body, nets[ckpt])
            views = ex["views"]
            gt_field = pixel_field(vertex_displacements(go.vertices, io.vertices, views["camera"]),
                                   views["face_index"], views["bary"], body.faces)
            scale = (nets[ckpt].config.crop / (ex["box"][:, 2] - ex["box"][:, 0]))[:, None, None]
            err = (ex["field"] - gt_field).norm(dim=-1) / scale
            mask = views["mask"]
            epe[v][0] += float(err[mask].sum())
            epe[v][1] += int(mask.sum())
            for prior in args.priors:
                term.weight = DATA_WEIGHTS["dense"][prior]
                r = fit.smplify(body, init, cam, term, prior=prior, config=cfg)
                mm = evaluate(r.vertices, go.vertices, r.joints, go.joints, per_frame=True)
                d = rows.setdefault(f"{v} +{prior.upper()}", {m: [] for m in METRICS})
                for m in METRICS:
                    d[m] += mm[m].tolist()
        print(f"{min(c0 + args.batch, args.n)}/{args.n} scenes, {time.perf_counter() - t_start:.0f} s", flush=True)
    result = {
        "n_scenes": args.n, "split": str(SPLIT.relative_to(ROOT)), "priors": args.priors, "fit_config": vars(cfg),
        "texture_estimation": {"frames": 4, "seen_mean_abs_error_255": float(np.mean(
            [e["seen_mean_abs_error_255"] for e in tex_err])), "coverage": float(np.mean([e["coverage"] for e in
                                                                                           tex_err]))},
        "epe_px": {v: e[0] / max(e[1], 1) for v, e in epe.items()},
        "rows": {k: {m: float(np.mean(x)) for m, x in d.items()} for k, d in rows.items()},
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__},
        "wall_s": time.perf_counter() - t_start,
    }
    textured = list(VARIANTS[:6])
    result["goals"] = {
        "full_best_epe": min(textured + ["no texture", "texture only"], key=result["epe_px"].get) == VARIANTS[0],
        "wrong_worst_textured_epe": max(textured, key=result["epe_px"].get) == "wrong texture",
        **{f"no_texture_improves_init_{p}": result["rows"][f"no texture +{p.upper()}"]["MPJPE"]
           < result["rows"]["init"]["MPJPE"] for p in args.priors},
    }
    write_result(result, args.out)
    md = markdown(result)
    Path(args.out).with_suffix(".md").write_text(md)
    print(md)
    return result


def markdown(result) -> str:
    lines = [f"Texture ablations on {result['n_scenes']} held-out pare-like scenes (textures back-projected from 4 "
             f"frames: coverage {result['texture_estimation']['coverage']:.2f}, error "
             f"{result['texture_estimation']['seen_mean_abs_error_255']:.1f}/255 on seen vertices). EPE in "
             "full-image pixels, metrics in mm.", "",
             "| input | EPE | " + " | ".join(f"{m} ({p.upper()})" for p in result["priors"] for m in METRICS) + " |",
             "|" + "---|" * (2 + len(METRICS) * len(result["priors"]))]
    init = result["rows"]["init"]
    lines.append("| initial estimate | | " + " | ".join(f"{init[m]:.1f}" for p in result["priors"] for m in METRICS)
                 + " |")
    for v, e in result["epe_px"].items():
        vals = " | ".join(f"{result['rows'][f'{v} +{p.upper()}'][m]:.1f}" for p in result["priors"] for m in METRICS)
        lines.append(f"| {v} | {e:.2f} | {vals} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
