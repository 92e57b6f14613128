"""SURREAL's ``<clip>_info.mat`` files and their camera and body conventions (github.com/gulvarol/surreal)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dispkit.data.frames import (
    Frames,
    axis_angle_to_matrix,
    batched_camera,
    existing_path,
    matrix_to_axis_angle,
    pad_betas,
    require_keys,
)
from dispkit.inputs import FileContentError, check_path, reads_file

__all__ = ["SURREAL_K", "SURREAL_R", "SURREAL_SIZE", "read_surreal_info", "surreal_extrinsics",
           "surreal_global_orient"]


SURREAL_K = np.array([[600.0, 0.0, 160.0], [0.0, 600.0, 120.0], [0.0, 0.0, 1.0]])
"""SURREAL's intrinsics (all clips): 320x240 images, 60 mm lens on a 32 mm sensor -> f = 600 px."""
SURREAL_SIZE = (320, 240)
# getExtrinsicBlender: R_world2cv = R_bcam2cv @ R_world2bcam, with R_world2bcam = [[0,0,1],[0,-1,0],[-1,0,0]]^T
# and R_bcam2cv = diag(1,-1,-1) (Blender's camera looks down -z with y up).
_SURREAL_R_WORLD2BCAM = np.array([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]]).T
SURREAL_R = np.diag([1.0, -1.0, -1.0]) @ _SURREAL_R_WORLD2BCAM
"""World-to-camera rotation of every SURREAL clip: ``[[0,0,-1],[0,1,0],[-1,0,0]]``."""
# smpl_relations.py rotateBody: global rotation = R90 @ Rz(zrot) @ R(pose[:3]), R90 = euler2mat(pi/2, 0, 0)
_SURREAL_R90 = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def surreal_extrinsics(cam_loc) -> tuple[np.ndarray, np.ndarray]:
    """SURREAL's world-to-camera ``(R [3,3], t [3])`` from ``camLoc`` (Blender's camera location):
    ``R = SURREAL_R``, ``t = -R camLoc`` (SURREAL's ``getExtrinsicBlender``)."""
    cam_loc = np.asarray(cam_loc, dtype=np.float64).reshape(3)
    return SURREAL_R.copy(), -SURREAL_R @ cam_loc


def surreal_global_orient(pose_root, zrot) -> np.ndarray:
    """World-frame root rotation [T,3] from SURREAL's ``pose[:3]`` [T,3] and ``zrot`` [T]:
    ``R90 · Rz(zrot) · R(pose[:3])`` with ``R90`` a +90° rotation about x (SURREAL's ``rotateBody``)."""
    pose_root = np.asarray(pose_root, dtype=np.float64).reshape(-1, 3)
    z = np.broadcast_to(np.asarray(zrot, dtype=np.float64).reshape(-1), (pose_root.shape[0],))
    c, s = np.cos(z), np.sin(z)
    Rz = np.zeros((len(z), 3, 3))
    Rz[:, 0, 0], Rz[:, 0, 1], Rz[:, 1, 0], Rz[:, 1, 1], Rz[:, 2, 2] = c, -s, s, c, 1.0
    return matrix_to_axis_angle(_SURREAL_R90 @ Rz @ axis_angle_to_matrix(pose_root))


def _mat_str(x) -> str:
    a = np.asarray(x)
    return str(a.reshape(-1)[0]) if a.size else ""


def _mat_scalar(x) -> float:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    return float(a[0]) if a.size else float("nan")


@reads_file("SURREAL <clip>_info.mat file")
def read_surreal_info(mat_path, image_dir=None, body=None) -> Frames:
    """Read a SURREAL clip's ``<clip>_info.mat`` (MATLAB v5, read with ``scipy.io.loadmat``).

    Format (github.com/gulvarol/surreal, ``datageneration/main_part1.py``): ``pose`` [72,T] (SMPL, root
    rotation *without* the clip's z rotation), ``shape`` [10,T], ``joints2D`` [2,24,T] (pixels),
    ``joints3D`` [3,24,T] (Blender world, metres), ``camLoc`` [3] (Blender camera location), ``zrot`` [T]
    (the body's random rotation about the world z axis, constant per clip), ``gender`` [T] (0 female,
    1 male, as written by ``main_part1.py`` and read by ``smpl_relations.py``), ``sequence``, ``camDist``,
    ``clipNo``, ``source``, ...

    Conventions (from SURREAL's ``datageneration/misc/smpl_relations/smpl_relations.py`` and
    ``misc/3Dto2D/getExtrinsicBlender.m``, whose example ``camLoc`` / ``joints3D`` / ``joints2D`` the tests
    reproduce): ``K = [[600,0,160],[0,600,120],[0,0,1]]`` for 320x240 images; world-to-camera
    ``R = [[0,0,-1],[0,1,0],[-1,0,0]]``, ``t = -R camLoc``; the world-frame global rotation is
    ``R90 · Rz(zrot) · R(pose[:3])`` (:func:`surreal_global_orient`); the translation puts the posed body's
    root joint at ``joints3D[:,0]``: ``transl = joints3D[:,0] - J0(betas)``, with ``J0`` the rest-pose
    root joint of ``body`` (a :class:`dispkit.body.BodyModel`; pass SMPL of the clip's gender for the true
    meshes). Without ``body``, ``J0 = 0``, exact for dispkit's open model whose rest pelvis is the origin.
    SURREAL's raw ``pose`` (with its own root rotation) is ``meta["pose"]``. Beware: SURREAL's released
    ``joints2D``/``joints3D`` are reported to have left and right swapped relative to SMPL's joint order
    (gulvarol/surreal issue #10; ``smpl_relations.py`` notes it when plotting them); not verified here, and
    ``keypoints2d`` and ``meta["joints3D"]`` are kept exactly as stored.

    SURREAL ships videos, not frames: every ``images`` entry is the clip's ``.mp4`` (beside the info file, or
    in ``image_dir``) and ``meta["frame_index"]`` is the frame within it.
    """
    from scipy.io import loadmat

    path = existing_path(mat_path, "surreal")
    if image_dir is not None:
        check_path(image_dir, "image_dir")
    try:
        data = loadmat(str(path))
    except Exception as e:  # scipy raises several types for a bad file
        raise FileContentError(f"{path}: not a MATLAB v5 .mat file ({e})") from e
    require_keys(data, ("pose", "shape", "camLoc", "zrot", "joints3D"), path, "SURREAL _info.mat")
    pose = np.asarray(data["pose"], dtype=np.float64)
    if pose.ndim != 2 or pose.shape[0] != 72:
        raise FileContentError(f"{path}: 'pose' must have shape [72,T], got {pose.shape}")
    pose = pose.T
    T = pose.shape[0]
    betas = pad_betas(np.asarray(data["shape"], dtype=np.float32).reshape(-1, T).T)
    zrot = np.asarray(data["zrot"], dtype=np.float64).reshape(-1)
    joints3d = np.asarray(data["joints3D"], dtype=np.float32).reshape(3, -1, T).transpose(2, 1, 0)

    root0 = np.zeros((T, 3), np.float32)
    if body is not None:
        with torch.no_grad():
            root0 = body(betas=torch.from_numpy(betas)).joints[:, 0].float().numpy()
    R, t = surreal_extrinsics(data["camLoc"])
    camera = batched_camera(SURREAL_K, R, t, *SURREAL_SIZE, T)

    keypoints = None
    if "joints2D" in data:
        j2d = np.asarray(data["joints2D"], dtype=np.float32).reshape(2, -1, T).transpose(2, 1, 0)
        keypoints = np.concatenate([j2d, np.ones(j2d.shape[:2] + (1,), np.float32)], -1)
    gender = "neutral"
    if "gender" in data and np.asarray(data["gender"]).size:
        gender = {0: "female", 1: "male"}.get(int(np.asarray(data["gender"]).reshape(-1)[0]), "neutral")
    sequence = _mat_str(data["sequence"]) if "sequence" in data else path.name.removesuffix("_info.mat")
    video = (Path(image_dir) if image_dir is not None else path.parent) / (
        path.name.removesuffix("_info.mat") + ".mp4")
    meta = {"pose": pose.astype(np.float32), "zrot": zrot, "camLoc": np.asarray(data["camLoc"]).reshape(3),
            "joints3D": joints3d, "frame_index": np.arange(T), "video": str(video), "sequence": sequence,
            "source": str(path), "transl_root": ("J0 = 0 (dispkit's open model); pass body= for SMPL" if body is None
                                                 else f"J0 of {getattr(body, 'name', 'the given body')}")}
    for key in ("camDist", "clipNo", "stride"):
        if key in data:
            meta[key] = _mat_scalar(data[key])
    if "source" in data:
        meta["dataset_source"] = _mat_str(data["source"])
    return Frames(global_orient=surreal_global_orient(pose[:, :3], zrot), body_pose=pose[:, 3:], betas=betas,
                  transl=joints3d[:, 0] - root0, camera=camera, images=[str(video)] * T, keypoints2d=keypoints,
                  gender=gender, name=sequence, meta=meta)
