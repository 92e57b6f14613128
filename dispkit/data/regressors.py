"""Simulated regressors: a 3D human pose and shape regressor's initial estimate as calibrated errors on the GT.

The paper refines the outputs of PARE, HMR+ / SPIN and ProHMR (§4). :func:`simulate_regressor` stands in
for them: it perturbs the ground-truth SMPL parameters with random joint rotations, a global rotation, a
shape error and a depth / translation error whose sizes (:data:`REGRESSOR_PRESETS`) were calibrated so that
the initial MPJPE / PA-MPJPE match each regressor's errors on 3DPW in the paper.
:func:`dispkit.data.synthetic.make_scene` draws a scene's regressor errors from
``np.random.default_rng([seed, 1])``, independently of its ground truth and appearance.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from dispkit.body import default_body
from dispkit.data.poses import _rng

__all__ = ["REGRESSOR_PRESETS", "simulate_regressor", "with_translation"]

#: Simulated regressors. Per-joint rotation errors (random axis, angle ~ N(0, sigma_joint) rad, at every
#: body joint, so they accumulate along the kinematic chain), a global orientation error
#: (N(0, sigma_global) rad), a shape error (betas + N(0, sigma_betas)), and a depth error: the pelvis
#: moves along its viewing ray by a factor 1 + N(0, sigma_depth) (the 2D body stays on the person, as a
#: regressor's weak-perspective camera would) plus a small x/y offset N(0, sigma_xy) m.
#: sigma_joint / sigma_global were calibrated by a multiplicative fixed-point search on seeds 1000-1199
#: (sigma_betas etc. fixed by hand) so that MPJPE / PA-MPJPE on the 24 SMPL joints match the paper's
#: initial errors on 3DPW: PARE 74.5 / 46.6 mm, HMR+ 83.0 / 52.1, ProHMR 95.1 / 59.5. Held-out check on
#: seeds 0-199 (benchmarks/bench_regressor_calibration.py): 74.1 / 47.3, 82.9 / 53.1, 94.8 / 60.5 mm,
#: all within 3 %. MPJPE is pelvis-root-aligned, so sigma_depth / sigma_xy do not enter it.
REGRESSOR_PRESETS: dict[str, dict[str, float]] = {
    "pare-like":   {"sigma_joint": 0.140, "sigma_global": 0.120, "sigma_betas": 0.5, "sigma_depth": 0.08,
                    "sigma_xy": 0.03, "target_mpjpe": 74.5, "target_pa_mpjpe": 46.6},
    "hmr-like":    {"sigma_joint": 0.157, "sigma_global": 0.132, "sigma_betas": 0.6, "sigma_depth": 0.1,
                    "sigma_xy": 0.04, "target_mpjpe": 83.0, "target_pa_mpjpe": 52.1},
    "prohmr-like": {"sigma_joint": 0.179, "sigma_global": 0.152, "sigma_betas": 0.7, "sigma_depth": 0.12,
                    "sigma_xy": 0.05, "target_mpjpe": 95.1, "target_pa_mpjpe": 59.5},
}


def _preset(preset) -> dict:
    if isinstance(preset, Mapping):
        return dict(preset)
    if preset not in REGRESSOR_PRESETS:
        raise ValueError(f"unknown regressor preset {preset!r}; choose one of {', '.join(REGRESSOR_PRESETS)}")
    return REGRESSOR_PRESETS[preset]


def _random_rotations(rng, n: int, sigma: float) -> np.ndarray:
    """n rotation vectors: uniform random axis, angle ~ N(0, sigma)."""
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    return axis * rng.normal(0, sigma, (n, 1))


def _root_joint(body, betas) -> np.ndarray:
    """Rest position [B,3] of the root joint (pelvis) for ``betas [B,nb]``: SMPL rotates about it."""
    with torch.no_grad():
        betas = torch.as_tensor(betas, dtype=body.dtype, device=body.device)
        j_t = body.J_regressor[0] @ body.v_template                                     # [3]
        j_s = torch.einsum("v,vcb->cb", body.J_regressor[0], body.shapedirs[..., :betas.shape[1]])
        return (j_t + betas @ j_s.T).double().cpu().numpy()


def simulate_regressor(gt_params: Mapping[str, torch.Tensor], preset="pare-like", generator=None,
                       body=None) -> dict[str, torch.Tensor]:
    """A simulated regressor's initial estimate of ``gt_params`` (batch 1 or B; see :data:`REGRESSOR_PRESETS`).

    ``preset`` is a preset name or a dict with the same keys. Joint errors are applied in each
    joint's local frame (``R_init = R_gt R_err``), the global error in camera space
    (``R_init = R_err R_gt``, about the pelvis). The translation is recomputed so that the pelvis
    lands at its perturbed position with the perturbed shape.
    """
    p = _preset(preset)
    rng = _rng(generator)
    body = default_body(body)
    go = gt_params["global_orient"].detach().double().cpu().numpy()
    bp = gt_params["body_pose"].detach().double().cpu().numpy()
    betas = gt_params["betas"].detach().double().cpu().numpy()
    B = go.shape[0]
    R_bp = Rotation.from_rotvec(bp.reshape(-1, 3)) * Rotation.from_rotvec(_random_rotations(rng, B * 23,
                                                                                            p["sigma_joint"]))
    R_go = Rotation.from_rotvec(_random_rotations(rng, B, p["sigma_global"])) * Rotation.from_rotvec(go)
    betas_i = betas + rng.normal(0, p["sigma_betas"], betas.shape)
    scale = 1 + rng.normal(0, p["sigma_depth"], (B, 1))
    offset = np.concatenate([rng.normal(0, p["sigma_xy"], (B, 2)), np.zeros((B, 1))], 1)
    init = {"global_orient": torch.as_tensor(R_go.as_rotvec(), dtype=torch.float32),
            "body_pose": torch.as_tensor(R_bp.as_rotvec().reshape(B, 69), dtype=torch.float32),
            "betas": torch.as_tensor(betas_i, dtype=torch.float32)}
    return with_translation(init, gt_params, scale, offset, body)


def with_translation(init: dict, gt_params, scale, offset, body) -> dict:
    """``init`` with the translation that puts its pelvis at ``scale`` [B,1] x the GT pelvis + ``offset`` [B,3]
    (metres) with its own shape: the pelvis moves along its viewing ray, as a regressor's depth error does. The
    root joint does not move with the pose, so the rest pose's root of each shape is used."""
    pelvis = _root_joint(body, gt_params["betas"]) + gt_params["transl"].detach().double().cpu().numpy()
    init["transl"] = torch.as_tensor(np.clip(scale, 0.5, 2.0) * pelvis + offset - _root_joint(body, init["betas"]),
                                     dtype=torch.float32)
    return init
