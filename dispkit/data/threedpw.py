"""3DPW's sequence files ``sequenceFiles/<split>/<seq>.pkl``: reader, writer and a synthetic sequence in that layout.

Format: 3DPW's readme (von Marcard et al. 2018, https://virtualhumans.mpi-inf.mpg.de/3DPW).
"""
from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dispkit.camera import Camera
from dispkit.data.frames import (
    Frames,
    batched_camera,
    existing_path,
    load_pickle,
    normalize_gender,
    pad_betas,
    require_keys,
    to_numpy,
)
from dispkit.inputs import FileContentError, InputRangeError, check_int, reads_file

__all__ = ["read_3dpw", "synthetic_3dpw", "write_3dpw"]


_3DPW_SIZES = ((1080, 1920), (1920, 1080))


def _3dpw_image_size(K: np.ndarray) -> tuple[int, int]:
    """3DPW frames are 1080x1920 (portrait) or 1920x1080: snap ``(2 cx, 2 cy)`` to those within 5 %."""
    w, h = round(2 * float(K[0, 2])), round(2 * float(K[1, 2]))
    for W, H in _3DPW_SIZES:
        if abs(w - W) <= 0.05 * W and abs(h - H) <= 0.05 * H:
            return W, H
    return w, h


@reads_file("3DPW sequence file (sequenceFiles/<split>/<seq>.pkl)")
def read_3dpw(pkl_path, person: int = 0, image_dir=None, valid_only: bool = True,
              image_size: tuple[int, int] | None = None) -> Frames:
    """Read one person of a 3DPW sequence file ``sequenceFiles/{train,validation,test}/<seq>.pkl``.

    Format (3DPW's readme; the pickle was written by Python 2 and is read with ``encoding="latin1"``):
    ``sequence`` (str), per person lists ``poses`` [T,72] (SMPL axis-angle), ``betas`` [10] (sometimes
    longer, or per frame [T,B]: the first ten are used), ``trans`` [T,3], ``poses2d`` [T,3,18] (COCO-18
    OpenPose detections, rows x, y, confidence), ``campose_valid`` [T] (whether the camera pose was aligned
    to that image), ``jointPositions`` [T,72], ``genders`` ('m'/'f'); per sequence ``cam_poses`` [T,4,4]
    (world to camera) and ``cam_intrinsics`` [3,3]; ``img_frame_ids`` [T].

    Parameters
    ----------
    pkl_path : path
        The sequence file.
    person : int
        Which actor (sequences have one or two).
    image_dir : path, optional
        The 3DPW root holding ``imageFiles/``; image paths are ``imageFiles/<seq>/image_%05d.jpg`` under it
        (relative paths without it).
    valid_only : bool
        Drop frames whose ``campose_valid`` is false (the standard evaluation protocol). The kept frames'
        indices into the sequence are ``meta["frame_index"]``; the full mask is ``meta["campose_valid"]``.
    image_size : (width, height), optional
        Defaults to ``(2 cx, 2 cy)`` of the intrinsics, snapped to 1080x1920 / 1920x1080.

    Returns
    -------
    Frames
        World-frame SMPL parameters (gendered SMPL: ``gender``), the per-frame camera from ``cam_poses``,
        ``keypoints2d`` [T,18,3] (COCO-18), ``meta``: ``sequence``, ``frame_index``, ``campose_valid``,
        ``img_frame_ids``, ``jointPositions`` [T,24,3], ``person``, ``num_people``.

    Raises
    ------
    FileNotFoundError (no such file, with where to get 3DPW), and the errors of :mod:`dispkit.inputs`:
    ``FileContentError`` (not a 3DPW sequence file), ``MissingKeyError`` (an entry missing),
    ``InputRangeError`` (``person`` out of range), ``InputTypeError`` (arguments of the wrong type).
    """
    path = existing_path(pkl_path, "3dpw")
    person = check_int(person, "person", lo=0)
    if image_size is not None:
        image_size = (check_int(image_size[0], "image_size[0] (width)", lo=1),
                      check_int(image_size[1], "image_size[1] (height)", lo=1))
    data = load_pickle(path)
    if not isinstance(data, Mapping):
        raise FileContentError(f"{path}: expected a dict in a 3DPW sequence file, got {type(data).__name__}")
    require_keys(data, ("sequence", "poses", "trans", "betas", "cam_poses", "cam_intrinsics"), path, "3DPW")
    n_people = len(data["poses"])
    if not 0 <= person < n_people:
        raise InputRangeError(f"{path}: person {person} out of range, the sequence has {n_people} actor(s)")
    pose = np.asarray(data["poses"][person], dtype=np.float32).reshape(-1, 72)
    T = pose.shape[0]
    trans = np.asarray(data["trans"][person], dtype=np.float32).reshape(T, 3)
    betas = pad_betas(np.asarray(data["betas"][person], dtype=np.float32))
    betas = np.broadcast_to(betas, (T, 10)) if betas.ndim == 1 else betas.reshape(T, 10)
    cam_poses = np.asarray(data["cam_poses"], dtype=np.float32)
    if cam_poses.shape != (T, 4, 4):
        raise FileContentError(f"{path}: cam_poses must have shape [{T},4,4] (one per frame), got {cam_poses.shape}")
    K = np.asarray(data["cam_intrinsics"], dtype=np.float32).reshape(3, 3)
    valid = np.ones(T, dtype=bool)
    if "campose_valid" in data:
        valid = np.asarray(data["campose_valid"][person]).astype(bool).reshape(T)
    keep = np.flatnonzero(valid) if valid_only else np.arange(T)

    keypoints = None
    if "poses2d" in data:
        keypoints = np.asarray(data["poses2d"][person], dtype=np.float32).reshape(T, 3, -1).transpose(0, 2, 1)[keep]
    genders = data.get("genders", data.get("gender"))
    seq = str(data["sequence"])
    root = Path(image_dir) if image_dir is not None else Path()
    images = [str(root / "imageFiles" / seq / f"image_{i:05d}.jpg") for i in keep]
    width, height = image_size if image_size is not None else _3dpw_image_size(K)
    meta = {"sequence": seq, "frame_index": keep, "campose_valid": valid, "person": person,
            "num_people": n_people, "source": str(path)}
    if "img_frame_ids" in data:
        meta["img_frame_ids"] = np.asarray(data["img_frame_ids"])[keep]
    if "jointPositions" in data:
        meta["jointPositions"] = np.asarray(data["jointPositions"][person], dtype=np.float32).reshape(T, 24, 3)[keep]
    return Frames(
        global_orient=pose[keep, :3], body_pose=pose[keep, 3:], betas=betas[keep], transl=trans[keep],
        camera=batched_camera(K, cam_poses[keep, :3, :3], cam_poses[keep, :3, 3], width, height, len(keep)),
        images=images, keypoints2d=keypoints,
        gender=normalize_gender(genders[person]) if genders is not None else "neutral", name=seq, meta=meta)


def write_3dpw(path, params: Mapping, camera: Camera, sequence: str, gender: str = "n",
               poses2d=None) -> Path:
    """Write one person's frames as a 3DPW sequence file (the inverse of :func:`read_3dpw`; pickle protocol 2
    like the released files). ``params``: ``global_orient`` [T,3], ``body_pose`` [T,69], ``betas`` [T,10] or
    [10], ``transl`` [T,3] in the world frame of ``camera`` (batch T or 1, world to camera); ``poses2d``
    [T,18,3] optional. A converter target for other sources, and the format of :func:`synthetic_3dpw`."""
    p = {k: to_numpy(v).astype(np.float64) for k, v in params.items()}
    T = p["global_orient"].shape[0]
    cam = camera.expand(T) if camera.batch_size == 1 else camera
    cam_poses = np.tile(np.eye(4), (T, 1, 1))
    cam_poses[:, :3, :3] = to_numpy(cam.R)
    cam_poses[:, :3, 3] = to_numpy(cam.t)
    betas = p["betas"].reshape(-1, 10)[0]  # 3DPW stores one shape per person
    data = {"sequence": sequence, "poses": [np.concatenate([p["global_orient"], p["body_pose"]], 1)],
            "betas": [betas], "trans": [p["transl"]], "cam_poses": cam_poses,
            "cam_intrinsics": to_numpy(cam.K[0]).astype(np.float64), "genders": [gender],
            "campose_valid": [np.ones(T, dtype=bool)], "img_frame_ids": np.arange(T),
            "poses2d": [np.zeros((T, 3, 18)) if poses2d is None else to_numpy(poses2d).transpose(0, 2, 1)]}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)
    return path


def synthetic_3dpw(root, seed: int = 0, frames: int = 6, regressor: str = "pare-like", body=None,
                   split: str = "test", gender: str = "n") -> dict:
    """A synthetic person's sequence written in 3DPW's layout under ``root`` -- ``sequenceFiles/<split>/<seq>.pkl``
    and ``imageFiles/<seq>/image_%05d.jpg`` -- plus a regressor's initial estimates as the npz that
    ``notebooks/09_real_data.ipynb`` and :mod:`dispkit.data.real` take (``estimates/<seq>.npz``: ``global_orient``,
    ``body_pose``, ``betas``, ``transl`` per frame, in camera coordinates; ``frame_index``). The person (shape,
    clothing, camera) is :func:`dispkit.data.synthetic.make_scene` ``(seed)``'s, in the poses of
    :func:`dispkit.data.synthetic.person_sequence`; the estimates are
    :func:`dispkit.data.regressors.simulate_regressor` samples.
    Lets the real-data path run end to end without the licensed dataset. Returns the paths
    (``sequence``, ``image_dir``, ``estimates``)."""
    from PIL import Image

    from dispkit.body import default_body
    from dispkit.data.regressors import simulate_regressor
    from dispkit.data.synthetic import make_scene, person_sequence

    body = default_body(body)
    root = Path(root)
    scene = make_scene(int(seed), regressor, body=body)
    seq = person_sequence(scene, int(frames), body, generator=np.random.default_rng([int(seed), 7]))
    name = f"synthetic_{int(seed):06d}"
    img_dir = root / "imageFiles" / name
    img_dir.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(seq["images"]):
        Image.fromarray((img.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)).save(
            img_dir / f"image_{i:05d}.jpg", quality=95)
    gt = seq["params"]
    pkl = write_3dpw(root / "sequenceFiles" / split / f"{name}.pkl", gt, scene.camera, name, gender=gender)
    est = simulate_regressor(gt, regressor, np.random.default_rng([int(seed), 8]), body)
    est_path = root / "estimates" / f"{name}.npz"
    est_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(est_path, frame_index=np.arange(int(frames)), regressor=np.array(regressor),
             **{k: v.numpy() for k, v in est.items()})
    return {"sequence": pkl, "image_dir": root, "estimates": est_path}
