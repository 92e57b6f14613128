"""Human3.6M in SPIN's preprocessed npz format (``h36m_valid_protocol1.npz``, ...; github.com/nkolot/SPIN)."""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from dispkit.data.frames import Frames, existing_path, normalize_gender, pad_betas, require_keys
from dispkit.inputs import FileContentError, check_path, reads_file

__all__ = ["read_h36m_spin", "synthetic_h36m"]


def _strings(a: np.ndarray) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(a).reshape(-1)]


@reads_file("SPIN dataset npz (h36m_valid_protocol1.npz, ...)")
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
    path = existing_path(npz_path, "h36m")
    if image_dir is not None:
        check_path(image_dir, "image_dir")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not hasattr(z, "files"):  # a plain .npy array
                raise FileContentError(f"{path}: a single array (.npy), not a SPIN dataset npz of named arrays")
            data = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:  # object arrays, or not an npz at all
        if isinstance(e, FileContentError):
            raise
        raise FileContentError(f"{path}: cannot read as a SPIN dataset npz without unpickling ({e})") from e
    require_keys(data, ("imgname", "center", "scale"), path, "SPIN dataset npz")
    names = _strings(data["imgname"])
    N = len(names)
    center = np.asarray(data["center"], dtype=np.float32).reshape(N, 2)
    scale = np.asarray(data["scale"], dtype=np.float32).reshape(N)
    half = 100.0 * scale[:, None]
    boxes = np.concatenate([center - half, center + half], 1)

    has_smpl = "pose" in data and "shape" in data
    if has_smpl:
        pose = np.asarray(data["pose"], dtype=np.float32).reshape(N, 72)
        betas = pad_betas(np.asarray(data["shape"], dtype=np.float32).reshape(N, -1))
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
        genders = [normalize_gender(g) for g in _strings(data["gender"])]
        gender = genders[0] if len(set(genders)) == 1 else "mixed"
        meta["genders"] = np.asarray(genders)
    root = Path(image_dir) if image_dir is not None else Path()
    keypoints = np.asarray(data["part"], dtype=np.float32).reshape(N, -1, 3) if "part" in data else None
    return Frames(global_orient=pose[:, :3], body_pose=pose[:, 3:], betas=betas, transl=np.zeros((N, 3)),
                  camera=None, images=[str(root / n) for n in names], keypoints2d=keypoints, boxes=boxes,
                  gender=gender, name=path.stem, meta=meta)


def synthetic_h36m(root, seed: int = 0, frames: int = 6, body=None, regressor: str | None = "pare-like",
                   width: int = 320, height: int = 240, focal: float = 1145.0) -> dict:
    """A synthetic person written as a SPIN-format Human3.6M npz under ``root``: ``h36m_train.npz`` (``imgname``,
    ``center``, ``scale``, ``pose`` [N,72] and ``shape`` [N,10] in camera coordinates, ``part`` [N,24,3] with
    SPIN's LSP joints 0-12 projected from the body and the rest zero, ``S`` [N,24,4] root-relative) and the
    frames ``images/<name>_%05d.jpg``, rendered with focal length ``focal`` (Human3.6M's) at ``width x height``;
    with ``regressor``, a regressor's estimates as ``estimates/h36m_train.npz`` (camera coordinates). Returns
    ``{"npz", "image_dir", "estimates", "transl"}`` (``transl``: the true translations, which SPIN's files do
    not store)."""
    import torch
    from PIL import Image

    from dispkit.body import default_body
    from dispkit.camera import Camera, box_from_points
    from dispkit.data.regressors import simulate_regressor
    from dispkit.data.synthetic import make_scene, person_sequence

    body = default_body(body)
    scene = make_scene(int(seed), body=body, width=int(width), height=int(height))
    K = torch.tensor([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])
    cam = Camera.from_K(K[None], int(width), int(height))
    seq = person_sequence(scene, int(frames), body, np.random.default_rng([int(seed), 21]), camera=cam)
    p = seq["params"]
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    names = []
    for i, img in enumerate(seq["images"]):
        names.append(f"images/synthetic_{int(seed):06d}_{i:05d}.jpg")
        Image.fromarray((img.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)).save(root / names[-1], quality=95)
    with torch.no_grad():
        out = body(**p)
    j2d = cam.project(out.joints)
    smpl_for_lsp = [8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12]
    N = int(frames)
    part = np.zeros((N, 24, 3), np.float32)
    part[:, :13, :2], part[:, :13, 2] = j2d[:, smpl_for_lsp].numpy(), 1.0
    S = np.zeros((N, 24, 4), np.float32)
    S[:, :13, :3] = (out.joints[:, smpl_for_lsp] - out.joints[:, :1]).numpy()
    S[:, :13, 3] = 1.0
    box = box_from_points(j2d, scale=1.2)
    center, scale = ((box[:, :2] + box[:, 2:]) / 2).numpy(), ((box[:, 2] - box[:, 0]) / 200).numpy()
    npz = root / "h36m_train.npz"
    np.savez(npz, imgname=np.array(names), center=center, scale=scale, part=part, S=S,
             pose=torch.cat([p["global_orient"], p["body_pose"]], 1).numpy(), shape=p["betas"].numpy(),
             gender=np.array(["m"] * N))
    est_path = None
    if regressor:
        est = simulate_regressor(p, regressor, np.random.default_rng([int(seed), 22]), body)
        est_path = root / "estimates" / "h36m_train.npz"
        est_path.parent.mkdir(exist_ok=True)
        np.savez(est_path, frame_index=np.arange(N), **{k: v.numpy() for k, v in est.items()})
    return {"npz": npz, "image_dir": root, "estimates": est_path, "transl": p["transl"]}
