"""Convert a regressor's per-frame outputs (HMR / SPIN / PARE / ProHMR style) to the initial estimates that
dispkit refines (notebooks/09_real_data.ipynb, ``dispkit.pipeline.refine_sequence``).

    python data_scripts/convert_estimates.py pare_outputs.npz estimates.npz --width 1080 --height 1920

Input (an .npz or a pickle of a dict; the first key found is used):

* pose: ``pred_pose`` / ``pose`` / ``pred_rotmat`` -- [T,72] axis-angle or [T,24,3,3] rotation matrices (SMPL order);
* shape: ``pred_betas`` / ``pred_shape`` / ``betas`` -- [T,10];
* crop camera: ``pred_cam`` / ``cam`` -- [T,3] weak perspective ``(s, tx, ty)`` in the crop normalised to [-1, 1];
* crop box: ``bboxes`` [T,4] ``(x0, y0, x1, y1)``, or ``center`` / ``bbox_center`` [T,2] with ``scale`` /
  ``bbox_scale`` [T] (box side = 200 x scale, SPIN's convention), or ``box_size`` [T] in pixels;
* optional ``frame_index`` / ``frame_ids`` [T] (which frames of the sequence the rows are).

Output: ``global_orient [T,3]``, ``body_pose [T,69]``, ``betas [T,10]``, ``transl [T,3]`` (the full image's camera:
f = sqrt(w² + h²) unless --focal, principal point at the centre; ``dispkit.camera.crop_cam_to_full``) and
``frame_index [T]``.
"""
from __future__ import annotations

import argparse
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dispkit.camera import crop_cam_to_full
from dispkit.inputs import InputError, one_line, one_line_errors


def _first(d, keys, what):
    for k in keys:
        if k in d:
            return np.asarray(d[k])
    raise KeyError(f"no {what} in the input: expected one of {', '.join(keys)}; it has {', '.join(sorted(d))}")


def load(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    try:
        with open(path, "rb") as f:
            return dict(pickle.load(f))
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            ImportError, UnicodeDecodeError) as e:
        raise ValueError(f"not an .npz or a pickle of a dict ({type(e).__name__}: {e})") from e


def convert(d: dict, width: int, height: int, focal: float | None = None) -> dict:
    pose = _first(d, ("pred_pose", "pose", "pred_rotmat"), "pose").astype(np.float64)
    T = pose.shape[0]
    if pose.shape[1:] == (24, 3, 3):
        pose = Rotation.from_matrix(pose.reshape(-1, 3, 3)).as_rotvec().reshape(T, 72)
    elif pose.reshape(T, -1).shape[1] == 72:
        pose = pose.reshape(T, 72)
    else:
        raise ValueError(f"pose must be [T,72] axis-angle or [T,24,3,3] rotation matrices, got {pose.shape}")
    betas = _first(d, ("pred_betas", "pred_shape", "betas"), "shape").reshape(T, -1)[:, :10]
    cam = _first(d, ("pred_cam", "cam"), "crop camera").reshape(T, 3)
    if "bboxes" in d:
        box = np.asarray(d["bboxes"], dtype=np.float64).reshape(T, 4)
        center, size = (box[:, :2] + box[:, 2:]) / 2, np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
    else:
        center = _first(d, ("center", "bbox_center"), "box centre").reshape(T, 2)
        size = (d["box_size"] if "box_size" in d else 200.0 * _first(d, ("scale", "bbox_scale"), "box scale"))
        size = np.asarray(size, dtype=np.float64).reshape(T)
    transl = crop_cam_to_full(torch.as_tensor(cam, dtype=torch.float64), torch.as_tensor(center),
                              torch.as_tensor(size), width, height, focal)
    frame_index = np.asarray(d.get("frame_index", d.get("frame_ids", np.arange(T)))).reshape(T)
    return {"global_orient": pose[:, :3].astype(np.float32), "body_pose": pose[:, 3:].astype(np.float32),
            "betas": np.pad(betas, ((0, 0), (0, 10 - betas.shape[1]))).astype(np.float32),
            "transl": transl.numpy().astype(np.float32), "frame_index": frame_index.astype(np.int64)}


def main(argv=None) -> int:
    ap = one_line_errors(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--width", type=int, required=True, help="full image width in pixels")
    ap.add_argument("--height", type=int, required=True, help="full image height in pixels")
    ap.add_argument("--focal", type=float, default=None, help="focal length in pixels (default sqrt(w² + h²))")
    args = ap.parse_args(argv)
    if args.width < 1 or args.height < 1:
        ap.error(f"--width and --height must be positive pixel counts, got {args.width} x {args.height}")
    if args.focal is not None and not (np.isfinite(args.focal) and args.focal > 0):
        ap.error(f"--focal must be a positive number of pixels, got {args.focal}")
    if Path(args.output).is_dir():
        ap.error(f"output {args.output} is a folder: give the path of the .npz to write")
    try:
        out = convert(load(args.input), args.width, args.height, args.focal)
    except (KeyError, ValueError, TypeError, IndexError, FileNotFoundError, IsADirectoryError, EOFError,
            pickle.UnpicklingError, zipfile.BadZipFile, InputError) as e:  # a bad input file: one line
        print(f"{ap.prog}: error: {args.input}: {one_line(e)}", file=sys.stderr)
        return 2
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.output, **out)
    print(f"{args.output}: {len(out['frame_index'])} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
