"""DensePose's ``apply_net.py dump`` pickles (read without detectron2) and their IUV charts on SMPL's surface."""
from __future__ import annotations

import math
import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dispkit.data.frames import existing_path, require_keys, to_numpy
from dispkit.inputs import FileContentError, one_line, reads_file

__all__ = ["DensePoseImage", "DensePoseInstance", "densepose_surface", "densepose_to_pixels", "read_densepose"]


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
        labels, uv = to_numpy(get("labels")), to_numpy(get("uv")).astype(np.float32)
    elif get("labels_uv_uint8") is not None:
        q = to_numpy(get("labels_uv_uint8"))
        labels, uv = q[0], q[1:].astype(np.float32) / 255.0
    else:
        have = sorted(result) if isinstance(result, Mapping) else sorted(getattr(result, "__dict__", {}))
        raise FileContentError(f"{where}: no 'labels' and 'uv' (or 'labels_uv_uint8') in the DensePose result "
                         f"(has: {', '.join(have)}); only chart-based (IUV) models are supported, not CSE")
    if labels.ndim != 2 or uv.shape != (2,) + labels.shape:
        raise FileContentError(f"{where}: labels must be [h,w] and uv [2,h,w], got {labels.shape} and {uv.shape}")
    return labels.astype(np.uint8), uv


@reads_file("DensePose apply_net.py dump (a pickle)")
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
    path = existing_path(pkl_path, "")
    with open(path, "rb") as f:
        try:
            data = _DetectronFreeUnpickler(f).load()
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
                UnicodeDecodeError, OverflowError, ImportError, RuntimeError) as e:
            raise FileContentError(f"{path}: not a readable pickle ({type(e).__name__}: {one_line(e)})") from e
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise FileContentError(f"{path}: expected a list of per-image dicts (apply_net.py dump), got "
                               f"{type(data).__name__}")
    images = []
    for n, entry in enumerate(data):
        where = f"{path} [image {n}]"
        if not isinstance(entry, Mapping):
            raise FileContentError(f"{where}: expected a dict, got {type(entry).__name__}")
        require_keys(entry, ("file_name",), path, "DensePose dump")
        results = entry.get("pred_densepose")
        instances = []
        if results is not None:
            require_keys(entry, ("pred_boxes_XYXY",), path, "DensePose dump")
            boxes = to_numpy(entry["pred_boxes_XYXY"]).astype(np.float32).reshape(-1, 4)
            scores = to_numpy(entry["scores"]).astype(np.float32).reshape(-1) if "scores" in entry else \
                np.ones(len(boxes), np.float32)
            results = list(results)
            if not len(boxes) == len(scores) == len(results):
                raise FileContentError(f"{where}: {len(boxes)} boxes, {len(scores)} scores, {len(results)} results")
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
    require_keys(m, ("All_FaceIndices", "All_Faces", "All_U_norm", "All_V_norm", "All_vertices"), path,
             "DensePose UV_Processed.mat")
    part_of = np.asarray(m["All_FaceIndices"]).reshape(-1).astype(np.int64)
    tri = np.asarray(m["All_Faces"]).reshape(-1, 3).astype(np.int64) - 1
    chart_uv = np.stack([np.asarray(m["All_U_norm"]).reshape(-1), np.asarray(m["All_V_norm"]).reshape(-1)], -1)
    smpl_vertex = np.asarray(m["All_vertices"]).reshape(-1).astype(np.int64) - 1
    faces = to_numpy(faces).astype(np.int64)
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
