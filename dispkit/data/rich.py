"""RICH's per-frame SMPL-X body pickles and OpenCV XML camera calibrations (github.com/paulchhuang/rich_toolkit)."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np

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
from dispkit.inputs import FileContentError, InputTypeError, check_int, check_path, reads_file
from dispkit.licensed import asset_help

__all__ = ["read_opencv_xml", "read_rich"]


@reads_file("OpenCV FileStorage XML file")
def read_opencv_xml(xml_path, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Matrices of an OpenCV ``FileStorage`` XML file (``<name type_id="opencv-matrix">`` with ``<rows>``,
    ``<cols>``, ``<dt>``, ``<data>``), as float64 arrays ``[rows, cols]``; plain ``<name>`` values become 1D
    arrays. ``keys`` lists the required entries (``ValueError`` naming any that is missing)."""
    path = existing_path(xml_path, "")
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, UnicodeDecodeError) as e:
        raise FileContentError(f"{path}: not an XML file ({e})") from e
    out = {}
    for node in root:
        data = node.find("data")
        text = data.text if data is not None else node.text
        try:
            values = np.array([float(s) for s in (text or "").split()], dtype=np.float64)
        except ValueError:
            continue  # a string entry
        rows, cols = node.findtext("rows"), node.findtext("cols")
        try:
            out[node.tag] = values.reshape(int(rows), int(cols)) if rows and cols else values
        except ValueError as e:
            raise FileContentError(f"{path}: the matrix {node.tag!r} holds {values.size} values, not rows x cols = "
                                   f"{rows} x {cols} ({e})") from e
    if keys is not None:
        require_keys(out, keys, path, "OpenCV XML calibration")
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
        raise FileContentError(f"{path}: body_pose has {body_pose.size} values, expected SMPL-X's 63 (or SMPL's 69)")
    return np.concatenate([body_pose, np.zeros(6, dtype=body_pose.dtype)])


@reads_file("RICH body folder (bodies/<split>/<SEQ>/<frame>/<subject>.pkl)")
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
    body_dir = existing_path(body_dir, "rich", "folder")
    calib_path = existing_path(calibration_xml, "rich")
    if isinstance(subject_id, bool) or not isinstance(subject_id, (int, str)):
        raise InputTypeError(f"subject_id must be an int or a str (3 or '003'), got {type(subject_id).__name__}")
    if image_size is not None:
        image_size = (check_int(image_size[0], "image_size[0] (width)", lo=1),
                      check_int(image_size[1], "image_size[1] (height)", lo=1))
    if image_dir is not None:
        check_path(image_dir, "image_dir")
    fname = _rich_subject_file(subject_id)
    if frames is None:
        frame_ids = sorted(int(d.name) for d in body_dir.iterdir() if d.name.isdigit() and (d / fname).is_file())
        if not frame_ids:
            raise FileNotFoundError(f"no <frame>/{fname} body files under {body_dir} (subject {subject_id!r})\n"
                                    f"{asset_help('rich')}")
    else:
        frame_ids = [check_int(f, "frames[i]", lo=0) for f in frames]

    params = {k: [] for k in _RICH_BODY_KEYS}
    ignored: set[str] = set()
    for f in frame_ids:
        p = body_dir / f"{f:05d}" / fname
        if not p.is_file():
            raise FileNotFoundError(f"RICH body file not found: {p}")
        d = load_pickle(p)
        require_keys(d, _RICH_BODY_KEYS, p, "RICH SMPL-X body")
        ignored.update(set(d) - set(_RICH_BODY_KEYS))
        d = {k: to_numpy(d[k]).astype(np.float32) for k in _RICH_BODY_KEYS}
        params["global_orient"].append(d["global_orient"].reshape(3))
        params["body_pose"].append(_smplx_body_to_smpl(d["body_pose"], p))
        params["betas"].append(pad_betas(d["betas"].reshape(-1)))
        params["transl"].append(d["transl"].reshape(3))
    params = {k: np.stack(v) for k, v in params.items()}

    calib = read_opencv_xml(calib_path, ("CameraMatrix", "Intrinsics"))
    Rt, K = calib["CameraMatrix"].reshape(3, 4), calib["Intrinsics"].reshape(3, 3)
    if image_size is None:
        image_size = (3008, 4112) if K[1, 2] > K[0, 2] else (4112, 3008)
    T = len(frame_ids)
    camera = batched_camera(K, Rt[:, :3], Rt[:, 3], *image_size, T)

    cam_id = int(calib_path.stem) if calib_path.stem.isdigit() else 0
    scene = calib_path.parent.parent.name if calib_path.parent.name == "calibration" else ""
    ext = image_ext or _RICH_IMAGE_EXT.get(scene, "png")
    root = Path(image_dir) if image_dir is not None else Path()
    images = [str(root / f"cam_{cam_id:02d}" / f"{f:05d}_{cam_id:02d}.{ext}") for f in frame_ids]
    meta = {"model_type": "smplx", "frame_ids": np.asarray(frame_ids), "subject": fname[:-4], "camera_id": cam_id,
            "scene": scene, "distortion": calib.get("Distortion", np.zeros(0)), "ignored_keys": sorted(ignored),
            "note": "SMPL-X parameters: body_pose = SMPL-X's 21 body joints + 2 zero hand joints; betas are "
                    "SMPL-X's (not SMPL's)"}
    return Frames(camera=camera, images=images, gender=normalize_gender(gender), name=body_dir.name, meta=meta,
                  **params)
