"""Training on real datasets the paper's way (§4): 3DPW, Human3.6M (SPIN's npz), SURREAL, mixed with weights.

The paper trains the displacement network on Human3.6M, 3DPW and SURREAL frames with their GT SMPL bodies and
cameras, the person's texture back-projected from a reference sequence of the same subject with the GT meshes,
and initial estimates that are a regressor's predictions on the training frames (PARE; 64 ProHMR samples per
frame) or the GT pose with the regressor's shape and camera. This module is that data pipeline; rendering stays
on the fly, as for the synthetic scenes (:mod:`dispkit.data.training`), and a sample has the same keys.

Sources and the ``--data`` spec of :mod:`dispkit.train` (:func:`parse_data_spec`), comma-separated, each with
an optional ``@weight`` (default 1; a sample comes from a source with probability weight / sum):

====================  ==========================================================================================
``3dpw:ROOT``          every ``ROOT/sequenceFiles/train/*.pkl`` (``3dpw:ROOT:validation`` for another split), each
                       actor a subject; images ``ROOT/imageFiles/<seq>/image_%05d.jpg``
``rich:ROOT``          every sequence ``ROOT/bodies_smpl/<split>/<SEQ>`` (else ``ROOT/bodies/<split>/<SEQ>``) of
                       ``rich:ROOT:test`` (default ``train``), each camera of the scene a subject
                       (``<SEQ>_cam<XX>``): the layout of :func:`dispkit.data.rich.read_rich` with images
                       ``ROOT/images/<split>/<SEQ>/cam_<XX>/`` and calibrations ``ROOT/scan_calibration/<scene>/``.
                       The bodies must be **SMPL** (``body_pose [1,69]``: SMPL fitted to RICH's SMPL-X meshes, e.g.
                       with smplx's ``transfer_model``); RICH's own SMPL-X files are refused with that advice.
                       Genders from ``ROOT/gender.json`` (rich_toolkit's ``resource/gender.json``) where present
``surreal:ROOT``       every ``ROOT/**/<clip>_info.mat`` with its ``<clip>.mp4`` (decoded with PyAV) or a folder
                       ``<clip>/`` of extracted ``%05d.jpg`` frames beside it. **Refused for now** with the
                       reason: SURREAL's hard-coded world-to-camera matrix is a reflection (det -1), so the
                       camera-frame body is a mirrored mesh, and how that relates to the rendered person has
                       not been verified on real SURREAL files (:func:`to_camera_frame`)
``h36m:NPZ``           SPIN's npz (``h36m_train.npz``) with ``pose``/``shape`` (the MoSh parameters, licensed) and
                       its images under the npz's folder (``h36m:NPZ:IMAGE_ROOT`` for another); SPIN's npz
                       has no camera: the translation is solved from the 2D keypoints (``part``) and the SMPL
                       joints, with Human3.6M's focal length 1145 px (:func:`h36m_translation`)
``synthetic``          the kit's broad synthetic scenes (:class:`dispkit.data.training.DisplacementDataset`)
====================  ==========================================================================================

Initial estimates (``ROOT/estimates/<name>.npz``, ``<name>`` the sequence, clip or npz stem; 3DPW actor ``k``
> 0: ``<seq>_p<k>.npz``), read by :func:`read_estimates`: PARE-style ``[T,...]`` (one prediction per frame) or
ProHMR-style ``[T,K,...]`` (K samples per frame), ``global_orient``, ``body_pose``, ``betas`` and either
``transl`` (camera coordinates) or ``pred_cam`` (the regressor's weak-perspective crop camera ``s, tx, ty``) with
``box_center`` [T,2] and ``box_size`` [T] (converted with :func:`dispkit.camera.crop_cam_to_full`); optional
``frame_index`` [T] (the frames they belong to). A sample takes the prediction (probability ``mix["regressor"]``)
or the GT pose with the prediction's shape and camera (``mix["gt_pose"]``); a source without estimates uses
the broad simulated regressor errors (:func:`dispkit.data.broad.simulate_regressor_broad`) on its GT instead.

Textures: one per subject (3DPW actor, SURREAL clip, Human3.6M npz), back-projected
(:func:`dispkit.texture.estimate_texture`) from ``texture_frames`` frames spread over the subject's sequence
with the GT meshes, cached under ``$DISPKIT_CACHE/subject_textures/`` (:func:`subject_texture`;
``data_scripts/build_subject_textures.py`` builds them ahead of a run).

Everything is in camera coordinates (:func:`to_camera_frame`): the GT and the estimates are projected with the
frame's intrinsics and no extrinsics.
"""
from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dispkit import inputs
from dispkit.body import default_body
from dispkit.camera import Camera, crop_cam_to_full, crop_image
from dispkit.data.frames import Frames, axis_angle_to_matrix, matrix_to_axis_angle

__all__ = ["DATA_KINDS", "H36M_FOCAL", "REAL_MIX", "MixedDataset", "RealFramesDataset", "Source", "h36m_translation",
           "load_sources", "make_training_data", "parse_data_spec", "read_estimates", "spec_sources", "subject_texture",
           "to_camera_frame"]

#: the ``--data`` source kinds
DATA_KINDS = ("3dpw", "rich", "surreal", "h36m", "synthetic")
#: Human3.6M's focal length in pixels (its four cameras: 1145-1150 px at 1000 x 1002)
H36M_FOCAL = 1145.0
#: how a real sample's initial estimate is drawn where the source has estimates (probabilities)
REAL_MIX = {"regressor": 0.75, "gt_pose": 0.25}
_PARAMS = ("global_orient", "body_pose", "betas", "transl")
_SIZES = {"global_orient": 3, "body_pose": 69, "betas": 10, "transl": 3}


# ----------------------------------------------------------------------------- coordinates
def to_camera_frame(params: dict, camera: Camera, body=None) -> dict:
    """Body parameters in the dataset's world frame -> the same body in camera coordinates (batched over T).

    With ``X_c = R X + t`` and the model's posed root ``J0 + transl`` (rotation about the rest root joint
    ``J0(betas)``): ``global_orient_c = R · global_orient``, ``transl_c = R (J0 + transl) + t - J0``."""
    body = default_body(body)
    R, t = camera.R.float(), camera.t.float()
    if bool((torch.linalg.det(R.double()) < 0).any()):
        raise inputs.FileContentError(
            "the world-to-camera matrix is a reflection (det -1), not a rotation: SURREAL's hard-coded extrinsic "
            "(getExtrinsicBlender) is one, which mirrors the body (gulvarol/surreal issue #10's left/right swap); "
            "the kit has not verified on real SURREAL files how the rendered person relates to the mirrored mesh, "
            "so it does not train on SURREAL")
    with torch.no_grad():
        J0 = body(betas=params["betas"].float()).joints[:, 0]
    go = matrix_to_axis_angle((R.double() @ torch.as_tensor(axis_angle_to_matrix(params["global_orient"].numpy()))
                               ).numpy())
    transl = torch.einsum("bij,bj->bi", R, J0 + params["transl"].float()) + t - J0
    return {"global_orient": torch.as_tensor(go, dtype=torch.float32), "body_pose": params["body_pose"].float(),
            "betas": params["betas"].float(), "transl": transl.float()}


def h36m_translation(joints: torch.Tensor, keypoints: torch.Tensor, focal: float, center) -> torch.Tensor:
    """The camera translation [T,3] that projects the body's 3D ``joints`` [T,J,3] (root at the model's origin)
    onto the 2D ``keypoints`` [T,J,3] (x, y, confidence): the linear least squares of SPIN's
    ``estimate_translation`` (``u = f (X + t_x) / (Z + t_z) + c_x``, likewise for v, weighted by confidence)."""
    X, kp = joints.double(), keypoints.double()
    w = kp[..., 2].clamp(min=0).sqrt()
    cx, cy = (float(c) for c in center)
    u, v = (kp[..., 0] - cx) / focal, (kp[..., 1] - cy) / focal
    one, zero = torch.ones_like(u), torch.zeros_like(u)
    # rows: t_x - u t_z = u Z - X ;  t_y - v t_z = v Z - Y
    A = torch.cat([torch.stack([one, zero, -u], -1), torch.stack([zero, one, -v], -1)], 1) * \
        torch.cat([w, w], 1)[..., None]
    b = torch.cat([u * X[..., 2] - X[..., 0], v * X[..., 2] - X[..., 1]], 1) * torch.cat([w, w], 1)
    sol = torch.linalg.lstsq(A, b[..., None]).solution[..., 0]
    return sol.float()


# SPIN's 24 "part" joints 0-12 (LSP: R ankle, R knee, R hip, L hip, L knee, L ankle, R wrist, R elbow,
# R shoulder, L shoulder, L elbow, L wrist, neck) and the model's 24 joints nearest to them
_SPIN_PART = list(range(13))
_SMPL_FOR_PART = [8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12]


# ----------------------------------------------------------------------------- estimates
def read_estimates(path, frames: int | None = None) -> dict[str, torch.Tensor]:
    """A regressor's initial estimates from an npz (module docstring): ``{global_orient [T,K,3], body_pose
    [T,K,69], betas [T,K,10], transl [T,K,3] (camera coordinates), frame_index [T]}``; K = 1 for one prediction
    per frame. ``pred_cam`` + ``box_center`` + ``box_size`` are converted to ``transl`` (needs ``image_size`` and
    optionally ``focal`` in the file, else give them to :func:`dispkit.camera.crop_cam_to_full` yourself).
    ``frames``: the sequence's length, to check ``frame_index``."""
    path = inputs.check_path(path, "estimates")
    if not path.is_file():
        raise FileNotFoundError(f"no estimates file at {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:
        raise inputs.FileContentError(f"{path}: not an npz of named arrays ({inputs.one_line(e)})") from e
    need = ["global_orient", "body_pose", "betas"]
    missing = [k for k in need if k not in data]
    if "transl" not in data and not all(k in data for k in ("pred_cam", "box_center", "box_size")):
        missing.append("transl (or pred_cam + box_center + box_size)")
    if missing:
        raise inputs.FileContentError(f"{path}: estimates need {', '.join(missing)}; it has {sorted(data)}")
    T = int(np.asarray(data["global_orient"]).shape[0])
    if "transl" not in data:
        if "image_size" not in data:
            raise inputs.FileContentError(f"{path}: pred_cam needs image_size (width, height) in the file")
        w, h = (int(x) for x in np.asarray(data["image_size"]).reshape(2))
        cam = torch.as_tensor(np.asarray(data["pred_cam"], np.float32))
        K = cam.shape[1] if cam.ndim == 3 else 1
        center = np.broadcast_to(np.asarray(data["box_center"], np.float32).reshape(T, 1, 2), (T, K, 2))
        size = np.broadcast_to(np.asarray(data["box_size"], np.float32).reshape(T, 1), (T, K))
        focal = float(np.asarray(data["focal"]).reshape(-1)[0]) if "focal" in data else None
        data["transl"] = crop_cam_to_full(cam.reshape(-1, 3), center.reshape(-1, 2), size.reshape(-1), w, h,
                                          focal).reshape(T, K, 3).numpy()
    out = {}
    for k in _PARAMS:
        a = np.asarray(data[k], np.float32)
        n = _SIZES[k]
        if k == "betas" and a.shape[-1] > 10:
            a = a[..., :10]
        if a.ndim == 2:
            a = a[:, None]
        if a.ndim != 3 or a.shape[0] != T or a.shape[-1] != n:
            raise inputs.FileContentError(f"{path}: {k} must be [T,{n}] or [T,K,{n}] with T = {T}, got {a.shape}")
        if not np.isfinite(a).all():
            raise inputs.FileContentError(f"{path}: {k} holds NaN or inf")
        out[k] = torch.from_numpy(np.ascontiguousarray(a))
    Ks = {v.shape[1] for v in out.values()}
    if len(Ks) != 1:
        out = {k: v.expand(-1, max(Ks), -1) if v.shape[1] == 1 else v for k, v in out.items()}
        if len({v.shape[1] for v in out.values()}) != 1:
            raise inputs.FileContentError(f"{path}: the sample counts K differ between fields")
    index = np.asarray(data.get("frame_index", np.arange(T))).astype(np.int64).reshape(-1)
    if len(index) != T:
        raise inputs.FileContentError(f"{path}: frame_index has {len(index)} entries for {T} estimates")
    if frames is not None and len(index) and (index.min() < 0 or index.max() >= frames):
        raise inputs.FileContentError(f"{path}: frame_index runs {index.min()}-{index.max()}, the sequence has "
                                      f"{frames} frames")
    out["frame_index"] = torch.from_numpy(index)
    return out


# ----------------------------------------------------------------------------- sources
@dataclass
class Source:
    """One subject's frames of a real dataset, in camera coordinates: ``params`` (GT, [T,...]), ``camera``
    (intrinsics only, batched over T), ``images`` (paths; SURREAL: the clip's video), ``frame_index`` (the
    dataset's frame numbers: 3DPW's index in the sequence, SURREAL's in the video, the npz row for H36M),
    ``estimates`` (:func:`read_estimates`, or None), ``kind``/``name``; ``texture`` is set by
    :func:`subject_texture`."""

    kind: str
    name: str
    params: dict
    camera: Camera
    images: list
    frame_index: np.ndarray
    estimates: dict | None = None
    texture: torch.Tensor | None = None
    origin: str = ""
    keypoints2d: torch.Tensor | None = field(default=None, repr=False)
    gender: str = "neutral"
    world: tuple | None = field(default=None, repr=False)   # (world-frame params, world-to-camera Camera)

    def __len__(self) -> int:
        return len(self.images)

    def image(self, t: int) -> torch.Tensor:
        """Frame ``t`` as float [H,W,3] in [0, 1]."""
        return _read_frame(self.images[t], int(self.frame_index[t]))

    def estimate(self, t: int, k: int) -> dict | None:
        """Sample ``k`` of frame ``t``'s estimate (the file's row whose ``frame_index`` is the dataset's frame number
        ``self.frame_index[t]``) as a batch of 1, or None where the file has none for that frame."""
        if self.estimates is None:
            return None
        rows = np.nonzero(self.estimates["frame_index"].numpy() == int(self.frame_index[t]))[0]
        if not len(rows):
            return None
        r = int(rows[0])
        K = self.estimates["global_orient"].shape[1]
        return {p: self.estimates[p][r, k % K][None] for p in _PARAMS}


def _read_frame(path: str, index: int) -> torch.Tensor:
    from PIL import Image

    p = Path(path)
    if p.suffix.lower() in (".mp4", ".avi", ".mkv", ".mov"):
        frames_dir = p.with_suffix("")
        if frames_dir.is_dir():                                    # extracted frames beside the video
            cand = sorted(frames_dir.glob("*.jpg")) + sorted(frames_dir.glob("*.png"))
            if index < len(cand):
                return _read_frame(str(cand[index]), 0)
        return torch.from_numpy(_video_frames(str(p))[index].astype(np.float32) / 255.0)
    if not p.is_file():
        raise FileNotFoundError(f"no image at {p}")
    with Image.open(p) as im:
        return torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0)


@functools.lru_cache(maxsize=2)
def _video_frames(path: str) -> np.ndarray:
    try:
        import av
    except ImportError as e:
        raise ImportError(f"reading SURREAL's videos ({path}) needs PyAV: pip install av (or extract the frames "
                          f"into {Path(path).with_suffix('')}/%05d.jpg)") from e
    if not Path(path).is_file():
        raise FileNotFoundError(f"no video at {path} (SURREAL's <clip>.mp4 beside its _info.mat)")
    with av.open(path) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def _estimates_for(root: Path, name: str):
    p = root / "estimates" / f"{name}.npz"
    return read_estimates(p) if p.is_file() else None


def _source_from_frames(kind: str, name: str, fr: Frames, body, root: Path, camera=None, transl=None,
                        frame_index=None) -> Source:
    params = fr.params()
    cam = fr.camera if camera is None else camera
    world = None
    if transl is None:
        world = (params, cam)
        params = to_camera_frame(params, cam, body)
    else:
        params = {**{k: v.float() for k, v in params.items()}, "transl": transl}
    K_cam = Camera.from_K(cam.K, cam.width, cam.height)
    if frame_index is None:
        frame_index = fr.meta.get("frame_index", np.arange(len(fr)))
    return Source(kind, name, params, K_cam, list(fr.images), np.asarray(frame_index), _estimates_for(root, name),
                  origin=str(fr.meta.get("source", root)), keypoints2d=fr.keypoints2d, gender=fr.gender, world=world)


def _rich_sources(path: Path, body, split: str) -> list[Source]:
    """RICH's sequences of one split, one source per (sequence, camera) (module docstring)."""
    import json

    from PIL import Image

    from dispkit.data.rich import read_rich

    bodies = next((path / b / split for b in ("bodies_smpl", "bodies") if (path / b / split).is_dir()), None)
    if bodies is None:
        raise FileNotFoundError(f"rich:{path}: no {path / 'bodies_smpl' / split} or {path / 'bodies' / split} (the "
                                f"RICH root holds bodies/<split>/<SEQ>/<frame>/<subject>.pkl, images/ and "
                                f"scan_calibration/)")
    genders = {}
    if (path / "gender.json").is_file():
        genders = {str(k).lstrip("0") or "0": v for k, v in json.loads((path / "gender.json").read_text()).items()}
    out = []
    for seq in sorted(d for d in bodies.iterdir() if d.is_dir()):
        scene, _, rest = seq.name.partition("_")
        subject = rest.split("_")[0]
        if not subject.isdigit():
            raise inputs.FileContentError(f"rich:{seq}: a sequence is named <scene>_<subject id>_<action> "
                                          f"(e.g. Gym_013_pushup1), got {seq.name!r}")
        calib = sorted((path / "scan_calibration" / scene / "calibration").glob("*.xml"))
        image_dir = path / "images" / split / seq.name
        cams = [c for c in calib if c.stem.isdigit() and (image_dir / f"cam_{int(c.stem):02d}").is_dir()]
        if not cams:
            raise FileNotFoundError(f"rich:{seq.name}: no camera with both a calibration "
                                    f"({path / 'scan_calibration' / scene / 'calibration'}/<cam>.xml) and images "
                                    f"({image_dir}/cam_<XX>/)")
        for c in cams:
            first = next((f for f in sorted((image_dir / f"cam_{int(c.stem):02d}").iterdir())
                          if f.suffix.lower() in (".png", ".bmp", ".jpg", ".jpeg")), None)
            size = None
            if first is not None:
                with Image.open(first) as im:
                    size = im.size
            fr = read_rich(seq, c, subject, image_dir=image_dir, image_size=size,
                           gender=genders.get(subject.lstrip("0") or "0", "neutral"),
                           image_ext=first.suffix[1:] if first is not None else None)
            if fr.meta["model_type"] != "smpl":
                raise inputs.FileContentError(
                    f"rich:{seq}: RICH's bodies are SMPL-X ({fr.meta['note']}); the kit fits and evaluates SMPL. "
                    f"Fit SMPL to the SMPL-X meshes (smplx's transfer_model, github.com/vchoutas/smplx, with the "
                    f"SMPL-X -> SMPL deformation transfer file from smpl-x.is.tue.mpg.de) and write them in the "
                    f"same layout under {path / 'bodies_smpl' / split}")
            out.append(_source_from_frames("rich", f"{seq.name}_cam{int(c.stem):02d}", fr, body, path,
                                           frame_index=fr.meta["frame_ids"]))
    if not out:
        raise FileNotFoundError(f"rich:{path}: no sequence folders in {bodies}")
    return out


def load_sources(kind: str, path, body=None, split: str = "train", image_root=None) -> list[Source]:
    """The subjects of one dataset (module docstring), GT in camera coordinates, estimates where present."""
    body = default_body(body)
    path = inputs.check_path(path, kind)
    if kind == "3dpw":
        from dispkit.data.threedpw import read_3dpw

        files = sorted((path / "sequenceFiles" / split).glob("*.pkl"))
        if not files:
            raise FileNotFoundError(f"3dpw:{path}: no sequence files in {path / 'sequenceFiles' / split} (the 3DPW "
                                    f"root holds sequenceFiles/ and imageFiles/)")
        out = []
        for f in files:
            for person in range(8):
                try:
                    fr = read_3dpw(f, person=person, image_dir=path)
                except (IndexError, inputs.InputRangeError):
                    break
                name = f.stem if person == 0 else f"{f.stem}_p{person}"
                out.append(_source_from_frames(kind, name, fr, body, path))
        return out
    if kind == "rich":
        return _rich_sources(path, body, split)
    if kind == "surreal":
        from dispkit.data.surreal import read_surreal_info

        files = sorted(path.rglob("*_info.mat")) if path.is_dir() else [path]
        if not files:
            raise FileNotFoundError(f"surreal:{path}: no <clip>_info.mat files under it")
        out = []
        for f in files:
            fr = read_surreal_info(f, body=body)
            out.append(_source_from_frames(kind, f.name.removesuffix("_info.mat"), fr, body, f.parent))
        return out
    if kind == "h36m":
        from dispkit.data.h36m import read_h36m_spin

        files = sorted(path.glob("*.npz")) if path.is_dir() else [path]
        files = [f for f in files if f.parent.name != "estimates"]
        if not files:
            raise FileNotFoundError(f"h36m:{path}: no SPIN npz there")
        out = []
        for f in files:
            fr = read_h36m_spin(f, image_dir=image_root or f.parent)
            if not fr.meta["has_smpl"]:
                raise inputs.FileContentError(f"h36m:{f}: {fr.meta['smpl_note']}; training needs the SMPL "
                                              "parameters (MoSh, licensed) in 'pose'/'shape'")
            if fr.keypoints2d is None:
                raise inputs.FileContentError(f"h36m:{f}: no 'part' 2D keypoints to place the body in the camera")
            from PIL import Image

            with Image.open(fr.images[0]) as im:
                W, H = im.size
            cam = Camera.from_K(torch.tensor([[H36M_FOCAL, 0, W / 2], [0, H36M_FOCAL, H / 2], [0, 0, 1.0]]
                                             ).expand(len(fr), 3, 3), W, H)
            p = fr.params()
            with torch.no_grad():
                joints = body(**{**p, "transl": torch.zeros_like(p["transl"])}).joints[:, _SMPL_FOR_PART]
            t = h36m_translation(joints, fr.keypoints2d[:, _SPIN_PART], H36M_FOCAL, (W / 2, H / 2))
            out.append(_source_from_frames(kind, f.stem, fr, body, f.parent, camera=cam,
                                           transl=p["transl"].float() + t))
        return out
    raise inputs.UnknownNameError(f"unknown data kind {kind!r}: choose one of {', '.join(DATA_KINDS)}")


def spec_sources(kind: str, path: str, option: str, body=None) -> list[Source]:
    """The sources of one ``--data`` entry (:func:`parse_data_spec`'s ``kind, path, option``): ``option`` is the
    3DPW or RICH split (default ``train``) or Human3.6M's image root."""
    kw = ({"split": option or "train"} if kind in ("3dpw", "rich")
          else {"image_root": option or None} if kind == "h36m" else {})
    return load_sources(kind, path, body, **kw)


# ----------------------------------------------------------------------------- textures
def _cache_root(cache_dir=None) -> Path:
    return Path(cache_dir or os.environ.get("DISPKIT_CACHE") or "~/.cache/dispkit").expanduser() / "subject_textures"


def subject_texture(source: Source, body=None, frames: int = 8, size: int = 128, cache_dir=None,
                    refresh: bool = False) -> torch.Tensor:
    """The subject's texture [size,size,3], back-projected from ``frames`` frames spread over its sequence with the
    GT meshes (§4's pre-processing; :func:`dispkit.texture.estimate_texture`), cached as a uint8 ``.npy`` keyed
    by the source's file, the subject and the settings. Sets and returns ``source.texture``."""
    from dispkit.texture import estimate_texture

    body = default_body(body)
    key = hashlib.sha1(f"{source.origin}|{source.name}|{len(source)}|{frames}|{size}|{body.name}|"
                       f"{body.num_vertices}".encode()).hexdigest()[:12]
    path = _cache_root(cache_dir) / source.kind / f"{source.name}_{key}.npy"
    if path.is_file() and not refresh:
        source.texture = torch.from_numpy(np.load(path).astype(np.float32) / 255.0)
        return source.texture
    ts = np.unique(np.linspace(0, len(source) - 1, min(frames, len(source))).round().astype(int))
    images = torch.stack([source.image(int(t)) for t in ts])
    with torch.no_grad():
        verts = body(**{k: v[torch.as_tensor(ts)] for k, v in source.params.items()}).vertices
    tex, _ = estimate_texture(images, verts, source.camera.index(torch.as_tensor(ts)), body, size=size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, (tex.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8))
    os.replace(tmp, path)
    source.texture = torch.from_numpy(np.load(path).astype(np.float32) / 255.0)
    return source.texture


# ----------------------------------------------------------------------------- datasets
class RealFramesDataset(torch.utils.data.Dataset):
    """On-the-fly training samples from real frames (module docstring), with the keys of
    :class:`dispkit.data.training.DisplacementDataset`'s samples plus ``source``. Sample ``i`` depends only on
    ``(seed, i)``: a frame drawn uniformly over all sources' frames, an estimate sample, a crop box from the
    estimate's projection jittered in scale (1.15-1.4) and centre (5 %), the image crop resampled from the frame,
    and the estimate rendered with the subject's texture."""

    def __init__(self, sources: Sequence[Source], crop: int = 64, seed: int = 0, length: int = 100_000,
                 body=None, mix: dict | None = None, texture_frames: int = 8, texture_size: int = 128,
                 cache_dir=None, progress: bool = True):
        if not sources:
            raise ValueError("RealFramesDataset needs at least one source")
        self.sources, self.crop, self.seed, self.length = list(sources), int(crop), int(seed), int(length)
        self.body = default_body(body)
        self.mix = dict(REAL_MIX if mix is None else mix)
        self._offsets = np.cumsum([0] + [len(s) for s in self.sources])
        from tqdm.auto import tqdm

        for s in tqdm(self.sources, desc="subject textures", disable=not progress or len(self.sources) < 2):
            if s.texture is None:
                subject_texture(s, self.body, texture_frames, texture_size, cache_dir)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        from dispkit.data.training import _sample_from, jittered_box, one_thread

        index = int(index)
        with one_thread():
            rng = np.random.default_rng([self.seed, index, 4242])
            g = int(rng.integers(self._offsets[-1]))
            si = int(np.searchsorted(self._offsets, g, side="right") - 1)
            src, t = self.sources[si], g - int(self._offsets[si])
            gt = {k: v[[t]] for k, v in src.params.items()}
            est = src.estimate(t, int(rng.integers(1 << 30)))
            modes = list(self.mix)
            mode = modes[rng.choice(len(modes), p=np.array([self.mix[m] for m in modes]) / sum(self.mix.values()))]
            if est is None:
                from dispkit.data.broad import simulate_regressor_broad

                init, source = simulate_regressor_broad(gt, rng, self.body)
                source = f"{src.kind}:{src.name}:simulated:{source}"
            elif mode == "gt_pose":       # the GT pose with the regressor's shape and camera (§4)
                init, source = {**est, "global_orient": gt["global_orient"], "body_pose": gt["body_pose"]}, \
                    f"{src.kind}:{src.name}:gt_pose"
            else:
                init, source = est, f"{src.kind}:{src.name}:regressor"
            cam = src.camera.index([t])
            with torch.no_grad():
                gt_v, init_v = self.body(**gt).vertices, self.body(**init).vertices
                box = jittered_box(cam, init_v, rng)
                img = src.image(t).permute(2, 0, 1)[None]
                crop = crop_image(img, box, (self.crop, self.crop))[0]
                item = _sample_from(self.body, gt_v, init_v, cam, box, self.crop, crop.contiguous(), src.texture)
        item["index"] = torch.tensor(index)
        item["source"] = source
        return item


class MixedDataset(torch.utils.data.Dataset):
    """Samples drawn from several datasets with weights: sample ``i`` picks dataset ``d`` with probability
    ``weights[d] / sum`` and that dataset's sample ``i`` (each dataset is itself a pure function of its index)."""

    def __init__(self, datasets: Sequence, weights: Sequence[float], seed: int = 0, length: int = 10 ** 9):
        if len(datasets) != len(weights) or not datasets:
            raise ValueError("MixedDataset needs one weight per dataset, and at least one dataset")
        w = np.asarray(weights, dtype=np.float64)
        if not np.all(np.isfinite(w)) or (w <= 0).any():
            raise inputs.InputRangeError(f"dataset weights must be positive, got {list(weights)}")
        self.datasets, self.p, self.seed, self.length = list(datasets), w / w.sum(), int(seed), int(length)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        d = int(np.random.default_rng([self.seed, int(index), 777]).choice(len(self.datasets), p=self.p))
        item = self.datasets[d][int(index)]
        if not isinstance(item.get("source"), str):
            item["source"] = str(item.get("source"))
        return item


def parse_data_spec(spec: str) -> list[tuple[str, str, str, float]]:
    """``"3dpw:ROOT[:split][@w],surreal:ROOT[@w],h36m:NPZ[:IMAGE_ROOT][@w],synthetic[@w]"`` ->
    ``[(kind, path, option, weight), ...]`` (option: the 3DPW split, default ``train``, or H36M's image root)."""
    if not isinstance(spec, str) or not spec.strip():
        raise inputs.InputTypeError("--data must name at least one source, e.g. 3dpw:~/data/3DPW,synthetic@0.5")
    out = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        weight = 1.0
        if "@" in part:
            part, w = part.rsplit("@", 1)
            try:
                weight = float(w)
            except ValueError:
                raise inputs.InputRangeError(f"--data {part}@{w}: the weight after @ must be a number") from None
            if not weight > 0:
                raise inputs.InputRangeError(f"--data {part}@{w}: the weight must be positive")
        kind, _, rest = part.partition(":")
        if kind not in DATA_KINDS:
            raise inputs.UnknownNameError(f"--data {part!r}: unknown source {kind!r}; choose {', '.join(DATA_KINDS)}")
        if kind == "synthetic":
            out.append((kind, "", "", weight))
            continue
        if not rest:
            raise inputs.InputTypeError(f"--data {part!r}: give the dataset's path, e.g. {kind}:/data/{kind.upper()}")
        path, option = rest, ""
        if kind in ("3dpw", "rich", "h36m") and ":" in rest:
            path, option = rest.rsplit(":", 1)
            if kind in ("3dpw", "rich") and option not in ("train", "validation", "test", "val"):
                path, option = rest, ""
        out.append((kind, str(Path(path).expanduser()), option, weight))
    return out


def make_training_data(spec: str, crop: int, seed: int = 0, body=None, synthetic=None, progress: bool = True,
                       cache_dir=None):
    """The training dataset of a ``--data`` spec: one :class:`RealFramesDataset` per real source and
    ``synthetic()`` (a callable making the synthetic dataset) for ``synthetic``, mixed by weight
    (:class:`MixedDataset`); a single source is returned as it is."""
    parts = parse_data_spec(spec)
    datasets, weights = [], []
    for i, (kind, path, option, weight) in enumerate(parts):
        if kind == "synthetic":
            if synthetic is None:
                raise ValueError("the synthetic source needs a factory (dispkit.train passes one)")
            datasets.append(synthetic())
        else:
            datasets.append(RealFramesDataset(spec_sources(kind, path, option, body), crop=crop, seed=seed + 1000 * i,
                                              body=body, progress=progress, cache_dir=cache_dir))
        weights.append(weight)
    return datasets[0] if len(datasets) == 1 else MixedDataset(datasets, weights, seed)
