"""Seeded synthetic scenes: the open stand-in for SURREAL / 3DPW / RICH.

A scene is a textured body (the kit's open SMPL-format model) rendered over a procedural
background with a full-image camera (``f = sqrt(w^2 + h^2)``, the paper's choice, §4.1),
together with its ground-truth SMPL parameters and a *simulated regressor's* initial
estimate (the paper refines the outputs of PARE, HMR+ / SPIN and ProHMR; §4).

Everything is reproducible from one integer seed: the same seed gives a bitwise identical
scene. The seed drives three independent NumPy streams, so changing one ingredient does
not change the others:

* ``np.random.default_rng([seed, 0])``: pose, shape, camera placement (the GT),
* ``np.random.default_rng([seed, 1])``: the regressor's errors (per preset),
* ``np.random.default_rng([seed, 2])``: appearance (texture, background, light, noise).

Conventions
-----------
* Body poses are axis-angle, SMPL layout: ``global_orient [B,3]``, ``body_pose [B,69]``
  (23 joints, SMPL joints 1..23), ``betas [B,10]``, ``transl [B,3]`` (metres).
* The pose library and the joint-limit table are written as per-joint **extrinsic XYZ Euler
  angles** in each joint's parent frame of SMPL's T-pose (``scipy`` ``from_euler("xyz")``,
  ``R = Rz(c) Ry(b) Rx(a)``). SMPL frame: x = body's left, y up, z = the body's front.
  Hence: hip ``x < 0`` flexes the thigh forward; knee ``x > 0`` bends the shank backward
  (the only way a knee bends); spine/neck ``x > 0`` bends forward; left shoulder ``z < 0``
  lowers the arm from the T-pose, ``y < 0`` swings it forward, ``x`` twists it; left elbow
  ``y < 0`` flexes the forearm. Right-side joints are the mirror image: Euler ``(a, b, c)``
  of a left joint corresponds to ``(a, -b, -c)`` of the right one.
* Camera space is OpenCV (x right, y down, z forward); a body in SMPL's frame is turned
  upright by the 180 degree rotation about x in ``global_orient``.
* Images are ``[H,W,3]`` float32 in ``[0, 1]``, row 0 at the top.
"""
from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial.transform import Rotation

from dispkit.body import SMPL_JOINT_NAMES, load_body_model
from dispkit.camera import Camera, box_from_points

__all__ = ["ANATOMICAL_LIMITS", "KEY_POSES", "POSE_KINDS", "REGRESSOR_PRESETS", "Scene", "estimated_texture",
           "euler_to_axis_angle", "make_background", "make_scene", "make_texture", "person_sequence",
           "sample_euler_pose", "reference_frames", "sample_params", "sample_pose", "scene_params",
           "simulate_regressor", "texture_part_map"]

BODY_JOINTS = SMPL_JOINT_NAMES[1:]             # the 23 joints of body_pose, in order
_J = {name: i for i, name in enumerate(BODY_JOINTS)}


def _rng(generator) -> np.random.Generator:
    """A NumPy Generator from a Generator, an int seed or a seed sequence."""
    if isinstance(generator, np.random.Generator):
        return generator
    return np.random.default_rng(generator)


def _side_pairs():
    """(left index, right index) pairs of body_pose joints."""
    return [(_J[n], _J["right_" + n[5:]]) for n in BODY_JOINTS if n.startswith("left_")]


_PAIRS = _side_pairs()
_CENTRAL = [i for i, n in enumerate(BODY_JOINTS) if not n.startswith(("left_", "right_"))]


def _from_semantic(table: Mapping[str, tuple]) -> np.ndarray:
    """[23,3] Euler angles from a dict whose ``right_*`` entries are written *as for the left side*.

    Keys are body_pose joint names; ``"both_X"`` sets ``left_X`` and ``right_X`` alike. Missing joints
    are 0. Right-side values are mirrored into the right joint's actual frame: (a, b, c) -> (a, -b, -c).
    """
    e = np.zeros((23, 3))
    for key, val in table.items():
        names = [f"left_{key[5:]}", f"right_{key[5:]}"] if key.startswith("both_") else [key]
        for name in names:
            v = np.asarray(val, dtype=np.float64)
            if name.startswith("right_"):
                v = v * np.array([1.0, -1.0, -1.0])
            e[_J[name]] = v
    return e


def mirror_euler(euler: np.ndarray) -> np.ndarray:
    """Left/right mirror image of Euler poses [...,23,3] (swap sides, (a, b, c) -> (a, -b, -c))."""
    euler = np.asarray(euler, dtype=np.float64)
    out = euler * np.array([1.0, -1.0, -1.0])
    for li, ri in _PAIRS:
        out[..., [li, ri], :] = out[..., [ri, li], :]
    return out


# ----------------------------------------------------------------------------- joint limits
# Anatomical limits per joint, extrinsic XYZ Euler (radians), (lo, hi) for x, y, z, written for
# the LEFT side; right joints get the mirrored ranges. Rough human ranges of motion, slightly
# generous so that the key poses plus noise are rarely clamped hard.
_LIMITS_LEFT = {
    "hip":      ((-2.3, 0.6), (-0.7, 0.7), (-0.4, 1.0)),   # x: flexion (-) / extension (+); z: abduction (+)
    "knee":     ((0.0, 2.4), (-0.08, 0.08), (-0.08, 0.08)),  # flexes one way only, never hyper-extends
    "ankle":    ((-0.7, 0.8), (-0.35, 0.35), (-0.35, 0.35)),  # x: dorsi (-) / plantar (+) flexion
    "foot":     ((-0.4, 0.4), (-0.15, 0.15), (-0.15, 0.15)),  # toes
    "collar":   ((-0.3, 0.3), (-0.35, 0.35), (-0.35, 0.45)),
    "shoulder": ((-1.8, 1.2), (-1.7, 0.9), (-1.55, 1.45)),  # z: raise (+) / lower (-); y: forward (-)
    "elbow":    ((-0.7, 0.7), (-2.6, 0.0), (-0.08, 0.08)),  # y: flexion (-) only
    "wrist":    ((-0.7, 0.7), (-0.5, 0.5), (-1.0, 1.0)),
    "hand":     ((-0.35, 0.35), (-0.35, 0.35), (-0.35, 0.35)),  # fingers as one block
}
_LIMITS_CENTRAL = {
    "spine1": ((-0.45, 0.9), (-0.45, 0.45), (-0.35, 0.35)),  # x: forward bend (+)
    "spine2": ((-0.3, 0.55), (-0.35, 0.35), (-0.25, 0.25)),
    "spine3": ((-0.3, 0.5), (-0.35, 0.35), (-0.25, 0.25)),
    "neck":   ((-0.5, 0.65), (-0.7, 0.7), (-0.35, 0.35)),
    "head":   ((-0.45, 0.55), (-0.7, 0.7), (-0.35, 0.35)),
}


def _limits_table() -> np.ndarray:
    lim = np.zeros((23, 3, 2))
    for i, name in enumerate(BODY_JOINTS):
        if name.startswith(("left_", "right_")):
            side, part = name.split("_", 1)
            t = np.array(_LIMITS_LEFT[part], dtype=np.float64)
            if side == "right":  # mirror: y and z ranges flip sign and swap ends
                t[1:] = -t[1:, ::-1]
            lim[i] = t
        else:
            lim[i] = np.array(_LIMITS_CENTRAL[name], dtype=np.float64)
    return lim


#: ``[23,3,2]`` (lo, hi) Euler limits per body_pose joint and axis, in each joint's actual frame.
ANATOMICAL_LIMITS = _limits_table()

# ----------------------------------------------------------------------------- key poses
# Key poses in "semantic" Euler (see _from_semantic: right_* written as for the left side).
_ARMS_DOWN = (0.0, 0.0, -1.3)
KEY_POSES: dict[str, np.ndarray] = {
    # relaxed standing, arms hanging by the sides, elbows slightly bent
    "stand": _from_semantic({"both_shoulder": _ARMS_DOWN, "both_elbow": (0, -0.2, 0), "both_collar": (0, 0, -0.1)}),
    # A-pose, arms half raised
    "a_pose": _from_semantic({"both_shoulder": (0, 0, -0.7)}),
    # walking, left leg forward (contact) / right leg pushing off; arms swing opposite to legs
    "walk_a": _from_semantic({
        "left_hip": (-0.45, 0, 0.05), "right_hip": (0.3, 0, 0.05), "left_knee": (0.1, 0, 0),
        "right_knee": (0.55, 0, 0), "right_ankle": (0.25, 0, 0),
        "left_shoulder": (0, 0.35, -1.3), "right_shoulder": (0, -0.35, -1.3),
        "left_elbow": (0, -0.2, 0), "right_elbow": (0, -0.5, 0)}),
    # walking, swing phase: right leg swinging through with a bent knee
    "walk_b": _from_semantic({
        "right_hip": (-0.3, 0, 0.05), "right_knee": (1.0, 0, 0), "left_hip": (0.15, 0, 0.05),
        "left_knee": (0.1, 0, 0), "left_shoulder": (0, -0.25, -1.3), "right_shoulder": (0, 0.2, -1.3),
        "both_elbow": (0, -0.35, 0)}),
    # running: long stride, trailing knee strongly bent, elbows at ~90 degrees, torso leaning forward
    "run": _from_semantic({
        "left_hip": (-1.0, 0, 0.05), "left_knee": (0.7, 0, 0), "right_hip": (0.45, 0, 0.05),
        "right_knee": (1.8, 0, 0), "right_ankle": (0.5, 0, 0), "spine1": (0.2, 0, 0),
        "left_shoulder": (0, 0.6, -1.25), "right_shoulder": (0, -0.7, -1.25), "both_elbow": (0, -1.5, 0)}),
    # sitting on a chair: thighs horizontal, shanks vertical, hands on the lap
    "sit": _from_semantic({
        "both_hip": (-1.5, 0, 0.1), "both_knee": (1.5, 0, 0), "spine1": (0.1, 0, 0),
        "both_shoulder": (0, -0.35, -1.2), "both_elbow": (0, -1.0, 0)}),
    # deep crouch / squat, torso leaning forward, arms forward for balance
    "crouch": _from_semantic({
        "both_hip": (-2.0, 0, 0.3), "both_knee": (2.25, 0, 0), "both_ankle": (-0.35, 0, 0),
        "spine1": (0.45, 0, 0), "spine2": (0.2, 0, 0), "neck": (-0.3, 0, 0),
        "both_shoulder": (0, -1.0, -0.9), "both_elbow": (0, -0.6, 0)}),
    # both arms reaching up
    "reach_up": _from_semantic({
        "both_collar": (0, 0, 0.25), "both_shoulder": (0, -0.1, 1.25), "both_elbow": (0, -0.2, 0),
        "neck": (-0.2, 0, 0)}),
    # both arms reaching forward at shoulder height
    "reach_forward": _from_semantic({"both_shoulder": (0, -1.35, -0.2), "both_elbow": (0, -0.15, 0),
                                     "spine1": (0.1, 0, 0)}),
    # bending forward from the hips and spine, arms hanging toward the floor
    "bend_forward": _from_semantic({
        "both_hip": (-0.5, 0, 0.05), "spine1": (0.7, 0, 0), "spine2": (0.4, 0, 0), "spine3": (0.3, 0, 0),
        "neck": (-0.3, 0, 0), "both_shoulder": (0, -0.9, -1.3), "both_elbow": (0, -0.2, 0)}),
    # waving with the left hand: upper arm out to the side, forearm up; right arm down
    "wave": _from_semantic({
        "left_shoulder": (-1.5, -0.1, -0.05), "left_elbow": (0, -1.5, 0), "left_wrist": (0, 0, 0.3),
        "right_shoulder": _ARMS_DOWN, "right_elbow": (0, -0.2, 0), "head": (0, 0.2, 0)}),
    # lunge: left leg forward with bent knee, right leg extended back
    "lunge": _from_semantic({
        "left_hip": (-1.2, 0, 0.1), "left_knee": (1.3, 0, 0), "right_hip": (0.4, 0, 0.05),
        "right_knee": (0.5, 0, 0), "right_ankle": (0.4, 0, 0), "spine1": (0.1, 0, 0),
        "both_shoulder": (0, -0.2, -1.1), "both_elbow": (0, -0.4, 0)}),
}
#: Names of the key poses ``sample_pose(kind=...)`` accepts.
POSE_KINDS = tuple(KEY_POSES)

# Per-joint Gaussian noise (radians) added to a key pose before clamping.
_NOISE = np.array([{"hip": 0.1, "knee": 0.12, "ankle": 0.1, "foot": 0.08, "collar": 0.06, "shoulder": 0.18,
                    "elbow": 0.2, "wrist": 0.25, "hand": 0.12, "spine1": 0.07, "spine2": 0.05, "spine3": 0.05,
                    "neck": 0.1, "head": 0.12}[n.split("_", 1)[1] if n.startswith(("left", "right")) else n]
                   for n in BODY_JOINTS])


def euler_to_axis_angle(euler) -> torch.Tensor:
    """Extrinsic XYZ Euler angles ``[...,23,3]`` -> flattened axis-angle ``body_pose [...,69]`` (float32)."""
    e = np.asarray(euler, dtype=np.float64)
    rv = Rotation.from_euler("xyz", e.reshape(-1, 3)).as_rotvec()
    return torch.as_tensor(rv.reshape(*e.shape[:-2], 69), dtype=torch.float32)


def sample_euler_pose(generator=None, kind: str | None = None, *, batch_size: int | None = None,
                      noise_scale: float = 1.0, mirror: bool | None = None) -> tuple[np.ndarray, list[str]]:
    """Sample plausible poses as Euler angles ``[23,3]`` (or ``[B,23,3]``), and their kinds.

    A key pose of :data:`KEY_POSES` (``kind``, or uniformly chosen) is scaled by an intensity in
    [0.7, 1.1], mirrored left/right with probability 1/2 (``mirror`` forces it), perturbed by per-joint
    Gaussian noise (``noise_scale`` times 0.05-0.25 rad) and clamped to :data:`ANATOMICAL_LIMITS`.
    ``generator``: a NumPy Generator or a seed.
    """
    rng = _rng(generator)
    if kind is not None and kind not in KEY_POSES:
        raise ValueError(f"unknown pose kind {kind!r}; choose one of {', '.join(POSE_KINDS)}")
    n = 1 if batch_size is None else int(batch_size)
    if n < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    out, kinds = np.zeros((n, 23, 3)), []
    for b in range(n):
        k = kind if kind is not None else POSE_KINDS[int(rng.integers(len(POSE_KINDS)))]
        e = KEY_POSES[k] * rng.uniform(0.7, 1.1)
        if (rng.random() < 0.5) if mirror is None else mirror:
            e = mirror_euler(e)
        e = e + rng.normal(size=(23, 3)) * _NOISE[:, None] * noise_scale
        out[b] = np.clip(e, ANATOMICAL_LIMITS[..., 0], ANATOMICAL_LIMITS[..., 1])
        kinds.append(k)
    return (out[0] if batch_size is None else out), kinds


def sample_pose(generator=None, kind: str | None = None, *, batch_size: int | None = None,
                noise_scale: float = 1.0) -> torch.Tensor:
    """Sample plausible SMPL ``body_pose`` axis-angle vectors ``[69]`` (or ``[B,69]``), float32.

    See :func:`sample_euler_pose` (key pose library + noise + anatomical clamping; not uniform angles).
    """
    euler, _ = sample_euler_pose(generator, kind, batch_size=batch_size, noise_scale=noise_scale)
    return euler_to_axis_angle(euler)


# ----------------------------------------------------------------------------- textures
@functools.lru_cache(maxsize=4)
def _default_body():
    return load_body_model("open")


def _get_body(body):
    return _default_body() if body is None else body


def texture_part_map(body=None, size: int = 512) -> dict[str, torch.Tensor]:
    """Rasterise the body's UV layout at ``size x size`` (cached per body and size).

    Returns a dict of ``[S,S]`` maps in texture-image convention (row r <-> ``v = 1 - (r + .5)/S``):
    ``part`` (int64, SMPL part id of the covering triangle; texels outside every UV island take the
    nearest island's id), ``covered`` (bool, inside a UV island), ``pos`` (``[S,S,3]`` the
    mean-shape T-pose surface point of the texel, metres) and ``back`` (bool, the texel lies on
    the back side of its body part: template z below the part's mean z).
    """
    from scipy.ndimage import distance_transform_edt

    from dispkit.render import interpolate, rasterize

    body = _get_body(body)
    size = _check_size(size, "size")
    cache = body.__dict__.setdefault("_synthetic_uv_cache", {})
    if size in cache:
        return cache[size]
    if body.uv is None:
        raise ValueError("the body model has no UV coordinates (vt/ft)")
    vt, ft = (x.detach().cpu() for x in body.uv)
    faces, labels = body.faces.cpu(), body.part_labels.cpu()
    pos = torch.stack([2 * vt[:, 0] - 1, 1 - 2 * vt[:, 1], torch.zeros(len(vt)), torch.ones(len(vt))], -1)
    rast = rasterize(pos.float(), ft, (size, size), backend="cpu")
    fid = rast[0, ..., 3].long() - 1
    covered = fid >= 0
    lf = labels[faces]                                             # [F,3] majority part of each face
    face_part = torch.where((lf[:, 0] == lf[:, 1]) | (lf[:, 0] == lf[:, 2]), lf[:, 0], lf[:, 1])
    vt_to_v = torch.zeros(len(vt), dtype=torch.long)
    vt_to_v[ft.reshape(-1)] = faces.reshape(-1)
    template = body.v_template.detach().cpu().float()
    tpos = interpolate(template[vt_to_v], rast, ft)[0]           # [S,S,3]
    part = torch.where(covered, face_part[fid.clamp(min=0)], torch.full_like(fid, -1))
    _, idx = distance_transform_edt(~covered.numpy(), return_indices=True)
    part = part[idx[0], idx[1]]
    tpos = tpos[idx[0], idx[1]]
    zmean = torch.zeros(24).index_add_(0, labels, template[:, 2]) / torch.bincount(labels, minlength=24).clamp(min=1)
    back = tpos[..., 2] < zmean[part]
    cache[size] = {"part": part, "covered": covered, "pos": tpos, "back": back}
    return cache[size]


def _low_freq_noise(rng: np.random.Generator, H: int, W: int, C: int = 1, cells: int = 6) -> torch.Tensor:
    """Smooth noise ``[H,W,C]`` of unit-ish amplitude: a random ``cells x cells`` grid, bicubic upsampled."""
    g = torch.as_tensor(rng.normal(size=(1, C, cells, cells)), dtype=torch.float32)
    return F.interpolate(g, size=(H, W), mode="bicubic", align_corners=False)[0].permute(1, 2, 0)


def _hsv(h, s, v) -> np.ndarray:
    import colorsys
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1)))


_SKIN = np.array([[0.96, 0.80, 0.69], [0.89, 0.67, 0.53], [0.78, 0.57, 0.42], [0.60, 0.42, 0.29],
                  [0.42, 0.28, 0.18], [0.30, 0.20, 0.13]])
_HAIR = np.array([[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.45, 0.30, 0.15], [0.75, 0.62, 0.38],
                  [0.55, 0.55, 0.55]])
_PANTS = np.array([[0.16, 0.22, 0.38], [0.08, 0.08, 0.09], [0.55, 0.48, 0.34], [0.35, 0.36, 0.38],
                   [0.25, 0.30, 0.20], [0.45, 0.15, 0.12]])
# SMPL part ids
_HEAD, _NECK = 15, 12
_TORSO = (0, 3, 6, 9, 13, 14)            # pelvis, spine1-3, collars (pelvis is re-coloured as trousers)
_UPPER_ARM, _FOREARM, _HAND = (16, 17), (18, 19), (20, 21, 22, 23)
_THIGH, _SHANK, _FEET = (1, 2), (4, 5), (7, 8, 10, 11)


def make_texture(generator=None, size: int = 512, body=None) -> torch.Tensor:
    """Procedural clothing texture ``[size,size,3]`` float32 in [0, 1] for the body's UV layout.

    Per body part (via :func:`texture_part_map`): skin (random tone) on head, neck, hands and bare
    arms/legs; hair on the top/back of the head; a top (random colour, plain / stripes / checks,
    patterns laid out on the 3D template so they run around the body) on the torso and sleeves
    (none / short / long); trousers or shorts on pelvis and legs; shoes on the feet. A smooth
    multiplicative noise adds shading variation. ``generator``: NumPy Generator or seed.
    """
    rng = _rng(generator)
    size = _check_size(size, "size")
    pm = texture_part_map(body, size)
    part, pos = pm["part"].numpy(), pm["pos"].numpy()
    skin = _SKIN[rng.integers(len(_SKIN))] * rng.uniform(0.92, 1.06)
    hair = _HAIR[rng.integers(len(_HAIR))]
    top = _hsv(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.35, 0.95))
    top2 = _hsv(rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.2, 1.0))
    pants = _PANTS[rng.integers(len(_PANTS))] * rng.uniform(0.8, 1.2)
    shoes = _hsv(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.05, 0.6))
    sleeves = ("none", "short", "long")[rng.integers(3)]
    shorts = rng.random() < 0.3
    pattern = ("plain", "stripes", "checks")[rng.integers(3)]

    top_parts = [p for p in _TORSO if p != 0] + list(_UPPER_ARM if sleeves != "none" else ()) \
        + list(_FOREARM if sleeves == "long" else ())
    lut = np.zeros((24, 3))
    lut[:] = skin
    lut[top_parts] = top
    lut[0] = pants
    lut[list(_THIGH)] = pants
    lut[list(_SHANK)] = skin if shorts else pants
    lut[list(_FEET)] = shoes
    img = lut[part]
    is_top = np.isin(part, top_parts)
    if pattern != "plain":
        period = rng.uniform(0.04, 0.12)
        band = np.sin(2 * np.pi * pos[..., 1] / period + rng.uniform(0, 6.3)) > 0
        if pattern == "checks":
            band ^= np.sin(2 * np.pi * (pos[..., 0] + pos[..., 2]) / period) > 0
        img = np.where((is_top & band)[..., None], top2, img)
    head = part == _HEAD
    y = pos[..., 1]
    if head.any():
        hy = y[head]
        lo, hi = hy.min(), hy.max()
        hair_line = lo + rng.uniform(0.55, 0.7) * (hi - lo)
        hair_mask = head & ((y > hair_line) | (pm["back"].numpy() & (y > lo + 0.3 * (hi - lo))))
        img = np.where(hair_mask[..., None], hair, img)
    shade = 1.0 + 0.08 * _low_freq_noise(rng, size, size, 1, cells=12).numpy()
    img = np.clip(img * shade, 0.0, 1.0)
    return torch.as_tensor(img, dtype=torch.float32)


def _gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[H,W,C]`` (reflect padding)."""
    if sigma <= 0:
        return img
    r = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    C = img.shape[-1]
    t = img.permute(2, 0, 1)[None]
    t = F.pad(t, (r, r, r, r), mode="reflect")
    t = F.conv2d(t, k.view(1, 1, 1, -1).repeat(C, 1, 1, 1), groups=C)
    t = F.conv2d(t, k.view(1, 1, -1, 1).repeat(C, 1, 1, 1), groups=C)
    return t[0].permute(1, 2, 0).contiguous()


def estimated_texture(texture: torch.Tensor, generator=None, body=None, *, hidden: str | None = "back",
                      blur_sigma: float | None = None, gain_std: float = 0.08, offset_std: float = 0.03,
                      n_blobs: int | None = None) -> torch.Tensor:
    """Degraded copy of ``texture [S,S,3]``, like the paper's back-projected personal textures (§3.3).

    Degradations, in this order:

    1. **blur**: Gaussian, ``blur_sigma`` texels (default ``S/256 * U(1, 2.5)``): back-projection
       from a low-resolution crop loses detail;
    2. **colour shift**: per-channel gain ``N(1, gain_std)`` and offset ``N(0, offset_std)`` (the
       image's lighting and camera response differ from the albedo);
    3. **holes**: texels never seen by the camera are unknown and set to the texture's mean grey:
       the ``hidden`` side of every body part (``"back"`` / ``"front"`` / ``None``, see
       :func:`texture_part_map`) plus ``n_blobs`` (default 3-6) random round holes
       (occlusions, back-projection failures).
    """
    rng = _rng(generator)
    texture = torch.as_tensor(texture, dtype=torch.float32)
    if texture.ndim != 3 or texture.shape[-1] != 3 or texture.shape[0] != texture.shape[1]:
        raise ValueError(f"texture must have shape [S,S,3], got {tuple(texture.shape)}")
    if hidden not in ("back", "front", None):
        raise ValueError(f"hidden must be 'back', 'front' or None, got {hidden!r}")
    S = texture.shape[0]
    sigma = S / 256 * rng.uniform(1.0, 2.5) if blur_sigma is None else float(blur_sigma)
    out = _gaussian_blur(texture, sigma)
    gain = torch.as_tensor(rng.normal(1.0, gain_std, 3), dtype=torch.float32)
    offset = torch.as_tensor(rng.normal(0.0, offset_std, 3), dtype=torch.float32)
    out = out * gain + offset
    hole = torch.zeros(S, S, dtype=torch.bool)
    if hidden is not None:
        back = texture_part_map(body, S)["back"]
        hole |= back if hidden == "back" else ~back
    nb = int(rng.integers(3, 7)) if n_blobs is None else int(n_blobs)
    yy, xx = torch.meshgrid(torch.arange(S, dtype=torch.float32), torch.arange(S, dtype=torch.float32),
                            indexing="ij")
    for _ in range(nb):
        cy, cx = rng.uniform(0, S, 2)
        rad = rng.uniform(0.03, 0.08) * S
        hole |= (yy - cy) ** 2 + (xx - cx) ** 2 < rad ** 2
    grey = out[~hole].mean() if bool((~hole).any()) else torch.tensor(0.5)
    out = torch.where(hole[..., None], grey, out)
    return out.clamp(0.0, 1.0)


# ----------------------------------------------------------------------------- backgrounds
_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def make_background(generator, H: int, W: int, background_dir: str | os.PathLike | None = None) -> torch.Tensor:
    """Background image ``[H,W,3]`` float32 in [0, 1].

    Procedural (default): a wall/sky gradient above a random horizon (45-75 % of the height), a floor
    below it with a darker gradient and optional perspective tiles, a few soft coloured blobs
    (furniture, trees) and smooth noise. With ``background_dir``, one of the folder's images (sorted
    names, picked by the generator) is scaled to cover ``H x W`` and randomly cropped.
    """
    rng = _rng(generator)
    H, W = _check_size(H, "H"), _check_size(W, "W")
    if background_dir is not None:
        return _background_from_dir(rng, H, W, background_dir)
    y = np.linspace(0, 1, H)[:, None, None]
    x = np.linspace(0, 1, W)[None, :, None]
    horizon = rng.uniform(0.45, 0.75)
    c_top, c_hor = _hsv(rng.random(), rng.uniform(0, 0.5), rng.uniform(0.5, 1.0)), \
        _hsv(rng.random(), rng.uniform(0, 0.4), rng.uniform(0.4, 0.95))
    wall = c_top + (c_hor - c_top) * np.clip(y / horizon, 0, 1)
    img = np.broadcast_to(wall, (H, W, 3)).copy()
    for _ in range(int(rng.integers(3, 9))):                      # soft blobs above the floor
        cy, cx = rng.uniform(0.0, horizon), rng.uniform(0, 1)
        sy, sx = rng.uniform(0.05, 0.3), rng.uniform(0.03, 0.25)
        a = np.exp(-0.5 * (((y - cy) / sy) ** 2 + ((x - cx) / sx) ** 2) ** 2) * rng.uniform(0.4, 0.9)
        img = img * (1 - a) + _hsv(rng.random(), rng.uniform(0.1, 0.8), rng.uniform(0.2, 0.9)) * a
    c_floor = _hsv(rng.random(), rng.uniform(0, 0.5), rng.uniform(0.2, 0.7))
    depth = np.clip((y - horizon) / (1 - horizon), 1e-3, 1)        # 0 at the horizon, 1 at the bottom
    floor = c_floor * (0.7 + 0.4 * depth)
    if rng.random() < 0.5:                                          # perspective tiles
        n = rng.uniform(4, 10)
        u = (x - 0.5) / depth
        tiles = (np.floor(u * n) + np.floor(2 * n / np.maximum(depth, 0.05))) % 2
        floor = floor * (0.88 + 0.12 * tiles)
    img = np.where(y > horizon, floor, img)
    img = img * (1 + 0.1 * _low_freq_noise(rng, H, W, 3, cells=8).numpy())
    return torch.as_tensor(np.clip(img, 0, 1), dtype=torch.float32)


def _background_from_dir(rng, H, W, background_dir) -> torch.Tensor:
    from PIL import Image

    folder = Path(background_dir)
    if not folder.is_dir():
        raise ValueError(f"background_dir {str(folder)!r} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_EXT)
    if not files:
        raise ValueError(f"background_dir {str(folder)!r} holds no images ({', '.join(_IMAGE_EXT)})")
    with Image.open(files[int(rng.integers(len(files)))]) as im:
        im = im.convert("RGB")
        s = max(H / im.height, W / im.width)
        w2, h2 = max(W, round(im.width * s)), max(H, round(im.height * s))
        im = im.resize((w2, h2), Image.BILINEAR)
        x0, y0 = int(rng.integers(w2 - W + 1)), int(rng.integers(h2 - H + 1))
        arr = np.asarray(im.crop((x0, y0, x0 + W, y0 + H)), dtype=np.float32) / 255.0
    return torch.as_tensor(arr.copy())


# ----------------------------------------------------------------------------- GT sampling
def _check_size(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _aa(R: np.ndarray) -> np.ndarray:
    return Rotation.from_matrix(R).as_rotvec()


def sample_params(generator, body=None, width: int = 320, height: int = 240, kind: str | None = None,
                  height_fraction: tuple[float, float] = (0.45, 0.8)) -> tuple[dict, Camera, dict]:
    """Sample ground-truth SMPL parameters and a camera, without rendering.

    Pose from :func:`sample_euler_pose`; ``betas ~ N(0, I)`` clipped to +-3; global orientation =
    small camera pitch/roll (``N(0, 0.1)`` / ``N(0, 0.03)`` rad) times the upright flip (pi about x)
    times a uniform yaw about the body's vertical axis. The camera is the full-image camera
    (``f = sqrt(w^2 + h^2)``, identity extrinsics); the body is placed at the depth that makes its
    projected height ``U(height_fraction)`` of the image height (or its width at most 90 % of the
    image width) and shifted so that it stays inside the frame.

    Returns ``(params, camera, meta)``: params are ``[1,...]`` float32 tensors ``global_orient,
    body_pose, betas, transl``; meta holds ``kind``, ``yaw``, ``euler`` ([23,3]) and ``pelvis``
    (camera-space pelvis position, metres).
    """
    rng = _rng(generator)
    width, height = _check_size(width, "width"), _check_size(height, "height")
    body = _get_body(body)
    euler, kinds = sample_euler_pose(rng, kind)
    body_pose = euler_to_axis_angle(euler)[None]
    betas = torch.as_tensor(np.clip(rng.normal(size=(1, body.num_betas)), -3, 3), dtype=torch.float32)
    yaw = rng.uniform(-math.pi, math.pi)
    pitch, roll = rng.normal(0, 0.1), rng.normal(0, 0.03)
    R = Rotation.from_euler("xz", [pitch, roll]).as_matrix() @ Rotation.from_rotvec([math.pi, 0, 0]).as_matrix() \
        @ Rotation.from_rotvec([0, yaw, 0]).as_matrix()
    go = torch.as_tensor(_aa(R)[None], dtype=torch.float32)
    with torch.no_grad():
        out = body(global_orient=go, body_pose=body_pose, betas=betas)
    v = (out.vertices[0] - out.joints[0, 0]).double().numpy()     # pelvis-relative, camera axes
    cam = Camera.full_image(width, height)
    f = float(cam.focal[0, 0])
    ext = v.max(0) - v.min(0)
    frac = rng.uniform(*height_fraction)
    z = max(f * ext[1] / (frac * height), f * ext[0] / (0.9 * width)) + 0.5 * ext[2]
    pix_w, pix_h = f * ext[0] / z, f * ext[1] / z
    mid = (v.max(0) + v.min(0)) / 2
    u_t = width / 2 + rng.uniform(-1, 1) * 0.6 * max(0.0, (width - pix_w) / 2)
    v_t = height / 2 + rng.uniform(-1, 1) * 0.5 * max(0.0, (height - pix_h) / 2)
    pelvis = np.array([z * (u_t - width / 2) / f - mid[0], z * (v_t - height / 2) / f - mid[1], z])
    transl = torch.as_tensor(pelvis - out.joints[0, 0].double().numpy(), dtype=torch.float32)[None]
    params = {"global_orient": go, "body_pose": body_pose, "betas": betas, "transl": transl}
    return params, cam, {"kind": kinds[0], "yaw": float(yaw), "euler": euler, "pelvis": pelvis}


# ----------------------------------------------------------------------------- regressor errors
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
    body = _get_body(body)
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
    j0_gt = _root_joint(body, gt_params["betas"])                # the root does not move with the pose
    j0_init = _root_joint(body, init["betas"])
    pelvis = j0_gt + gt_params["transl"].detach().double().cpu().numpy()
    pelvis_init = np.clip(scale, 0.5, 2.0) * pelvis + offset
    init["transl"] = torch.as_tensor(pelvis_init - j0_init, dtype=torch.float32)
    return init


def scene_params(seed: int, regressor="pare-like", width: int = 320, height: int = 240, body=None,
                 kind: str | None = None) -> tuple[dict, dict, Camera, dict]:
    """GT parameters, the regressor's initial estimate, camera and meta of scene ``seed`` (no rendering).

    The exact code path of :func:`make_scene` for the parameters: GT from ``default_rng([seed, 0])``,
    regressor errors from ``default_rng([seed, 1])``.
    """
    seed = _check_seed(seed)
    _preset(regressor)
    gt, cam, meta = sample_params(np.random.default_rng([seed, 0]), body, width, height, kind)
    init = simulate_regressor(gt, regressor, np.random.default_rng([seed, 1]), body)
    return gt, init, cam, meta


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


# ----------------------------------------------------------------------------- scenes
@dataclass(frozen=True, eq=False)
class Scene:
    """One synthetic frame (see :func:`make_scene`). Tensors are float32 on the CPU.

    ``image [H,W,3]`` in [0, 1]; ``mask [H,W]`` bool (GT person pixels); ``camera`` (batch 1,
    full-image f); ``box [4]`` (x0, y0, x1, y1) square person box, 1.2 x the projected GT mesh's
    extent (may reach outside the image); ``gt`` / ``init``: dicts of ``global_orient [1,3]``,
    ``body_pose [1,69]``, ``betas [1,10]``, ``transl [1,3]``; ``texture`` / ``estimated_texture``
    ``[S,S,3]``; ``background [H,W,3]``; ``light`` (unit direction towards the light, camera space).
    """
    seed: int
    regressor: str
    image: torch.Tensor
    mask: torch.Tensor
    camera: Camera
    box: torch.Tensor
    gt: dict
    init: dict
    texture: torch.Tensor
    estimated_texture: torch.Tensor
    background: torch.Tensor
    light: torch.Tensor
    kind: str
    meta: dict = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def shade_and_composite(rgb, normal, mask, background, generator, noise_std: float | None = None):
    """The camera image of a rendered textured person: Lambert shading, background, blur, sensor noise.

    ``rgb``/``normal`` [H,W,3] and ``mask`` [H,W] from :func:`dispkit.render.render` of the GT body (camera
    space normals), ``background`` [H,W,3]. Ambient ``U(0.35, 0.55)`` plus a directional light from a random
    direction on the camera's side, mostly from above; Gaussian blur (sigma 0.5 px); Gaussian noise
    ``noise_std`` (default ``U(0.005, 0.02)``). Returns ``(image [H,W,3] in [0,1], light [3], ambient,
    noise_std)``.
    """
    rng = _rng(generator)
    light = np.array([rng.uniform(-0.7, 0.7), rng.uniform(-1.0, -0.1), -rng.uniform(0.4, 1.0)])
    light = torch.as_tensor(light / np.linalg.norm(light), dtype=torch.float32)
    ambient = float(rng.uniform(0.35, 0.55))
    lambert = (normal * light).sum(-1).clamp(min=0)   # both point to the camera side (z < 0)
    shade = ambient + (1 - ambient) * 1.15 * lambert
    person = (rgb * shade[..., None]).clamp(0, 1)
    img = torch.where(mask[..., None], person, background)
    img = _gaussian_blur(img, 0.5)
    sd = rng.uniform(0.005, 0.02) if noise_std is None else float(noise_std)
    img = (img + torch.as_tensor(rng.normal(0, sd, img.shape), dtype=torch.float32)).clamp(0, 1)
    return img, light, ambient, sd


def make_scene(seed: int, regressor="pare-like", width: int = 320, height: int = 240, body=None, *,
               texture_size: int = 256, kind: str | None = None, background_dir=None,
               noise_std: float | None = None) -> Scene:
    """Render seeded synthetic scene ``seed`` (see the module docstring for the random streams).

    The GT body (from :func:`scene_params`) is textured with :func:`make_texture`, shaded with
    Lambert lighting from the rendered camera-space normals (ambient ``U(0.35, 0.55)`` plus a
    directional light from a random direction on the camera's side, mostly from above),
    composited over :func:`make_background`, blurred slightly (Gaussian, sigma 0.5 px) and given
    Gaussian sensor noise (``noise_std``, default ``U(0.005, 0.02)``). ``estimated_texture`` hides
    the side of the body the camera does not see (back for a front-facing person, else front).
    ``regressor`` (a :data:`REGRESSOR_PRESETS` name) only changes ``init``; the image does not depend on it.
    """
    from dispkit.render import render

    seed = _check_seed(seed)
    if not isinstance(regressor, str):
        raise ValueError(f"regressor must be a preset name ({', '.join(REGRESSOR_PRESETS)}), got {regressor!r}")
    width, height = _check_size(width, "width"), _check_size(height, "height")
    texture_size = _check_size(texture_size, "texture_size")
    body = _get_body(body)
    gt, init, cam, meta = scene_params(seed, regressor, width, height, body, kind)
    rng = np.random.default_rng([seed, 2])
    tex = make_texture(rng, texture_size, body)
    hidden = "back" if abs(meta["yaw"]) < math.pi / 2 else "front"
    est = estimated_texture(tex, rng, body, hidden=hidden)
    bg = make_background(rng, height, width, background_dir)
    with torch.no_grad():
        out_gt = body(**gt)
        r = render(out_gt.vertices, body, cam, texture=tex, modalities=("rgb", "normal", "mask"))
    mask = r["mask"][0]
    img, light, ambient, sd = shade_and_composite(r["rgb"][0], r["normal"][0], mask, bg, rng, noise_std)
    box = box_from_points(cam.project(out_gt.vertices), scale=1.2, square=True)[0]
    return Scene(seed=seed, regressor=regressor, image=img.contiguous(), mask=mask, camera=cam, box=box,
                 gt=gt, init=init, texture=tex, estimated_texture=est, background=bg, light=light,
                 kind=meta["kind"], meta={"yaw": meta["yaw"], "euler": meta["euler"], "ambient": ambient,
                                          "noise_std": sd, "hidden": hidden})


def person_sequence(scene: Scene, n: int = 4, body=None, generator=None) -> dict:
    """Other frames of the scene's person (same shape and clothing, same camera and framing): ``n`` new poses,
    turned by ``n`` evenly spaced yaws (plus noise) so that every side is seen, shaded over new backgrounds.

    Returns a dict: ``images`` [n,H,W,3], ``params`` (``global_orient`` [n,3], ``body_pose`` [n,69],
    ``betas`` [n,10], ``transl`` [n,3], camera coordinates), ``vertices`` [n,V,3], ``camera`` (the scene's).
    ``generator``: a NumPy Generator or seed (default: derived from the scene's seed).
    """
    from dispkit.render import render

    body = _get_body(body)
    rng = _rng(generator if generator is not None else np.random.default_rng([scene.seed, 3]))
    H, W = scene.height, scene.width
    with torch.no_grad():
        centre = body(**scene.gt).vertices.mean(1, keepdim=True)  # keep the scene's framing
    images, verts, params = [], [], []
    for k in range(int(n)):
        p, cam, _ = sample_params(rng, body, W, H)
        yaw = 2 * math.pi * k / n + rng.normal(0, 0.2)
        R = Rotation.from_rotvec(p["global_orient"][0].double().numpy()) * Rotation.from_rotvec([0, yaw, 0])
        p["global_orient"] = torch.as_tensor(R.as_rotvec()[None], dtype=torch.float32)
        p["betas"] = scene.gt["betas"]
        with torch.no_grad():
            v = body(**p).vertices
            shift = centre - v.mean(1, keepdim=True)
            p["transl"] = p["transl"] + shift[:, 0]   # vertices move rigidly with transl
            v = v + shift
            r = render(v, body, scene.camera, texture=scene.texture, modalities=("rgb", "normal", "mask"))
        bg = make_background(rng, H, W)
        img, *_ = shade_and_composite(r["rgb"][0], r["normal"][0], r["mask"][0], bg, rng)
        images.append(img)
        verts.append(v[0])
        params.append(p)
    return {"images": torch.stack(images), "vertices": torch.stack(verts), "camera": scene.camera,
            "params": {k: torch.cat([p[k] for p in params]) for k in ("global_orient", "body_pose", "betas",
                                                                        "transl")}}


def reference_frames(scene: Scene, n: int = 4, body=None, generator=None) -> tuple[torch.Tensor, torch.Tensor, Camera]:
    """The frames of :func:`person_sequence` as ``(images [n,H,W,3], gt_vertices [n,V,3], camera)``: the
    "multiple frames" that the paper back-projects textures from (:func:`dispkit.texture.estimate_texture`)."""
    seq = person_sequence(scene, n, body, generator)
    return seq["images"], seq["vertices"], seq["camera"]
