"""Frames, what every body reader of a real dataset's files returns, and the helpers the readers share.

The readers (one module per on-disk format; none of the datasets is shipped with dispkit):

* :func:`dispkit.data.threedpw.read_3dpw` -- 3DPW ``sequenceFiles/<split>/<seq>.pkl`` (3DPW's readme,
  von Marcard et al. 2018);
* :func:`dispkit.data.rich.read_rich` -- RICH ``bodies/<split>/<seq>/<frame>/<id>.pkl`` and
  ``scan_calibration/<scene>/calibration/<cam>.xml`` (github.com/paulchhuang/rich_toolkit);
* :func:`dispkit.data.h36m.read_h36m_spin` -- SPIN's Human3.6M npz, e.g. ``h36m_valid_protocol1.npz``
  (github.com/nkolot/SPIN);
* :func:`dispkit.data.surreal.read_surreal_info` -- SURREAL ``<clip>_info.mat`` (github.com/gulvarol/surreal);
* :func:`dispkit.data.densepose.read_densepose` -- the pickle of detectron2 DensePose's ``apply_net.py dump``;
* :func:`dispkit.data.openpose.read_openpose_sequence` -- a folder of OpenPose ``*_keypoints.json``
  (each read by :func:`dispkit.data.openpose.read_openpose_json`).

Every body-data reader returns :class:`Frames`: SMPL-layout parameters batched over frames, the dataset's
camera as a :class:`dispkit.camera.Camera`, image paths (never loaded), optional 2D keypoints and a ``meta``
dict with the dataset's other fields (under the dataset's own names).

Conventions: cameras are dispkit's (OpenCV frame, ``X_c = R X + t``, pixel centres at +0.5); body parameters
are in the dataset's world frame *as stored* (3DPW: the sequence's world, RICH: the calibrated multi-camera
frame, SURREAL: Blender's world, H36M/SPIN: root-relative, no camera); ``body_pose`` is always SMPL's 23
joints (69 values). These are the dataset's model's parameters: evaluate them with that model (SMPL,
``load_body_model("smpl")``; SMPL-X for RICH). dispkit's open body model takes the same arguments but is only
a stand-in: its rest pelvis sits at the origin while SMPL's does not, so the same ``transl`` places the two
bodies apart by SMPL's rest-pose pelvis position ``J0(betas)``.

Where to get each dataset (and the licensed models) is in :data:`dispkit.licensed.LICENSED_ASSETS`; the
readers' errors quote it, and ``python data_scripts/licensed_assets.py --check`` lists what is in place.
Pickles run code when loaded: read only files from the datasets' own downloads.

The helpers below (:func:`existing_path`, :func:`require_keys`, ...) are shared by the reader modules of
:mod:`dispkit.data`; they are not part of the package's public interface.
"""
from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dispkit.camera import Camera
from dispkit.inputs import FileContentError, MissingKeyError, check_path, one_line
from dispkit.licensed import missing_asset_error

__all__ = ["Frames"]


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


# ====================================================================== helpers shared by the readers
def existing_path(path, key: str, what: str = "file") -> Path:
    """``path`` (user-expanded) if it is an existing file (``what="folder"``: folder), else
    ``FileNotFoundError``, with the help of licensed asset ``key`` (:func:`dispkit.licensed.missing_asset_error`)
    unless ``key`` is empty; :class:`dispkit.inputs.InputTypeError` when ``path`` is not a path."""
    path = check_path(path)
    ok = path.is_dir() if what == "folder" else path.is_file()
    if not ok:
        if key:
            raise missing_asset_error(key, [path], what=what)
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def require_keys(data: Mapping, keys: Sequence[str], path: Path, what: str) -> None:
    """:class:`dispkit.inputs.MissingKeyError` (a ``KeyError`` and a ``ValueError``) naming the entries of ``keys``
    missing from ``data`` (read from ``path``, a ``what`` file); :class:`dispkit.inputs.FileContentError` when
    ``data`` is no dict at all."""
    if not isinstance(data, Mapping):
        raise FileContentError(f"{path}: expected a dict of a {what} file, got {type(data).__name__}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise MissingKeyError(f"{path}: missing key(s) {', '.join(map(repr, missing))} for a {what} file "
                         f"(has: {', '.join(sorted(map(str, data)))})")


def load_pickle(path: Path) -> Any:
    """Unpickle a file saved under Python 2 or 3 (``latin1`` keeps Python 2's numpy arrays readable);
    :class:`dispkit.inputs.FileContentError` for a file that is not a readable pickle."""
    with open(path, "rb") as f:
        try:
            return pickle.load(f, encoding="latin1")
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
                UnicodeDecodeError, OverflowError, ImportError) as e:
            raise FileContentError(f"{path}: not a readable pickle ({type(e).__name__}: {one_line(e)})") from e


def to_numpy(x) -> np.ndarray:
    """A numpy array of ``x`` (a tensor is detached and moved to the CPU)."""
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


def pad_betas(betas: np.ndarray) -> np.ndarray:
    """``[..., B]`` -> ``[..., 10]`` (first ten coefficients, zero-padded)."""
    out = np.zeros(betas.shape[:-1] + (10,), dtype=np.float32)
    n = min(10, betas.shape[-1])
    out[..., :n] = betas[..., :n]
    return out


def batched_camera(K: np.ndarray, R: np.ndarray, t: np.ndarray, width: int, height: int, T: int) -> Camera:
    """A batched camera from one ``K`` [3,3] (or [T,3,3]) and extrinsics [T,3,3], [T,3] (or unbatched)."""
    K, R, t = (np.asarray(x, dtype=np.float32) for x in (K, R, t))
    K = np.broadcast_to(K, (T, 3, 3)).copy()
    R = np.broadcast_to(R, (T, 3, 3)).copy()
    t = np.broadcast_to(t, (T, 3)).copy()
    return Camera.from_K(torch.from_numpy(K), int(width), int(height), torch.from_numpy(R), torch.from_numpy(t))


_GENDERS = {"m": "male", "male": "male", "f": "female", "female": "female", "n": "neutral", "neutral": "neutral"}


def normalize_gender(g) -> str:
    """``"male"``, ``"female"`` or ``"neutral"`` from a dataset's gender field (``"m"``, ``b"f"``, ...); other
    values pass unchanged."""
    g = g.decode() if isinstance(g, bytes) else str(g)
    return _GENDERS.get(g.strip().lower(), g)


def matrix_to_axis_angle(R: np.ndarray) -> np.ndarray:
    """Rotation matrices [...,3,3] -> axis-angle [...,3] float32."""
    from scipy.spatial.transform import Rotation
    return Rotation.from_matrix(R).as_rotvec().astype(np.float32)


def axis_angle_to_matrix(r: np.ndarray) -> np.ndarray:
    """Axis-angle [...,3] -> rotation matrices [...,3,3] float64."""
    from scipy.spatial.transform import Rotation
    return Rotation.from_rotvec(np.asarray(r, dtype=np.float64)).as_matrix()
