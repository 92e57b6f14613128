"""SMPL's linear blend skinning on a subset of the vertices: what a fit's data terms read, and nothing else.

SMPLify's terms read few vertices: the dense term (Eq. 7) the ones visible in the rendering, DensePose the corners
of its triangles, the keypoint term none (its joints come from the skeleton and a dozen vertices: nose, eyes, ears,
toes, heels, fingertips), the priors and the shape term none at all. Posing the whole mesh at every iteration is
most of a fit's arithmetic. :class:`SubsetLBS` computes exactly what ``smplx.SMPL`` computes -- shape blend shapes,
the joints regressed from the shaped template, pose correctives, the kinematic chain and the skinning -- for the
vertices it is given, with the joints regressed once per call from a precomputed ``J_regressor @ T̄`` and
``J_regressor @ S`` (the regressor is linear, so ``J(β) = J_regressor (T̄ + S β)`` is the same number either way up
to float rounding), and the kinematic chain one batched product per tree level instead of one per joint.

The output matches :meth:`dispkit.body.BodyModel.forward` on those vertices to float rounding (``tests/test_lbs.py``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["SubsetLBS", "SubsetOutput"]


@dataclass
class SubsetOutput:
    """``vertices`` [B,n,3] (the subset's, in :attr:`SubsetLBS.vertex_ids` order), ``joints`` [B,24,3] and
    ``openpose`` [B,25,3] (as :class:`dispkit.body.BodyOutput`)."""

    vertices: torch.Tensor
    joints: torch.Tensor
    openpose: torch.Tensor


def _levels(parents: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The joints of each depth of the kinematic tree (root excluded) with their parents."""
    depth = [0] * len(parents)
    for j in range(1, len(parents)):
        depth[j] = depth[parents[j]] + 1
    out = []
    for d in range(1, max(depth) + 1):
        idx = [j for j in range(len(parents)) if depth[j] == d]
        out.append((torch.tensor(idx), torch.tensor([parents[j] for j in idx])))
    return out


class SubsetLBS:
    """Pose and shape only the vertices ``vertex_ids`` [n] of ``body`` (and the joints, always).

    Call with the four SMPL parameters (axis-angle ``global_orient`` [B,3], ``body_pose`` [B,69], ``betas``
    [B,num_betas], ``transl`` [B,3]); returns a :class:`SubsetOutput`. ``index`` [V] maps a vertex id of the full
    mesh to its row in the subset (-1 when absent).
    """

    def __init__(self, body, vertex_ids):
        smpl = body.smpl
        dev, dt = body.device, body.dtype
        ids = torch.as_tensor(vertex_ids, dtype=torch.long, device=dev).reshape(-1).unique(sorted=True)
        extra = smpl.vertex_joint_selector.extra_joints_idxs.to(dev)
        self.vertex_ids = ids
        V = body.num_vertices
        self.index = torch.full((V,), -1, dtype=torch.long, device=dev)
        self.index[ids] = torch.arange(len(ids), device=dev)
        n = len(ids)
        allv = torch.cat([ids, extra])                      # the subset, then the extra-joint vertices
        self._n = n
        self.v_template = smpl.v_template[allv]             # [m,3]
        self.shapedirs = smpl.shapedirs[allv]               # [m,3,nb]
        P = smpl.posedirs.shape[0]
        self.posedirs = smpl.posedirs.reshape(P, V, 3)[:, allv].reshape(P, -1)   # [207, m*3]
        self.pose_free = bool((smpl.posedirs == 0).all())
        self.weights = smpl.lbs_weights[allv]               # [m,24]
        Jr = smpl.J_regressor
        self.J_template = Jr @ smpl.v_template              # [24,3]
        self.J_shapedirs = torch.einsum("jv,vcb->jcb", Jr, smpl.shapedirs)       # [24,3,nb]
        parents = smpl.parents.tolist()
        parents[0] = -1
        self.parents = torch.as_tensor(smpl.parents, device=dev).clone()
        self.levels = [(i.to(dev), p.to(dev)) for i, p in _levels(parents)]
        self.openpose_index = body.openpose_index.to(dev)
        self.dtype, self.device = dt, dev

    def __call__(self, global_orient, body_pose, betas, transl) -> SubsetOutput:
        from smplx.lbs import batch_rodrigues

        B = body_pose.shape[0]
        v_shaped = self.v_template + torch.einsum("bl,mkl->bmk", betas, self.shapedirs)      # [B,m,3]
        J = self.J_template + torch.einsum("bl,jkl->bjk", betas, self.J_shapedirs)           # [B,24,3]
        pose = torch.cat([global_orient, body_pose], 1).reshape(-1, 3)
        rot = batch_rodrigues(pose).reshape(B, 24, 3, 3)
        if not self.pose_free:
            eye = torch.eye(3, dtype=rot.dtype, device=rot.device)
            v_shaped = v_shaped + ((rot[:, 1:] - eye).reshape(B, -1) @ self.posedirs).reshape(B, -1, 3)
        rel = J.clone()
        rel[:, 1:] = J[:, 1:] - J[:, self.parents[1:]]
        # world transforms G_j = G_parent(j) [R_j | J_j - J_parent(j)], one batched product per tree level
        R_world = rot.clone()
        t_world = rel.clone()
        for idx, par in self.levels:
            Rp = R_world[:, par]
            R_world[:, idx] = Rp @ rot[:, idx]
            t_world[:, idx] = (Rp @ rel[:, idx, :, None])[..., 0] + t_world[:, par]
        # skinning with the rest-pose offsets removed: G_j(θ) G_j(0)^-1 sends x to R x + (t - R J_j)
        t_rel = t_world - (R_world @ J[..., None])[..., 0]
        A = torch.cat([R_world, t_rel[..., None]], -1).reshape(B, 24, 12)                   # rows [R | t]
        T = (self.weights @ A).reshape(B, -1, 3, 4)                                          # [B,m,3,4]
        v = (T[..., :3] @ v_shaped[..., None])[..., 0] + T[..., 3] + transl[:, None]
        joints = t_world + transl[:, None]
        allj = torch.cat([joints, v[:, self._n:]], 1)
        return SubsetOutput(vertices=v[:, :self._n], joints=joints, openpose=allj[:, self.openpose_index])
