"""Numba kernels of the CPU rasteriser behind :func:`dispkit.raster.rasterize` (and of :func:`dispkit.render.render`).

All jitted code of the renderer lives in this one file on purpose: numba's on-disk
cache (``cache=True``) is invalidated by the timestamp and size of the file that
defines a kernel, so keeping the kernels together (and free of unrelated code) means
one predictable cache entry per kernel. The cache goes to ``NUMBA_CACHE_DIR`` when it
is set (the Makefile and CI set it to ``.cache/numba`` in the repository), otherwise to
numba's default ``__pycache__`` next to this file. The cache key includes the CPU
model, so a new machine recompiles once (a few seconds; see
:func:`dispkit.raster.warmup`).

The maths (the contract is nvdiffrast's ``rasterize``; see :mod:`dispkit.raster`):

* Clip-space vertices ``V_k = (x_k, y_k, w_k)`` of a triangle form the columns of a
  3x3 matrix ``M``; the rows of its adjugate are the 2D-homogeneous *edge functions*
  ``e_k(p) = a_k px + b_k py + c_k`` (``(a_0, b_0, c_0) = V_1 x V_2`` and cyclic).
  No division by ``w`` happens before rasterising, so geometry behind the eye needs no
  clipping: after multiplying all three by ``sign(det M)``, a sample is covered iff
  every ``e_k >= 0`` (the perspective-correct barycentrics are ``e_k / sum(e)`` and
  the hit point has ``w = |det M| / sum(e) > 0``).
* Ties (a sample exactly on an edge, ``e_k == 0``) are accepted only when
  ``a_k > 0 or (a_k == 0 and b_k > 0)``. The shared edge of two neighbouring,
  consistently oriented triangles has exactly negated coefficients (cross products of
  the same two vertices in opposite order), so exactly one of them owns the sample:
  no holes, no double coverage. This relies on float64 without fastmath (no FMA
  contraction, no reassociation).
* Depth ``z/w`` is affine in screen space: ``z/w = (sum_k e_k z_k) / |det M|``.
  Fragments with ``z/w`` outside ``[-1, 1]`` are discarded (near/far clipping); the
  depth test keeps the smaller ``z/w``, on equal depth the lower triangle id (the
  triangles of a band are visited in increasing id with a strict ``<``).
* Work is split over (batch item, horizontal band of rows); each band has a list of
  the triangles whose bounding box meets it, in increasing triangle id.

``rasterize_numpy`` (plain Python) drives the kernels and reuses its scratch buffers
between calls.
"""
from __future__ import annotations

import math
import threading

import numpy as np
from numba import njit, prange, set_parallel_chunksize

# per-triangle record in ``coef``: a0 b0 c0 a1 b1 c1 a2 b2 c2 za zb zc
NCOEF = 12
# per-triangle record in ``bbox``: row0 row1 col0 col1 tie-flags (bit k: edge k owns ties)
NBOX = 5
# bounding boxes are widened by this many pixels before rounding (robustness only)
BBOX_MARGIN = 1e-6


@njit(parallel=True, cache=True)
def setup_triangles(pos, faces, H, W, coef, bbox):  # pragma: no cover - jitted
    """Edge functions, depth plane, tie flags and pixel bounding box of every triangle.

    pos [B,N,4] float64, faces [F,3] int32 -> coef [B,F,12] float64, bbox [B,F,5] int32.
    A triangle that cannot produce a fragment gets an empty box (row0 > row1).
    """
    B = pos.shape[0]
    F = faces.shape[0]
    for k in prange(B * F):
        b = k // F
        f = k - b * F
        bbox[b, f, 0] = 1
        bbox[b, f, 1] = 0
        bbox[b, f, 2] = 1
        bbox[b, f, 3] = 0
        bbox[b, f, 4] = 0
        v0 = faces[f, 0]
        v1 = faces[f, 1]
        v2 = faces[f, 2]
        x0 = pos[b, v0, 0]
        y0 = pos[b, v0, 1]
        z0 = pos[b, v0, 2]
        w0 = pos[b, v0, 3]
        x1 = pos[b, v1, 0]
        y1 = pos[b, v1, 1]
        z1 = pos[b, v1, 2]
        w1 = pos[b, v1, 3]
        x2 = pos[b, v2, 0]
        y2 = pos[b, v2, 1]
        z2 = pos[b, v2, 2]
        w2 = pos[b, v2, 3]
        # trivial reject: all three vertices outside the same frustum plane
        if x0 > w0 and x1 > w1 and x2 > w2:
            continue
        if x0 < -w0 and x1 < -w1 and x2 < -w2:
            continue
        if y0 > w0 and y1 > w1 and y2 > w2:
            continue
        if y0 < -w0 and y1 < -w1 and y2 < -w2:
            continue
        if z0 > w0 and z1 > w1 and z2 > w2:
            continue
        if z0 < -w0 and z1 < -w1 and z2 < -w2:
            continue
        # rows of adj(M): V1 x V2, V2 x V0, V0 x V1 with V = (x, y, w)
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
        if not (det != 0.0 and math.isfinite(det)):
            continue  # zero area, edge-on, or non-finite
        if det < 0.0:
            a0 = -a0
            b0 = -b0
            c0 = -c0
            a1 = -a1
            b1 = -b1
            c1 = -c1
            a2 = -a2
            b2 = -b2
            c2 = -c2
            det = -det
        za = ((a0 * z0 + a1 * z1) + a2 * z2) / det
        zb = ((b0 * z0 + b1 * z1) + b2 * z2) / det
        zc = ((c0 * z0 + c1 * z1) + c2 * z2) / det
        if not (math.isfinite(za) and math.isfinite(zb) and math.isfinite(zc)):
            continue
        if not (math.isfinite(a0) and math.isfinite(a1) and math.isfinite(a2)
                and math.isfinite(b0) and math.isfinite(b1) and math.isfinite(b2)
                and math.isfinite(c0) and math.isfinite(c1) and math.isfinite(c2)):
            continue
        # pixel bounding box; clamp in floating point before any int cast
        if w0 > 0.0 and w1 > 0.0 and w2 > 0.0:
            fx0 = (x0 / w0 + 1.0) * 0.5 * W - 0.5
            fx1 = (x1 / w1 + 1.0) * 0.5 * W - 0.5
            fx2 = (x2 / w2 + 1.0) * 0.5 * W - 0.5
            fy0 = (y0 / w0 + 1.0) * 0.5 * H - 0.5
            fy1 = (y1 / w1 + 1.0) * 0.5 * H - 0.5
            fy2 = (y2 / w2 + 1.0) * 0.5 * H - 0.5
            cmin = np.floor(min(fx0, min(fx1, fx2)) - BBOX_MARGIN)
            cmax = np.ceil(max(fx0, max(fx1, fx2)) + BBOX_MARGIN)
            rmin = np.floor(min(fy0, min(fy1, fy2)) - BBOX_MARGIN)
            rmax = np.ceil(max(fy0, max(fy1, fy2)) + BBOX_MARGIN)
            cmin = max(cmin, 0.0)
            rmin = max(rmin, 0.0)
            cmax = min(cmax, W - 1.0)
            rmax = min(rmax, H - 1.0)
            if not (cmin <= cmax and rmin <= rmax):
                continue
        else:  # a vertex at or behind the eye: the projection is unbounded
            cmin = 0.0
            rmin = 0.0
            cmax = W - 1.0
            rmax = H - 1.0
        ties = 0
        if a0 > 0.0 or (a0 == 0.0 and b0 > 0.0):
            ties |= 1
        if a1 > 0.0 or (a1 == 0.0 and b1 > 0.0):
            ties |= 2
        if a2 > 0.0 or (a2 == 0.0 and b2 > 0.0):
            ties |= 4
        coef[b, f, 0] = a0
        coef[b, f, 1] = b0
        coef[b, f, 2] = c0
        coef[b, f, 3] = a1
        coef[b, f, 4] = b1
        coef[b, f, 5] = c1
        coef[b, f, 6] = a2
        coef[b, f, 7] = b2
        coef[b, f, 8] = c2
        coef[b, f, 9] = za
        coef[b, f, 10] = zb
        coef[b, f, 11] = zc
        bbox[b, f, 0] = int(rmin)
        bbox[b, f, 1] = int(rmax)
        bbox[b, f, 2] = int(cmin)
        bbox[b, f, 3] = int(cmax)
        bbox[b, f, 4] = ties


@njit(parallel=True, cache=True)
def bin_count(bbox, band_h, counts):  # pragma: no cover - jitted
    """counts[b, t] = number of triangles of item b whose box meets band t."""
    B = bbox.shape[0]
    F = bbox.shape[1]
    nb = counts.shape[1]
    for b in prange(B):
        for t in range(nb):
            counts[b, t] = 0
        for f in range(F):
            r0 = bbox[b, f, 0]
            r1 = bbox[b, f, 1]
            if r0 > r1:
                continue
            for t in range(r0 // band_h, r1 // band_h + 1):
                counts[b, t] += 1


@njit(parallel=True, cache=True)
def bin_fill(bbox, band_h, starts, tri_list):  # pragma: no cover - jitted
    """tri_list[starts[b, t] : starts[b, t] + counts[b, t]] = triangles of band t, ascending."""
    B = bbox.shape[0]
    F = bbox.shape[1]
    nb = starts.shape[1]
    for b in prange(B):
        cursor = np.empty(nb, dtype=np.int64)
        for t in range(nb):
            cursor[t] = starts[b, t]
        for f in range(F):
            r0 = bbox[b, f, 0]
            r1 = bbox[b, f, 1]
            if r0 > r1:
                continue
            for t in range(r0 // band_h, r1 // band_h + 1):
                tri_list[cursor[t]] = f
                cursor[t] += 1


@njit(parallel=True, cache=True)
def raster_bands(coef, bbox, starts, counts, tri_list, band_h, px, py,
                 zbuf, idbuf, out):  # pragma: no cover - jitted
    """Depth-test every triangle of every (item, band), then write (u, v, z/w, id+1)."""
    B = out.shape[0]
    H = out.shape[1]
    W = out.shape[2]
    nb = starts.shape[1]
    for item in prange(B * nb):
        b = item // nb
        t = item - b * nb
        lo = t * band_h
        hi = min(lo + band_h, H) - 1
        for i in range(lo, hi + 1):
            for j in range(W):
                zbuf[b, i, j] = np.inf
                idbuf[b, i, j] = 0
        s = starts[b, t]
        for q in range(s, s + counts[b, t]):
            f = tri_list[q]
            r0 = max(bbox[b, f, 0], lo)
            r1 = min(bbox[b, f, 1], hi)
            c0 = bbox[b, f, 2]
            c1 = bbox[b, f, 3]
            ties = bbox[b, f, 4]
            t0 = (ties & 1) != 0
            t1 = (ties & 2) != 0
            t2 = (ties & 4) != 0
            a0 = coef[b, f, 0]
            b0 = coef[b, f, 1]
            cc0 = coef[b, f, 2]
            a1 = coef[b, f, 3]
            b1 = coef[b, f, 4]
            cc1 = coef[b, f, 5]
            a2 = coef[b, f, 6]
            b2 = coef[b, f, 7]
            cc2 = coef[b, f, 8]
            za = coef[b, f, 9]
            zb = coef[b, f, 10]
            zc = coef[b, f, 11]
            for i in range(r0, r1 + 1):
                y = py[i]
                r_0 = b0 * y + cc0
                r_1 = b1 * y + cc1
                r_2 = b2 * y + cc2
                r_z = zb * y + zc
                for j in range(c0, c1 + 1):
                    x = px[j]
                    e0 = a0 * x + r_0
                    if not (e0 > 0.0 or (e0 == 0.0 and t0)):
                        continue
                    e1 = a1 * x + r_1
                    if not (e1 > 0.0 or (e1 == 0.0 and t1)):
                        continue
                    e2 = a2 * x + r_2
                    if not (e2 > 0.0 or (e2 == 0.0 and t2)):
                        continue
                    zw = za * x + r_z
                    if not (zw >= -1.0 and zw <= 1.0):
                        continue
                    if zw < zbuf[b, i, j]:
                        zbuf[b, i, j] = zw
                        idbuf[b, i, j] = f + 1
        # resolve: barycentrics of the winning triangle only
        for i in range(lo, hi + 1):
            y = py[i]
            for j in range(W):
                tid = idbuf[b, i, j]
                if tid == 0:
                    out[b, i, j, 0] = 0.0
                    out[b, i, j, 1] = 0.0
                    out[b, i, j, 2] = 0.0
                    out[b, i, j, 3] = 0.0
                    continue
                f = tid - 1
                x = px[j]
                e0 = coef[b, f, 0] * x + (coef[b, f, 1] * y + coef[b, f, 2])
                e1 = coef[b, f, 3] * x + (coef[b, f, 4] * y + coef[b, f, 5])
                e2 = coef[b, f, 6] * x + (coef[b, f, 7] * y + coef[b, f, 8])
                s3 = (e0 + e1) + e2
                out[b, i, j, 0] = e0 / s3
                out[b, i, j, 1] = e1 / s3
                out[b, i, j, 2] = zbuf[b, i, j]
                out[b, i, j, 3] = tid


# --------------------------------------------------------------------------- driver

def pixel_centres(n: int) -> np.ndarray:
    """NDC coordinate of the centre of pixel k = 0..n-1: (k + 0.5) * 2 / n - 1 (float64)."""
    return (np.arange(n, dtype=np.float64) + 0.5) * 2.0 / n - 1.0


def default_band_height(H: int, B: int, threads: int) -> int:
    """Rows per band: enough (item, band) pairs for load balance, bands as tall as possible.

    Measured on 2 cores (27k-triangle mesh): taller bands are faster (less per-band
    triangle overhead) as long as every thread gets a few work items.
    """
    want_items = 4 * max(threads, 1)
    bands_per_item = max(1, -(-want_items // max(B, 1)))
    return int(min(64, max(8, H // bands_per_item)))


class _Scratch(threading.local):
    """Per-thread scratch buffers, grown on demand and reused between calls."""

    def __init__(self):
        self.bufs = {}

    def get(self, name, shape, dtype):
        n = int(np.prod(shape))
        buf = self.bufs.get(name)
        if buf is None or buf.size < n or buf.dtype != dtype:
            buf = np.empty(max(n, 1), dtype=dtype)
            self.bufs[name] = buf
        return buf[:n].reshape(shape)


_scratch = _Scratch()


def rasterize_numpy(pos: np.ndarray, faces: np.ndarray, out: np.ndarray,
                    band_h: int | None = None, threads: int = 1) -> np.ndarray:
    """Rasterise ``pos`` [B,N,4] float64 with ``faces`` [F,3] int32 into ``out`` [B,H,W,4] float32.

    Inputs must be C-contiguous and already validated (finite, indices in range).
    """
    B, H, W, _ = out.shape
    F = faces.shape[0]
    if band_h is None:
        band_h = default_band_height(H, B, threads)
    nb = -(-H // band_h)
    coef = _scratch.get("coef", (B, F, NCOEF), np.float64)
    bbox = _scratch.get("bbox", (B, F, NBOX), np.int32)
    counts = _scratch.get("counts", (B, nb), np.int64)
    zbuf = _scratch.get("zbuf", (B, H, W), np.float64)
    idbuf = _scratch.get("idbuf", (B, H, W), np.int32)
    px = pixel_centres(W)
    py = pixel_centres(H)
    if F:
        setup_triangles(pos, faces, H, W, coef, bbox)
        bin_count(bbox, band_h, counts)
    else:
        counts[:] = 0
    flat = counts.reshape(-1)
    starts = np.zeros(flat.size, dtype=np.int64)
    np.cumsum(flat[:-1], out=starts[1:])
    starts = starts.reshape(B, nb)
    total = int(flat.sum())
    tri_list = _scratch.get("tri_list", (total,), np.int32)
    if total:
        bin_fill(bbox, band_h, starts, tri_list)
    # dynamic scheduling, one (item, band) at a time: bands differ a lot in work
    old_chunk = set_parallel_chunksize(1)
    try:
        raster_bands(coef, bbox, starts, counts, tri_list, band_h, px, py, zbuf, idbuf, out)
    finally:
        set_parallel_chunksize(old_chunk)
    return out


# --------------------------------------------------------------------------- attributes (render's modalities)

@njit(parallel=True, cache=True)
def vertex_normals(verts, faces, out):  # pragma: no cover - jitted
    """Area-weighted unit vertex normals: verts [B,V,3], faces [F,3] -> out [B,V,3] (same dtype)."""
    B = verts.shape[0]
    V = verts.shape[1]
    F = faces.shape[0]
    for b in prange(B):
        for v in range(V):
            out[b, v, 0] = 0.0
            out[b, v, 1] = 0.0
            out[b, v, 2] = 0.0
        for f in range(F):
            i0 = faces[f, 0]
            i1 = faces[f, 1]
            i2 = faces[f, 2]
            ex = verts[b, i1, 0] - verts[b, i0, 0]
            ey = verts[b, i1, 1] - verts[b, i0, 1]
            ez = verts[b, i1, 2] - verts[b, i0, 2]
            gx = verts[b, i2, 0] - verts[b, i0, 0]
            gy = verts[b, i2, 1] - verts[b, i0, 1]
            gz = verts[b, i2, 2] - verts[b, i0, 2]
            nx = ey * gz - ez * gy
            ny = ez * gx - ex * gz
            nz = ex * gy - ey * gx
            out[b, i0, 0] += nx
            out[b, i0, 1] += ny
            out[b, i0, 2] += nz
            out[b, i1, 0] += nx
            out[b, i1, 1] += ny
            out[b, i1, 2] += nz
            out[b, i2, 0] += nx
            out[b, i2, 1] += ny
            out[b, i2, 2] += nz
        for v in range(V):
            n = math.sqrt(out[b, v, 0] ** 2 + out[b, v, 1] ** 2 + out[b, v, 2] ** 2)
            if n > 1e-12:
                out[b, v, 0] /= n
                out[b, v, 1] /= n
                out[b, v, 2] /= n


@njit(parallel=True, cache=True)
def interpolate_rows(rast, faces, attr, out):  # pragma: no cover - jitted
    """out[b,i,j] = u attr[f0] + v attr[f1] + (1-u-v) attr[f2] where rast[b,i,j,3] > 0, else 0.

    rast [B,H,W,4] float32, faces [F,3], attr [Ba,V,C] with Ba in (1, B), out [B,H,W,C].
    """
    B = rast.shape[0]
    H = rast.shape[1]
    W = rast.shape[2]
    C = attr.shape[2]
    one = attr.shape[0] == 1
    for row in prange(B * H):
        b = row // H
        i = row - b * H
        ba = 0 if one else b
        for j in range(W):
            tid = int(rast[b, i, j, 3])
            if tid == 0:
                for c in range(C):
                    out[b, i, j, c] = 0.0
                continue
            f = tid - 1
            u = rast[b, i, j, 0]
            v = rast[b, i, j, 1]
            w = 1.0 - u - v
            i0 = faces[f, 0]
            i1 = faces[f, 1]
            i2 = faces[f, 2]
            for c in range(C):
                out[b, i, j, c] = u * attr[ba, i0, c] + v * attr[ba, i1, c] + w * attr[ba, i2, c]


@njit(parallel=True, cache=True)
def shade(rast, faces, attr, ft, vt, tex, bg, flags,
          depth, normal, vcol, uv, rgb, bary, face_index):  # pragma: no cover - jitted
    """All of render's modalities in one pass over the pixels (CPU fast path of dispkit.render.render).

    rast [B,H,W,4] float32; faces [F,3]; attr [Ba,V,7] float32 = (z, normal xyz, colour rgb) per vertex;
    ft [F,3], vt [T,2] (v already in image rows); tex [Bt,Ht,Wt,3] float32; bg [3] float32;
    flags = (depth, normal, vertex_color, uv, rgb, bary, face_index) as 0/1. Outputs that are not
    wanted may be 1-element dummies. Same maths as interpolate() + texture(linear, wrap).
    """
    B = rast.shape[0]
    H = rast.shape[1]
    W = rast.shape[2]
    one = attr.shape[0] == 1
    tone = tex.shape[0] == 1
    Ht = tex.shape[1]
    Wt = tex.shape[2]
    f_depth = flags[0] != 0
    f_normal = flags[1] != 0
    f_vcol = flags[2] != 0
    f_uv = flags[3] != 0
    f_rgb = flags[4] != 0
    f_bary = flags[5] != 0
    f_fi = flags[6] != 0
    need_attr = f_depth or f_normal or f_vcol
    need_uv = f_uv or f_rgb
    for row in prange(B * H):
        b = row // H
        i = row - b * H
        ba = 0 if one else b
        bt = 0 if tone else b
        for j in range(W):
            tid = int(rast[b, i, j, 3])
            if tid == 0:
                if f_depth:
                    depth[b, i, j] = 0.0
                for c in range(3):
                    if f_normal:
                        normal[b, i, j, c] = 0.0
                    if f_vcol:
                        vcol[b, i, j, c] = 0.0
                    if f_rgb:
                        rgb[b, i, j, c] = bg[c]
                    if f_bary:
                        bary[b, i, j, c] = 0.0
                if f_uv:
                    uv[b, i, j, 0] = 0.0
                    uv[b, i, j, 1] = 0.0
                if f_fi:
                    face_index[b, i, j] = -1
                continue
            f = tid - 1
            u = rast[b, i, j, 0]
            v = rast[b, i, j, 1]
            w = 1.0 - u - v
            if f_fi:
                face_index[b, i, j] = f
            if f_bary:
                bary[b, i, j, 0] = u
                bary[b, i, j, 1] = v
                bary[b, i, j, 2] = w
            if need_attr:
                i0 = faces[f, 0]
                i1 = faces[f, 1]
                i2 = faces[f, 2]
                if f_depth:
                    depth[b, i, j] = u * attr[ba, i0, 0] + v * attr[ba, i1, 0] + w * attr[ba, i2, 0]
                if f_normal:
                    nx = u * attr[ba, i0, 1] + v * attr[ba, i1, 1] + w * attr[ba, i2, 1]
                    ny = u * attr[ba, i0, 2] + v * attr[ba, i1, 2] + w * attr[ba, i2, 2]
                    nz = u * attr[ba, i0, 3] + v * attr[ba, i1, 3] + w * attr[ba, i2, 3]
                    n = math.sqrt(nx * nx + ny * ny + nz * nz)
                    if n > 1e-12:
                        nx /= n
                        ny /= n
                        nz /= n
                    normal[b, i, j, 0] = nx
                    normal[b, i, j, 1] = ny
                    normal[b, i, j, 2] = nz
                if f_vcol:
                    for c in range(3):
                        vcol[b, i, j, c] = (u * attr[ba, i0, 4 + c] + v * attr[ba, i1, 4 + c]
                                            + w * attr[ba, i2, 4 + c])
            if need_uv:
                t0 = ft[f, 0]
                t1 = ft[f, 1]
                t2 = ft[f, 2]
                tu = u * vt[t0, 0] + v * vt[t1, 0] + w * vt[t2, 0]
                tv = u * vt[t0, 1] + v * vt[t1, 1] + w * vt[t2, 1]
                if f_uv:
                    uv[b, i, j, 0] = tu
                    uv[b, i, j, 1] = tv
                if f_rgb:
                    tu = tu - math.floor(tu)
                    tv = tv - math.floor(tv)
                    x = tu * Wt - 0.5
                    y = tv * Ht - 0.5
                    x0 = math.floor(x)
                    y0 = math.floor(y)
                    fx = x - x0
                    fy = y - y0
                    k0 = int(x0) % Wt
                    k1 = (int(x0) + 1) % Wt
                    r0 = int(y0) % Ht
                    r1 = (int(y0) + 1) % Ht
                    for c in range(3):
                        top = tex[bt, r0, k0, c] * (1.0 - fx) + tex[bt, r0, k1, c] * fx
                        bottom = tex[bt, r1, k0, c] * (1.0 - fx) + tex[bt, r1, k1, c] * fx
                        rgb[b, i, j, c] = top * (1.0 - fy) + bottom * fy
