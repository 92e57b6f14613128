"""Shared bits of the benchmark scripts."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from dispkit import fit
from dispkit.inputs import InputError, one_line, one_line_errors


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


def parser(description: str):
    """The benchmarks' ``argparse`` parser: a bad argument is one line on stderr (exit status 2), no usage block."""
    import argparse

    return one_line_errors(argparse.ArgumentParser(description=description))


def check_args(ap, args, nets=(), priors=(), choices=None) -> None:
    """The benchmark arguments' checks, right after ``parse_args``: counts (``--n``, ``--n1``, ``--batch`` >= 1,
    iterations >= 0), ``--out`` a file path, the networks ``nets`` (shipped names or files), the priors ``priors``
    (``gmm``/``vposer``/``cnf``, optionally ``:PATH`` of an existing file) and ``choices`` ({option: (values, valid)}).
    A problem ends the script with one line saying what to do (``ap.error``)."""
    from dispkit.checkpoints import PRETRAINED

    for name, lo in (("n", 1), ("n1", 1), ("batch", 1), ("camera_iters", 0), ("body_iters", 0)):
        v = getattr(args, name, None)
        if v is not None and v < lo:
            ap.error(f"--{name.replace('_', '-')} must be >= {lo}, got {v}")
    out = Path(getattr(args, "out", "") or ".").expanduser()
    if getattr(args, "out", None) and (out.is_dir() or any(p.is_file() for p in out.parents)):
        ap.error(f"--out {out}: give the path of the result file (.json), not a folder or a path under a file")
    for name in nets:
        if name not in PRETRAINED and not Path(name).expanduser().is_file():
            ap.error(f"network {name!r}: neither a shipped checkpoint ({', '.join(PRETRAINED)}) nor a file")
    for prior in priors:
        kind, _, path = prior.partition(":")
        if kind not in ("gmm", "vposer", "cnf"):
            ap.error(f"prior {prior!r}: use gmm, vposer or cnf (each optionally :PATH)")
        if path and not Path(path).expanduser().exists():
            ap.error(f"prior {prior!r}: {path} does not exist")
    for option, (values, valid) in (choices or {}).items():
        bad = [v for v in values if v not in valid]
        if bad:
            ap.error(f"{option} {' '.join(map(str, bad))}: choose from {' '.join(map(str, valid))}")


def run(main) -> None:
    """Run a benchmark's ``main`` as a command: a missing data file or a refused input ends it with one line on
    stderr saying what is wrong (exit status 1), never a traceback; other errors (bugs) keep theirs."""
    try:
        main()
    except (FileNotFoundError, FileExistsError, InputError) as e:
        raise SystemExit(f"{Path(sys.argv[0]).name}: error: {one_line(e)}") from None
