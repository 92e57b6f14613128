"""The papers' evaluation protocol on a real test split (§4), for a user's regressor outputs: one command, Table 1.

    python -m dispkit.protocol --data 3dpw:~/dispkit_data/3DPW:test --body smpl \\
        --joints-regressor ~/dispkit_data/body_models/J_regressor_h36m.npy --priors gmm,cnf --out runs/3dpw_test
    python -m dispkit.protocol --data rich:~/dispkit_data/RICH:test --body smpl ... --out runs/rich_test

RICH (``rich:ROOT:test``, :func:`dispkit.data.real.load_sources`): each camera of a sequence is evaluated as a
sequence of its own; the GT must be SMPL fitted to RICH's SMPL-X meshes (``ROOT/bodies_smpl/test/...``; the
SMPL-X files are refused with that advice), the genders come from ``ROOT/gender.json``.

For every sequence of the split (each actor of a 3DPW sequence file, each camera of a RICH sequence), the initial
estimates (``ROOT/estimates/<seq>.npz``, :func:`dispkit.data.real.read_estimates`; ``--estimates DIR`` for another
folder) are refined with :func:`dispkit.pipeline.refine_sequence` (the texture back-projected from the initial meshes of
8 frames spread over the sequence, then :func:`dispkit.pipeline.refine` -- the predicted dense term and SMPLify
with each prior -- over chunks of 16 frames read as they are needed, so that a full-resolution sequence never
sits in memory),
and the initial and refined bodies are scored against the GT with the six metrics of
:func:`dispkit.metrics.evaluate`, on

* the **14 LSP joints** regressed from the mesh with Human3.6M's joint regressor (``J_regressor_h36m.npy`` of SPIN
  and ProHMR, [17, 6890], SMPL only; the joints SPIN's ``H36M_TO_J14`` picks), rooted at the mean of the two hips
  (SPIN's and PARE's 3DPW evaluation roots at the regressed Human3.6M pelvis, joint 0 of the 17, instead: a
  difference of the kit's), where ``--joints-regressor`` (or ``<data root>/body_models/J_regressor_h36m.npy``) is given;
* otherwise the body model's **24 joints** (pelvis root), labelled as such in every output: those numbers are
  not comparable with the papers'.

The GT of a 3DPW actor is posed with the SMPL model of the actor's gender where ``--body smpl`` finds
``SMPL_MALE`` / ``SMPL_FEMALE`` (``.pkl`` or ``.npz``, or SMPLify's ``basicModel_{m,f}_lbs_10_207_0_v1.0.0.pkl``)
beside the neutral model, as the papers evaluate 3DPW; the estimates and the fits use the neutral model. Without
them (and always with the open model) one model poses both, which the output says.

Per-sequence results are written as they finish (``OUT/sequences/<seq>.json``; a rerun with the same settings
skips them: resumable), then ``OUT/table1.json`` and ``OUT/table1.md``: the paper's Table 1 layout (initial
estimate, then ``+PRIOR (Ours)`` rows; frame-weighted means), with the paper's 3DPW or RICH numbers for ``--regressor``
beside them (:data:`dispkit.paper.TABLE1`, :data:`dispkit.paper.TABLE1_RICH`).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from dispkit import inputs
from dispkit.metrics import evaluate

__all__ = ["H36M_TO_J14", "LSP14_ROOT", "eval_joints", "evaluate_split", "gender_models", "load_joint_regressor",
           "main"]

#: SPIN's ``constants.H36M_TO_J14``: the 14 LSP joints among Human3.6M's 17
H36M_TO_J14 = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10)
#: the root of the LSP-14 joints: the mean of the right and left hips
LSP14_ROOT = (2, 3)
PROTOCOL_VERSION = 3


def load_joint_regressor(path=None, body=None) -> torch.Tensor | None:
    """Human3.6M's joint regressor [17,V] from ``path`` (.npy) or ``<data root>/body_models/J_regressor_h36m.npy``;
    None when neither exists (then the model's 24 joints are used). A regressor for another mesh is refused."""
    from dispkit.licensed import data_root, missing_asset_error

    p = Path(path).expanduser() if path else data_root() / "body_models" / "J_regressor_h36m.npy"
    if not p.is_file():
        if path:
            raise missing_asset_error("h36m_regressor", [p])
        return None
    try:
        J = np.load(p, allow_pickle=False)
    except Exception as e:
        raise inputs.FileContentError(f"{p}: not a .npy array ({inputs.one_line(e)})") from e
    J = np.asarray(J, dtype=np.float32)
    if J.ndim != 2 or J.shape[0] != 17:
        raise inputs.FileContentError(f"{p}: Human3.6M's joint regressor is [17, V], got {J.shape}")
    if body is not None and J.shape[1] != body.num_vertices:
        raise inputs.FileContentError(f"{p}: the regressor is for a mesh of {J.shape[1]} vertices, the body model "
                                      f"{getattr(body, 'name', '')!r} has {body.num_vertices} (it needs SMPL: "
                                      "--body smpl)")
    return torch.from_numpy(J)


def gender_models(body: str, bodym) -> dict:
    """``{"male": BodyModel, "female": BodyModel}`` for ``--body smpl`` where the gendered files sit beside the
    neutral one; ``{}`` otherwise (the GT is then posed with ``bodym``)."""
    if body != "smpl":
        return {}
    from dispkit.body import _default_smpl_location, load_body_model

    neutral = _default_smpl_location()
    if neutral is None:
        return {}
    out = {}
    for gender, names in (("male", ("SMPL_MALE.pkl", "SMPL_MALE.npz", "basicModel_m_lbs_10_207_0_v1.0.0.pkl")),
                          ("female", ("SMPL_FEMALE.pkl", "SMPL_FEMALE.npz", "basicModel_f_lbs_10_207_0_v1.0.0.pkl"))):
        found = next((neutral.parent / n for n in names if (neutral.parent / n).is_file()), None)
        if found is not None:
            out[gender] = load_body_model(found)
    return out if len(out) == 2 else {}


def eval_joints(vertices: torch.Tensor, joints: torch.Tensor, regressor: torch.Tensor | None):
    """The evaluation joints and their root: ``(LSP-14 [B,14,3], (2, 3))`` with the regressor, else the model's
    24 joints and root 0."""
    if regressor is None:
        return joints[:, :24], 0
    return torch.einsum("jv,bvc->bjc", regressor.to(vertices), vertices)[:, list(H36M_TO_J14)], LSP14_ROOT


class _Frames:
    """The images of a sequence's evaluated frames, read when asked for (``len()`` and ``[t]``)."""

    def __init__(self, source, rows):
        self.source, self.rows = source, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, t: int) -> torch.Tensor:
        return self.source.image(int(self.rows[t]))


def evaluate_split(spec: str, out, priors=("gmm",), net="cpu", body="open", joints_regressor=None,
                   estimates_dir=None, max_frames: int = 0, fast: bool = False, progress: bool = True,
                   regressor_name: str = "pare-like", texture_frames: int = 8, chunk: int = 16) -> dict:
    """Run the protocol (module docstring) over the split of ``spec`` (``3dpw:ROOT[:test]``, one source) and write
    the results under ``out``; returns the Table 1 dict."""
    from tqdm.auto import tqdm

    from dispkit.body import default_body, load_body_model
    from dispkit.checkpoints import load_pretrained
    from dispkit.data.real import load_sources, parse_data_spec, read_estimates, to_camera_frame
    from dispkit.fit import FitConfig
    from dispkit.pipeline import refine_sequence

    parts = parse_data_spec(spec)
    if len(parts) != 1 or parts[0][0] not in ("3dpw", "rich"):
        raise inputs.UnknownNameError(f"--data {spec!r}: the protocol runs over one 3DPW or RICH split "
                                      "(3dpw:ROOT:test or rich:ROOT:test)")
    kind, root, split, _ = parts[0]
    bodym = default_body() if body == "open" else load_body_model(body)
    J = load_joint_regressor(joints_regressor, bodym)
    joints_label = "14 LSP joints (H36M regressor)" if J is not None else \
        "the body model's 24 joints (not the papers' 14 LSP joints: no J_regressor_h36m.npy)"
    sources = load_sources(kind, root, bodym, split=split or "test")
    gendered = gender_models(body, bodym)
    if estimates_dir is not None:
        for s in sources:
            f = Path(estimates_dir).expanduser() / f"{s.name}.npz"
            s.estimates = read_estimates(f) if f.is_file() else None
    missing = [s.name for s in sources if s.estimates is None]
    if missing:
        raise FileNotFoundError(f"no initial estimates for {len(missing)} of {len(sources)} sequences (e.g. "
                                f"{missing[0]}): put your regressor's outputs at <root>/estimates/<seq>.npz or pass "
                                f"--estimates DIR (see dispkit.data.real.read_estimates for the layout)")
    out = Path(out).expanduser()
    (out / "sequences").mkdir(parents=True, exist_ok=True)
    gt_label = "the actors' gendered SMPL models" if gendered else f"the {bodym.name!r} model (not gendered)"
    settings = {"version": PROTOCOL_VERSION, "dataset": kind, "priors": list(priors), "net": str(net),
                "body": str(body), "joints": joints_label, "gt_model": gt_label, "max_frames": int(max_frames),
                "fast": bool(fast)}
    config = FitConfig(camera_iters=10, body_iters=40) if fast else FitConfig()
    model = load_pretrained(net) if isinstance(net, str) else net  # once for every sequence
    for s in tqdm(sources, desc="sequences", disable=not progress):
        path = out / "sequences" / f"{s.name}.json"
        if path.is_file() and json.loads(path.read_text()).get("settings") == settings:
            continue
        rows = np.nonzero(np.isin(s.frame_index, s.estimates["frame_index"].numpy()))[0]
        if max_frames:
            rows = rows[:max_frames]
        est = [s.estimate(int(t), 0) for t in rows]
        init = {k: torch.cat([e[k] for e in est]) for k in est[0]}
        cam = s.camera.index(torch.as_tensor(rows))
        gt_body = gendered.get(s.gender, bodym)
        gt_params = s.params if gt_body is bodym or s.world is None else to_camera_frame(*s.world, gt_body)
        with torch.no_grad():
            gt = gt_body(**{k: v[torch.as_tensor(rows)] for k, v in gt_params.items()})
            io = bodym(**init)
        gj, root = eval_joints(gt.vertices, gt.joints, J)
        ij, _ = eval_joints(io.vertices, io.joints, J)
        res = {"init": evaluate(io.vertices, gt.vertices, ij, gj, root=root, per_frame=True)}
        t0 = time.perf_counter()
        # refine_sequence over the frames read one chunk at a time (a 3DPW sequence at 1920 x 1080 does not fit
        # in memory at once); the texture is estimated once, with the first prior, and reused for the others
        frames = _Frames(s, rows)
        tex = None
        for prior in priors:
            r = refine_sequence(frames, init, cam, net=model, prior=prior, body=bodym, config=config,
                                texture_frames=texture_frames, batch=chunk, progress=False, texture=tex)
            tex = r.inputs["texture"]
            rj, _ = eval_joints(r.vertices, r.joints, J)
            res[f"+{prior.split(':')[0].upper()} (Ours)"] = evaluate(r.vertices, gt.vertices, rj, gj, root=root,
                                                                    per_frame=True)
        record = {"settings": settings, "sequence": s.name, "frames": int(len(rows)),
                  "seconds": time.perf_counter() - t0,
                  "per_frame": {row: {k: v.tolist() for k, v in m.items()} for row, m in res.items()}}
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(path)
    return _table(out, sources, settings, joints_label, regressor_name, kind)


def _table(out: Path, sources, settings: dict, joints_label: str, regressor_name: str, kind: str = "3dpw") -> dict:
    from dispkit import paper

    acc: dict = {}
    frames, seconds = 0, 0.0
    for s in sources:
        rec = json.loads((out / "sequences" / f"{s.name}.json").read_text())
        frames += rec["frames"]
        seconds += rec["seconds"]
        for row, m in rec["per_frame"].items():
            for k, v in m.items():
                acc.setdefault(row, {}).setdefault(k, []).extend(v)
    metrics = paper.TABLE1_METRICS
    rows = {row: {k: float(np.mean(m[k])) for k in metrics} for row, m in acc.items()}
    published = (paper.TABLE1 if kind == "3dpw" else paper.TABLE1_RICH).get(regressor_name, {})
    table = {"split": settings, "joints": joints_label, "gt_model": settings["gt_model"], "sequences": len(sources),
             "frames": frames,
             "seconds_per_frame": seconds / max(frames, 1), "rows": rows,
             f"paper_{kind}": {r: dict(published[r]) for r in rows if r in published},
             "paper_regressor": paper.REGRESSOR_NAMES.get(regressor_name, regressor_name)}
    (out / "table1.json").write_text(json.dumps(table, indent=1))
    name = {"3dpw": "3DPW", "rich": "RICH"}[kind]
    lines = [f"# Table 1 layout, {name} columns: {len(sources)} sequences, {frames} frames; joints: {joints_label}; "
             f"GT posed with {settings['gt_model']}", "",
             "| row | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for r, m in rows.items():
        lines.append(f"| {r} | " + " | ".join(f"{m[k]:.1f}" for k in metrics) + " |")
        if r in published:
            lines.append(f"| paper ({name}), {table['paper_regressor']} {r} | " +
                         " | ".join(f"{published[r][k]:.1f}" for k in metrics) + " |")
    (out / "table1.md").write_text("\n".join(lines) + "\n")
    return table


def main(argv=None):
    ap = inputs.one_line_errors(argparse.ArgumentParser(prog="python -m dispkit.protocol",
                                                        description=__doc__.splitlines()[0]))
    ap.add_argument("--data", required=True, help="the split: 3dpw:ROOT:test or rich:ROOT:test")
    ap.add_argument("--out", required=True, help="results folder (resumable)")
    ap.add_argument("--priors", default="gmm", help="comma-separated: gmm, vposer, cnf (or name:path)")
    ap.add_argument("--net", default="cpu", help="displacement network: a shipped name or a checkpoint")
    ap.add_argument("--body", default="open", help="body model: open, smpl, or a model file")
    ap.add_argument("--joints-regressor", default=None, help="J_regressor_h36m.npy (14 LSP joints)")
    ap.add_argument("--estimates", default=None, help="folder of <seq>.npz estimates (default ROOT/estimates)")
    ap.add_argument("--regressor", default="pare-like", help="whose paper numbers to show: pare-like, "
                                                             "prohmr-like, hmr-like")
    ap.add_argument("--max-frames", type=int, default=0, help="frames per sequence (0: all)")
    ap.add_argument("--fast", action="store_true", help="short fits (10 + 40 iterations): a smoke test")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        table = evaluate_split(args.data, args.out, priors=[p for p in args.priors.split(",") if p], net=args.net,
                               body=args.body, joints_regressor=args.joints_regressor, estimates_dir=args.estimates,
                               max_frames=args.max_frames, fast=args.fast, progress=not args.no_progress,
                               regressor_name=args.regressor)
    except (FileNotFoundError, inputs.InputError) as e:
        raise SystemExit(f"{ap.prog}: error: {inputs.one_line(e)}") from None
    print((Path(args.out).expanduser() / "table1.md").read_text())
    return table


if __name__ == "__main__":
    main()
