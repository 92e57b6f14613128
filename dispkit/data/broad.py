"""The broad training distribution: what the displacement network and the open priors learn from.

The paper trains on Human3.6M + 3DPW + SURREAL, 64 ProHMR samples per frame and the GT pose with PARE's shape
and camera (§4): many poses, many cameras, many kinds of regressor error. The kit's own scene generator
(:mod:`dispkit.data.synthetic`, the in-distribution benchmark split) draws 12 key poses with noise in one
320 x 240 landscape camera; a network trained only on it does not generalise (issue 16). This module widens every
ingredient, ingredient by ingredient, and stays apart from the out-of-distribution test split
(:mod:`dispkit.data.ood`), whose pose families, regressor-error structure (regression to the mean pose, a forward
lean), two-light shading and striped / brick backgrounds it never draws:

=====================  ==========================================  ==========================================
ingredient             the kit's generator (ID split)              broad (this module, training only)
=====================  ==========================================  ==========================================
poses                  12 key poses + per-joint noise              a third each: key poses with 2 x the noise;
                                                                   blends of two key poses; continuous poses
                                                                   over the anatomical ranges (every joint
                                                                   drawn inside its limits, pulled towards a
                                                                   relaxed stance by a random amount)
framing                320 x 240, person 45-80 % of the height     320 x 240, 240 x 320, 256 x 256, 384 x 216
                                                                   and 216 x 384 frames, person 35-95 %
camera                 pitch N(0, 0.1), roll N(0, 0.03) rad        pitch N(0, 0.25), roll N(0, 0.1) rad
regressor errors       the three presets                           a preset x U(0.3, 1.5), each joint's error
                                                                   x a log-normal factor (heteroscedastic), a
                                                                   global pitch / yaw bias, a depth bias
lighting, background   one white light, ambient U(0.35, 0.55)      one tinted light, ambient U(0.2, 0.65),
                                                                   blur 0.3-1 px, noise up to 0.03; the kit's
                                                                   backgrounds or a user's image folder
=====================  ==========================================  ==========================================

``benchmarks/TRAINED_ON.md`` lists what each learned part saw. Every function takes a NumPy Generator (or a
seed) and is a pure function of it.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from dispkit.body import default_body
from dispkit.data.appearance import _gaussian_blur
from dispkit.data.poses import _NOISE, ANATOMICAL_LIMITS, KEY_POSES, POSE_KINDS, _rng, euler_to_axis_angle, mirror_euler
from dispkit.data.regressors import REGRESSOR_PRESETS, _random_rotations, with_translation

__all__ = ["BROAD_IMAGE_SIZES", "POSE_SOURCES", "sample_euler_pose_broad", "sample_params_broad",
           "sample_pose_broad", "shade_and_composite_broad", "simulate_regressor_broad"]

#: (width, height) of the training frames: landscape, portrait, square, wide and tall
BROAD_IMAGE_SIZES = ((320, 240), (240, 320), (256, 256), (384, 216), (216, 384))
#: how a broad pose is drawn (probabilities)
POSE_SOURCES = {"key": 1 / 3, "blend": 1 / 3, "continuous": 1 / 3}
_RELAXED = KEY_POSES["stand"]


def sample_euler_pose_broad(generator=None) -> tuple[np.ndarray, str]:
    """One broad pose as Euler angles [23,3] (the layout of :mod:`dispkit.data.poses`) and its source
    (:data:`POSE_SOURCES`): ``"key"`` a key pose x U(0.6, 1.2) with 2 x the kit's per-joint noise; ``"blend"`` a
    random mix ``w A + (1 - w) B`` of two key poses with 1.5 x the noise; ``"continuous"`` every joint uniform in
    its :data:`~dispkit.data.poses.ANATOMICAL_LIMITS`, pulled ``1 - λ`` of the way to a relaxed stance,
    ``λ ~ U(0.3, 1)``. Mirrored with probability 1/2, clamped to the limits."""
    rng = _rng(generator)
    src = list(POSE_SOURCES)[int(rng.choice(len(POSE_SOURCES), p=list(POSE_SOURCES.values())))]
    lo, hi = ANATOMICAL_LIMITS[..., 0], ANATOMICAL_LIMITS[..., 1]
    if src == "key":
        e = KEY_POSES[POSE_KINDS[int(rng.integers(len(POSE_KINDS)))]] * rng.uniform(0.6, 1.2)
        e = e + rng.normal(size=(23, 3)) * 2.0 * _NOISE[:, None]
    elif src == "blend":
        a, b = rng.choice(len(POSE_KINDS), 2, replace=False)
        w = rng.uniform(0, 1)
        e = w * KEY_POSES[POSE_KINDS[int(a)]] + (1 - w) * KEY_POSES[POSE_KINDS[int(b)]]
        e = e + rng.normal(size=(23, 3)) * 1.5 * _NOISE[:, None]
    else:
        lam = rng.uniform(0.3, 1.0)
        e = lam * rng.uniform(lo, hi) + (1 - lam) * _RELAXED
    if rng.random() < 0.5:
        e = mirror_euler(e)
    return np.clip(e, lo, hi), src


def sample_pose_broad(generator=None, batch_size: int = 1) -> torch.Tensor:
    """``batch_size`` broad ``body_pose`` axis-angle vectors [B,69] (float32); see :func:`sample_euler_pose_broad`."""
    rng = _rng(generator)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return euler_to_axis_angle(np.stack([sample_euler_pose_broad(rng)[0] for _ in range(int(batch_size))]))


def sample_params_broad(generator, body=None, image_size=None) -> tuple[dict, object, dict]:
    """Broad ground truth and camera: a broad pose, a frame of :data:`BROAD_IMAGE_SIZES` (or ``image_size``), pitch
    N(0, 0.25) / roll N(0, 0.1) rad, the person 35-95 % of the height. Returns ``(params, camera, meta)`` like
    :func:`dispkit.data.synthetic.sample_params`; ``meta`` adds ``image_size`` and ``pose_source``."""
    from dispkit.data.synthetic import place_body

    rng = _rng(generator)
    body = default_body(body)
    if image_size is None:
        image_size = BROAD_IMAGE_SIZES[int(rng.integers(len(BROAD_IMAGE_SIZES)))]
    w, h = (int(x) for x in image_size)
    euler, src = sample_euler_pose_broad(rng)
    params, cam, meta = place_body(rng, body, euler, f"broad:{src}", w, h, pitch_sigma=0.25, roll_sigma=0.1,
                                   height_fraction=(0.35, 0.95))
    return params, cam, {**meta, "image_size": (w, h), "pose_source": src}


def simulate_regressor_broad(gt_params, generator=None, body=None) -> tuple[dict, str]:
    """A broad regressor estimate of ``gt_params`` (batch 1 or B) and its description: a random preset of
    :data:`~dispkit.data.regressors.REGRESSOR_PRESETS` scaled by U(0.3, 1.5); each joint's rotation error scaled by
    its own log-normal factor exp(N(0, 0.4)); a global pitch / yaw bias N(0, 0.05) rad; a depth bias N(0, 0.04).
    No regression to the mean pose and no forward lean (the OOD regressors' structure stays unseen)."""
    rng, body = _rng(generator), default_body(body)
    name = list(REGRESSOR_PRESETS)[int(rng.integers(len(REGRESSOR_PRESETS)))]
    p, k = REGRESSOR_PRESETS[name], float(rng.uniform(0.3, 1.5))
    go = gt_params["global_orient"].detach().double().cpu().numpy()
    bp = gt_params["body_pose"].detach().double().cpu().numpy()
    betas = gt_params["betas"].detach().double().cpu().numpy()
    B = go.shape[0]
    sig = k * p["sigma_joint"] * np.exp(rng.normal(0, 0.4, B * 23))
    err = _random_rotations(rng, B * 23, 1.0) * sig[:, None]
    R_bp = Rotation.from_rotvec(bp.reshape(-1, 3)) * Rotation.from_rotvec(err)
    bias = Rotation.from_euler("xy", rng.normal(0, 0.05, (B, 2)))
    R_go = bias * Rotation.from_rotvec(_random_rotations(rng, B, k * p["sigma_global"])) * Rotation.from_rotvec(go)
    betas_i = betas + rng.normal(0, k * p["sigma_betas"], betas.shape)
    scale = 1 + rng.normal(0, 0.04) + rng.normal(0, k * p["sigma_depth"], (B, 1))
    offset = np.concatenate([rng.normal(0, k * p["sigma_xy"], (B, 2)), np.zeros((B, 1))], 1)
    init = {"global_orient": torch.as_tensor(R_go.as_rotvec(), dtype=torch.float32),
            "body_pose": torch.as_tensor(R_bp.as_rotvec().reshape(B, 69), dtype=torch.float32),
            "betas": torch.as_tensor(betas_i, dtype=torch.float32)}
    return with_translation(init, gt_params, scale, offset, body), f"broad:{name}x{k:.2f}"


def shade_and_composite_broad(rgb, normal, mask, background, generator):
    """A broad camera image of a rendered person: one light from a random direction on the camera's side, tinted
    (per-channel gain U(0.8, 1.2)), ambient U(0.2, 0.65), blur sigma U(0.3, 1) px, noise U(0.003, 0.03).
    Returns ``(image [H,W,3], light direction, ambient, noise_std)``."""
    rng = _rng(generator)
    light = np.array([rng.uniform(-0.9, 0.9), rng.uniform(-1.0, 0.3), -rng.uniform(0.3, 1.0)])
    light = torch.as_tensor(light / np.linalg.norm(light), dtype=torch.float32)
    tint = torch.as_tensor(rng.uniform(0.8, 1.2, 3), dtype=torch.float32)
    ambient = float(rng.uniform(0.2, 0.65))
    lambert = (normal * light).sum(-1, keepdim=True).clamp(min=0)
    person = (rgb * (ambient + (1 - ambient) * 1.15 * lambert * tint)).clamp(0, 1)
    img = torch.where(mask[..., None], person, background)
    img = _gaussian_blur(img, float(rng.uniform(0.3, 1.0)))
    sd = float(rng.uniform(0.003, 0.03))
    img = (img + torch.as_tensor(rng.normal(0, sd, img.shape), dtype=torch.float32)).clamp(0, 1)
    return img, light, ambient, sd
