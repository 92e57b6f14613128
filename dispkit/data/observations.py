"""What a fit sees of a synthetic scene: ground-truth and simulated detector outputs (the baselines of §4.1).

* :func:`gt_dense_term` -- the paper's "Ours GT" (Table 2): the GT field of Eq. 1 + Eq. 2 rendered for the
  initial estimate, turned into 2D targets by Eq. 5 + Eq. 6.
* :func:`gt_keypoints` / :func:`simulate_keypoints` -- "OP GT" (all 25 BODY_25 joints projected, occluded
  ones included, as the paper does) and an OpenPose-like detector: Gaussian jitter proportional to the
  person's size, a few gross outliers, occasional left/right swaps, missed joints, confidences that drop
  with the error.
* :func:`gt_densepose` / :func:`simulate_densepose` -- DensePose-style correspondences from the GT rendering
  (pixel -> triangle and barycentrics of the surface point seen there), and a noisy version: each pixel gets
  the surface point seen at a nearby pixel (DensePose's typical geodesic error of a few centimetres), plus
  outliers elsewhere on the body.

Noise levels are parameters with documented defaults; they are a model of detector errors, not a
measurement of OpenPose or DensePose.
"""
from __future__ import annotations

import numpy as np
import torch

from dispkit.body import OPENPOSE_NAMES

__all__ = ["gt_dense_term", "gt_densepose", "gt_keypoints", "simulate_densepose", "simulate_keypoints"]

def _mirror_name(n: str) -> str:
    return {"R": "L", "L": "R"}[n[0]] + n[1:] if n[0] in "RL" else n


_FLIP = [OPENPOSE_NAMES.index(_mirror_name(n)) for n in OPENPOSE_NAMES]  # BODY_25 left <-> right


def _rng(generator):
    return generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)


def gt_dense_term(body, gt_vertices, init_vertices, cam, size=None, **kw):
    """The dense term from GT displacements: render the initial mesh, Eq. 1 -> Eq. 2 -> Eq. 5 -> Eq. 6."""
    from dispkit.displacement import pixel_field, vertex_displacements
    from dispkit.render import render
    from dispkit.terms import DenseTerm

    views = render(init_vertices, body, cam, modalities=("mask", "face_index", "bary"))
    field = pixel_field(vertex_displacements(gt_vertices, init_vertices, cam), views["face_index"], views["bary"],
                        body.faces)
    return DenseTerm.from_field(field, views["face_index"], views["bary"], body.faces, init_vertices, cam,
                                size=size, **kw)


def gt_keypoints(openpose_joints, cam) -> tuple[torch.Tensor, torch.Tensor]:
    """All 25 BODY_25 joints projected by ``cam`` with confidence 1 (occluded ones included): ([B,25,2], [B,25])."""
    kp = cam.project(openpose_joints)
    return kp, torch.ones(kp.shape[:2], dtype=kp.dtype, device=kp.device)


def simulate_keypoints(keypoints, size, generator=None, noise: float = 0.03, outliers: float = 0.04,
                       swaps: float = 0.03, missed: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """An OpenPose-like detection of GT keypoints [B,25,2] for people of ``size`` [B] pixels.

    Jitter ``N(0, noise * size)`` per joint; with probability ``outliers`` a joint lands uniformly within
    half a person size; with probability ``swaps`` a frame's left and right sides are exchanged; with
    probability ``missed`` a joint is not detected (confidence 0). Confidence ``exp(-e / (0.1 size))`` times
    ``U(0.7, 1)``, e the error. Returns ``(keypoints, confidence)``.
    """
    rng = _rng(generator)
    kp = torch.as_tensor(keypoints).detach().double().cpu().numpy().copy()
    B, J = kp.shape[:2]
    s = np.broadcast_to(np.asarray(torch.as_tensor(size).double().cpu()).reshape(-1), (B,))[:, None, None]
    swap = rng.random(B) < swaps
    kp[swap] = kp[swap][:, _FLIP]
    kp_noisy = kp + rng.normal(size=kp.shape) * noise * s
    out = rng.random((B, J)) < outliers
    kp_noisy[out] = kp[out] + (rng.random((int(out.sum()), 2)) - 0.5) * np.repeat(s[:, :, 0], J, 1)[out][:, None]
    gt = torch.as_tensor(keypoints).detach().double().cpu().numpy()
    err = np.linalg.norm(kp_noisy - gt, axis=-1)
    conf = np.exp(-err / (0.1 * s[:, :, 0])) * rng.uniform(0.7, 1.0, size=(B, J))
    conf[rng.random((B, J)) < missed] = 0.0
    dtype = torch.as_tensor(keypoints).dtype
    return torch.as_tensor(kp_noisy, dtype=dtype), torch.as_tensor(conf, dtype=dtype)


def gt_densepose(views, stride: int = 2, generator=None, max_points: int = 4000) -> dict:
    """GT correspondences from a rendering of the GT body: every ``stride``-th foreground pixel's centre with the
    triangle and barycentrics seen there. Returns ``pixels [B,N,2]``, ``face_index [B,N]``, ``bary [B,N,3]``,
    ``valid [B,N]`` (N = the most points of a frame, capped at ``max_points`` by random subsampling)."""
    rng = _rng(generator)
    fi, bary = views["face_index"], views["bary"]
    B, H, W = fi.shape
    ys, xs = torch.meshgrid(torch.arange(0, H, stride), torch.arange(0, W, stride), indexing="ij")
    per = []
    for b in range(B):
        f = fi[b, ys, xs]
        keep = f >= 0
        y, x = ys[keep], xs[keep]
        if len(y) > max_points:
            sel = torch.as_tensor(np.sort(rng.choice(len(y), max_points, replace=False)))
            y, x = y[sel], x[sel]
        per.append((y, x))
    N = max([len(y) for y, _ in per] + [1])
    out = {"pixels": torch.zeros(B, N, 2), "face_index": torch.full((B, N), -1, dtype=torch.long),
           "bary": torch.zeros(B, N, 3), "valid": torch.zeros(B, N, dtype=torch.bool)}
    for b, (y, x) in enumerate(per):
        n = len(y)
        out["pixels"][b, :n] = torch.stack([x, y], -1).float() + 0.5
        out["face_index"][b, :n] = fi[b, y, x]
        out["bary"][b, :n] = bary[b, y, x].float()
        out["valid"][b, :n] = True
    return out


def simulate_densepose(views, size, stride: int = 2, generator=None, noise: float = 0.04, outliers: float = 0.05,
                       max_points: int = 4000) -> dict:
    """DensePose-like correspondences: as :func:`gt_densepose`, but each pixel is matched to the surface point
    seen at a pixel displaced by ``N(0, noise * size)`` (clamped to the person; a displaced pixel off the body
    keeps its own point), and a fraction ``outliers`` to the point of a random body pixel."""
    rng = _rng(generator)
    dp = gt_densepose(views, stride, rng, max_points)
    fi, bary = views["face_index"], views["bary"]
    B, H, W = fi.shape
    s = np.broadcast_to(np.asarray(torch.as_tensor(size).double().cpu()).reshape(-1), (B,))
    for b in range(B):
        n = int(dp["valid"][b].sum())
        if n == 0:
            continue
        px = dp["pixels"][b, :n].numpy() - 0.5
        src = np.rint(px + rng.normal(size=(n, 2)) * noise * s[b]).astype(np.int64)
        out = rng.random(n) < outliers
        src[out] = px[rng.integers(0, n, int(out.sum()))].astype(np.int64)
        src[:, 0] = src[:, 0].clip(0, W - 1)
        src[:, 1] = src[:, 1].clip(0, H - 1)
        f = fi[b, src[:, 1], src[:, 0]]
        on = (f >= 0).numpy()
        idx = np.nonzero(on)[0]
        dp["face_index"][b, idx] = f[on]
        dp["bary"][b, idx] = bary[b, src[on, 1], src[on, 0]].float()
    return dp
