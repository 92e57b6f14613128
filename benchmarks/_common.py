"""Shared bits of the benchmark scripts."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from dispkit import fit


def write_result(result: dict, out) -> dict:
    """Write a benchmark's result dict as indented JSON to ``out`` (creating its folder) and say where."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result


def add_fit_arguments(ap) -> None:
    """The SMPLify settings shared by the refinement benchmarks: ``--batch``, ``--camera-iters``, ``--body-iters``."""
    ap.add_argument("--batch", type=int, default=10, help="scenes fitted together")
    ap.add_argument("--camera-iters", type=int, default=fit.FitConfig.camera_iters)
    ap.add_argument("--body-iters", type=int, default=fit.FitConfig.body_iters)


def fit_config(args) -> fit.FitConfig:
    return fit.FitConfig(camera_iters=args.camera_iters, body_iters=args.body_iters)


def stack_params(scenes, key: str) -> dict:
    """The ``gt`` or ``init`` parameters of several scenes, concatenated over the batch."""
    return {k: torch.cat([getattr(s, key)[k] for s in scenes]) for k in fit.PARAM_NAMES}
