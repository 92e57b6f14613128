"""Readers for real datasets in their released on-disk formats (none of them is shipped with dispkit).

Every body-data reader returns :class:`Frames`: SMPL-layout parameters batched over frames, the dataset's
camera as a :class:`dispkit.camera.Camera`, image paths (never loaded), optional 2D keypoints and a ``meta``
dict with the dataset's other fields (under the dataset's own names).

* :func:`read_3dpw` -- 3DPW ``sequenceFiles/<split>/<seq>.pkl`` (3DPW's readme, von Marcard et al. 2018);
* :func:`read_rich` -- RICH ``bodies/<split>/<seq>/<frame>/<id>.pkl`` and
  ``scan_calibration/<scene>/calibration/<cam>.xml`` (github.com/paulchhuang/rich_toolkit);
* :func:`read_h36m_spin` -- SPIN's Human3.6M npz, e.g. ``h36m_valid_protocol1.npz`` (github.com/nkolot/SPIN);
* :func:`read_surreal_info` -- SURREAL ``<clip>_info.mat`` (github.com/gulvarol/surreal);
* :func:`read_densepose` -- the pickle of detectron2 DensePose's ``apply_net.py dump``;
* :func:`read_openpose_sequence` -- a folder of OpenPose ``*_keypoints.json`` (via
  :func:`dispkit.fit.read_openpose_json`).

Conventions: cameras are dispkit's (OpenCV frame, ``X_c = R X + t``, pixel centres at +0.5); body parameters
are in the dataset's world frame *as stored* (3DPW: the sequence's world, RICH: the calibrated multi-camera
frame, SURREAL: Blender's world, H36M/SPIN: root-relative, no camera); ``body_pose`` is always SMPL's 23
joints (69 values). These are the dataset's model's parameters: evaluate them with that model (SMPL,
``load_body_model("smpl")``; SMPL-X for RICH). dispkit's open body model takes the same arguments but is only
a stand-in: its rest pelvis sits at the origin while SMPL's does not, so the same ``transl`` places the two
bodies apart by SMPL's rest-pose pelvis position ``J0(betas)``.

Where to get each dataset (and the licensed models) is in :data:`LICENSED_ASSETS`; the readers' errors quote
it, and ``python data_scripts/licensed_assets.py --check`` lists what is in place. Pickles run code when
loaded: read only files from the datasets' own downloads.
"""
from __future__ import annotations

import glob
import math
import os
import pickle
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dispkit.camera import Camera

__all__ = [
    "LICENSED_ASSETS",
    "SURREAL_K",
    "SURREAL_R",
    "SURREAL_SIZE",
    "DensePoseImage",
    "DensePoseInstance",
    "Frames",
    "LicensedAsset",
    "asset_help",
    "asset_status",
    "data_root",
    "densepose_surface",
    "densepose_to_pixels",
    "read_3dpw",
    "read_densepose",
    "read_h36m_spin",
    "read_openpose_sequence",
    "read_opencv_xml",
    "read_rich",
    "read_surreal_info",
    "surreal_extrinsics",
    "surreal_global_orient",
    "synthetic_3dpw",
    "write_3dpw",
]


# ====================================================================== registry of licensed assets
@dataclass(frozen=True)
class LicensedAsset:
    """A licensed model, weight file or dataset: where to register and where dispkit expects it.

    ``files`` are glob patterns relative to the data root (:func:`data_root`); each must match something,
    and ``"a | b"`` accepts either alternative.
    """

    key: str
    title: str
    url: str
    files: tuple[str, ...]
    notes: str = ""

    def missing(self, root: str | os.PathLike | None = None) -> list[str]:
        """The entries of :attr:`files` with nothing in place under ``root``."""
        base = data_root(root)
        return [entry for entry in self.files
                if not any(next(base.glob(p.strip()), None) is not None for p in entry.split("|"))]


LICENSED_ASSETS: dict[str, LicensedAsset] = {a.key: a for a in (
    LicensedAsset(
        "smpl", "SMPL body model (gender-neutral; male/female for 3DPW and SURREAL ground truth)",
        "https://smpl.is.tue.mpg.de",
        ("body_models/smpl/SMPL_NEUTRAL.pkl | body_models/smpl/SMPL_NEUTRAL.npz"
         " | body_models/smpl/basicModel_neutral_lbs_10_207_0_v1.0.0.pkl",),
        "The neutral model comes with SMPLify (https://smplify.is.tue.mpg.de); put SMPL_MALE.pkl / "
        "SMPL_FEMALE.pkl beside it. Use with load_body_model('<root>/body_models/smpl') or DISPKIT_SMPL_DIR."),
    LicensedAsset(
        "gmm_08", "SMPLify's GMM pose prior gmm_08.pkl", "https://smplify.is.tue.mpg.de",
        ("priors/gmm_08.pkl",),
        "Also in SPIN's data (github.com/nkolot/SPIN, fetch_data.sh -> data/gmm_08.pkl). "
        "Use prior='gmm:<root>/priors/gmm_08.pkl'."),
    LicensedAsset(
        "vposer", "VPoser v2 (V02_05) pose prior", "https://smpl-x.is.tue.mpg.de",
        ("priors/V02_05/snapshots/*.ckpt",),
        "Download 'VPoser v2.0' after registering and unzip it. Use prior='vposer:<root>/priors/V02_05'."),
    LicensedAsset(
        "prohmr", "ProHMR pretrained checkpoint", "https://github.com/nkolot/ProHMR",
        ("prohmr/data/checkpoint.pt",),
        "ProHMR's fetch_data.sh downloads data.tar.gz (data/checkpoint.pt); unpack it under <root>/prohmr/. "
        "Trained on licensed data: check ProHMR's licence before use."),
    LicensedAsset(
        "3dpw", "3DPW (3D Poses in the Wild)", "https://virtualhumans.mpi-inf.mpg.de/3DPW",
        ("3DPW/sequenceFiles/test/*.pkl", "3DPW/imageFiles/*/image_00000.jpg"),
        "Read a sequence with read_3dpw('<root>/3DPW/sequenceFiles/test/<seq>.pkl', image_dir='<root>/3DPW')."),
    LicensedAsset(
        "rich", "RICH (Real scenes, Interaction, Contact and Humans)", "https://rich.is.tue.mpg.de",
        ("RICH/bodies/*/*/*/*.pkl | RICH/*_body/*/*/*.pkl", "RICH/scan_calibration/*/calibration/*.xml",
         "RICH/images/*/*/cam_*/*"),
        "Layout of github.com/paulchhuang/rich_toolkit (bodies/<split>/<seq>/<frame>/<subject>.pkl). "
        "Bodies are SMPL-X: also get SMPL-X (https://smpl-x.is.tue.mpg.de)."),
    LicensedAsset(
        "h36m", "Human3.6M (SPIN's preprocessed npz and extracted frames)", "http://vision.imar.ro/human3.6m",
        ("h36m/h36m_valid_protocol1.npz | h36m/h36m_valid_protocol2.npz", "h36m/images/*.jpg"),
        "The npz files come with SPIN's data (github.com/nkolot/SPIN, fetch_data.sh -> data/dataset_extras/); "
        "the frames are extracted from the licensed videos by SPIN's datasets/preprocess/h36m.py."),
    LicensedAsset(
        "surreal", "SURREAL (synthetic humans)", "https://www.di.ens.fr/willow/research/surreal",
        ("SURREAL/cmu/*/run*/*/*_info.mat",),
        "After registering, download with github.com/gulvarol/surreal download/download_surreal.sh "
        "(cmu/{train,val,test}/run{0,1,2}/<seq>/<clip>_info.mat and .mp4)."),
)}


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root``, else ``$DISPKIT_DATA``, else ``~/dispkit_data``."""
    return Path(root or os.environ.get("DISPKIT_DATA") or "~/dispkit_data").expanduser()


def asset_status(root: str | os.PathLike | None = None) -> list[tuple[LicensedAsset, list[str]]]:
    """Each asset of :data:`LICENSED_ASSETS` with the list of its missing entries (empty: in place)."""
    return [(asset, asset.missing(root)) for asset in LICENSED_ASSETS.values()]


def asset_help(key: str) -> str:
    """One paragraph: where to get asset ``key`` and where dispkit expects it."""
    a = LICENSED_ASSETS[key]
    files = "; ".join(a.files)
    return (f"{a.title} is licensed and not shipped with dispkit: register/download at {a.url}. "
            f"Expected under the data root ({data_root()}): {files}. {a.notes}")


# ====================================================================== frames
def _tensor(x, name: str, tail: tuple[int, ...]) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.ndim != len(tail) + 1 or tuple(t.shape[1:]) != tail:
        raise ValueError(f"{name} must have shape [T,{','.join(map(str, tail))}], got {tuple(t.shape)}")
    return t


@dataclass(frozen=True, eq=False)
class Frames:
    """Body parameters and observations of one person over ``T`` frames (what every body reader returns).

    Attributes
    ----------
    global_orient, body_pose, betas, transl : Tensor [T,3], [T,69], [T,10], [T,3] float32
        SMPL axis-angle pose (SMPL-X sources: 21 body joints + two zero hand joints), shape, translation,
        in the dataset's world frame as stored. NaN where the dataset has no value (see ``meta``).
    camera : Camera or None
        Batched over ``T`` (world to camera, intrinsics, image size); None where the dataset has none.
    images : list[str]
        One image path per frame (not checked, never loaded).
    keypoints2d : Tensor [T,J,3] or None
        ``(x, y, confidence)`` in full-image pixels, in the dataset's joint order.
    boxes : Tensor [T,4] or None
        ``(x0, y0, x1, y1)`` person boxes where the dataset stores them.
    gender : str
        ``"male"``, ``"female"`` or ``"neutral"`` (the body model to evaluate with).
    name : str
        Sequence / file name.
    meta : dict
        Everything else, under the dataset's own field names (numpy arrays, per frame where applicable).
    """

    global_orient: torch.Tensor
    body_pose: torch.Tensor
    betas: torch.Tensor
    transl: torch.Tensor
    camera: Camera | None
    images: list[str]
    keypoints2d: torch.Tensor | None = None
    boxes: torch.Tensor | None = None
    gender: str = "neutral"
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        fields = {"global_orient": (3,), "body_pose": (69,), "betas": (10,), "transl": (3,)}
        for key, tail in fields.items():
            object.__setattr__(self, key, _tensor(getattr(self, key), key, tail))
        T = self.global_orient.shape[0]
        sizes = {key: getattr(self, key).shape[0] for key in fields}
        sizes["images"] = len(self.images)
        if self.camera is not None:
            sizes["camera"] = self.camera.batch_size
        if self.keypoints2d is not None:
            kp = torch.as_tensor(np.asarray(self.keypoints2d, dtype=np.float32))
            if kp.ndim != 3 or kp.shape[-1] != 3:
                raise ValueError(f"keypoints2d must have shape [T,J,3], got {tuple(kp.shape)}")
            object.__setattr__(self, "keypoints2d", kp)
            sizes["keypoints2d"] = kp.shape[0]
        if self.boxes is not None:
            object.__setattr__(self, "boxes", _tensor(self.boxes, "boxes", (4,)))
            sizes["boxes"] = self.boxes.shape[0]
        if any(n != T for n in sizes.values()):
            raise ValueError(f"frame counts disagree: {sizes}")
        object.__setattr__(self, "images", [str(p) for p in self.images])

    def __len__(self) -> int:
        return self.global_orient.shape[0]

    def __repr__(self) -> str:
        cam = "no camera" if self.camera is None else f"{self.camera.width}x{self.camera.height} camera"
        kp = "" if self.keypoints2d is None else f", keypoints2d {list(self.keypoints2d.shape)}"
        return f"Frames({self.name!r}, T={len(self)}, {self.gender}, {cam}{kp})"

    def params(self, i: int | None = None) -> dict[str, torch.Tensor]:
        """``{global_orient, body_pose, betas, transl}`` (float32): all frames, or frame ``i`` as a batch of 1.

        This is what ``load_body_model(...)(**params)`` takes. Raises ``ValueError`` if the dataset has no
        SMPL parameters (``meta["has_smpl"]`` false, e.g. SPIN's Human3.6M validation files).
        """
        if not self.meta.get("has_smpl", True):
            raise ValueError(f"{self.name}: no SMPL parameters in this file ({self.meta.get('smpl_note', '')})")
        keys = ("global_orient", "body_pose", "betas", "transl")
        if i is None:
            return {k: getattr(self, k) for k in keys}
        if not -len(self) <= i < len(self):
            raise IndexError(f"frame {i} out of range for {len(self)} frames")
        return {k: getattr(self, k)[[i]] for k in keys}


# ====================================================================== small helpers
def _existing(path, key: str, what: str = "file") -> Path:
    path = Path(path).expanduser()
    ok = path.is_dir() if what == "folder" else path.is_file()
    if not ok:
        raise FileNotFoundError(f"{what} not found: {path}\n{asset_help(key)}" if key else
                                f"{what} not found: {path}")
    return path


def _require(data: Mapping, keys: Sequence[str], path: Path, what: str) -> None:
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{path}: missing key(s) {', '.join(map(repr, missing))} for a {what} file "
                         f"(has: {', '.join(sorted(map(str, data)))})")


def _load_pickle(path: Path) -> Any:
    """Unpickle a file saved under Python 2 or 3 (``latin1`` keeps Python 2's numpy arrays readable)."""
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def _pad_betas(betas: np.ndarray) -> np.ndarray:
    """``[..., B]`` -> ``[..., 10]`` (first ten coefficients, zero-padded)."""
    out = np.zeros(betas.shape[:-1] + (10,), dtype=np.float32)
    n = min(10, betas.shape[-1])
    out[..., :n] = betas[..., :n]
    return out


def _camera(K: np.ndarray, R: np.ndarray, t: np.ndarray, width: int, height: int, T: int) -> Camera:
    """A batched camera from one ``K`` [3,3] (or [T,3,3]) and extrinsics [T,3,3], [T,3] (or unbatched)."""
    K, R, t = (np.asarray(x, dtype=np.float32) for x in (K, R, t))
    K = np.broadcast_to(K, (T, 3, 3)).copy()
    R = np.broadcast_to(R, (T, 3, 3)).copy()
    t = np.broadcast_to(t, (T, 3)).copy()
    return Camera.from_K(torch.from_numpy(K), int(width), int(height), torch.from_numpy(R), torch.from_numpy(t))


_GENDERS = {"m": "male", "male": "male", "f": "female", "female": "female", "n": "neutral", "neutral": "neutral"}


def _gender(g) -> str:
    g = g.decode() if isinstance(g, bytes) else str(g)
    return _GENDERS.get(g.strip().lower(), g)


def _matrix_to_axis_angle(R: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation
    return Rotation.from_matrix(R).as_rotvec().astype(np.float32)


def _axis_angle_to_matrix(r: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation
    return Rotation.from_rotvec(np.asarray(r, dtype=np.float64)).as_matrix()


# ====================================================================== 3DPW
_3DPW_SIZES = ((1080, 1920), (1920, 1080))


def _3dpw_image_size(K: np.ndarray) -> tuple[int, int]:
    """3DPW frames are 1080x1920 (portrait) or 1920x1080: snap ``(2 cx, 2 cy)`` to those within 5 %."""
    w, h = round(2 * float(K[0, 2])), round(2 * float(K[1, 2]))
    for W, H in _3DPW_SIZES:
        if abs(w - W) <= 0.05 * W and abs(h - H) <= 0.05 * H:
            return W, H
    return w, h


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
    """
    path = _existing(pkl_path, "3dpw")
    data = _load_pickle(path)
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a dict in a 3DPW sequence file, got {type(data).__name__}")
    _require(data, ("sequence", "poses", "trans", "betas", "cam_poses", "cam_intrinsics"), path, "3DPW")
    n_people = len(data["poses"])
    if not 0 <= person < n_people:
        raise ValueError(f"{path}: person {person} out of range, the sequence has {n_people} actor(s)")
    pose = np.asarray(data["poses"][person], dtype=np.float32).reshape(-1, 72)
    T = pose.shape[0]
    trans = np.asarray(data["trans"][person], dtype=np.float32).reshape(T, 3)
    betas = _pad_betas(np.asarray(data["betas"][person], dtype=np.float32))
    betas = np.broadcast_to(betas, (T, 10)) if betas.ndim == 1 else betas.reshape(T, 10)
    cam_poses = np.asarray(data["cam_poses"], dtype=np.float32)
    if cam_poses.shape != (T, 4, 4):
        raise ValueError(f"{path}: cam_poses must have shape [{T},4,4] (one per frame), got {cam_poses.shape}")
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
        camera=_camera(K, cam_poses[keep, :3, :3], cam_poses[keep, :3, 3], width, height, len(keep)),
        images=images, keypoints2d=keypoints,
        gender=_gender(genders[person]) if genders is not None else "neutral", name=seq, meta=meta)


def write_3dpw(path, params: Mapping, camera: Camera, sequence: str, gender: str = "n",
               poses2d=None) -> Path:
    """Write one person's frames as a 3DPW sequence file (the inverse of :func:`read_3dpw`; pickle protocol 2
    like the released files). ``params``: ``global_orient`` [T,3], ``body_pose`` [T,69], ``betas`` [T,10] or
    [10], ``transl`` [T,3] in the world frame of ``camera`` (batch T or 1, world to camera); ``poses2d``
    [T,18,3] optional. A converter target for other sources, and the format of :func:`synthetic_3dpw`."""
    p = {k: _numpy(v).astype(np.float64) for k, v in params.items()}
    T = p["global_orient"].shape[0]
    cam = camera.expand(T) if camera.batch_size == 1 else camera
    cam_poses = np.tile(np.eye(4), (T, 1, 1))
    cam_poses[:, :3, :3] = _numpy(cam.R)
    cam_poses[:, :3, 3] = _numpy(cam.t)
    betas = p["betas"].reshape(-1, 10)[0]  # 3DPW stores one shape per person
    data = {"sequence": sequence, "poses": [np.concatenate([p["global_orient"], p["body_pose"]], 1)],
            "betas": [betas], "trans": [p["transl"]], "cam_poses": cam_poses,
            "cam_intrinsics": _numpy(cam.K[0]).astype(np.float64), "genders": [gender],
            "campose_valid": [np.ones(T, dtype=bool)], "img_frame_ids": np.arange(T),
            "poses2d": [np.zeros((T, 3, 18)) if poses2d is None else _numpy(poses2d).transpose(0, 2, 1)]}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)
    return path


def synthetic_3dpw(root, seed: int = 0, frames: int = 6, regressor: str = "pare-like", body=None) -> dict:
    """A synthetic person's sequence written in 3DPW's layout under ``root`` -- ``sequenceFiles/test/<seq>.pkl``
    and ``imageFiles/<seq>/image_%05d.jpg`` -- plus a regressor's initial estimates as the npz that
    ``notebooks/07_real_data.ipynb`` takes (``global_orient``, ``body_pose``, ``betas``, ``transl`` per frame, in
    camera coordinates; ``frame_index``). The person (shape, clothing, camera) is
    :func:`dispkit.data.synthetic.make_scene` ``(seed)``'s, in the poses of
    :func:`dispkit.data.synthetic.person_sequence`; the estimates are :func:`simulate_regressor` samples.
    Lets the real-data path run end to end without the licensed dataset. Returns the paths
    (``sequence``, ``image_dir``, ``estimates``)."""
    from PIL import Image

    from dispkit.data.synthetic import _get_body, make_scene, person_sequence, simulate_regressor

    body = _get_body(body)
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
    pkl = write_3dpw(root / "sequenceFiles" / "test" / f"{name}.pkl", gt, scene.camera, name)
    est = simulate_regressor(gt, regressor, np.random.default_rng([int(seed), 8]), body)
    est_path = root / f"estimates_{regressor}_{name}.npz"
    np.savez(est_path, frame_index=np.arange(int(frames)), regressor=np.array(regressor),
             **{k: v.numpy() for k, v in est.items()})
    return {"sequence": pkl, "image_dir": root, "estimates": est_path}


# ====================================================================== RICH
def read_opencv_xml(xml_path, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Matrices of an OpenCV ``FileStorage`` XML file (``<name type_id="opencv-matrix">`` with ``<rows>``,
    ``<cols>``, ``<dt>``, ``<data>``), as float64 arrays ``[rows, cols]``; plain ``<name>`` values become 1D
    arrays. ``keys`` lists the required entries (``ValueError`` naming any that is missing)."""
    path = _existing(xml_path, "")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValueError(f"{path}: not an XML file ({e})") from e
    out = {}
    for node in root:
        data = node.find("data")
        text = data.text if data is not None else node.text
        try:
            values = np.array([float(s) for s in (text or "").split()], dtype=np.float64)
        except ValueError:
            continue  # a string entry
        rows, cols = node.findtext("rows"), node.findtext("cols")
        out[node.tag] = values.reshape(int(rows), int(cols)) if rows and cols else values
    if keys is not None:
        _require(out, keys, path, "OpenCV XML calibration")
    return out


_RICH_IMAGE_EXT = {"Gym": "bmp", "BBQ": "bmp", "ParkingLot1": "bmp", "ParkingLot2": "bmp",
                   "Pavallion": "png", "LectureHall": "png"}  # rich_toolkit's resource/imgext.json
_RICH_BODY_KEYS = ("global_orient", "body_pose", "betas", "transl")


def _rich_subject_file(subject_id: int | str) -> str:
    s = str(subject_id)
    return f"{int(s):03d}.pkl" if s.isdigit() else (s if s.endswith(".pkl") else f"{s}.pkl")


def _smplx_body_to_smpl(body_pose: np.ndarray, path: Path) -> np.ndarray:
    """SMPL-X body pose [63] (21 joints) -> SMPL layout [69] with zero hand joints; SMPL's [69] passes."""
    body_pose = body_pose.reshape(-1)
    if body_pose.size == 69:
        return body_pose
    if body_pose.size != 63:
        raise ValueError(f"{path}: body_pose has {body_pose.size} values, expected SMPL-X's 63 (or SMPL's 69)")
    return np.concatenate([body_pose, np.zeros(6, dtype=body_pose.dtype)])


def read_rich(body_dir, calibration_xml, subject_id: int | str, image_dir=None,
              image_size: tuple[int, int] | None = None, frames: Sequence[int] | None = None,
              gender: str = "neutral", image_ext: str | None = None) -> Frames:
    """Read one subject of a RICH sequence seen by one calibrated camera.

    Format (github.com/paulchhuang/rich_toolkit: ``smplx2images.py``, ``utils.py``):

    * bodies: one pickle per frame and subject, ``<bodies>/<split>/<SEQ>/<frame:05d>/<subject:03d>.pkl``
      holding SMPL-X parameters ``global_orient [1,3]``, ``body_pose [1,63]``, ``betas [1,10]``,
      ``transl [1,3]`` (its hand, jaw, eye and expression entries are ignored). They live in the calibrated
      multi-camera frame (camera 0 is the reference), not in a gravity-aligned world.
    * cameras: ``scan_calibration/<scene>/calibration/<cam:03d>.xml``, OpenCV FileStorage XML with
      ``CameraMatrix`` (3x4 world-to-camera ``[R|t]``), ``Intrinsics`` (3x3 ``K``) and ``Distortion``
      (``k1 k2 ...``; kept in ``meta`` but not applied: the camera is a pinhole).
    * images: ``images/<split>/<SEQ>/cam_<cam:02d>/<frame:05d>_<cam:02d>.<ext>`` (png or bmp by scene).

    **SMPL-X is not SMPL.** ``body_pose`` is given in SMPL's layout (SMPL-X's 21 body joints, then SMPL's
    two hand joints as zeros) so that the kit's code can take it, but SMPL-X's shape space differs from
    SMPL's: the ``betas`` are not interchangeable, and the joints/vertices differ. Evaluate on RICH with
    SMPL-X, or with SMPL parameters fitted to the SMPL-X meshes (e.g. smplx's ``transfer_model``);
    ``meta["model_type"]`` is ``"smplx"``.

    Parameters
    ----------
    body_dir : path
        The sequence's body folder (``.../bodies/<split>/<SEQ>``) holding the ``<frame:05d>/`` folders.
    calibration_xml : path
        The camera's calibration file.
    subject_id : int or str
        The subject (``3`` or ``"003"``: the file ``003.pkl``; the id is in the sequence name,
        ``<scene>_<id>_<action>``).
    image_dir : path, optional
        The sequence's image folder (``.../images/<split>/<SEQ>``).
    image_size : (width, height), optional
        Defaults to 4112x3008, or 3008x4112 for a portrait camera (``cy > cx``, e.g. Pavallion 3 and 5).
    frames : sequence of int, optional
        Frame ids to read (default: every frame folder that has the subject's file).
    gender : str
        From rich_toolkit's ``resource/gender.json``; RICH's files do not store it.
    image_ext : str, optional
        Image extension; by default from the scene name (rich_toolkit's ``resource/imgext.json``).
    """
    body_dir = _existing(body_dir, "rich", "folder")
    calib_path = _existing(calibration_xml, "rich")
    fname = _rich_subject_file(subject_id)
    if frames is None:
        frame_ids = sorted(int(d.name) for d in body_dir.iterdir() if d.name.isdigit() and (d / fname).is_file())
        if not frame_ids:
            raise FileNotFoundError(f"no <frame>/{fname} body files under {body_dir} (subject {subject_id!r})\n"
                                    f"{asset_help('rich')}")
    else:
        frame_ids = [int(f) for f in frames]

    params = {k: [] for k in _RICH_BODY_KEYS}
    ignored: set[str] = set()
    for f in frame_ids:
        p = body_dir / f"{f:05d}" / fname
        if not p.is_file():
            raise FileNotFoundError(f"RICH body file not found: {p}")
        d = _load_pickle(p)
        _require(d, _RICH_BODY_KEYS, p, "RICH SMPL-X body")
        ignored.update(set(d) - set(_RICH_BODY_KEYS))
        d = {k: _numpy(d[k]).astype(np.float32) for k in _RICH_BODY_KEYS}
        params["global_orient"].append(d["global_orient"].reshape(3))
        params["body_pose"].append(_smplx_body_to_smpl(d["body_pose"], p))
        params["betas"].append(_pad_betas(d["betas"].reshape(-1)))
        params["transl"].append(d["transl"].reshape(3))
    params = {k: np.stack(v) for k, v in params.items()}

    calib = read_opencv_xml(calib_path, ("CameraMatrix", "Intrinsics"))
    Rt, K = calib["CameraMatrix"].reshape(3, 4), calib["Intrinsics"].reshape(3, 3)
    if image_size is None:
        image_size = (3008, 4112) if K[1, 2] > K[0, 2] else (4112, 3008)
    T = len(frame_ids)
    camera = _camera(K, Rt[:, :3], Rt[:, 3], *image_size, T)

    cam_id = int(calib_path.stem) if calib_path.stem.isdigit() else 0
    scene = calib_path.parent.parent.name if calib_path.parent.name == "calibration" else ""
    ext = image_ext or _RICH_IMAGE_EXT.get(scene, "png")
    root = Path(image_dir) if image_dir is not None else Path()
    images = [str(root / f"cam_{cam_id:02d}" / f"{f:05d}_{cam_id:02d}.{ext}") for f in frame_ids]
    meta = {"model_type": "smplx", "frame_ids": np.asarray(frame_ids), "subject": fname[:-4], "camera_id": cam_id,
            "scene": scene, "distortion": calib.get("Distortion", np.zeros(0)), "ignored_keys": sorted(ignored),
            "note": "SMPL-X parameters: body_pose = SMPL-X's 21 body joints + 2 zero hand joints; betas are "
                    "SMPL-X's (not SMPL's)"}
    return Frames(camera=camera, images=images, gender=_gender(gender), name=body_dir.name, meta=meta, **params)


# ====================================================================== Human3.6M (SPIN's npz)
def _strings(a: np.ndarray) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(a).reshape(-1)]


def read_h36m_spin(npz_path, image_dir=None) -> Frames:
    """Read SPIN's preprocessed Human3.6M file (``h36m_valid_protocol1.npz``, ``..._protocol2.npz``,
    ``h36m_train.npz``), or any npz in SPIN's dataset format.

    Format (github.com/nkolot/SPIN, ``datasets/preprocess/h36m.py`` and ``datasets/base_dataset.py``):
    ``imgname`` [N] (relative image paths), ``center`` [N,2] and ``scale`` [N] (a square box of side
    ``200 * scale`` pixels centred at ``center``), optional ``pose`` [N,72] and ``shape`` [N,10] (SMPL;
    absent from the released Human3.6M files: MoSh parameters are licensed), ``S`` [N,24,4] (root-relative 3D
    joints in metres with a confidence, SPIN's 24-joint order), ``part`` [N,24,3] (2D joints),
    ``openpose`` [N,25,3], ``gender`` [N].

    SPIN's npz stores no camera and no translation: ``camera`` is None (Human3.6M's calibrations are in the
    dataset's own metadata, not here) and ``transl`` is zero (root-relative). Without ``pose``/``shape``,
    the pose and betas are NaN, ``meta["has_smpl"]`` is false and :meth:`Frames.params` raises.

    Returns
    -------
    Frames
        ``boxes`` [N,4] from center/scale, ``keypoints2d`` = ``part`` (if present), ``meta``: ``S``,
        ``openpose``, ``center``, ``scale``, ``has_smpl``, ``genders`` (when mixed).
    """
    path = _existing(npz_path, "h36m")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except ValueError as e:  # object arrays (or not an npz at all)
        raise ValueError(f"{path}: cannot read as a SPIN dataset npz without unpickling ({e})") from e
    _require(data, ("imgname", "center", "scale"), path, "SPIN dataset npz")
    names = _strings(data["imgname"])
    N = len(names)
    center = np.asarray(data["center"], dtype=np.float32).reshape(N, 2)
    scale = np.asarray(data["scale"], dtype=np.float32).reshape(N)
    half = 100.0 * scale[:, None]
    boxes = np.concatenate([center - half, center + half], 1)

    has_smpl = "pose" in data and "shape" in data
    if has_smpl:
        pose = np.asarray(data["pose"], dtype=np.float32).reshape(N, 72)
        betas = _pad_betas(np.asarray(data["shape"], dtype=np.float32).reshape(N, -1))
    else:
        pose, betas = np.full((N, 72), np.nan, np.float32), np.full((N, 10), np.nan, np.float32)
    meta: dict[str, Any] = {"center": center, "scale": scale, "has_smpl": has_smpl, "source": str(path),
                            "camera_note": "SPIN's npz has no camera: crop with boxes (side 200*scale)"}
    if not has_smpl:
        meta["smpl_note"] = f"'pose'/'shape' are not in {path.name} (SPIN's Human3.6M files carry no SMPL)"
    for key in ("S", "openpose"):
        if key in data:
            meta[key] = np.asarray(data[key], dtype=np.float32)
    gender = "neutral"
    if "gender" in data:
        genders = [_gender(g) for g in _strings(data["gender"])]
        gender = genders[0] if len(set(genders)) == 1 else "mixed"
        meta["genders"] = np.asarray(genders)
    root = Path(image_dir) if image_dir is not None else Path()
    keypoints = np.asarray(data["part"], dtype=np.float32).reshape(N, -1, 3) if "part" in data else None
    return Frames(global_orient=pose[:, :3], body_pose=pose[:, 3:], betas=betas, transl=np.zeros((N, 3)),
                  camera=None, images=[str(root / n) for n in names], keypoints2d=keypoints, boxes=boxes,
                  gender=gender, name=path.stem, meta=meta)


# ====================================================================== SURREAL
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
    return _matrix_to_axis_angle(_SURREAL_R90 @ Rz @ _axis_angle_to_matrix(pose_root))


def _mat_str(x) -> str:
    a = np.asarray(x)
    return str(a.reshape(-1)[0]) if a.size else ""


def _mat_scalar(x) -> float:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    return float(a[0]) if a.size else float("nan")


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

    path = _existing(mat_path, "surreal")
    try:
        data = loadmat(str(path))
    except Exception as e:  # scipy raises several types for a bad file
        raise ValueError(f"{path}: not a MATLAB v5 .mat file ({e})") from e
    _require(data, ("pose", "shape", "camLoc", "zrot", "joints3D"), path, "SURREAL _info.mat")
    pose = np.asarray(data["pose"], dtype=np.float64)
    if pose.ndim != 2 or pose.shape[0] != 72:
        raise ValueError(f"{path}: 'pose' must have shape [72,T], got {pose.shape}")
    pose = pose.T
    T = pose.shape[0]
    betas = _pad_betas(np.asarray(data["shape"], dtype=np.float32).reshape(-1, T).T)
    zrot = np.asarray(data["zrot"], dtype=np.float64).reshape(-1)
    joints3d = np.asarray(data["joints3D"], dtype=np.float32).reshape(3, -1, T).transpose(2, 1, 0)

    root0 = np.zeros((T, 3), np.float32)
    if body is not None:
        with torch.no_grad():
            root0 = body(betas=torch.from_numpy(betas)).joints[:, 0].float().numpy()
    R, t = surreal_extrinsics(data["camLoc"])
    camera = _camera(SURREAL_K, R, t, *SURREAL_SIZE, T)

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


# ====================================================================== DensePose
class _StandIn:
    """Stands in for a detectron2 / DensePose class while unpickling: keeps the pickled state as attributes
    (``labels``, ``uv``, ...). ``_source`` names the class it replaces."""

    _source = "?"

    def __init__(self, *args, **kwargs):
        self.__dict__.update(kwargs)
        if args:
            self.__dict__["args"] = args

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and all(s is None or isinstance(s, dict) for s in state):
            for part in state:  # (__dict__, __slots__) state
                self.__dict__.update(part or {})
        elif isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["state"] = state

    def __repr__(self) -> str:
        return f"<stand-in for {self._source}: {', '.join(sorted(self.__dict__))}>"


class _DetectronFreeUnpickler(pickle.Unpickler):
    """Maps every ``densepose.*`` / ``detectron2.*`` class to a :class:`_StandIn` subclass (so the dump of
    ``apply_net.py`` reads without detectron2); everything else (torch tensors, numpy) unpickles as usual."""

    _cache: dict[tuple[str, str], type] = {}

    def find_class(self, module, name):
        if module.split(".")[0] in ("densepose", "detectron2"):
            key = (module, name)
            if key not in self._cache:
                self._cache[key] = type(name, (_StandIn,), {"_source": f"{module}.{name}", "__module__": __name__})
            return self._cache[key]
        return super().find_class(module, name)


@dataclass(frozen=True, eq=False)
class DensePoseInstance:
    """One detected person: ``box`` [4] ``(x0, y0, x1, y1)`` full-image pixels, ``score``, ``labels`` [h,w]
    uint8 (0 background, 1..24 DensePose parts) and ``uv`` [2,h,w] float32 in [0,1], both over the box."""

    box: np.ndarray
    score: float
    labels: np.ndarray
    uv: np.ndarray


@dataclass(frozen=True, eq=False)
class DensePoseImage:
    """The results for one image: its ``file_name``, the detected ``instances`` and ``meta`` (e.g.
    ``frame_idx`` for video inputs)."""

    file_name: str
    instances: list[DensePoseInstance]
    meta: dict = field(default_factory=dict)


def _chart(result, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(labels [h,w] uint8, uv [2,h,w] float32)`` from a chart result: an object or dict with ``labels``
    and ``uv`` (DensePoseChartResult[WithConfidences]) or ``labels_uv_uint8`` [3,h,w] (the quantised one)."""
    get = result.get if isinstance(result, Mapping) else (lambda k: getattr(result, k, None))
    if get("labels") is not None and get("uv") is not None:
        labels, uv = _numpy(get("labels")), _numpy(get("uv")).astype(np.float32)
    elif get("labels_uv_uint8") is not None:
        q = _numpy(get("labels_uv_uint8"))
        labels, uv = q[0], q[1:].astype(np.float32) / 255.0
    else:
        have = sorted(result) if isinstance(result, Mapping) else sorted(getattr(result, "__dict__", {}))
        raise ValueError(f"{where}: no 'labels' and 'uv' (or 'labels_uv_uint8') in the DensePose result "
                         f"(has: {', '.join(have)}); only chart-based (IUV) models are supported, not CSE")
    if labels.ndim != 2 or uv.shape != (2,) + labels.shape:
        raise ValueError(f"{where}: labels must be [h,w] and uv [2,h,w], got {labels.shape} and {uv.shape}")
    return labels.astype(np.uint8), uv


def read_densepose(pkl_path) -> list[DensePoseImage]:
    """Read the pickle written by detectron2 DensePose's ``apply_net.py dump`` (no detectron2 needed).

    Format (detectron2 ``projects/DensePose/apply_net.py``, ``DumpAction.execute_on_outputs``): a list with
    one dict per image, keys ``file_name``, optional ``frame_idx``, ``scores`` [N] and ``pred_boxes_XYXY``
    [N,4] (torch tensors) and ``pred_densepose``, a list of N chart results
    (``densepose.structures.chart_result.DensePoseChartResultWithConfidences``: ``labels`` [h,w] long,
    ``uv`` [2,h,w] float; ``h, w`` are the box's integer height and width). Dicts with ``labels``/``uv`` and
    quantised results (``labels_uv_uint8``) are accepted too.

    The DensePose/detectron2 classes are replaced by stand-ins while unpickling (a custom
    ``Unpickler.find_class``) that keep their pickled attributes, so torch is needed but detectron2 is not.
    Unpickling runs code: read only dumps you made.
    """
    path = _existing(pkl_path, "")
    with open(path, "rb") as f:
        data = _DetectronFreeUnpickler(f).load()
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of per-image dicts (apply_net.py dump), got {type(data).__name__}")
    images = []
    for n, entry in enumerate(data):
        where = f"{path} [image {n}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: expected a dict, got {type(entry).__name__}")
        _require(entry, ("file_name",), path, "DensePose dump")
        results = entry.get("pred_densepose")
        instances = []
        if results is not None:
            _require(entry, ("pred_boxes_XYXY",), path, "DensePose dump")
            boxes = _numpy(entry["pred_boxes_XYXY"]).astype(np.float32).reshape(-1, 4)
            scores = _numpy(entry["scores"]).astype(np.float32).reshape(-1) if "scores" in entry else \
                np.ones(len(boxes), np.float32)
            results = list(results)
            if not len(boxes) == len(scores) == len(results):
                raise ValueError(f"{where}: {len(boxes)} boxes, {len(scores)} scores, {len(results)} results")
            for k, (box, score, result) in enumerate(zip(boxes, scores, results)):
                labels, uv = _chart(result, f"{where} instance {k}")
                instances.append(DensePoseInstance(box=box, score=float(score), labels=labels, uv=uv))
        meta = {k: v for k, v in entry.items() if k not in ("file_name", "scores", "pred_boxes_XYXY",
                                                             "pred_densepose")}
        images.append(DensePoseImage(file_name=str(entry["file_name"]), instances=instances, meta=meta))
    return images


def densepose_to_pixels(instance: DensePoseInstance, convention: str = "box"
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The foreground IUV of one instance as full-image samples: ``(pixels [N,2] float32 (x, y), parts [N]
    int64 in 1..24, uv [N,2] float32)``, in row-major order of the instance's ``[h,w]`` grid.

    ``convention`` places result cell ``(r, c)`` of the ``[h,w]`` grid in the full image (pixel centres at
    +0.5, dispkit's convention):

    * ``"box"`` (default): spread over the float box, ``x = x0 + (c + 0.5) (x1 - x0) / w``,
      ``y = y0 + (r + 0.5) (y1 - y0) / h``. This is where DensePose's prediction for that cell was made: the
      ROI head's output over the box is resampled to ``[h,w]`` with ``F.interpolate(align_corners=False)``
      (``densepose/converters/chart_output_to_chart_result.py``).
    * ``"paste"``: ``x = int(x0) + c + 0.5``, ``y = int(y0) + r + 0.5``: cell = image pixel, as DensePose's
      visualisers paste the result at the integer box (``make_int_box``). Differs from ``"box"`` by < 1.5 px.
    """
    labels, uv = instance.labels, instance.uv
    h, w = labels.shape
    r, c = np.nonzero(labels)
    x0, y0, x1, y1 = (float(v) for v in instance.box)
    if convention == "box":
        x = x0 + (c + 0.5) * (x1 - x0) / w
        y = y0 + (r + 0.5) * (y1 - y0) / h
    elif convention == "paste":
        x, y = math.trunc(x0) + c + 0.5, math.trunc(y0) + r + 0.5
    else:
        raise ValueError(f"convention must be 'box' or 'paste', got {convention!r}")
    pixels = np.stack([x, y], -1).astype(np.float32).reshape(-1, 2)
    return pixels, labels[r, c].astype(np.int64), uv[:, r, c].T.astype(np.float32).reshape(-1, 2)


def densepose_surface(parts, uv, uv_processed, faces) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DensePose chart coordinates (part ``I`` in 1..24, ``(U, V)`` in [0,1]) to points on SMPL's surface:
    ``(face_index [N], bary [N,3], valid [N])`` into ``faces`` (SMPL's [F,3]), what
    :class:`dispkit.fit.DensePoseTerm` takes (with the pixels of :func:`densepose_to_pixels`).

    ``uv_processed``: DensePose's ``UV_Processed.mat`` (DensePose's repository, ``DensePoseData/UV_data``;
    licence CC BY-NC) -- ``All_FaceIndices`` (part of each chart triangle), ``All_Faces`` (1-based triangles over
    the chart vertices), ``All_U_norm``/``All_V_norm`` (chart coordinates per chart vertex) and ``All_vertices``
    (1-based SMPL vertex of each chart vertex). A point takes the chart triangle of its part that contains it
    (the barycentrics of DensePose's ``IUV2FBC``), else the nearest triangle centre of that part with clamped
    barycentrics; ``valid`` is false for background or unknown parts and for triangles that are not SMPL faces.
    Only SMPL's topology has these charts: with the open body model there is no DensePose mapping.
    """
    from scipy.io import loadmat
    from scipy.spatial import cKDTree

    path = Path(uv_processed).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"UV_Processed.mat not found: {path}\nIt comes with DensePose "
                                "(github.com/facebookresearch/DensePose, DensePoseData/get_densepose_uv.sh; "
                                "CC BY-NC) and maps DensePose's charts onto SMPL's surface.")
    m = loadmat(str(path))
    _require(m, ("All_FaceIndices", "All_Faces", "All_U_norm", "All_V_norm", "All_vertices"), path,
             "DensePose UV_Processed.mat")
    part_of = np.asarray(m["All_FaceIndices"]).reshape(-1).astype(np.int64)
    tri = np.asarray(m["All_Faces"]).reshape(-1, 3).astype(np.int64) - 1
    chart_uv = np.stack([np.asarray(m["All_U_norm"]).reshape(-1), np.asarray(m["All_V_norm"]).reshape(-1)], -1)
    smpl_vertex = np.asarray(m["All_vertices"]).reshape(-1).astype(np.int64) - 1
    faces = _numpy(faces).astype(np.int64)
    # chart triangle -> SMPL face with the same corners (and the corner order of that face)
    lookup = {tuple(sorted(f)): i for i, f in enumerate(faces.tolist())}
    corners = smpl_vertex[tri]                                                    # [Fc,3] SMPL vertex ids
    face_of = np.array([lookup.get(tuple(sorted(c)), -1) for c in corners.tolist()])
    parts, uv = np.asarray(parts).reshape(-1).astype(np.int64), np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    N = parts.shape[0]
    face_index, bary, valid = np.full(N, -1), np.zeros((N, 3)), np.zeros(N, bool)
    for part in np.unique(parts):
        pts = np.flatnonzero(parts == part)
        cand = np.flatnonzero(part_of == part)
        if part <= 0 or cand.size == 0:
            continue
        a, b, c = (chart_uv[tri[cand, k]] for k in range(3))                     # [C,2] each
        v0, v1 = b - a, c - a
        den = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
        den = np.where(np.abs(den) < 1e-12, 1e-12, den)
        q = uv[pts][:, None] - a[None]                                            # [P,C,2]
        w1 = (q[..., 0] * v1[:, 1] - q[..., 1] * v1[:, 0]) / den
        w2 = (v0[:, 0] * q[..., 1] - v0[:, 1] * q[..., 0]) / den
        w0 = 1 - w1 - w2
        inside = (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9)
        best = np.where(inside.any(1), inside.argmax(1),
                        cKDTree((a + b + c) / 3).query(uv[pts])[1])
        r = np.arange(len(pts))
        w = np.clip(np.stack([w0[r, best], w1[r, best], w2[r, best]], -1), 0, None)
        w /= np.maximum(w.sum(-1, keepdims=True), 1e-12)
        chart = cand[best]
        f = face_of[chart]
        # reorder the barycentrics from the chart triangle's corners to the SMPL face's corner order
        order = np.array([[list(faces[fi]).index(v) if fi >= 0 else k for k, v in enumerate(corners[ch])]
                          for fi, ch in zip(f, chart)])
        b3 = np.zeros_like(w)
        np.put_along_axis(b3, order, w, axis=1)
        face_index[pts], bary[pts], valid[pts] = f, b3, f >= 0
    return torch.from_numpy(face_index), torch.from_numpy(bary).float(), torch.from_numpy(valid)


# ====================================================================== OpenPose
def read_openpose_sequence(directory_or_glob, person: int | str = "largest") -> torch.Tensor:
    """BODY_25 keypoints [T,25,3] ``(x, y, confidence)`` of an OpenPose ``--write_json`` folder (its
    ``*_keypoints.json`` files, or ``*.json``) or a glob pattern, one frame per file in sorted file-name order.

    Each file is read by :func:`dispkit.fit.read_openpose_json` (``person``: index or ``"largest"``; a file
    without people gives zero confidences).
    """
    from dispkit.fit import read_openpose_json

    src = Path(directory_or_glob).expanduser()
    if src.is_dir():
        files = sorted(src.glob("*_keypoints.json")) or sorted(src.glob("*.json"))
    else:
        files = sorted(Path(p) for p in glob.glob(str(src)))
    if not files:
        raise FileNotFoundError(f"no OpenPose JSON files found at {src}")
    frames = []
    for f in files:
        xy, conf = read_openpose_json(f, person=person)
        frames.append(torch.cat([xy, conf[:, None]], -1))
    return torch.stack(frames).float()
