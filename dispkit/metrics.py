"""3D pose and shape errors of the paper's evaluation (§4), in millimetres.

The paper reports the mean per joint position error (MPJPE), its scale-normalised
variant N-MPJPE (Rhodin et al., *Learning Monocular 3D Human Pose Estimation from
Multi-view Images*, CVPR 2018, ref. [48]) and the Procrustes-aligned PA-MPJPE, and
the same three on the mesh vertices (PVE, N-PVE, PA-PVE).

* **MPJPE / PVE**: mean Euclidean distance after root alignment: each skeleton is
  translated so that its root joint (default index 0, the SMPL pelvis; a list of
  indices uses their mean, e.g. the mid-hip) sits at the origin. Vertices are centred
  by the root of *their own* skeleton's joints. (The usual 3DPW PVE, e.g. PARE's and VIBE's, compares the meshes
  posed without translation and subtracts no root; SMPL rotates about J₀(β), so the two differ only through
  J₀(β̂) − J₀(β).)
* **N-MPJPE / N-PVE**: after root alignment the prediction is scaled by the optimal
  ``s* = <pred, gt> / <pred, pred>`` (Rhodin et al. 2018).
* **PA-MPJPE / PA-PVE**: per-frame similarity Procrustes alignment (Umeyama 1991:
  proper rotation, isotropic scale, translation) of prediction to ground truth.
  Reflections are *not* allowed.

Inputs are in metres, batched ``[B,N,3]`` (torch tensors or arrays); every metric
returns a per-frame ``[B]`` tensor in millimetres and is differentiable, so it can
serve as a loss.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = [
    "evaluate",
    "mpjpe",
    "n_mpjpe",
    "n_pve",
    "pa_mpjpe",
    "pa_pve",
    "procrustes_align",
    "pve",
    "root_align",
    "scale_align",
]

Root = int | Sequence[int] | None
_EPS = 1e-12


def _check_pair(pred, gt, what: str = "points") -> tuple[torch.Tensor, torch.Tensor]:
    pred, gt = torch.as_tensor(pred), torch.as_tensor(gt)
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"pred and gt {what} must both have shape [B,N,3]; got "
                         f"{tuple(pred.shape)} and {tuple(gt.shape)}")
    if pred.shape[1] == 0:
        raise ValueError(f"no {what} to compare (N = 0)")
    for name, x in (("pred", pred), ("gt", gt)):
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} {what} contain non-finite values")
    dtype = torch.promote_types(pred.dtype, gt.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    return pred.to(dtype), gt.to(dtype)


def _root(joints: torch.Tensor, root: Root) -> torch.Tensor:
    """Root position [B,1,3]: one joint, or the mean of several (e.g. left/right hip)."""
    idx = [root] if isinstance(root, int) else list(root)
    if not idx or any(not -joints.shape[1] <= i < joints.shape[1] for i in idx):
        raise ValueError(f"root {root!r} is not a valid joint index for {joints.shape[1]} joints")
    return joints[:, idx].mean(1, keepdim=True)


def _dist_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 1000.0 * torch.linalg.vector_norm(a - b, dim=-1).mean(-1)


def root_align(pred: torch.Tensor, gt: torch.Tensor, root: Root = 0,
               pred_joints: torch.Tensor | None = None, gt_joints: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Translate both point sets so that their roots are at the origin.

    The roots come from ``pred_joints`` / ``gt_joints`` when given (for vertices),
    else from ``pred`` / ``gt`` themselves. ``root=None`` disables the alignment.
    """
    pred, gt = _check_pair(pred, gt)
    if root is None:
        return pred, gt
    if (pred_joints is None) != (gt_joints is None):
        raise ValueError("give both pred_joints and gt_joints, or neither")
    if pred_joints is None:
        pred_joints, gt_joints = pred, gt
    else:
        pred_joints, gt_joints = _check_pair(pred_joints, gt_joints, "joints")
        if pred_joints.shape[0] != pred.shape[0]:
            raise ValueError(f"joints batch {pred_joints.shape[0]} != points batch {pred.shape[0]}")
    return pred - _root(pred_joints, root).to(pred.dtype), gt - _root(gt_joints, root).to(gt.dtype)


def scale_align(pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale ``pred`` [B,N,3] by ``s* = <pred, gt> / <pred, pred>`` (Rhodin et al. 2018).

    No translation is applied: call it on root-aligned points.

    Returns
    -------
    aligned : Tensor [B,N,3]
    s : Tensor [B]
    """
    pred, gt = _check_pair(pred, gt)
    s = (pred * gt).sum((1, 2)) / (pred * pred).sum((1, 2)).clamp_min(_EPS)
    return s[:, None, None] * pred, s


def procrustes_align(pred: torch.Tensor, gt: torch.Tensor
                     ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Similarity transform of ``pred`` onto ``gt`` per frame (Umeyama 1991), batched.

    Minimises ``sum_i |s R p_i + t - g_i|^2`` over a proper rotation ``R``
    (``det R = +1``: a mirrored prediction is *not* mirrored back), a scale ``s`` and a
    translation ``t``.

    Returns
    -------
    aligned : Tensor [B,N,3]
        ``s * pred @ R.T + t``.
    (s, R, t) : Tensor [B], [B,3,3], [B,3]
    """
    pred, gt = _check_pair(pred, gt)
    mu_p, mu_g = pred.mean(1, keepdim=True), gt.mean(1, keepdim=True)
    x, y = pred - mu_p, gt - mu_g
    var_p = (x * x).sum((1, 2)) / x.shape[1]
    cov = y.transpose(1, 2) @ x / x.shape[1]                    # [B,3,3] = E[y x^T]
    U, S, Vh = torch.linalg.svd(cov)
    d = torch.sign(torch.linalg.det(U) * torch.linalg.det(Vh))  # -1 where the best fit is a reflection
    d = torch.where(d == 0, torch.ones_like(d), d)
    D = torch.cat([torch.ones_like(S[:, :2]), d[:, None]], 1)
    R = U @ (D[:, :, None] * Vh)
    s = (S * D).sum(1) / var_p.clamp_min(_EPS)
    t = mu_g[:, 0] - s[:, None] * (R @ mu_p[:, 0, :, None])[..., 0]
    aligned = s[:, None, None] * pred @ R.transpose(1, 2) + t[:, None]
    return aligned, (s, R, t)


# ---------------------------------------------------------------------- joints
def mpjpe(pred_joints, gt_joints, root: Root = 0) -> torch.Tensor:
    """MPJPE [B] in mm after root (pelvis) alignment; ``root=None`` for no alignment."""
    return _dist_mm(*root_align(pred_joints, gt_joints, root))


def n_mpjpe(pred_joints, gt_joints, root: Root = 0) -> torch.Tensor:
    """N-MPJPE [B] in mm: root alignment, then the optimal scale of Rhodin et al. 2018."""
    p, g = root_align(pred_joints, gt_joints, root)
    return _dist_mm(scale_align(p, g)[0], g)


def pa_mpjpe(pred_joints, gt_joints) -> torch.Tensor:
    """PA-MPJPE [B] in mm after similarity Procrustes alignment."""
    pred, gt = _check_pair(pred_joints, gt_joints)
    return _dist_mm(procrustes_align(pred, gt)[0], gt)


# ---------------------------------------------------------------------- vertices
def pve(pred_vertices, gt_vertices, pred_joints=None, gt_joints=None, root: Root = 0) -> torch.Tensor:
    """Per-vertex error [B] in mm.

    Each mesh is centred by the root of its own joints (``pred_joints`` /
    ``gt_joints`` [B,J,3]; see the module docstring for the usual 3DPW variant). Without joints each mesh is centred
    at its vertex centroid instead; ``root=None`` disables centring.
    """
    return _dist_mm(*_centre_vertices(pred_vertices, gt_vertices, pred_joints, gt_joints, root))


def n_pve(pred_vertices, gt_vertices, pred_joints=None, gt_joints=None, root: Root = 0) -> torch.Tensor:
    """N-PVE [B] in mm: vertices centred as in :func:`pve`, then the optimal scale."""
    p, g = _centre_vertices(pred_vertices, gt_vertices, pred_joints, gt_joints, root)
    return _dist_mm(scale_align(p, g)[0], g)


def pa_pve(pred_vertices, gt_vertices) -> torch.Tensor:
    """PA-PVE [B] in mm: similarity Procrustes alignment of the vertices."""
    pred, gt = _check_pair(pred_vertices, gt_vertices, "vertices")
    return _dist_mm(procrustes_align(pred, gt)[0], gt)


def _centre_vertices(pv, gv, pj, gj, root):
    pv, gv = _check_pair(pv, gv, "vertices")
    if pj is None and gj is None and root is not None:
        return pv - pv.mean(1, keepdim=True), gv - gv.mean(1, keepdim=True)
    return root_align(pv, gv, root, pj, gj)


# ---------------------------------------------------------------------- all at once
def evaluate(pred_vertices, gt_vertices, pred_joints, gt_joints, root: Root = 0,
             per_frame: bool = False) -> dict[str, float | torch.Tensor]:
    """All six metrics of the paper (§4, Table 1) in mm.

    Parameters
    ----------
    pred_vertices, gt_vertices : [B,V,3] or None
        Meshes in metres; ``None`` skips PVE, N-PVE and PA-PVE.
    pred_joints, gt_joints : [B,J,3]
        Joints in metres (e.g. the 24 SMPL joints, or 14 LSP joints regressed from the mesh).
    root : int, sequence of int or None
        Root joint index (0 = SMPL pelvis), or several indices whose mean is the root
        (e.g. the two hips for LSP-14 joints).
    per_frame : bool
        Return the ``[B]`` tensors instead of float means.

    Returns
    -------
    dict
        Keys ``'MPJPE', 'N-MPJPE', 'PA-MPJPE', 'PVE', 'N-PVE', 'PA-PVE'``.
    """
    out = {"MPJPE": mpjpe(pred_joints, gt_joints, root),
           "N-MPJPE": n_mpjpe(pred_joints, gt_joints, root),
           "PA-MPJPE": pa_mpjpe(pred_joints, gt_joints)}
    if (pred_vertices is None) != (gt_vertices is None):
        raise ValueError("give both pred_vertices and gt_vertices, or neither")
    if pred_vertices is not None:
        out.update({"PVE": pve(pred_vertices, gt_vertices, pred_joints, gt_joints, root),
                    "N-PVE": n_pve(pred_vertices, gt_vertices, pred_joints, gt_joints, root),
                    "PA-PVE": pa_pve(pred_vertices, gt_vertices)})
    return out if per_frame else {k: float(v.mean()) for k, v in out.items()}
