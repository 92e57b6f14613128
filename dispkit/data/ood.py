"""The out-of-distribution test scenes: poses, framing, cameras, regressor errors and lighting no learned part saw.

Every learned or calibrated part of the kit (the displacement network, the open GMM, VPoser and cNF, the
regressor and detector calibrations) was trained or fitted on the kit's own generator
(:mod:`dispkit.data.poses`, :mod:`dispkit.data.regressors`, :mod:`dispkit.data.appearance`). A benchmark on that
generator's held-out seeds says how well they fit *that* generator. The OOD split differs from it in a
documented way, ingredient by ingredient (:func:`dispkit.data.synthetic.make_scene` with
``distribution="ood"``):

=====================  ==========================================  ==========================================
ingredient             the kit's generator (training, ID split)    the OOD split (this module)
=====================  ==========================================  ==========================================
poses                  12 key poses (:data:`~dispkit.data.poses.   8 other pose families (:data:`OOD_POSES`):
                       KEY_POSES`) + per-joint noise               kicks, star jumps, boxing guards, throws,
                                                                   cross-legged sitting, ...; 1.3 x the noise
framing                320 x 240 landscape, person 45-80 % of      240 x 426 portrait (3DPW's 1080 x 1920 at
                       the height                                  0.22 x), person 65-95 % of the height
camera                 pitch N(0, 0.1), roll N(0, 0.03) rad        pitch N(0, 0.3), roll N(0, 0.12) rad
regressor errors       the same rotation error at every joint      limb-heavy (distal joints 1.7 x, spine
                       (:data:`~dispkit.data.regressors.           0.5 x), regression to the mean pose (15 %),
                       REGRESSOR_PRESETS`), unbiased               a forward lean and a depth bias, shape
                                                                   shrunk towards the mean
lighting, background   one white light from the camera's side,     a warm key and a cool fill light, lower
                       wall/floor/blobs background                 ambient, striped / brick backgrounds, a
                                                                   vignette, more blur and noise
=====================  ==========================================  ==========================================

The body model, the clothing texture generator and the joint limits are shared (they are not learned).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from dispkit.body import default_body
from dispkit.data.appearance import _gaussian_blur, _hsv, _low_freq_noise
from dispkit.data.poses import _NOISE, ANATOMICAL_LIMITS, BODY_JOINTS, _from_semantic, _rng, mirror_euler
from dispkit.data.regressors import _random_rotations, with_translation

__all__ = ["OOD_IMAGE_SIZE", "OOD_POSES", "OOD_REGRESSORS", "make_background_ood", "sample_euler_pose_ood",
           "distance_to_kit_poses", "sample_params_ood", "shade_and_composite_ood", "simulate_regressor_ood"]

#: (width, height) of the OOD frames: portrait, 3DPW's 1080 x 1920 at about 0.22 x
OOD_IMAGE_SIZE = (240, 426)

#: pose families none of the kit's key poses resembles ("semantic" Euler: right_* written as for the left side)
OOD_POSES: dict[str, np.ndarray] = {
    # a front kick: right leg swung forward and up with a straight knee, arms out for balance, leaning back
    "kick": _from_semantic({
        "right_hip": (-1.35, 0, 0.05), "right_knee": (0.15, 0, 0), "left_knee": (0.3, 0, 0),
        "spine1": (-0.2, 0, 0), "both_shoulder": (0, 0.2, -0.35), "both_elbow": (0, -0.5, 0)}),
    # a star jump at its widest: legs spread, arms up and out
    "star": _from_semantic({
        "both_hip": (0, 0, 0.65), "both_knee": (0.1, 0, 0), "both_ankle": (0, 0, -0.3),
        "both_shoulder": (0, 0.1, 0.7), "both_elbow": (0, -0.1, 0), "neck": (-0.2, 0, 0)}),
    # a boxing guard: fists by the chin, elbows in, staggered stance, knees bent
    "boxing": _from_semantic({
        "both_shoulder": (0, -0.75, -1.1), "both_elbow": (0, -2.3, 0), "spine1": (0.2, 0, 0),
        "left_hip": (-0.35, 0, 0.1), "right_hip": (0.25, 0, 0.1), "both_knee": (0.45, 0, 0),
        "spine2": (0, 0.25, 0)}),
    # an overarm throw: right arm cocked back high, left arm pointing forward, torso twisted
    "throw": _from_semantic({
        "right_shoulder": (0.6, 0.5, 0.9), "right_elbow": (0, -1.7, 0), "left_shoulder": (0, -1.2, -0.2),
        "spine2": (0, 0.45, 0), "spine3": (0, 0.2, 0), "left_hip": (-0.5, 0, 0.1), "left_knee": (0.35, 0, 0),
        "right_hip": (0.3, 0, 0.05)}),
    # sitting cross-legged on the floor, hands on the knees
    "cross_legged": _from_semantic({
        "both_hip": (-1.5, 0.45, 0.85), "both_knee": (2.2, 0, 0), "both_ankle": (0, 0, 0.3),
        "spine1": (0.25, 0, 0), "both_shoulder": (0, -0.7, -0.9), "both_elbow": (0, -0.5, 0)}),
    # standing on the right leg, the left foot against the right knee, hands joined above the head
    "tree": _from_semantic({
        "left_hip": (-0.7, 0.5, 0.9), "left_knee": (2.1, 0, 0), "both_shoulder": (0, -0.25, 1.35),
        "both_elbow": (0, -0.6, 0), "both_collar": (0, 0, 0.2)}),
    # bending sideways: spine flexed to the left, right arm over the head, left arm down the leg
    "side_bend": _from_semantic({
        "spine1": (0, 0, 0.3), "spine2": (0, 0, 0.3), "spine3": (0, 0, 0.2), "right_shoulder": (0, 0, 1.4),
        "right_elbow": (0, -0.5, 0), "left_shoulder": (0, 0, -1.45), "both_hip": (0, 0, 0.15)}),
    # climbing a ladder: one knee high, the opposite arm reaching up, the other arm bent at chest height
    "climb": _from_semantic({
        "right_hip": (-1.3, 0, 0.1), "right_knee": (1.7, 0, 0), "left_knee": (0.2, 0, 0),
        "left_shoulder": (0, -0.4, 1.2), "left_elbow": (0, -0.3, 0), "right_shoulder": (0, -1.2, -0.5),
        "right_elbow": (0, -1.6, 0), "spine1": (0.15, 0, 0)}),
}

#: OOD regressor errors. ``sigma_joint`` is scaled per joint by :data:`_LIMB_PROFILE` (limb-heavy); the estimate
#: regresses ``shrink`` of the way to the mean (zero) pose, leans ``lean`` rad forward at the lower spine, sits
#: ``depth_bias`` further away, and has its shape shrunk by ``betas_shrink`` towards the mean plus noise.
OOD_REGRESSORS: dict[str, dict[str, float]] = {
    "ood-pare-like": {"sigma_joint": 0.105, "sigma_global": 0.10, "pitch_bias": 0.05, "shrink": 0.15, "lean": 0.08,
                      "betas_shrink": 0.6, "sigma_betas": 0.4, "sigma_depth": 0.07, "depth_bias": 0.05,
                      "sigma_xy": 0.03},
    "ood-prohmr-like": {"sigma_joint": 0.135, "sigma_global": 0.13, "pitch_bias": 0.07, "shrink": 0.2, "lean": 0.1,
                        "betas_shrink": 0.5, "sigma_betas": 0.5, "sigma_depth": 0.1, "depth_bias": 0.07,
                        "sigma_xy": 0.04},
}
_LIMB_PROFILE = np.array([1.7 if any(k in n for k in ("elbow", "wrist", "hand", "knee", "ankle", "foot"))
                          else 0.5 if any(k in n for k in ("spine", "neck", "head", "collar")) else 1.0
                          for n in BODY_JOINTS])


def sample_euler_pose_ood(generator=None, kind: str | None = None) -> tuple[np.ndarray, str]:
    """One OOD pose as Euler angles [23,3] and its family: a family of :data:`OOD_POSES` (``kind`` or uniform),
    intensity U(0.8, 1.2), mirrored with probability 1/2, 1.3 x the kit's per-joint noise, clamped to the joint
    limits."""
    rng = _rng(generator)
    if kind is None:
        kind = list(OOD_POSES)[int(rng.integers(len(OOD_POSES)))]
    elif kind not in OOD_POSES:
        raise ValueError(f"unknown OOD pose family {kind!r}; choose from {', '.join(OOD_POSES)}")
    e = OOD_POSES[kind] * rng.uniform(0.8, 1.2)
    if rng.random() < 0.5:
        e = mirror_euler(e)
    e = e + rng.normal(size=e.shape) * 1.3 * _NOISE[:, None]
    return np.clip(e, ANATOMICAL_LIMITS[..., 0], ANATOMICAL_LIMITS[..., 1]), kind


def sample_params_ood(generator, body=None, width: int = OOD_IMAGE_SIZE[0], height: int = OOD_IMAGE_SIZE[1],
                      kind: str | None = None) -> tuple[dict, object, dict]:
    """OOD ground truth and camera (see the module docstring): like :func:`dispkit.data.synthetic.sample_params`,
    with the OOD poses, larger pitch and roll and a person filling 65-95 % of the frame's height."""
    from dispkit.data.synthetic import place_body

    rng = _rng(generator)
    body = default_body(body)
    euler, kind = sample_euler_pose_ood(rng, kind)
    return place_body(rng, body, euler, kind, width, height, pitch_sigma=0.3, roll_sigma=0.12,
                      height_fraction=(0.65, 0.95))


def simulate_regressor_ood(gt_params, preset="ood-pare-like", generator=None, body=None) -> dict[str, torch.Tensor]:
    """An OOD regressor's estimate of ``gt_params`` (see :data:`OOD_REGRESSORS`): limb-heavy rotation errors,
    regression to the mean pose, a forward lean, a pitch and a depth bias, shape shrunk towards the mean."""
    if isinstance(preset, str):
        if preset not in OOD_REGRESSORS:
            raise ValueError(f"unknown OOD regressor {preset!r}; choose one of {', '.join(OOD_REGRESSORS)}")
        preset = OOD_REGRESSORS[preset]
    p, rng, body = dict(preset), _rng(generator), default_body(body)
    go = gt_params["global_orient"].detach().double().cpu().numpy()
    bp = gt_params["body_pose"].detach().double().cpu().numpy().reshape(-1, 23, 3)
    betas = gt_params["betas"].detach().double().cpu().numpy()
    B = go.shape[0]
    mean_pose = Rotation.from_rotvec((bp * (1 - p["shrink"])).reshape(-1, 3))    # regression to the mean
    sig = np.tile(p["sigma_joint"] * _LIMB_PROFILE, B)
    err = _random_rotations(rng, B * 23, 1.0) * sig[:, None]
    R_bp = (mean_pose * Rotation.from_rotvec(err)).as_rotvec().reshape(B, 23, 3)
    R_bp[:, BODY_JOINTS.index("spine1"), 0] += p["lean"]                         # a systematic forward lean
    bias = Rotation.from_euler("x", np.full(B, p["pitch_bias"]))
    R_go = bias * Rotation.from_rotvec(_random_rotations(rng, B, p["sigma_global"])) * Rotation.from_rotvec(go)
    betas_i = betas * p["betas_shrink"] + rng.normal(0, p["sigma_betas"], betas.shape)
    scale = 1 + p["depth_bias"] + rng.normal(0, p["sigma_depth"], (B, 1))
    offset = np.concatenate([rng.normal(0, p["sigma_xy"], (B, 2)), np.zeros((B, 1))], 1)
    init = {"global_orient": torch.as_tensor(R_go.as_rotvec(), dtype=torch.float32),
            "body_pose": torch.as_tensor(R_bp.reshape(B, 69), dtype=torch.float32),
            "betas": torch.as_tensor(betas_i, dtype=torch.float32)}
    return with_translation(init, gt_params, scale, offset, body)


def make_background_ood(generator, H: int, W: int) -> torch.Tensor:
    """An OOD background [H,W,3]: vertical stripes or a brick wall under a diagonal gradient, with a vignette."""
    rng = _rng(generator)
    y = np.linspace(0, 1, H)[:, None, None]
    x = np.linspace(0, 1, W)[None, :, None]
    a, b = _hsv(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.9)), \
        _hsv(rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.8))
    if rng.random() < 0.5:                                                      # stripes
        period = rng.uniform(0.04, 0.15)
        t = (np.floor(x / period) % 2) * np.ones_like(y)
    else:                                                                        # bricks
        rows = rng.uniform(0.03, 0.07)
        r = np.floor(y / rows)
        t = ((np.floor((x + 0.5 * (r % 2) * 2 * rows) / (2 * rows)) % 2) * 0.3 + 0.7) * \
            (((y % rows) / rows > 0.1) * 1.0)
    img = a * t + b * (1 - t)
    img = img * (0.6 + 0.6 * (x + y) / 2)                                        # diagonal gradient
    img = img * (1 - 0.5 * ((x - 0.5) ** 2 + (y - 0.5) ** 2))                    # vignette
    img = img * (1 + 0.15 * _low_freq_noise(rng, H, W, 3, cells=5).numpy())
    return torch.as_tensor(np.clip(img, 0, 1), dtype=torch.float32)


def shade_and_composite_ood(rgb, normal, mask, background, generator, noise_std: float | None = None):
    """The OOD camera image: a warm key light from one side and a cool fill light, ambient U(0.15, 0.3), blur
    sigma 0.8 px, noise U(0.01, 0.03). Returns ``(image, key light direction, ambient, noise_std)``."""
    rng = _rng(generator)
    side = rng.choice([-1.0, 1.0])
    key = np.array([side * rng.uniform(0.5, 1.0), rng.uniform(-0.6, 0.2), -rng.uniform(0.2, 0.8)])
    fill = np.array([-side * rng.uniform(0.3, 0.8), rng.uniform(0.0, 0.6), -rng.uniform(0.3, 0.9)])
    key, fill = (torch.as_tensor(v / np.linalg.norm(v), dtype=torch.float32) for v in (key, fill))
    warm = torch.tensor([1.1, 0.95, 0.75]) * rng.uniform(0.9, 1.2)
    cool = torch.tensor([0.55, 0.7, 1.0]) * rng.uniform(0.3, 0.6)
    ambient = float(rng.uniform(0.15, 0.3))
    light = ambient + warm * (normal * key).sum(-1, keepdim=True).clamp(min=0) + \
        cool * (normal * fill).sum(-1, keepdim=True).clamp(min=0)
    person = (rgb * light).clamp(0, 1)
    img = torch.where(mask[..., None], person, background)
    img = _gaussian_blur(img, 0.8)
    sd = rng.uniform(0.01, 0.03) if noise_std is None else float(noise_std)
    img = (img + torch.as_tensor(rng.normal(0, sd, img.shape), dtype=torch.float32)).clamp(0, 1)
    return img, key, ambient, sd


def distance_to_kit_poses() -> float:
    """The smallest RMS joint-angle distance (rad, over the 23 joints) between an OOD pose family and a kit key
    pose, mirrored or not: how far apart the two pose sources are before noise."""
    from dispkit.data.poses import KEY_POSES

    d = math.inf
    for e in OOD_POSES.values():
        for k in KEY_POSES.values():
            for m in (k, mirror_euler(k)):
                d = min(d, float(np.sqrt(((e - m) ** 2).sum(-1).mean())))
    return d
