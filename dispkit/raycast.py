"""Reference renderer by ray casting (trimesh), the oracle the rasteriser is tested against.

One ray per pixel centre, from the camera centre through the pixel, nearest hit only.
It is slow (seconds per frame) and exists so that tests, benchmarks and notebook 02 can
check :func:`dispkit.raster.rasterize` / :func:`dispkit.render.render` independently.
Needs ``trimesh`` (the ``dev`` and ``notebooks`` extras); ``rtree`` is optional (a
uniform-grid broad phase stands in for it).
"""
from __future__ import annotations

import numpy as np

__all__ = ["BoxTree", "cast_rays", "raycast_camera"]


class BoxTree:
    """Stand-in for trimesh's rtree broad phase (rtree is not a dependency).

    ``intersection(box)`` returns the triangles whose axis-aligned box overlaps ``box``
    (interleaved min xyz, max xyz, as rtree), found through a uniform grid over x, y.
    """

    def __init__(self, triangles, cells=64):
        self.lo = triangles.min(1)
        self.hi = triangles.max(1)
        self.bounds = np.concatenate([self.lo.min(0), self.hi.max(0)])
        self.g0 = self.bounds[:2]
        self.step = np.maximum(self.bounds[3:5] - self.g0, 1e-12) / cells
        self.cells = cells
        c_lo, c_hi = self._cell(self.lo[:, :2]), self._cell(self.hi[:, :2])
        buckets = [[] for _ in range(cells * cells)]
        for t in range(len(triangles)):
            for cx in range(c_lo[t, 0], c_hi[t, 0] + 1):
                for cy in range(c_lo[t, 1], c_hi[t, 1] + 1):
                    buckets[cx * cells + cy].append(t)
        self.buckets = [np.array(b, dtype=np.int64) for b in buckets]

    def _cell(self, xy):
        return np.clip(np.floor((xy - self.g0) / self.step), 0, self.cells - 1).astype(np.int64)

    def intersection(self, box):
        box = np.asarray(box, dtype=np.float64)
        (x0, y0), (x1, y1) = self._cell(box[None, :2])[0], self._cell(box[None, 3:5])[0]
        cand = [self.buckets[cx * self.cells + cy] for cx in range(x0, x1 + 1) for cy in range(y0, y1 + 1)]
        cand = np.unique(np.concatenate(cand)) if cand else np.zeros(0, dtype=np.int64)
        keep = np.all(self.lo[cand] <= box[3:], 1) & np.all(self.hi[cand] >= box[:3], 1)
        return cand[keep]


def cast_rays(verts, faces, origins, dirs):
    """Nearest hit of each ray: (triangle id [R] or -1, hit point [R,3] or nan), trimesh's ray_triangle."""
    import trimesh
    from trimesh.ray.ray_triangle import ray_triangle_id

    mesh = trimesh.Trimesh(np.asarray(verts, np.float64), np.asarray(faces), process=False)
    try:
        tree = mesh.triangles_tree  # needs rtree
    except ImportError:
        tree = BoxTree(mesh.triangles)
    tri, ray, loc = ray_triangle_id(mesh.triangles, origins, dirs, triangles_normal=mesh.face_normals,
                                    tree=tree, multiple_hits=False)
    ids = -np.ones(len(origins), dtype=np.int64)
    hit = np.full((len(origins), 3), np.nan)
    ids[ray] = tri
    hit[ray] = loc
    return ids, hit


def raycast_camera(vertices, faces, cam, index: int = 0):
    """Ray-cast batch item ``index`` through every pixel centre of ``cam`` (a dispkit Camera).

    Returns ``(face_index [H,W] with -1 for background, hit [H,W,3] in camera space, nan on
    background)``; pixel ``(i, j)`` is image row i (top to bottom), column j, like
    :func:`dispkit.render.render`.
    """
    import torch

    v = torch.as_tensor(vertices)
    if v.ndim == 3:
        v = v[index:index + 1]
    else:
        v = v[None]
    cam1 = cam.index([index]) if cam.batch_size > 1 else cam
    pc = cam1.to_camera(v.to(cam1.dtype))[0].double().cpu().numpy()
    H, W = cam1.height, cam1.width
    fx, fy = (float(x) for x in cam1.focal[0])
    cx, cy = (float(x) for x in cam1.center[0])
    jj, ii = np.meshgrid(np.arange(W) + 0.5, np.arange(H) + 0.5)
    d = np.stack([(jj - cx) / fx, (ii - cy) / fy, np.ones_like(jj)], -1).reshape(-1, 3)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    ids, hit = cast_rays(pc, np.asarray(faces.cpu() if hasattr(faces, "cpu") else faces),
                         np.zeros_like(d), d)
    return ids.reshape(H, W), hit.reshape(H, W, 3)
