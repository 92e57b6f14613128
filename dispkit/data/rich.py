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

__all__ = ["read_opencv_xml", "read_rich", "synthetic_rich", "write_opencv_xml"]


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
    SMPL-X, or with SMPL parameters fitted to the SMPL-X meshes (e.g. smplx's ``transfer_model``) written in the
    same layout (``body_pose [1,69]``, SMPL's ``betas``): ``meta["model_type"]`` says which (``"smplx"`` or
    ``"smpl"``, from the length of ``body_pose``).

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
    raw_pose = []
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
        raw_pose.append(d["body_pose"].reshape(-1))
        params["body_pose"].append(_smplx_body_to_smpl(d["body_pose"], p))
        params["betas"].append(pad_betas(d["betas"].reshape(-1)))
        params["transl"].append(d["transl"].reshape(3))
    smpl_layout = [f.size == 69 for f in raw_pose]
    if any(smpl_layout) and not all(smpl_layout):
        raise FileContentError(f"{body_dir}: some body files hold SMPL poses [69] and others SMPL-X poses [63]: "
                               "one model per sequence")
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
    smpl = all(smpl_layout)
    meta = {"model_type": "smpl" if smpl else "smplx", "frame_ids": np.asarray(frame_ids), "subject": fname[:-4],
            "camera_id": cam_id, "scene": scene, "distortion": calib.get("Distortion", np.zeros(0)),
            "ignored_keys": sorted(ignored),
            "note": "SMPL parameters (body_pose [69]: e.g. SMPL fitted to RICH's SMPL-X meshes)" if smpl else
                    "SMPL-X parameters: body_pose = SMPL-X's 21 body joints + 2 zero hand joints; betas are "
                    "SMPL-X's (not SMPL's)"}
    return Frames(camera=camera, images=images, gender=normalize_gender(gender), name=body_dir.name, meta=meta,
                  **params)


def write_opencv_xml(path, matrices: dict) -> Path:
    """Write matrices as an OpenCV ``FileStorage`` XML file (the inverse of :func:`read_opencv_xml`)."""
    parts = []
    for name, a in matrices.items():
        a = np.atleast_2d(np.asarray(a, dtype=np.float64))
        data = " ".join(f"{v:.10e}" for v in a.reshape(-1))
        parts.append(f'<{name} type_id="opencv-matrix">\n  <rows>{a.shape[0]}</rows>\n  <cols>{a.shape[1]}</cols>\n'
                     f"  <dt>d</dt>\n  <data>\n    {data}</data></{name}>\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('<?xml version="1.0"?>\n<opencv_storage>\n' + "".join(parts) + "</opencv_storage>\n")
    return path


def synthetic_rich(root, seed: int = 0, frames: int = 4, split: str = "test", regressor: str = "pare-like",
                   body=None, subject: int = 3, gender: str = "male", smplx: bool = False,
                   first_frame: int = 10) -> dict:
    """A synthetic person's sequence written in RICH's layout under ``root``, for the tests and for trying the
    RICH path without the licensed dataset:

    * ``bodies_smpl/<split>/LectureHall_<subject:03d>_synthetic<seed>/<frame:05d>/<subject:03d>.pkl``: SMPL
      parameters (``body_pose [1,69]``) in a world frame that is *not* the camera's (a rotation and a shift, as
      RICH's multi-camera frame is not camera 3's); ``smplx=True`` writes RICH's own SMPL-X layout (``body_pose
      [1,63]``, under ``bodies/``) instead, which the kit's RICH source refuses;
    * ``scan_calibration/LectureHall/calibration/003.xml`` (camera 3, the one with images) and ``004.xml`` (a
      camera without images, which is skipped);
    * ``images/<split>/<SEQ>/cam_03/<frame:05d>_03.png``; frames numbered from ``first_frame``;
    * ``estimates/<SEQ>_cam03.npz``: a regressor's estimates in camera 3's coordinates (``frame_index``: RICH's
      frame numbers); ``gender.json``.

    The person, poses and images are :func:`dispkit.data.synthetic.person_sequence`'s. Returns the paths and the
    true camera-frame parameters (``params``)."""
    import json
    import pickle

    import torch
    from PIL import Image
    from scipy.spatial.transform import Rotation

    from dispkit.body import default_body
    from dispkit.camera import Camera
    from dispkit.data.real import to_camera_frame
    from dispkit.data.regressors import simulate_regressor
    from dispkit.data.synthetic import make_scene, person_sequence

    body = default_body(body)
    root = Path(root)
    scene = make_scene(int(seed), regressor, body=body)
    seq = person_sequence(scene, int(frames), body, generator=np.random.default_rng([int(seed), 9]))
    name = f"LectureHall_{int(subject):03d}_synthetic{int(seed)}"
    ids = list(range(int(first_frame), int(first_frame) + int(frames)))
    # world -> camera 3: X_c = R X_w + t; the bodies are written in the world frame
    R = Rotation.from_rotvec([0.1, 0.7, -0.05]).as_matrix().astype(np.float32)
    t = np.array([0.3, -0.2, 1.5], np.float32)
    T = int(frames)
    cam_inv = Camera.from_K(scene.camera.K.expand(T, 3, 3), scene.width, scene.height,
                            torch.from_numpy(R.T.copy()).expand(T, 3, 3), torch.from_numpy(-R.T @ t).expand(T, 3))
    world = to_camera_frame(seq["params"], cam_inv, body)       # camera -> world, the inverse rigid motion
    K = scene.camera.K[0].numpy()
    calib = root / "scan_calibration" / "LectureHall" / "calibration"
    write_opencv_xml(calib / "003.xml",
                     {"CameraMatrix": np.concatenate([R, t[:, None]], 1), "Intrinsics": K,
                      "Distortion": np.zeros((1, 5))})
    write_opencv_xml(calib / "004.xml", {"CameraMatrix": np.eye(3, 4), "Intrinsics": K})
    bodies = root / ("bodies" if smplx else "bodies_smpl") / split / name
    for i, f in enumerate(ids):
        pose = world["body_pose"][i].numpy()
        d = {"global_orient": world["global_orient"][i].numpy()[None],
             "body_pose": (pose[:63] if smplx else pose)[None], "betas": world["betas"][i].numpy()[None],
             "transl": world["transl"][i].numpy()[None]}
        (bodies / f"{f:05d}").mkdir(parents=True, exist_ok=True)
        with open(bodies / f"{f:05d}" / f"{int(subject):03d}.pkl", "wb") as fh:
            pickle.dump(d, fh, protocol=2)
    img_dir = root / "images" / split / name / "cam_03"
    img_dir.mkdir(parents=True, exist_ok=True)
    for f, img in zip(ids, seq["images"]):
        Image.fromarray((img.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)).save(img_dir / f"{f:05d}_03.png")
    est = simulate_regressor(seq["params"], regressor, np.random.default_rng([int(seed), 10]), body)
    est_path = root / "estimates" / f"{name}_cam03.npz"
    est_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(est_path, frame_index=np.array(ids), regressor=np.array(regressor),
             **{k: v.numpy() for k, v in est.items()})
    (root / "gender.json").write_text(json.dumps({f"{int(subject):03d}": gender}))
    return {"bodies": bodies, "images": img_dir.parent, "estimates": est_path, "sequence": name,
            "params": seq["params"], "frame_ids": ids}
