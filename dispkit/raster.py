"""The rasteriser primitives with nvdiffrast's contract and their backends.

The paper's renderings (:func:`dispkit.render.render`, §3.1) need, for every pixel, the visible
triangle and its barycentric coordinates (Eq. 2, Eq. 5). This module is the low-level layer below
them: it follows the contract of nvdiffrast (Laine et al. 2020, ``nvdiffrast.torch``) so the CPU and
CUDA backends are interchangeable and testable against each other:

``rasterize(pos_clip, faces, (H, W)) -> rast[B,H,W,4]``, like ``dr.rasterize``
    * ``pos_clip`` are clip-space positions ``(x, y, z, w)`` (OpenGL convention: a
      point is visible when ``-w <= x, y, z <= w``), ``[B,N,4]`` or ``[N,4]``.
    * One sample per pixel, at the pixel centre: column ``j`` is at
      ``x_ndc = (j + 0.5) * 2 / W - 1`` and row ``i`` of the output array at
      ``y_ndc = (i + 0.5) * 2 / H - 1``. Row 0 is therefore the *bottom* of the
      image (y_ndc = -1), exactly nvdiffrast's memory order; flip rows for display.
    * ``rast[..., 0:2] = (u, v)``: perspective-correct barycentrics, ``u`` weighting
      the triangle's first vertex, ``v`` its second and ``1 - u - v`` its third.
      ``rast[..., 2] = z/w`` (NDC depth), ``rast[..., 3] = triangle_id + 1``; all
      four are 0 where no triangle covers the pixel. float32.
    * Depth test on ``z/w``: smaller wins, equal depth -> lower triangle id. Fragments
      with ``z/w`` outside ``[-1, 1]`` are discarded (near/far clipping). Geometry
      behind the eye is rejected by 2D-homogeneous edge functions (no division by
      ``w`` before rasterising), so triangles crossing the near plane are handled
      without clipping. No back-face culling (nvdiffrast has none either).
    * Shared edges: a tie rule makes exactly one of two neighbouring triangles own a
      pixel centre lying exactly on their common edge (watertight, no double cover).
    * Degenerate (zero-area, edge-on) and non-finite triangles are skipped.
    * Differences from nvdiffrast: no ``rast_db`` output and no gradients; nvdiffrast
      snaps vertices to a 1/16 (or finer) pixel grid and uses fixed-point depth, so the
      two agree on >= 99 % of pixel ids, not bit for bit. Triangle ids are stored in
      float32 (exact up to 2**24 triangles), as in nvdiffrast.

``interpolate(attr, rast, faces) -> [B,H,W,C]``, like ``dr.interpolate`` without
    the pixel derivatives (it returns the image only, not a tuple).

``texture(tex, uv, filter_mode, boundary_mode) -> [B,H,W,C]``, like ``dr.texture``
    without mipmaps: uv in [0, 1], texel ``k`` centred at ``(k + 0.5) / size``;
    ``uv = (0, 0)`` is the corner of texel row 0, column 0 of the array (u runs along
    columns, v along rows, no flip).

Backends of :func:`rasterize`
    ``"cpu"``        numba kernels (:mod:`dispkit._raster_numba`), float64 maths,
                     parallel over (batch item, band of rows). The default.
    ``"torch"``      the same maths in vectorised float64 PyTorch: no compiler needed,
                     any device, used as the test oracle. Much slower; memory is
                     bounded by processing triangles in chunks.
    ``"nvdiffrast"`` ``dr.rasterize`` with a cached ``dr.RasterizeCudaContext``
                     (CUDA tensors only).
    ``"auto"``       nvdiffrast when it is importable and the input is on CUDA,
                     otherwise ``"cpu"`` (input moved to the CPU and the result back),
                     otherwise ``"torch"`` when numba is not installed.

Numba compiles the kernels the first time they are used (a few seconds on a new
machine) and caches them on disk: in ``NUMBA_CACHE_DIR`` when that is set (the
Makefile and CI set it to ``.cache/numba``), else in ``dispkit/__pycache__``. Call
:func:`warmup` to pay that cost up front. :func:`set_num_threads` (or the
``num_threads`` argument) sets the numba thread count; on a busy machine fewer threads
can be faster.
"""
from __future__ import annotations

import numbers
import time
from collections.abc import Sequence

import torch

from dispkit import inputs

__all__ = [
    "BACKENDS",
    "available_backends",
    "get_num_threads",
    "interpolate",
    "rasterize",
    "set_num_threads",
    "texture",
    "warmup",
]

BACKENDS = ("auto", "cpu", "torch", "nvdiffrast")

# fragments (triangle x pixel-in-bounding-box pairs) per chunk of the torch backend
TORCH_CHUNK_FRAGMENTS = 1 << 21

_num_threads: int | None = None
_nvdr_contexts: dict = {}


# --------------------------------------------------------------------------- optional deps

def _numba_module():
    """The numba kernels, or None when numba is not installed."""
    try:
        from dispkit import _raster_numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return _raster_numba


def _nvdiffrast():
    try:
        import nvdiffrast.torch as dr
    except (ImportError, OSError, RuntimeError):  # not installed, or a failing CUDA extension
        return None
    return dr


def available_backends() -> list[str]:
    """Backends usable in this environment ("torch" always; "cpu" needs numba;
    "nvdiffrast" needs nvdiffrast and CUDA)."""
    out = ["torch"]
    if _numba_module() is not None:
        out.insert(0, "cpu")
    if torch.cuda.is_available() and _nvdiffrast() is not None:
        out.append("nvdiffrast")
    return out


# --------------------------------------------------------------------------- threads

def set_num_threads(n: int | None) -> int | None:
    """Set the number of threads of the ``"cpu"`` backend (None: numba's default, i.e. all
    cores or ``NUMBA_NUM_THREADS``). Values above numba's maximum are clamped. Returns the previous
    setting, so that a caller can restore it."""
    global _num_threads
    if n is not None:
        n = int(n)
        if n < 1:
            raise ValueError(f"num_threads must be >= 1, got {n}")
    old, _num_threads = _num_threads, n
    return old


def get_num_threads() -> int:
    """Number of threads the ``"cpu"`` backend will use."""
    return _resolve_threads(None)


def _resolve_threads(n: int | None) -> int:
    try:
        import numba
    except ImportError:  # pragma: no cover - the torch backend ignores the thread count
        return 1
    limit = int(numba.config.NUMBA_NUM_THREADS)
    if n is None:
        n = _num_threads
    if n is None:
        return limit
    n = int(n)
    if n < 1:
        raise ValueError(f"num_threads must be >= 1, got {n}")
    return min(n, limit)


# --------------------------------------------------------------------------- validation

def _parse_resolution(resolution) -> tuple[int, int]:
    if isinstance(resolution, numbers.Integral) and not isinstance(resolution, bool):
        resolution = (int(resolution), int(resolution))
    if isinstance(resolution, torch.Tensor):
        resolution = resolution.tolist()
    if not isinstance(resolution, Sequence) or isinstance(resolution, str) or len(resolution) != 2:
        raise inputs.InputShapeError(f"resolution must be (H, W) or an int, got {resolution!r}")
    if not all(isinstance(r, numbers.Real) and not isinstance(r, bool) and float(r).is_integer() for r in resolution):
        raise inputs.InputRangeError(f"resolution must be two positive integers (H, W), got {resolution!r}")
    H, W = (int(r) for r in resolution)
    if H < 1 or W < 1:
        raise inputs.InputRangeError(f"resolution must be two positive integers (H, W), got {resolution!r}")
    return H, W


_faces_checked: dict = {}


def _check_faces(faces, num_vertices: int, device) -> torch.Tensor:
    faces = inputs.to_tensor(faces, "faces").to(device)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise inputs.InputShapeError(f"faces must have shape [F,3], got {tuple(faces.shape)}")
    if faces.dtype.is_floating_point or faces.dtype.is_complex or faces.dtype == torch.bool:
        raise inputs.InputDtypeError(f"faces must be an integer tensor, got {faces.dtype}")
    # the range check reads every index: remember tensors already checked (the cache keeps a reference, so a
    # checked tensor's memory cannot be freed and reused by another; in-place edits bump _version)
    key = (id(faces), faces.data_ptr(), faces._version, tuple(faces.shape), faces.dtype, str(faces.device))
    hit = _faces_checked.get(key)
    if hit is not None and hit[0] is faces and hit[1] <= num_vertices:
        return faces
    needed = 0
    if faces.shape[0]:
        lo, hi = int(faces.min()), int(faces.max())
        if lo < 0 or hi >= num_vertices:
            raise inputs.InputRangeError(f"faces index vertices out of range: indices must be in [0, {num_vertices}) "
                             f"but span [{lo}, {hi}]")
        needed = hi + 1
    if len(_faces_checked) > 64:
        _faces_checked.clear()
    _faces_checked[key] = (faces, needed)
    return faces


def _check_pos(pos_clip) -> torch.Tensor:
    pos = inputs.to_tensor(pos_clip, "pos_clip")
    shape = tuple(pos.shape)
    if pos.ndim == 2:
        pos = pos.unsqueeze(0)
    if pos.ndim != 3 or pos.shape[-1] != 4:
        raise inputs.InputShapeError("pos_clip must have shape [B,N,4] or [N,4] (clip-space x, y, z, w), "
                                     f"got {shape}")
    if pos.dtype == torch.bool or pos.is_complex():
        raise inputs.InputDtypeError(f"pos_clip must hold real numbers, got {pos.dtype}")
    if pos.shape[0] == 0:
        raise inputs.EmptyBatchError("pos_clip holds no mesh (batch size 0)")
    if not pos.dtype.is_floating_point:
        pos = pos.to(torch.float32)
    bad = ~torch.isfinite(pos).all(-1)
    nbad = int(bad.sum())
    if nbad:
        b, n = (int(k) for k in bad.nonzero()[0])
        raise inputs.NonFiniteInputError(f"pos_clip has {nbad} vertices with non-finite (NaN or inf) coordinates, "
                         f"first at batch {b}, vertex {n}")
    return pos


# --------------------------------------------------------------------------- rasterize

@torch.no_grad()
def rasterize(pos_clip, faces, resolution, backend: str = "auto",
              num_threads: int | None = None, out: torch.Tensor | None = None) -> torch.Tensor:
    """Rasterise triangles like ``nvdiffrast.torch.rasterize`` (see the module docstring).

    Parameters
    ----------
    pos_clip : Tensor [B,N,4] or [N,4]
        Clip-space vertex positions (x, y, z, w). May require grad (it is detached).
    faces : Tensor [F,3], integer
        Vertex indices of each triangle, shared by the whole batch.
    resolution : (H, W) or int
        Output size in pixels.
    backend : "auto" | "cpu" | "torch" | "nvdiffrast"
    num_threads : int, optional
        Threads of the "cpu" backend for this call (default: :func:`set_num_threads`).
    out : Tensor [B,H,W,4] float32, optional
        Write the result into this contiguous tensor (on the input's device) instead of
        a new one; saves the allocation (page faults) of large outputs in loops.

    Returns
    -------
    rast : Tensor [B,H,W,4] float32 on the input's device
        ``(u, v, z/w, triangle_id + 1)``, zeros for background; ``B = 1`` for [N,4] input.

    Raises
    ------
    ValueError
        the errors of :mod:`dispkit.inputs`: wrong shapes (``InputShapeError``), non-finite vertex positions
        (``NonFiniteInputError``), an empty batch (``EmptyBatchError``), faces out of range or a bad resolution
        (``InputRangeError``), float faces (``InputDtypeError``), an unknown backend (``UnknownNameError``).
    """
    if backend not in BACKENDS:
        raise inputs.UnknownNameError(f"backend must be one of {BACKENDS}, got {backend!r}")
    H, W = _parse_resolution(resolution)
    pos = _check_pos(pos_clip).detach()
    faces = _check_faces(faces, pos.shape[1], pos.device)
    device = pos.device

    if backend == "auto":
        if device.type == "cuda" and _nvdiffrast() is not None:
            backend = "nvdiffrast"
        elif _numba_module() is not None:
            backend = "cpu"
        else:  # pragma: no cover - numba is a dependency
            backend = "torch"

    if out is not None and (not isinstance(out, torch.Tensor) or out.shape != (pos.shape[0], H, W, 4)
                            or out.dtype != torch.float32 or out.device != device
                            or not out.is_contiguous()):
        raise ValueError(f"out must be a contiguous float32 tensor of shape {(pos.shape[0], H, W, 4)} "
                             f"on {device}")
    if backend == "cpu" and device.type == "cpu":
        return _rasterize_cpu(pos, faces, H, W, num_threads, out)
    if backend == "nvdiffrast":
        rast = _rasterize_nvdiffrast(pos, faces, H, W)
    elif backend == "torch":
        rast = _rasterize_torch(pos, faces, H, W)
    else:
        rast = _rasterize_cpu(pos.cpu(), faces.cpu(), H, W, num_threads).to(device)
    if out is None:
        return rast
    return out.copy_(rast)


def _rasterize_cpu(pos: torch.Tensor, faces: torch.Tensor, H: int, W: int,
                   num_threads: int | None, out: torch.Tensor | None = None) -> torch.Tensor:
    kernels = _numba_module()
    if kernels is None:  # pragma: no cover
        raise RuntimeError("backend='cpu' needs numba (pip install numba); use backend='torch'")
    import numba

    B = pos.shape[0]
    if out is None:
        out = torch.empty((B, H, W, 4), dtype=torch.float32)
    pos_np = pos.to(torch.float64).contiguous().numpy()
    faces_np = faces.to(torch.int32).contiguous().numpy()
    threads = _resolve_threads(num_threads)
    old_threads = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        kernels.rasterize_numpy(pos_np, faces_np, out.numpy(), threads=threads)
    finally:
        numba.set_num_threads(old_threads)
    return out


def _rasterize_nvdiffrast(pos: torch.Tensor, faces: torch.Tensor, H: int, W: int) -> torch.Tensor:
    dr = _nvdiffrast()
    if dr is None:
        raise RuntimeError("backend='nvdiffrast' needs nvdiffrast (pip install dispkit[gpu])")
    if pos.device.type != "cuda":
        raise ValueError("backend='nvdiffrast' needs CUDA tensors; move pos_clip to the GPU "
                         "or use backend='cpu'")
    key = (pos.device.type, pos.device.index if pos.device.index is not None else torch.cuda.current_device())
    ctx = _nvdr_contexts.get(key)
    if ctx is None:
        ctx = dr.RasterizeCudaContext(device=pos.device)
        _nvdr_contexts[key] = ctx
    pos32 = pos.to(torch.float32).contiguous()
    tri = faces.to(device=pos.device, dtype=torch.int32).contiguous()
    if tri.shape[0] == 0:
        return torch.zeros((pos.shape[0], H, W, 4), dtype=torch.float32, device=pos.device)
    rast, _ = dr.rasterize(ctx, pos32, tri, resolution=[H, W])
    return rast


# ---- torch backend: the numba maths in vectorised float64 -----------------------------

def _pixel_centres_torch(n: int, device) -> torch.Tensor:
    return (torch.arange(n, dtype=torch.float64, device=device) + 0.5) * 2.0 / n - 1.0


def _setup_torch(pos: torch.Tensor, faces: torch.Tensor, H: int, W: int):
    """Per-triangle coefficients [B,F,12], boxes [B,F,4] (long), tie flags [B,F,3], valid [B,F]."""
    v = pos[:, faces.long()]  # [B,F,3,4]
    x0, y0, z0, w0 = v[:, :, 0].unbind(-1)
    x1, y1, z1, w1 = v[:, :, 1].unbind(-1)
    x2, y2, z2, w2 = v[:, :, 2].unbind(-1)
    reject = ((x0 > w0) & (x1 > w1) & (x2 > w2)) | ((x0 < -w0) & (x1 < -w1) & (x2 < -w2))
    reject |= ((y0 > w0) & (y1 > w1) & (y2 > w2)) | ((y0 < -w0) & (y1 < -w1) & (y2 < -w2))
    reject |= ((z0 > w0) & (z1 > w1) & (z2 > w2)) | ((z0 < -w0) & (z1 < -w1) & (z2 < -w2))
    a0 = y1 * w2 - w1 * y2
    b0 = w1 * x2 - x1 * w2
    c0 = x1 * y2 - y1 * x2
    a1 = y2 * w0 - w2 * y0
    b1 = w2 * x0 - x2 * w0
    c1 = x2 * y0 - y2 * x0
    a2 = y0 * w1 - w0 * y1
    b2 = w0 * x1 - x0 * w1
    c2 = x0 * y1 - y0 * x1
    det = (a0 * x0 + b0 * y0) + c0 * w0
    valid = ~reject & (det != 0) & torch.isfinite(det)
    sgn = torch.where(det < 0, -1.0, 1.0).to(det.dtype)
    a0, b0, c0, a1, b1, c1, a2, b2, c2 = (t * sgn for t in (a0, b0, c0, a1, b1, c1, a2, b2, c2))
    adet = det.abs()
    za = ((a0 * z0 + a1 * z1) + a2 * z2) / adet
    zb = ((b0 * z0 + b1 * z1) + b2 * z2) / adet
    zc = ((c0 * z0 + c1 * z1) + c2 * z2) / adet
    coef = torch.stack([a0, b0, c0, a1, b1, c1, a2, b2, c2, za, zb, zc], -1)
    valid &= torch.isfinite(coef).all(-1)

    in_front = (w0 > 0) & (w1 > 0) & (w2 > 0)
    one = torch.ones_like(w0)
    ws = [torch.where(in_front, w, one) for w in (w0, w1, w2)]
    fx = torch.stack([(x / w + 1.0) * 0.5 * W - 0.5 for x, w in zip((x0, x1, x2), ws)], -1)
    fy = torch.stack([(y / w + 1.0) * 0.5 * H - 0.5 for y, w in zip((y0, y1, y2), ws)], -1)
    margin = 1e-6  # same as _raster_numba.BBOX_MARGIN
    cmin = torch.floor(fx.amin(-1) - margin).clamp(min=0.0)
    cmax = torch.ceil(fx.amax(-1) + margin).clamp(max=W - 1.0)
    rmin = torch.floor(fy.amin(-1) - margin).clamp(min=0.0)
    rmax = torch.ceil(fy.amax(-1) + margin).clamp(max=H - 1.0)
    cmin = torch.where(in_front, cmin, 0.0)
    rmin = torch.where(in_front, rmin, 0.0)
    cmax = torch.where(in_front, cmax, W - 1.0)
    rmax = torch.where(in_front, rmax, H - 1.0)
    valid &= (cmin <= cmax) & (rmin <= rmax)
    box = torch.stack([rmin, rmax, cmin, cmax], -1).long()
    ties = torch.stack([(a > 0) | ((a == 0) & (b > 0)) for a, b in ((a0, b0), (a1, b1), (a2, b2))], -1)
    return coef, box, ties, valid


def _edge_pass(e: torch.Tensor, tie: torch.Tensor) -> torch.Tensor:
    return (e > 0) | ((e == 0) & tie)


def _rasterize_torch(pos: torch.Tensor, faces: torch.Tensor, H: int, W: int,
                     chunk_fragments: int | None = None) -> torch.Tensor:
    device = pos.device
    B, F = pos.shape[0], faces.shape[0]
    out = torch.zeros((B, H, W, 4), dtype=torch.float32, device=device)
    if F == 0:
        return out
    budget = int(chunk_fragments or TORCH_CHUNK_FRAGMENTS)
    pos = pos.to(torch.float64)
    px = _pixel_centres_torch(W, device)
    py = _pixel_centres_torch(H, device)
    coef, box, ties, valid = _setup_torch(pos, faces, H, W)
    coef, box, ties = coef.reshape(B * F, 12), box.reshape(B * F, 4), ties.reshape(B * F, 3)
    tris = valid.reshape(-1).nonzero().squeeze(1)  # flat (b, f) ids, ascending: b-major, f ascending
    n_pix = B * H * W
    zbest = torch.full((n_pix,), float("inf"), dtype=torch.float64, device=device)
    idbest = torch.zeros((n_pix,), dtype=torch.long, device=device)  # flat (b, f) + 1

    if tris.numel():
        rows = box[tris, 1] - box[tris, 0] + 1
        cols = box[tris, 3] - box[tris, 2] + 1
        counts = rows * cols
        cum = torch.cumsum(counts, 0)
        cum_list = cum.tolist()
        start, T = 0, tris.numel()
        big = torch.iinfo(torch.long).max
        while start < T:
            base = cum_list[start - 1] if start else 0
            stop = int(torch.searchsorted(cum, torch.tensor(base + budget, device=device), right=True))
            stop = min(max(stop, start + 1), T)
            sel = torch.arange(start, stop, device=device)
            cnt = counts[sel]
            k = torch.repeat_interleave(sel, cnt)  # index into tris
            first = cum[k] - counts[k]  # exclusive cumsum of the owning triangle
            local = torch.arange(int(cnt.sum()), device=device) + (base - first)
            t = tris[k]
            ncol = cols[k]
            i = box[t, 0] + torch.div(local, ncol, rounding_mode="floor")
            j = box[t, 2] + local % ncol
            x, y = px[j], py[i]
            c = coef[t]
            tie = ties[t]
            keep = _edge_pass(c[:, 0] * x + (c[:, 1] * y + c[:, 2]), tie[:, 0])
            keep &= _edge_pass(c[:, 3] * x + (c[:, 4] * y + c[:, 5]), tie[:, 1])
            keep &= _edge_pass(c[:, 6] * x + (c[:, 7] * y + c[:, 8]), tie[:, 2])
            zw = c[:, 9] * x + (c[:, 10] * y + c[:, 11])
            keep &= (zw >= -1.0) & (zw <= 1.0)
            t, i, j, zw = t[keep], i[keep], j[keep], zw[keep]
            if t.numel():
                key = torch.div(t, F, rounding_mode="floor") * (H * W) + i * W + j
                kz = torch.full((n_pix,), float("inf"), dtype=torch.float64, device=device)
                kz.scatter_reduce_(0, key, zw, reduce="amin")
                m = zw == kz[key]
                kid = torch.full((n_pix,), big, dtype=torch.long, device=device)
                kid.scatter_reduce_(0, key[m], t[m] + 1, reduce="amin")
                upd = kz < zbest  # strict: earlier chunks hold lower ids and win ties
                zbest = torch.where(upd, kz, zbest)
                idbest = torch.where(upd, kid, idbest)
            start = stop

    hit = (idbest > 0).nonzero().squeeze(1)
    if hit.numel():
        t = idbest[hit] - 1
        i = torch.div(hit, W, rounding_mode="floor") % H
        j = hit % W
        x, y = px[j], py[i]
        c = coef[t]
        e0 = c[:, 0] * x + (c[:, 1] * y + c[:, 2])
        e1 = c[:, 3] * x + (c[:, 4] * y + c[:, 5])
        e2 = c[:, 6] * x + (c[:, 7] * y + c[:, 8])
        s = (e0 + e1) + e2
        vals = torch.stack([e0 / s, e1 / s, zbest[hit], (t % F + 1).to(torch.float64)], -1)
        out.view(n_pix, 4)[hit] = vals.to(torch.float32)
    return out


# --------------------------------------------------------------------------- warm-up

def warmup(backend: str = "cpu") -> float:
    """Compile (or load from the on-disk cache) the numba kernels on a tiny mesh.

    Covers the rasteriser and the kernels :func:`dispkit.render.render` uses (vertex normals, attribute
    interpolation, texture lookup). Returns the seconds it took: several seconds on a
    machine that has not compiled them yet, well under a second when numba's cache is warm.
    A no-op (returning 0.0) for backends without a compile step.
    """
    if backend not in ("cpu", "auto") or _numba_module() is None:
        return 0.0
    t0 = time.perf_counter()
    pos = torch.tensor([[-0.5, -0.5, 0.0, 1.0], [0.5, -0.5, 0.0, 1.0],
                        [0.5, 0.5, 0.0, 1.0], [-0.5, 0.5, 0.0, 1.0]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]], dtype=torch.int32)
    from dispkit.camera import Camera
    from dispkit.render import render, vertex_normals

    rast = rasterize(pos, faces, (8, 8), backend="cpu")
    for dt in (torch.float32, torch.float64):
        interpolate(pos[:, :3].to(dt), rast, faces)
        vertex_normals(pos[None, :, :3].to(dt), faces)

    class _Quad:
        faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
        canonical_colors = torch.rand(4, 3)
        uv = (torch.rand(4, 2), faces)

    render(torch.tensor([[[-1.0, -1, 3], [1, -1, 3], [1, 1, 3], [-1, 1, 3]]]), _Quad(), Camera.full_image(8, 8),
           texture=torch.rand(4, 4, 3))
    return time.perf_counter() - t0


# --------------------------------------------------------------------------- interpolate

def interpolate(attr, rast: torch.Tensor, faces) -> torch.Tensor:
    """Interpolate per-vertex attributes over the rasterised image, like ``dr.interpolate``.

    ``out[b,i,j] = u * attr[f0] + v * attr[f1] + (1 - u - v) * attr[f2]`` for the triangle
    ``(f0, f1, f2)`` covering the pixel, 0 where ``rast[..., 3] == 0``. Pure PyTorch
    (differentiable with respect to ``attr``, any device).

    Parameters
    ----------
    attr : Tensor [B,N,C] or [N,C] (a batch of 1 broadcasts over rast's batch)
    rast : Tensor [B,H,W,4] from :func:`rasterize`
    faces : Tensor [F,3] integer, the faces given to :func:`rasterize`

    Returns
    -------
    Tensor [B,H,W,C] in attr's (floating) dtype. Unlike nvdiffrast, no derivative output.
    """
    rast = torch.as_tensor(rast)
    attr = torch.as_tensor(attr, device=rast.device)
    if rast.ndim != 4 or rast.shape[-1] != 4:
        raise ValueError(f"rast must have shape [B,H,W,4], got {tuple(rast.shape)}")
    if attr.ndim == 2:
        attr = attr.unsqueeze(0)
    if attr.ndim != 3:
        raise ValueError(f"attr must have shape [B,N,C] or [N,C], got {tuple(attr.shape)}")
    if not attr.dtype.is_floating_point:
        attr = attr.to(torch.float32)
    B = rast.shape[0]
    Ba, N, C = attr.shape
    if Ba not in (1, B):
        raise ValueError(f"attr batch ({Ba}) must be 1 or match rast's batch ({B})")
    faces = _check_faces(faces, N, rast.device).long()
    tid = rast[..., 3].round().long()  # [B,H,W], 0 = background
    if tid.numel() and (int(tid.max()) > faces.shape[0] or int(tid.min()) < 0):
        raise ValueError(f"rast holds triangle ids outside [0, {faces.shape[0]}]: "
                         "were these the faces given to rasterize?")
    kernels = _numba_module() if rast.device.type == "cpu" and not attr.requires_grad else None
    if kernels is not None and attr.dtype in (torch.float32, torch.float64):
        out = torch.empty((B, *rast.shape[1:3], C), dtype=attr.dtype)
        kernels.interpolate_rows(rast.float().contiguous().numpy(), faces.numpy(), attr.contiguous().numpy(),
                                 out.numpy())
        return out
    mask = tid > 0
    vidx = faces[(tid - 1).clamp(min=0)]  # [B,H,W,3]
    if Ba == 1:
        vals = attr[0][vidx]  # [B,H,W,3,C]
    else:
        offset = (torch.arange(B, device=rast.device) * N).view(B, 1, 1, 1)
        vals = attr.reshape(B * N, C)[vidx + offset]
    u = rast[..., 0].to(attr.dtype)
    v = rast[..., 1].to(attr.dtype)
    w = torch.stack([u, v, 1.0 - u - v], -1)  # [B,H,W,3]
    out = (vals * w.unsqueeze(-1)).sum(-2)
    return torch.where(mask.unsqueeze(-1), out, torch.zeros((), dtype=out.dtype, device=out.device))


# --------------------------------------------------------------------------- texture

def texture(tex, uv, filter_mode: str = "linear", boundary_mode: str = "wrap") -> torch.Tensor:
    """Sample a 2D texture at per-pixel uv coordinates, like ``dr.texture`` without mipmaps.

    Texel ``(r, k)`` (row r, column k of the array) has its centre at
    ``uv = ((k + 0.5) / Wt, (r + 0.5) / Ht)``; u runs along columns, v along rows, and
    ``uv = (0, 0)`` is the outer corner of texel (0, 0), as in nvdiffrast (and
    ``grid_sample(align_corners=False)`` up to the [0,1] vs [-1,1] range).

    Parameters
    ----------
    tex : Tensor [B,Ht,Wt,C] or [Ht,Wt,C] (a batch of 1 broadcasts)
    uv : Tensor [B,H,W,2] or [H,W,2]
    filter_mode : "linear" (bilinear; "auto" is the same here) or "nearest"
    boundary_mode : "wrap" (fractional part of uv, texel indices modulo size),
        "clamp" (coordinates clamped to the centres of the border texels) or
        "zero" (texels outside the texture are 0)

    Returns
    -------
    Tensor [B,H,W,C] in tex's dtype; 0 where uv is not finite.
    """
    tex = torch.as_tensor(tex)
    uv = torch.as_tensor(uv, device=tex.device)
    if tex.ndim == 3:
        tex = tex.unsqueeze(0)
    if uv.ndim == 3:
        uv = uv.unsqueeze(0)
    if tex.ndim != 4:
        raise ValueError(f"tex must have shape [B,Ht,Wt,C] or [Ht,Wt,C], got {tuple(tex.shape)}")
    if uv.ndim != 4 or uv.shape[-1] != 2:
        raise ValueError(f"uv must have shape [B,H,W,2] or [H,W,2], got {tuple(uv.shape)}")
    if filter_mode == "auto":
        filter_mode = "linear"
    if filter_mode not in ("linear", "nearest"):
        raise ValueError(f"filter_mode must be 'linear', 'nearest' or 'auto', got {filter_mode!r} "
                         "(mipmapped modes are not implemented)")
    if boundary_mode not in ("wrap", "clamp", "zero"):
        raise ValueError(f"boundary_mode must be 'wrap', 'clamp' or 'zero', got {boundary_mode!r}")
    if not tex.dtype.is_floating_point:
        tex = tex.to(torch.float32)
    Bt, Ht, Wt, C = tex.shape
    B = uv.shape[0]
    if Bt not in (1, B):
        if B == 1:
            uv = uv.expand(Bt, *uv.shape[1:])
            B = Bt
        else:
            raise ValueError(f"tex batch ({Bt}) and uv batch ({B}) must match or be 1")
    cdt = torch.promote_types(uv.dtype, torch.float32) if uv.dtype.is_floating_point else torch.float32
    uv = uv.to(cdt)
    finite = torch.isfinite(uv).all(-1)  # [B,H,W]
    uv = torch.where(finite.unsqueeze(-1), uv, torch.zeros((), dtype=cdt, device=uv.device))
    u, v = uv[..., 0], uv[..., 1]
    if boundary_mode == "wrap":
        u = u - torch.floor(u)
        v = v - torch.floor(v)

    flat = tex.reshape(Bt * Ht * Wt, C)
    boff = (torch.arange(B, device=tex.device) * (Ht * Wt)).view(B, 1, 1) if Bt > 1 else 0

    def fetch(r, k):
        """Texels at integer row r, column k ([B,H,W] long) with the boundary rule -> [B,H,W,C]."""
        inside = None
        if boundary_mode == "wrap":
            r, k = r % Ht, k % Wt
        elif boundary_mode == "clamp":
            r, k = r.clamp(0, Ht - 1), k.clamp(0, Wt - 1)
        else:
            inside = (r >= 0) & (r < Ht) & (k >= 0) & (k < Wt)
            r, k = r.clamp(0, Ht - 1), k.clamp(0, Wt - 1)
        t = flat[boff + r * Wt + k]
        if inside is not None:
            t = torch.where(inside.unsqueeze(-1), t, torch.zeros((), dtype=t.dtype, device=t.device))
        return t

    if filter_mode == "nearest":
        k = torch.floor(u * Wt).long()
        r = torch.floor(v * Ht).long()
        if boundary_mode == "wrap":  # u in [0,1) but u * Wt may round up to Wt
            k, r = k.clamp(0, Wt - 1), r.clamp(0, Ht - 1)
        out = fetch(r, k)
    else:
        x = u * Wt - 0.5
        y = v * Ht - 0.5
        if boundary_mode == "clamp":
            x = x.clamp(0.0, Wt - 1.0)
            y = y.clamp(0.0, Ht - 1.0)
        x0 = torch.floor(x)
        y0 = torch.floor(y)
        fx = (x - x0).to(tex.dtype).unsqueeze(-1)
        fy = (y - y0).to(tex.dtype).unsqueeze(-1)
        k0, r0 = x0.long(), y0.long()
        top = fetch(r0, k0) * (1 - fx) + fetch(r0, k0 + 1) * fx
        bottom = fetch(r0 + 1, k0) * (1 - fx) + fetch(r0 + 1, k0 + 1) * fx
        out = top * (1 - fy) + bottom * fy
    return torch.where(finite.unsqueeze(-1), out, torch.zeros((), dtype=out.dtype, device=out.device))
