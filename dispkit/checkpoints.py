"""Checkpoints of the displacement network: atomic save, checked load, the shipped networks (:data:`PRETRAINED`).

A checkpoint is one ``torch.save`` dict (``format: dispkit-displacement-net/1``) with the network's config, its
weights, the step and the training run's settings, plus optimiser, scheduler and RNG states for resuming.
Inference (:func:`load_pretrained`) needs only this module and :mod:`dispkit.net`, never the training code.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from dispkit import inputs
from dispkit import net as netmod

__all__ = ["CHECKPOINT_DIR", "PRETRAINED", "load_checkpoint", "load_pretrained", "model_from_checkpoint",
           "save_checkpoint"]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "assets" / "checkpoints"
#: shipped checkpoints: name -> (file, how it was trained)
_TRAIN_CMD = ("python -m dispkit.train --config cpu --inputs {inputs} --steps 4000 --log-every 50 "
              "--checkpoint-every 250 --workers 1 --threads 1 --out runs/cpu_{inputs}")
_MIXED_CMD = ("python -m dispkit.train --config cpu --inputs full --steps 2600 --lr 1e-3 --warmup 100 --seed 1 "
              "--distribution mixed --log-every 50 --checkpoint-every 250 --workers 1 --threads 1 "
              "--init cpu_full_broad2 --out runs/cpu_full")
_TRIO_CMD = ("python -m dispkit.train --config cpu --inputs {inputs} --steps 1000 --lr 1e-3 --warmup 100 --seed 1 "
             "--distribution mixed --log-every 50 --checkpoint-every 250 --workers 1 --threads 1 "
             "--init {init} --out runs/cpu_{inputs}_mixed")
_BROAD_CMD = ("python -m dispkit.train --config cpu --inputs full --steps 7000 --log-every 50 --checkpoint-every 250 "
              "--workers 1 --threads 1 --init cpu_full_broad1 --out runs/cpu_full_broad2")
_BROAD1_CMD = ("python -m dispkit.train --config cpu --inputs full --steps 2400 --log-every 50 --checkpoint-every 250 "
               "--workers 1 --threads 1 --init cpu_full_kit --out runs/cpu_full_broad1  # at commit 9f87611")
_WIDE_CMD = ("python -m dispkit.train --config cpu --inputs full --steps 7000 --lr 1e-3 --warmup 150 --seed 2 "
             "--distribution wide --log-every 25 --checkpoint-every 250 --workers 1 --threads 1 "
             "--texture backprojected --texture-pool 1000 --init cpu_full --out runs/cpu_full_wide")
PRETRAINED = {
    "cpu": "cpu_full",  # alias
    "cpu_full": _MIXED_CMD,          # kit + broad scenes mixed (kit share 0.3), fine-tuned from cpu_full_broad2
    "cpu_full_wide": _WIDE_CMD,      # the wide appearance (clothing families, photographs, lights), from cpu_full
    "cpu_full_broad2": _BROAD_CMD,   # broad scenes with the background families, fine-tuned from cpu_full_broad1
    "cpu_full_broad1": _BROAD1_CMD,  # the first broad scenes (kit backgrounds, one light), from cpu_full_kit
    "cpu_full_kit": _TRAIN_CMD.format(inputs="full") + " --distribution kit",   # the first cpu_full, kit scenes only
    "cpu_no_texture": _TRAIN_CMD.format(inputs="no_texture") + " --distribution kit",
    "cpu_texture_only": _TRAIN_CMD.format(inputs="texture_only") + " --distribution kit",
    # the Table 3 trio on the last stage of cpu_full's recipe: the three above, 1000 steps on the mixed scenes
    "cpu_full_mixed": _TRIO_CMD.format(inputs="full", init="cpu_full_kit"),
    "cpu_no_texture_mixed": _TRIO_CMD.format(inputs="no_texture", init="cpu_no_texture"),
    "cpu_texture_only_mixed": _TRIO_CMD.format(inputs="texture_only", init="cpu_texture_only"),
}


def load_pretrained(name: str = "cpu", map_location="cpu") -> netmod.DisplacementNet:
    """A shipped checkpoint by name (:data:`PRETRAINED`: ``"cpu"`` = ``"cpu_full"``, ``"cpu_no_texture"``,
    ``"cpu_texture_only"``) or a path to a checkpoint written by :mod:`dispkit.train`; in eval mode.

    Neither a shipped name nor a file: ``FileNotFoundError`` (listing the shipped names); a file that holds no
    dispkit network: :class:`dispkit.inputs.FileContentError` (a ``ValueError``)."""
    if not isinstance(name, (str, os.PathLike)):
        raise inputs.InputTypeError(f"name must be a shipped network's name ({', '.join(PRETRAINED)}) or a checkpoint "
                                    f"path, got {type(name).__name__}")
    name = str(name)
    if name in PRETRAINED:
        key = PRETRAINED[name] if name == "cpu" else name
        path = CHECKPOINT_DIR / f"{key}.pt"
        if not path.is_file():
            raise FileNotFoundError(f"the {key!r} checkpoint is not in this installation ({path}); train it with "
                                    f"`{PRETRAINED[key]}` and pass the resulting last.pt path")
        return model_from_checkpoint(path, map_location)
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"{name!r} is neither a shipped checkpoint ({', '.join(PRETRAINED)}) nor a file")
    return model_from_checkpoint(path, map_location)


def body_record(body) -> dict:
    """What a checkpoint records of the body model it was trained for: its name, vertex count and a hash of its
    faces (its topology: the network's ``vertex_color`` input is a colour per vertex of that mesh; models of one
    topology, e.g. SMPL's genders, share it). Integers only, so the hash is the same on every machine."""
    import hashlib

    faces = body.faces.cpu().numpy() if torch.is_tensor(body.faces) else np.asarray(body.faces)
    h = hashlib.sha1(np.ascontiguousarray(faces.astype(np.int64)).tobytes())
    return {"name": str(getattr(body, "name", "")), "num_vertices": int(body.num_vertices),
            "topology": h.hexdigest()[:16]}


def check_body(net, body) -> None:
    """Refuse a network trained for another body model (its ``vertex_color`` input would be another mesh's
    colours): :class:`dispkit.inputs.FileContentError` saying which it was trained for."""
    want = getattr(net, "trained_for", None)
    if want is None:                       # no record: the shipped networks, trained for the open model
        from dispkit.body import default_body

        want = body_record(default_body())
    got = body_record(body)
    if (want["num_vertices"], want["topology"]) != (got["num_vertices"], got["topology"]):
        raise inputs.FileContentError(
            f"this displacement network was trained for the body model {want['name']!r} ({want['num_vertices']} "
            f"vertices), not {got['name']!r} ({got['num_vertices']} vertices): its vertex-colour input is that "
            f"model's; train one for this model (python -m dispkit.train --body {got['name'] or '<model>'} ...) or "
            f"use the body model it was trained for")


def save_checkpoint(path, model, optimizer=None, scheduler=None, step: int = 0, train_config: dict | None = None,
                    extra: dict | None = None) -> Path:
    """Write a checkpoint atomically: to ``path.tmp`` first, then ``os.replace`` (a crash never leaves a torn file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = model.module if hasattr(model, "module") else model
    state = {
        "format": "dispkit-displacement-net/1",
        "net_config": module.config.to_dict(),
        "model": module.state_dict(),
        "step": step,
        "train_config": dict(train_config) if train_config is not None else None,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()},
        "extra": extra or {},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path, expect: netmod.NetConfig | None = None, map_location="cpu") -> dict:
    """Read a checkpoint, with clear errors for a missing, corrupt or mismatched file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # truncated or not a torch file
        raise inputs.FileContentError(f"{path} is not a readable dispkit checkpoint (corrupt or truncated: "
                                      f"{inputs.one_line(e)})") from e
    if not isinstance(state, dict) or state.get("format") != "dispkit-displacement-net/1":
        raise inputs.FileContentError(f"{path} is not a dispkit displacement-network checkpoint")
    missing = [k for k in ("net_config", "model") if k not in state]
    if missing or not isinstance(state["net_config"], dict):
        raise inputs.FileContentError(f"{path} is a damaged dispkit checkpoint: no valid {missing or 'net_config'}")
    if expect is not None:
        got = state["net_config"]
        diff = {k: (got.get(k), v) for k, v in expect.to_dict().items() if got.get(k) != v}
        if diff:
            raise inputs.FileContentError(f"{path} holds a network with config {got.get('name')!r}/"
                                          f"{got.get('inputs')!r}, expected {expect.name!r}/{expect.inputs!r}; "
                                          f"differing fields (checkpoint, expected): {diff}")
    return state


def model_from_checkpoint(path, map_location="cpu") -> netmod.DisplacementNet:
    """Rebuild the network stored in a checkpoint (config included) and load its weights."""
    state = load_checkpoint(path, map_location=map_location)
    try:
        cfg = netmod.NetConfig.from_dict(state["net_config"])
        model = netmod.DisplacementNet(cfg)
        model.load_state_dict(state["model"])
        usable = (isinstance(cfg.crop, int) and cfg.crop > 0 and cfg.crop % 2 ** cfg.depth == 0
                  and isinstance(cfg.field_scale, (int, float)) and 0 < cfg.field_scale < float("inf"))
    except (TypeError, ValueError, KeyError, RuntimeError, AttributeError) as e:  # fields or weights that do not fit
        raise inputs.FileContentError(f"{path} holds a dispkit checkpoint whose config and weights do not make a "
                                      f"network ({type(e).__name__}: {inputs.one_line(e)})") from e
    if not usable:
        raise inputs.FileContentError(f"{path}: the network's crop {cfg.crop!r} (a positive multiple of "
                                      f"2**depth) or field_scale {cfg.field_scale!r} (a positive number) is not usable")
    bad = [n for n, p in model.state_dict().items() if p.is_floating_point() and not bool(torch.isfinite(p).all())]
    if bad:
        raise inputs.FileContentError(f"{path}: the network's weights hold NaN/inf ({', '.join(bad[:3])}, ...)")
    model.trained_for = (state.get("extra") or {}).get("body")
    return model.eval()
