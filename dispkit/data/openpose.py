"""OpenPose's ``--write_json`` output: BODY_25 keypoints of one ``*_keypoints.json`` file or of a folder of them."""
from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import torch

from dispkit.inputs import FileContentError, InputRangeError, check_int, check_path, reads_file

__all__ = ["read_openpose_json", "read_openpose_sequence"]


@reads_file("OpenPose --write_json file (*_keypoints.json)")
def read_openpose_json(path, person: int | str = "largest") -> tuple[torch.Tensor, torch.Tensor]:
    """Read one person's BODY_25 keypoints from an OpenPose ``*_keypoints.json``: ``([25,2], [25])``.

    ``person``: an index into ``people`` or ``"largest"`` (the widest confident extent). A file without
    people gives zero confidences (the fit then leaves the frame unchanged). A missing file raises
    ``FileNotFoundError``, one that is not OpenPose's JSON :class:`dispkit.inputs.FileContentError`, a ``person``
    beyond the file's people :class:`dispkit.inputs.InputRangeError`.
    """
    path = check_path(path)
    if person != "largest":
        person = check_int(person, "person (an index or 'largest')", lo=0)
    if not path.is_file():
        raise FileNotFoundError(f"OpenPose JSON file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileContentError(f"{path}: not a JSON file ({e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("people", []), list):
        raise FileContentError(f"{path}: not an OpenPose --write_json file (a dict with a 'people' list)")
    people = data.get("people", [])
    if not people:
        return torch.zeros(25, 2), torch.zeros(25)
    if not all(isinstance(p, dict) and "pose_keypoints_2d" in p for p in people):
        raise FileContentError(f"{path}: every entry of 'people' needs 'pose_keypoints_2d' (OpenPose's BODY_25)")
    arrs = [np.asarray(p["pose_keypoints_2d"], dtype=np.float32).reshape(-1, 3) for p in people]
    if any(a.shape[0] != 25 for a in arrs):
        raise FileContentError(f"{path}: expected BODY_25 keypoints (25 per person), got "
                               f"{[a.shape[0] for a in arrs]}")
    if person != "largest" and person >= len(arrs):
        raise InputRangeError(f"{path}: person {person} out of range, the file has {len(arrs)} person(s)")
    if person == "largest":
        def extent(a):
            ok = a[:, 2] > 0.1
            return float(np.ptp(a[ok, :2], axis=0).max()) if ok.sum() > 1 else 0.0
        person = int(np.argmax([extent(a) for a in arrs]))
    a = arrs[int(person)]
    return torch.from_numpy(a[:, :2].copy()), torch.from_numpy(a[:, 2].copy())


def read_openpose_sequence(directory_or_glob, person: int | str = "largest") -> torch.Tensor:
    """BODY_25 keypoints [T,25,3] ``(x, y, confidence)`` of an OpenPose ``--write_json`` folder (its
    ``*_keypoints.json`` files, or ``*.json``) or a glob pattern, one frame per file in sorted file-name order.

    Each file is read by :func:`read_openpose_json` (``person``: index or ``"largest"``; a file without
    people gives zero confidences).
    """
    src = check_path(directory_or_glob, "directory_or_glob")
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
