"""Throughput of the on-the-fly training data (dispkit.data.training.DisplacementDataset).

Samples per second at the cpu config's 64² crops and the paper's 256² crops, in one process and with 1 or 2
DataLoader worker processes (spawned; this machine has 2 cores), plus the time split of one sample.

    python benchmarks/bench_dataset.py [--quick]

writes benchmarks/results/dataset.json.
"""
from __future__ import annotations

import argparse
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

from dispkit.data.training import DisplacementDataset

RESULTS = ROOT / "benchmarks" / "results" / "dataset.json"


def rate(ds, n, workers, batch=8):
    from dispkit.train import single_threaded_worker_init, single_threaded_workers

    # as dispkit.train does: spawned workers rendering with one thread each (no oversubscription)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, sampler=range(1000, 1000 + n), num_workers=workers,
                                         multiprocessing_context="spawn" if workers else None,
                                         worker_init_fn=single_threaded_worker_init if workers else None)
    with single_threaded_workers():
        it = iter(loader)
    for _ in range(max(1, workers)):  # worker start-up (each worker's first batch) is not counted
        next(it)
    t0 = time.perf_counter()
    count = 0
    for b in it:
        count += len(b["index"])
    return count / (time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    n = 48 if args.quick else 128
    result = {"machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                          "loadavg_start": os.getloadavg()}, "rows": []}
    for crop in (64, 256):
        ds = DisplacementDataset(crop=crop, seed=0)
        ds[0]
        for workers in (0, 1, 2):
            m = n if crop == 64 else n // 4
            r = rate(ds, m + 8 * max(1, workers), workers)
            result["rows"].append({"crop": crop, "workers": workers, "samples_per_s": r})
            print(f"crop {crop:3d}², {workers} workers: {r:6.1f} samples/s", flush=True)
    result["machine"]["loadavg_end"] = os.getloadavg()
    write_result(result, args.out)


if __name__ == "__main__":
    main()
