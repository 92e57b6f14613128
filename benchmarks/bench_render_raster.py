"""Benchmark of the low-level rasteriser of dispkit.raster (CPU backends).

A body-like mesh (an icosphere-subdivided torso, head and four limbs: 26,880 triangles)
covering about 40 % of the frame is rasterised at 128^2, 256^2 and 512^2 with batch 1
and 8 by the numba backend ("cpu", 2 threads and 1 thread), the pure-torch backend, and
-- as the accuracy reference, at 128^2 and 256^2 only -- trimesh ray casting at pixel
centres. Timings are best-of-N wall-clock times (a shared 2-core machine: trust ratios
more than milliseconds). The first-call time (numba JIT compile with an empty cache, and
loading from a warm cache) is measured in fresh subprocesses.

    python benchmarks/bench_render_raster.py [--quick]

prints a table and writes benchmarks/results/render_raster.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import write_result

from dispkit import raster

RESULTS = ROOT / "benchmarks" / "results" / "render_raster.json"


# --------------------------------------------------------------------------- scene

def body_like_mesh():
    """Torso (icosphere subdiv 5), head (subdiv 4), four limbs (subdiv 2): 26,880 triangles."""
    import trimesh

    parts = [  # (subdivisions, radii xyz, centre)
        (5, (0.32, 0.55, 0.2), (0.0, 0.1, 0.0)),
        (4, (0.14, 0.17, 0.15), (0.0, 0.85, 0.0)),
        (2, (0.09, 0.45, 0.09), (-0.45, 0.2, 0.05)),
        (2, (0.09, 0.45, 0.09), (0.45, 0.2, 0.05)),
        (2, (0.11, 0.5, 0.11), (-0.16, -0.85, 0.0)),
        (2, (0.11, 0.5, 0.11), (0.16, -0.85, 0.0)),
    ]
    verts, faces, off = [], [], 0
    for sub, radii, centre in parts:
        s = trimesh.creation.icosphere(subdivisions=sub)
        verts.append(s.vertices * radii + centre)
        faces.append(s.faces + off)
        off += len(s.vertices)
    return np.concatenate(verts), np.concatenate(faces)


def projection(fovy_deg=40.0, near=0.1, far=20.0):
    f = 1.0 / math.tan(math.radians(fovy_deg) / 2)
    return np.array([[f, 0, 0, 0], [0, f, 0, 0],
                     [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
                     [0, 0, -1, 0]])


DIST = 2.2  # camera distance giving ~40 % coverage


def poses(B, verts, seed=0):
    """B camera-space copies of the mesh, slightly rotated about the vertical axis."""
    gen = np.random.default_rng(seed)
    out = []
    for _ in range(B):
        a = gen.uniform(-0.4, 0.4)
        R = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
        out.append(verts @ R.T + [0.0, 0.0, -DIST])
    return np.stack(out)


def to_clip(v):
    return np.concatenate([v, np.ones(v.shape[:-1] + (1,))], -1) @ projection().T


# --------------------------------------------------------------------------- timing

def best_of(fn, reps, budget_s):
    """Best wall time of up to `reps` calls, stopping early once `budget_s` is spent (>= 1 call).

    Returns (seconds, number of calls)."""
    times = []
    t_start = time.perf_counter()
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - t_start > budget_s:
            break
    return min(times), len(times)


def ray_cast_ids(verts, faces, res):
    """trimesh ray casting through pixel centres (the test suite's reference, dispkit.raycast)."""
    from dispkit.raycast import cast_rays

    P = projection()
    x = (np.arange(res) + 0.5) * 2.0 / res - 1.0
    ndc = np.stack(np.broadcast_arrays(x[None, :], x[:, None]), -1).reshape(-1, 2)
    q = np.concatenate([ndc, -np.ones((len(ndc), 1)), np.ones((len(ndc), 1))], 1) @ np.linalg.inv(P).T
    o = q[:, :3] / q[:, 3:]
    d = o / np.linalg.norm(o, axis=1, keepdims=True)
    ids, _ = cast_rays(verts, faces, o, d)
    ray_cast_ids.last = ids.reshape(res, res)
    return ray_cast_ids.last


FIRST_CALL = r"""
import json, time
t0 = time.perf_counter()
from dispkit import render
t1 = time.perf_counter()
from dispkit import raster
w = raster.warmup()
print(json.dumps({"import_s": t1 - t0, "warmup_s": w}))
"""


def first_call(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, no 512^2 torch batch 8")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)

    verts, faces = body_like_mesh()
    faces_t = torch.from_numpy(faces)
    resolutions = (128, 256, 512)
    batches = (1, 8)
    result = {
        "mesh": {"triangles": len(faces), "vertices": len(verts)},
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "loadavg_start": os.getloadavg()},
        "timing": "best-of-N wall clock, ms per batch and per image",
        "rows": [],
    }
    import numba
    result["machine"]["numba"] = numba.__version__

    # first call: JIT compile into an empty cache, then load from that cache
    with tempfile.TemporaryDirectory() as tmp:
        cold = first_call(tmp)
        warm = first_call(tmp)
    result["first_call"] = {"cold_cache_compile_s": cold["warmup_s"], "warm_cache_load_s": warm["warmup_s"],
                            "import_dispkit_render_s": warm["import_s"]}
    raster.warmup()

    pos = {B: torch.from_numpy(to_clip(poses(B, verts))) for B in batches}
    max_threads = numba.config.NUMBA_NUM_THREADS
    configs = [(f"numba {max_threads} threads", "cpu", max_threads), ("numba 1 thread", "cpu", 1),
               ("torch float64", "torch", None)]
    reference = {}
    for res in resolutions:
        for B in batches:
            p = pos[B]
            for label, backend, threads in configs:
                if args.quick and backend == "torch" and res == 512 and B == 8:
                    continue
                def fn(p=p, res=res, backend=backend, threads=threads):
                    return raster.rasterize(p, faces_t, (res, res), backend=backend, num_threads=threads)

                reps = 3 if backend == "torch" else (9 if not args.quick else 5)
                budget = 4.0 if backend == "torch" else 1.5
                t, n = best_of(fn, reps, budget)
                rast = fn()
                row = {"method": label, "res": res, "batch": B, "ms_per_batch": 1e3 * t,
                       "ms_per_image": 1e3 * t / B, "reps": n}
                if backend == "cpu" and threads == max_threads:
                    reference[(res, B)] = rast
                    row["coverage"] = float((rast[..., 3] > 0).double().mean())
                else:
                    ref = reference[(res, B)]
                    row["id_agreement_vs_numba"] = float((rast[..., 3] == ref[..., 3]).double().mean())
                result["rows"].append(row)
                print(f"{label:18s} {res:4d}^2 B={B}: {row['ms_per_image']:9.2f} ms/img "
                      f"({row['ms_per_batch']:.1f} ms/batch, best of {n})", flush=True)
        if res in (128, 256):  # ray casting: one image, best of 2 / 1 repetitions
            v0 = poses(1, verts)[0]
            t, n = best_of(lambda v0=v0, res=res: ray_cast_ids(v0, faces, res), 2 if res == 128 else 1, 0.0)
            ids = ray_cast_ids.last
            ours = reference[(res, 1)][0, ..., 3].numpy().astype(np.int64) - 1
            fg = (ours >= 0) | (ids >= 0)
            agree = float(((ours == ids) & fg).sum() / fg.sum())
            result["rows"].append({"method": "trimesh ray casting", "res": res, "batch": 1,
                                   "ms_per_batch": 1e3 * t, "ms_per_image": 1e3 * t, "reps": n,
                                   "numba_id_agreement_on_foreground": agree,
                                   "note": "trimesh.ray.ray_triangle with a numpy uniform-grid broad phase "
                                           "(tests/test_render_raster.py::_BoxTree; rtree not installed)"})
            print(f"{'trimesh ray cast':18s} {res:4d}^2 B=1: {1e3 * t:9.2f} ms/img; "
                  f"numba agrees on {agree:.4%} of foreground pixels", flush=True)
    result["machine"]["loadavg_end"] = os.getloadavg()

    # table
    print()
    print(f"first call: JIT compile {cold['warmup_s']:.2f} s (empty cache), "
          f"{warm['warmup_s']:.2f} s (warm cache); import dispkit.render {warm['import_s']:.2f} s")
    print(f"{'method':22s} " + " ".join(f"{f'{r}² B={b}':>12s}" for r in resolutions for b in batches))
    for label in [c[0] for c in configs] + ["trimesh ray casting"]:
        cells = []
        for r in resolutions:
            for b in batches:
                row = next((x for x in result["rows"] if x["method"] == label and x["res"] == r
                            and x["batch"] == b), None)
                cells.append(f"{row['ms_per_image']:12.2f}" if row else f"{'-':>12s}")
        print(f"{label:22s} " + " ".join(cells))
    print("(ms per image)")
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    main()
