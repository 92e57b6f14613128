"""Training throughput of the displacement network: fp32 and bf16 (+ channels_last) side by side, in one run.

Two measurements per precision, interleaved (fp32, bf16, fp32, bf16, ...) so that a noisy machine affects both
alike, and the median of ``--repeats`` rounds reported:

* ``step``: forward + backward + AdamW on one fixed batch already in memory (samples / s of the optimiser step
  alone);
* ``end_to_end``: :func:`dispkit.train.train` itself for ``--steps`` steps from a fresh run, rendering the
  samples on the fly in ``--workers`` DataLoader processes overlapped with the step (what a training run gets).

bf16 autocast only pays on hardware with bf16 units (AMX / AVX-512 BF16 CPUs; :func:`dispkit.machine.cpu_has_bf16`);
without them PyTorch emulates it and it is slower than fp32: ``--precision auto`` of :mod:`dispkit.train` then
keeps fp32. The JSON says which this machine has and what ``auto`` picks.

    python benchmarks/bench_train.py [--config cpu] [--batch 8] [--steps 30] [--repeats 3] [--workers 1]

writes benchmarks/results/train.json (about 3-5 min on 2 cores with the defaults).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import check_args, parser, run, write_result

from dispkit import machine
from dispkit import net as netmod
from dispkit import train as trainmod

RESULTS = ROOT / "benchmarks" / "results" / "train.json"
PRECISIONS = ("fp32", "bf16")


def _step_rate(cfg: trainmod.TrainConfig, batch: dict, precision: str, steps: int) -> float:
    net_config = trainmod._net_config(cfg)
    model, opt, sched, _ = trainmod._model_and_optimiser(cfg, net_config, None, "cpu")
    if precision == "bf16":
        model = model.to(memory_format=torch.channels_last)
    model.train()
    trainmod._train_step(model, opt, sched, batch, net_config, "cpu", precision)   # warm-up (allocations)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainmod._train_step(model, opt, sched, batch, net_config, "cpu", precision)
    return steps * cfg.batch_size / (time.perf_counter() - t0)


def _end_to_end_rate(cfg: trainmod.TrainConfig, precision: str, steps: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        c = trainmod.TrainConfig(**{**vars(cfg), "steps": steps + 3, "out": tmp, "precision": precision,
                                    "checkpoint_every": 10 ** 9, "log_every": 1})
        trainmod.train(c, progress=False)
        rows = (Path(tmp) / "log.csv").read_text().splitlines()[1:]
        # throughput after the first 3 steps (worker start-up, first allocations): from the elapsed column
        el = [float(r.split(",")[-1]) for r in rows]
        return steps * cfg.batch_size / (el[-1] - el[2])


def main(argv=None):
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--config", default="cpu", help=f"network config ({', '.join(netmod.CONFIGS)})")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the median is reported")
    ap.add_argument("--workers", type=int, default=1, help="DataLoader processes of the end-to-end runs")
    ap.add_argument("--threads", type=int, default=0, help="torch threads of the step (0: all cores)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    check_args(ap, args, choices={"--config": ([args.config], sorted(netmod.CONFIGS))})
    for name in ("steps", "repeats"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    threads = args.threads or (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    cfg = trainmod.TrainConfig(config=args.config, batch_size=args.batch, workers=args.workers,
                               threads=threads if args.workers == 0 else max(1, threads - args.workers),
                               warmup=1)
    from dispkit.data.training import DisplacementDataset

    ds = trainmod.make_dataset(cfg, trainmod._net_config(cfg))
    assert isinstance(ds, DisplacementDataset)
    batch = torch.utils.data.default_collate([ds[i] for i in range(args.batch)])
    rates = {p: {"step": [], "end_to_end": []} for p in PRECISIONS}
    for r in range(args.repeats):
        for p in PRECISIONS:
            rates[p]["step"].append(_step_rate(cfg, batch, p, args.steps))
            rates[p]["end_to_end"].append(_end_to_end_rate(cfg, p, args.steps))
            print(f"round {r + 1}/{args.repeats} {p}: step {rates[p]['step'][-1]:.1f} samples/s, end to end "
                  f"{rates[p]['end_to_end'][-1]:.1f} samples/s", flush=True)
    med = {p: {k: float(np.median(v)) for k, v in d.items()} for p, d in rates.items()}
    result = {
        "config": args.config, "batch_size": args.batch, "steps": args.steps, "repeats": args.repeats,
        "workers": args.workers, "step_threads": cfg.threads, "machine": machine.describe(),
        "cpu_has_bf16": machine.cpu_has_bf16(), "auto_precision": trainmod.resolve_precision("auto", "cpu"),
        "samples_per_s": med, "rounds": rates,
        "bf16_over_fp32": {k: med["bf16"][k] / med["fp32"][k] for k in ("step", "end_to_end")},
        "reference_end_to_end_samples_per_s": {"shipped cpu_full (fp32, 2 cores, kit scenes)": 18.6,
                                               "issue 16's goal (2 x 21)": 42.0},
    }
    print(f"bf16 / fp32: step {result['bf16_over_fp32']['step']:.2f} x, end to end "
          f"{result['bf16_over_fp32']['end_to_end']:.2f} x (bf16 units: {result['cpu_has_bf16']}; auto picks "
          f"{result['auto_precision']})")
    write_result(result, args.out)
    return result


if __name__ == "__main__":
    run(main)
