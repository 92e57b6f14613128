"""The displacement maths of the paper, one function per equation (§3.1 and §3.2).

Notation (the paper's): ``M(θ, β)`` the posed mesh, ``π`` a camera projection. The *initial* estimate
(the regressor's ``θ, β, π``) is what gets rendered; the *target* (ground truth ``θ̂, β̂, π̂`` for training,
or the image itself at test time) is where each rendered point should move.

* Eq. 1 :func:`vertex_displacements`  ``v̂ = π̂(M(θ̂, β̂)) − π(M(θ, β))``          per vertex  [B,V,2]
* Eq. 2 :func:`pixel_field`           ``f̂_xy = Σ_i b_xy,i · v̂[AIndexMap_xy,i]``    per pixel   [B,H,W,2]
* Eq. 5 :func:`pixels_to_vertices`    ``v_i = Σ b_xy,i f_xy / Σ b_xy,i`` over the pixels whose visible
  triangle contains vertex i                                                       per vertex + visibility
* Eq. 6 :func:`vertex_targets`        ``V_est = v + π(M(θ, β))``                    2D targets  [B,V,2]
* :func:`epe`                          end-point error: masked mean L2 distance in pixels.

Units are the pixels of the cameras given to Eq. 1: pass full-image cameras for full-image pixels, or the
crop cameras (``Camera.crop``) that rendered the network's crops for crop pixels. ``face_index`` and
``bary`` are the ``render`` outputs of the *initial* mesh (``face_index`` −1 on background).
"""
from __future__ import annotations

import torch

__all__ = ["epe", "pixel_field", "pixels_to_vertices", "vertex_displacements", "vertex_targets"]


def _as_batch(x, name: str, tail: int) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim != 3 or x.shape[-1] != tail:
        raise ValueError(f"{name} must have shape [B,V,{tail}], got {tuple(x.shape)}")
    return x


def _check_maps(face_index, bary, faces):
    face_index = torch.as_tensor(face_index)
    bary = torch.as_tensor(bary, device=face_index.device)
    if face_index.ndim != 3 or face_index.dtype.is_floating_point:
        raise ValueError(f"face_index must be an integer map [B,H,W] (-1 = background), got "
                         f"{tuple(face_index.shape)} {face_index.dtype}")
    if bary.shape != (*face_index.shape, 3):
        raise ValueError(f"bary must have shape {(*face_index.shape, 3)}, got {tuple(bary.shape)}")
    faces = torch.as_tensor(faces, device=face_index.device).long()
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must have shape [F,3], got {tuple(faces.shape)}")
    if face_index.numel() and int(face_index.max()) >= faces.shape[0]:
        raise ValueError(f"face_index refers to triangle {int(face_index.max())} but there are {faces.shape[0]}: "
                         "were these maps rendered with these faces?")
    return face_index.long(), bary, faces


def vertex_displacements(target_vertices, init_vertices, target_cam, init_cam=None) -> torch.Tensor:
    """Eq. 1: the ground-truth 2D per-vertex displacement ``v̂ = π̂(M(θ̂, β̂)) − π(M(θ, β))`` (hats: ground truth;
    no hat: the initial estimate).

    Parameters
    ----------
    target_vertices : [B,V,3] the ground-truth mesh ``M(θ̂, β̂)`` (world coordinates).
    init_vertices : [B,V,3] the initial (rendered) mesh ``M(θ, β)``; same topology.
    target_cam : Camera ``π̂``; ``init_cam`` the initial estimate's camera ``π`` (default: the same camera,
        as in a synthetic scene where the estimate's camera error lives in its translation).

    Returns
    -------
    [B,V,2] pixels: where each vertex of the rendered initial mesh has to move in the image.
    """
    target_vertices = _as_batch(target_vertices, "target_vertices", 3)
    init_vertices = _as_batch(init_vertices, "init_vertices", 3)
    if target_vertices.shape[1] != init_vertices.shape[1]:
        raise ValueError(f"the meshes have different vertex counts: {target_vertices.shape[1]} vs "
                         f"{init_vertices.shape[1]}")
    init_cam = target_cam if init_cam is None else init_cam
    return target_cam.project(target_vertices) - init_cam.project(init_vertices)


def pixel_field(vertex_field, face_index, bary, faces) -> torch.Tensor:
    """Eq. 2: per-pixel field ``f̂_xy = Σ_{i=1..3} b_xy,i · v̂[AIndexMap_xy,i]`` over the visible triangle.

    Parameters
    ----------
    vertex_field : [B,V,C] per-vertex values (Eq. 1's displacements, C = 2).
    face_index, bary : [B,H,W], [B,H,W,3] from :func:`dispkit.render.render` of the initial mesh.
    faces : [F,3] the mesh's triangles.

    Returns
    -------
    [B,H,W,C], 0 on background pixels (where the loss mask ``m_xy`` of Eq. 3 is 0). Differentiable in
    ``vertex_field``.
    """
    face_index, bary, faces = _check_maps(face_index, bary, faces)
    v = torch.as_tensor(vertex_field, device=face_index.device)
    if v.ndim != 3 or v.shape[0] not in (1, face_index.shape[0]):
        raise ValueError(f"vertex_field must have shape [B,V,C] with B = {face_index.shape[0]}, got {tuple(v.shape)}")
    B, V, C = face_index.shape[0], v.shape[1], v.shape[2]
    v = v.expand(B, V, C)
    fg = face_index >= 0
    vidx = faces[face_index.clamp(min=0)]  # [B,H,W,3]
    flat = v.reshape(B * V, C)[vidx + (torch.arange(B, device=v.device) * V).view(B, 1, 1, 1)]  # [B,H,W,3,C]
    out = (flat * bary.to(v.dtype)[..., None]).sum(-2)
    return torch.where(fg[..., None], out, torch.zeros((), dtype=out.dtype, device=out.device))


def pixels_to_vertices(field, face_index, bary, faces, num_vertices: int, min_weight: float = 1e-6):
    """Eq. 5: per-vertex values from a per-pixel field, ``v_i = Σ b_xy,i f_xy / Σ b_xy,i``.

    The sums run over every pixel ``(x, y)`` whose visible triangle (``AIndexMap_xy``) contains vertex i,
    with ``b_xy,i`` that vertex's barycentric coordinate at the pixel: a barycentric-weighted mean, computed
    for the whole batch with one scatter (``index_add_``).

    Parameters
    ----------
    field : [B,H,W,C] per-pixel values (the network's prediction, or Eq. 2's field).
    face_index, bary : [B,H,W], [B,H,W,3] renderings of the mesh the field belongs to.
    faces : [F,3]; num_vertices : V.
    min_weight : a vertex is *visible* when its accumulated weight ``Σ b_xy,i`` exceeds this.

    Returns
    -------
    (vertex_field [B,V,C], visible [B,V] bool). Invisible vertices get 0 and ``visible = False``; they
    carry no value and must be masked out (the ``w_i`` of Eq. 7). An empty mask gives no visible vertex
    (never NaN).
    """
    face_index, bary, faces = _check_maps(face_index, bary, faces)
    field = torch.as_tensor(field, device=face_index.device)
    if field.ndim != 4 or field.shape[:3] != face_index.shape:
        raise ValueError(f"field must have shape [B,H,W,C] matching face_index {tuple(face_index.shape)}, got "
                         f"{tuple(field.shape)}")
    if not field.dtype.is_floating_point:
        field = field.float()
    B, C = face_index.shape[0], field.shape[-1]
    V = int(num_vertices)
    fg = face_index >= 0
    b_idx = torch.arange(B, device=field.device).view(B, 1, 1).expand_as(face_index)[fg]  # [P]
    verts = faces[face_index[fg]] + (b_idx * V)[:, None]  # [P,3] into the flattened batch
    w = bary[fg].to(field.dtype)  # [P,3]
    f = field[fg]  # [P,C]
    num = torch.zeros(B * V, C, dtype=field.dtype, device=field.device)
    den = torch.zeros(B * V, dtype=field.dtype, device=field.device)
    num.index_add_(0, verts.reshape(-1), (w[..., None] * f[:, None, :]).reshape(-1, C))
    den.index_add_(0, verts.reshape(-1), w.reshape(-1))
    visible = den > min_weight
    out = torch.where(visible[:, None], num / den.clamp(min=min_weight)[:, None], torch.zeros_like(num))
    return out.reshape(B, V, C), visible.reshape(B, V)


def vertex_targets(vertex_field, init_vertices, cam) -> torch.Tensor:
    """Eq. 6: the 2D targets ``V_est = v + π(M(θ, β))`` for the fit of Eq. 7.

    ``vertex_field`` [B,V,2] (Eq. 5's output), ``init_vertices`` [B,V,3] the initial mesh ``M(θ, β)`` and
    ``cam`` its camera ``π`` (the one the renderings were made with). Returns [B,V,2] pixels; only the
    visible vertices (Eq. 5's mask) are meaningful.
    """
    vertex_field = _as_batch(vertex_field, "vertex_field", 2)
    return vertex_field + cam.project(_as_batch(init_vertices, "init_vertices", 3)).to(vertex_field.dtype)


def epe(pred, gt, mask=None, reduction: str = "mean") -> torch.Tensor:
    """End-point error: the L2 distance between two 2D fields, averaged over the masked pixels (or vertices).

    ``pred``, ``gt`` [..., 2] (e.g. [B,H,W,2] or [B,V,2]); ``mask`` [...] bool (default: all). ``reduction``
    "mean" averages over every masked element of the batch, "none" gives one mean per batch item [B]. An
    empty mask gives 0 (there is nothing to be wrong about), not NaN.
    """
    pred, gt = torch.as_tensor(pred), torch.as_tensor(gt)
    if pred.shape != gt.shape or pred.shape[-1] != 2:
        raise ValueError(f"pred and gt must have the same shape [..., 2], got {tuple(pred.shape)} and "
                         f"{tuple(gt.shape)}")
    d = (pred - gt).norm(dim=-1)
    m = torch.ones_like(d, dtype=torch.bool) if mask is None else torch.as_tensor(mask, device=d.device).bool()
    if m.shape != d.shape:
        raise ValueError(f"mask must have shape {tuple(d.shape)}, got {tuple(m.shape)}")
    d = torch.where(m, d, torch.zeros_like(d))
    if reduction == "mean":
        return d.sum() / m.sum().clamp(min=1)
    if reduction == "none":
        dims = tuple(range(1, d.ndim))
        return d.sum(dims) / m.sum(dims).clamp(min=1)
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
