"""Seconds per frame of the refinement and of SMPLify alone: posing the whole mesh vs the vertices the terms read.

For the same scenes (held-out seeds of the kit's generator, pare-like estimates, 320 x 240) and the same data, each
fit runs twice side by side in one process: with ``FitConfig(subset_lbs=False)`` (every iteration poses all 13 492
vertices of the open body model) and with ``subset_lbs=True`` (:mod:`dispkit.lbs`: only the vertices the data term
reads, and the joints). Reported per case: seconds per frame of each path, their ratio, and how far the two fits
end apart (the largest vertex distance and the largest per-frame MPJPE difference over the batch, mm).

Cases: ``refine`` (crop, render, predict, Eq. 5-6 and the fit, ``dispkit.refine``) and ``smplify`` alone on the GT
dense term, on simulated OpenPose keypoints, each with every prior; at each ``--batches`` size and each
``--threads`` count.

    python benchmarks/bench_refine.py [--batches 1 8 32] [--threads 1 2] [--priors gmm vposer cnf]

writes benchmarks/results/refine.json. Goals: ``refine`` <= 0.20 s / frame at batch 8 on 2 cores, SMPLify with the
dense term <= 0.10 s / frame, the two paths within 0.5 mm of each other.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import check_args, parser, run, stack_params, write_result

from dispkit import fit, pipeline, terms
from dispkit.body import load_body_model
from dispkit.data import observations as obs
from dispkit.data.synthetic import make_scene

RESULTS = ROOT / "benchmarks" / "results" / "refine.json"


def _apart(a, b) -> dict:
    dv = (a.vertices - b.vertices).norm(dim=-1).amax(-1)                             # [B] m
    ja = (a.joints - b.joints).norm(dim=-1).mean(-1)
    return {"max_vertex_mm": float(dv.max()) * 1000, "max_joint_mean_mm": float(ja.max()) * 1000}


def main(argv=None):
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--priors", nargs="+", default=["gmm", "vposer", "cnf"])
    ap.add_argument("--cases", nargs="+", default=["refine", "dense", "keypoints"],
                    choices=["refine", "dense", "keypoints"])
    ap.add_argument("--net", default="cpu_full")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    check_args(ap, args, nets=[args.net], priors=args.priors)
    body = load_body_model("open")
    from dispkit.checkpoints import load_pretrained

    net = load_pretrained(args.net)
    scenes = [make_scene(900_000 + i, "pare-like", body=body) for i in range(max(args.batches))]
    result = {"scenes": f"seeds 900000-{900_000 + len(scenes) - 1}, pare-like, 320 x 240", "net": args.net,
              "fit_config": vars(fit.FitConfig()), "cases": [],
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__}}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for B in args.batches:
            batch = scenes[:B]
            init, gt = stack_params(batch, "init"), stack_params(batch, "gt")
            cam = batch[0].camera
            with torch.no_grad():
                gv, iv = body(**gt).vertices, body(**init).vertices
            size = torch.stack([s.box[2] - s.box[0] for s in batch])
            data = {}
            if "dense" in args.cases:
                data["dense"] = obs.gt_dense_term(body, gv, iv, cam, size=size)
            if "keypoints" in args.cases:
                kp, conf = obs.simulate_openpose(body, gv, cam, size, generator=0)
                data["keypoints"] = terms.KeypointTerm(kp, conf, size=size)
            for prior in args.priors:
                for case in args.cases:
                    paths = {}
                    for subset in (False, True):
                        cfg = fit.FitConfig(subset_lbs=subset)
                        t = time.perf_counter()
                        if case == "refine":
                            image = torch.stack([s.image for s in batch])
                            tex = torch.stack([s.degraded_texture for s in batch])
                            r = pipeline.refine(image, init, cam, tex, net=net, prior=prior, body=body, config=cfg)
                        else:
                            term = data[case]
                            term.weight = terms.data_weight(case, prior)
                            r = fit.smplify(body, init, cam, term, prior=prior, config=cfg)
                        paths[subset] = (r, time.perf_counter() - t)
                    row = {"case": case, "prior": prior, "batch": B, "threads": threads,
                           "s_per_frame_full": paths[False][1] / B, "s_per_frame_subset": paths[True][1] / B,
                           **_apart(paths[False][0], paths[True][0])}
                    row["speedup"] = row["s_per_frame_full"] / row["s_per_frame_subset"]
                    result["cases"].append(row)
                    print(f"{case:9s} {prior:6s} B={B:2d} threads={threads}: {row['s_per_frame_full']:.3f} -> "
                          f"{row['s_per_frame_subset']:.3f} s/frame (x{row['speedup']:.2f}); apart "
                          f"{row['max_vertex_mm']:.3f} mm (vertex), {row['max_joint_mean_mm']:.3f} mm (MPJPE)",
                          flush=True)
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    run(main)
