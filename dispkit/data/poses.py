"""Plausible SMPL body poses: a key-pose library, anatomical joint limits and a seeded sampler.

:func:`sample_pose` (the poses of the synthetic scenes, :mod:`dispkit.data.synthetic`) picks one of
:data:`KEY_POSES` (standing, walking, running, sitting, crouching, reaching, bending, waving, lunging),
scales and mirrors it at random, adds per-joint noise and clamps it to :data:`ANATOMICAL_LIMITS`.

Conventions
-----------
* Body poses are axis-angle, SMPL layout: ``body_pose [B,69]`` (23 joints, SMPL joints 1..23, in the order
  of :data:`BODY_JOINTS`).
* The pose library and the joint-limit table are written as per-joint **extrinsic XYZ Euler
  angles** in each joint's parent frame of SMPL's T-pose (``scipy`` ``from_euler("xyz")``,
  ``R = Rz(c) Ry(b) Rx(a)``). SMPL frame: x = body's left, y up, z = the body's front.
  Hence: hip ``x < 0`` flexes the thigh forward; knee ``x > 0`` bends the shank backward
  (the only way a knee bends); spine/neck ``x > 0`` bends forward; left shoulder ``z < 0``
  lowers the arm from the T-pose, ``y < 0`` swings it forward, ``x`` twists it; left elbow
  ``y < 0`` flexes the forearm. Right-side joints are the mirror image: Euler ``(a, b, c)``
  of a left joint corresponds to ``(a, -b, -c)`` of the right one.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from dispkit.body import SMPL_JOINT_NAMES

__all__ = ["ANATOMICAL_LIMITS", "BODY_JOINTS", "KEY_POSES", "POSE_KINDS", "euler_to_axis_angle", "mirror_euler",
           "sample_euler_pose", "sample_pose"]

BODY_JOINTS = SMPL_JOINT_NAMES[1:]             # the 23 joints of body_pose, in order
_J = {name: i for i, name in enumerate(BODY_JOINTS)}


def _rng(generator) -> np.random.Generator:
    """A NumPy Generator from a Generator, an int seed or a seed sequence (shared by the dispkit.data modules)."""
    if isinstance(generator, np.random.Generator):
        return generator
    return np.random.default_rng(generator)


def _side_pairs():
    """(left index, right index) pairs of body_pose joints."""
    return [(_J[n], _J["right_" + n[5:]]) for n in BODY_JOINTS if n.startswith("left_")]


_PAIRS = _side_pairs()


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

