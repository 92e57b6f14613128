"""The GPU checks, in one script of at most ~8 minutes on one GPU: nvdiffrast against the CPU rasteriser, the paper
network's training throughput (fp32 and bf16 side by side) and a short training run of ``--config paper``.

Where no CUDA device (or no nvdiffrast) is available it writes the reason and exits 0: the kit never needs a GPU.

    python benchmarks/bench_gpu.py [--steps 200] [--out benchmarks/results/gpu.json]

* ``agreement``: the two rasteriser agreement tests (``tests/test_render_raster.py::test_cpu_matches_nvdiffrast``,
  ``tests/test_render.py::test_cpu_and_nvdiffrast_modalities_agree``) under pytest, with their outcome;
* ``throughput``: samples / s of the paper network's optimiser step (4 stacks, 256² crops, batch 8) on one fixed
  batch, fp32 and bf16 autocast + channels_last, interleaved;
* ``short_run``: :func:`dispkit.train.train` with ``--config paper`` for ``--steps`` steps (samples rendered by the
  CPU rasteriser in DataLoader workers), its loss and EPE at the start and the end and its samples / s.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import parser, run, write_result

from dispkit import machine, raster
from dispkit import train as trainmod

RESULTS = ROOT / "benchmarks" / "results" / "gpu.json"
AGREEMENT_TESTS = ("tests/test_render_raster.py::test_cpu_matches_nvdiffrast",
                   "tests/test_render.py::test_cpu_and_nvdiffrast_modalities_agree")


def skip_reason() -> str:
    """Why the GPU checks cannot run here ("" when they can)."""
    if not torch.cuda.is_available():
        return "no CUDA device on this machine (the kit runs on the CPU; these checks need one GPU)"
    if "nvdiffrast" not in raster.available_backends():
        return "CUDA is there but nvdiffrast is not installed (pip install nvdiffrast, or dispkit[gpu])"
    return ""


def _agreement() -> dict:
    out = {}
    for test in AGREEMENT_TESTS:
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", test], cwd=ROOT, capture_output=True,
                           text=True, timeout=240)
        out[test] = {"returncode": p.returncode, "passed": p.returncode == 0, "seconds": time.perf_counter() - t0,
                     "tail": p.stdout.strip().splitlines()[-3:]}
    return out


def _throughput(batch_size: int, steps: int = 20) -> dict:
    cfg = trainmod.TrainConfig(config="paper", batch_size=batch_size, warmup=1)
    nc = trainmod._net_config(cfg)
    S, g = nc.crop, torch.Generator().manual_seed(0)
    mask = torch.zeros(batch_size, S, S, dtype=torch.bool)
    mask[:, S // 8:-S // 8, S // 4:-S // 4] = True
    batch = {"image": torch.rand(batch_size, 3, S, S, generator=g), "mask": mask,
             "depth": torch.rand(batch_size, S, S, generator=g),
             "field": torch.randn(batch_size, 1, 1, 2, generator=g).expand(batch_size, S, S, 2) * mask[..., None],
             **{k: torch.rand(batch_size, S, S, 3, generator=g) for k in ("rgb", "normal", "vertex_color")}}
    rates = {p: [] for p in ("fp32", "bf16")}
    for _ in range(2):
        for p in rates:
            model, opt, sched, _ = trainmod._model_and_optimiser(cfg, nc, None, "cuda")
            if p == "bf16":
                model = model.to(memory_format=torch.channels_last)
            trainmod._train_step(model, opt, sched, batch, nc, "cuda", p)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(steps):
                trainmod._train_step(model, opt, sched, batch, nc, "cuda", p)
            torch.cuda.synchronize()
            rates[p].append(steps * batch_size / (time.perf_counter() - t0))
    return {p: max(v) for p, v in rates.items()} | {"crop": S, "batch_size": batch_size}


def _short_run(steps: int, batch_size: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = trainmod.TrainConfig(config="paper", steps=steps, batch_size=batch_size, warmup=min(50, steps // 4),
                                   workers=max(1, min(12, (os.cpu_count() or 2) - 2)), log_every=10,
                                   checkpoint_every=10 ** 9, out=tmp)
        summary = trainmod.train(cfg, progress=False)
        rows = (Path(tmp) / "log.csv").read_text().splitlines()
        head = rows[0].split(",")
        first, last = (dict(zip(head, rows[i].split(","))) for i in (1, -1))
    return {"steps": steps, "summary": summary, "first_log_row": first, "last_log_row": last}


def main(argv=None):
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200, help="steps of the short paper-config run")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    if args.steps < 1 or args.batch < 1:
        ap.error("--steps and --batch must be >= 1")
    result = {"machine": machine.describe()}
    reason = skip_reason()
    if reason:
        print(f"skipped: {reason}")
        result["skipped"] = reason
        return write_result(result, args.out)
    t0 = time.perf_counter()
    result["device"] = torch.cuda.get_device_name(0)
    result["agreement"] = _agreement()
    result["throughput_samples_per_s"] = _throughput(args.batch)
    result["short_run"] = _short_run(args.steps, args.batch)
    result["wall_s"] = time.perf_counter() - t0
    print(json.dumps({k: result[k] for k in ("agreement", "throughput_samples_per_s")}, indent=1, default=str))
    return write_result(result, args.out)


if __name__ == "__main__":
    run(main)
