"""What a fit sees of a synthetic scene: ground-truth and simulated detector outputs (the baselines of §4.1).

* :func:`gt_dense_term` -- the paper's "Ours GT" (Table 2): the GT field of Eq. 1 + Eq. 2 rendered for the
  initial estimate, turned into 2D targets by Eq. 5 + Eq. 6.
* :func:`gt_keypoints` -- "OP GT": all 25 BODY_25 joints of the fitted model projected, occluded ones included,
  as the paper does.
* :func:`simulate_openpose` -- an OpenPose-like detector that never sees the truth it is scored against: its
  keypoints follow its own definition (:class:`DetectorDefinition`, a few centimetres from the model's joints at
  hips, neck and shoulders, like real OpenPose's), its confidences come only from what a detector can know
  (visibility in the rendering, foreshortening, random variation), and its errors (jitter, outliers and
  single-limb left/right swaps that keep a high confidence, missed keypoints) are drawn apart from them. BODY_25
  or COCO-18 (3DPW's released detections). :func:`simulate_keypoints_oracle` is the first, kind simulation, whose
  confidences were computed from the error: kept as a named sensitivity setting only.
* :func:`gt_densepose` / :func:`simulate_densepose` -- DensePose-style correspondences from the GT rendering
  (pixel -> triangle and barycentrics of the surface point seen there), and a noisy version: each pixel gets
  the surface point seen at a nearby pixel (DensePose's typical geodesic error of a few centimetres), plus
  outliers elsewhere on the body.

Each simulated detector has one noise level (:data:`OPENPOSE_LEVEL`, :data:`DENSEPOSE_LEVEL`), calibrated the way
the regressors were: the single scalar for which SMPLify + GMM from pare-like estimates reproduces the paper's
Table 1 ratio on 3DPW (``benchmarks/tables.py --calibrate``, on calibration scenes apart from every evaluation
split); the other rows of Table 1 validate it. They are a model of detector errors, not a measurement of OpenPose
or DensePose.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dispkit.body import OPENPOSE_NAMES

__all__ = ["BLAZEPOSE_STRUCTURE", "COCO18_MISSING", "DENSEPOSE_LEVEL", "DETECTOR_OFFSETS", "OPENPOSE_LEVEL",
           "DetectorDefinition", "ErrorStructure",
           "gt_dense_term", "gt_densepose", "gt_keypoints", "keypoint_visibility", "simulate_densepose",
           "simulate_keypoints_oracle", "simulate_openpose"]

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


def simulate_keypoints_oracle(keypoints, size, generator=None, noise: float = 0.03, outliers: float = 0.04,
                              swaps: float = 0.03, missed: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """The first, *kind* simulated detector, kept only as a named sensitivity setting ("oracle confidences"): its
    confidences are computed from the true error, so the fit can down-weight exactly the wrong keypoints, which
    no real detector allows (on 20 held-out pare-like scenes SMPLify + GMM reached 67.1 mm MPJPE with them,
    105.2 mm with error-independent confidences). Use :func:`simulate_openpose` for the baselines.

    Detects the fitted model's own GT keypoints [B,25,2] for people of ``size`` [B] pixels.

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


# --------------------------------------------------------------------------- the simulated OpenPose detector

#: where the simulated detector puts each BODY_25 keypoint, as an offset (metres, in the rest pose: x to the
#: person's left, y up, z forward) from the body model's own BODY_25 point. Real OpenPose joints are not SMPL's:
#: its hips sit higher and further out, its neck at the base of the throat, its shoulders on the shoulder's top
#: surface (the reason SPIN and ProHMR ignore the hips when fitting). Joints not listed keep the model's point.
DETECTOR_OFFSETS = {
    "Neck": (0.0, -0.03, 0.03), "RShoulder": (-0.01, 0.03, 0.0), "LShoulder": (0.01, 0.03, 0.0),
    "MidHip": (0.0, 0.06, 0.0), "RHip": (-0.03, 0.06, 0.0), "LHip": (0.03, 0.06, 0.0),
    "RKnee": (0.0, 0.0, 0.02), "LKnee": (0.0, 0.0, 0.02), "RAnkle": (0.0, 0.01, 0.0), "LAnkle": (0.0, 0.01, 0.0),
    "RElbow": (0.0, 0.0, -0.01), "LElbow": (0.0, 0.0, -0.01),
}
#: BODY_25 keypoints a COCO-18 detector (3DPW's released detections) never reports: the feet and the mid-hip
COCO18_MISSING = ("MidHip", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
#: the limbs a detector may mix up left for right (each a set of BODY_25 keypoints swapped together)
_LIMBS = {"arm": ("Shoulder", "Elbow", "Wrist"), "leg": ("Hip", "Knee", "Ankle", "BigToe", "SmallToe", "Heel")}
#: the simulated OpenPose's noise level, calibrated by ``benchmarks/tables.py --calibrate`` (results/calibration.json):
#: SMPLify + GMM (the open GMM fitted on broad poses) from pare-like estimates ends at 1.122 x the initial MPJPE on
#: the calibration scenes (paper: 1.085; the bisection's neighbour 1.0 gave 0.997)
OPENPOSE_LEVEL = 1.09375
#: the simulated DensePose's noise level, calibrated the same way: 1.389 x (paper: 1.374)
DENSEPOSE_LEVEL = 0.75
_SUPPORT = 12  # template vertices that carry each detector keypoint


class DetectorDefinition:
    """The simulated detector's own keypoint definition on a body model: each BODY_25 keypoint is a fixed convex
    combination of ``_SUPPORT`` template vertices around ``body``'s BODY_25 point + :data:`DETECTOR_OFFSETS`, so
    it follows the skin as the body moves and differs from the fitted model's ``out.openpose`` by a definition
    gap like real OpenPose's (a few centimetres at hips, neck and shoulders)."""

    def __init__(self, body):
        with torch.no_grad():
            rest = body(**body.zero_params(1))
        template, points = rest.vertices[0].double(), rest.openpose[0].double().clone()
        for name, off in DETECTOR_OFFSETS.items():
            points[OPENPOSE_NAMES.index(name)] += torch.tensor(off, dtype=points.dtype)
        d = torch.cdist(points, template)                                        # [25,V]
        dist, idx = d.topk(_SUPPORT, largest=False)                              # nearest surface vertices
        w = 1.0 / (dist + 0.01)
        w = w / w.sum(1, keepdim=True)
        # move the surface ring's weighted centre onto the target point with a per-keypoint constant offset in the
        # frame of the support (kept in rest coordinates; it is small, a few cm, and posed rigidly with the ring)
        self.index, self.weights = idx, w.float()
        self._rest_ring = template[idx].float()                                  # [25,K,3]
        self.rest_offset = (points - (w[..., None] * template[idx]).sum(1)).float()  # [25,3]
        self.body_name = body.name

    def __call__(self, vertices: torch.Tensor) -> torch.Tensor:
        """The detector's 3D keypoints [B,25,3] on posed ``vertices`` [B,V,3]."""
        ring = vertices[:, self.index]                                           # [B,25,K,3]
        centre = (self.weights.to(vertices.dtype)[..., None] * ring).sum(2)
        # the offset turns with the ring: estimate the ring's rotation from rest to posed (Kabsch on the support)
        return centre + self._rotate(ring, centre)

    def _rotate(self, ring, centre):
        rest = self._rest_ring
        a = (rest - rest.mean(1, keepdim=True)).to(ring.dtype)                   # [25,K,3]
        b = ring - ring.mean(2, keepdim=True)                                    # [B,25,K,3]
        H = torch.einsum("jki,bjkl->bjil", a, b)
        U, _, Vt = torch.linalg.svd(H)
        d = torch.sign(torch.linalg.det(Vt.transpose(-1, -2) @ U.transpose(-1, -2)))
        D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
        R = Vt.transpose(-1, -2) @ D @ U.transpose(-1, -2)                      # rest -> posed
        return torch.einsum("bjil,jl->bji", R, self.rest_offset.to(ring.dtype))


def keypoint_visibility(definition: DetectorDefinition, vertices, cam, depth, tolerance: float = 0.03) -> torch.Tensor:
    """The fraction [B,25] of each keypoint's support vertices that are visible: a z-buffer test of the vertices
    [B,V,3] against ``depth`` [B,H,W] (the rendered depth of the *true* body seen by ``cam``, 0 off the body),
    within ``tolerance`` metres. What a detector can know about occlusion: an unoccluded limb shows about half of
    its ring, a limb behind the torso none."""
    ring = torch.as_tensor(vertices)[:, definition.index.reshape(-1)]                # [B,25K,3]
    B, H, W = depth.shape
    px = cam.project(ring)
    z = cam.depth(ring)
    x = px[..., 0].floor().long().clamp(0, W - 1)
    y = px[..., 1].floor().long().clamp(0, H - 1)
    inside = (px[..., 0] >= 0) & (px[..., 0] < W) & (px[..., 1] >= 0) & (px[..., 1] < H)
    seen_z = depth[torch.arange(B, device=depth.device)[:, None], y, x]
    visible = inside & (seen_z > 0) & (z <= seen_z + tolerance)
    return visible.reshape(B, 25, -1).float().mean(-1)


def _foreshortening(kp3d: torch.Tensor, cam) -> torch.Tensor:
    """Per keypoint [B,25] in (0, 1]: how much of the limb that ends there faces the camera (1: parallel to the image
    plane), from the 3D keypoints. A detector is less sure of joints whose limb points at the camera."""
    parent = {"RElbow": "RShoulder", "RWrist": "RElbow", "LElbow": "LShoulder", "LWrist": "LElbow",
              "RKnee": "RHip", "RAnkle": "RKnee", "LKnee": "LHip", "LAnkle": "LKnee"}
    pc = cam.to_camera(kp3d)
    out = torch.ones(kp3d.shape[:2], dtype=kp3d.dtype, device=kp3d.device)
    for child, par in parent.items():
        c, p = OPENPOSE_NAMES.index(child), OPENPOSE_NAMES.index(par)
        bone = pc[:, c] - pc[:, p]
        out[:, c] = (bone[:, :2].norm(dim=-1) / bone.norm(dim=-1).clamp(min=1e-6)).clamp(0.05, 1.0)
    return out


@dataclass(frozen=True)
class ErrorStructure:
    """How a simulated keypoint detector errs, at noise level 1 (:func:`simulate_openpose` multiplies jitter,
    outliers and swaps by its level): per BODY_25 keypoint the jitter's sigma (a fraction of the person's size)
    and the miss rate; the jitter's factor on hidden keypoints; the outlier rate (anywhere within half a person
    size); the per-limb left/right swap rates; and the confidence of a detected keypoint, drawn uniformly in
    ``confidence`` whatever its error or visibility."""

    jitter: tuple
    miss: tuple
    hidden_jitter: float
    outlier: float
    swap_arm: float
    swap_leg: float
    confidence: tuple = (0.9, 1.0)

    @classmethod
    def from_study(cls, study: dict) -> ErrorStructure:
        """The structure of a measured detector (:func:`dispkit.detectors.error_structure`'s result)."""
        pk = study["per_keypoint"]
        vis, hid = study.get("visible", {}), study.get("hidden", {})
        hidden = (hid.get("median_error") or 1.0) / (vis.get("median_error") or 1.0)
        return cls(jitter=tuple(round(pk[n]["spread_sigma"] or 0.0, 4) for n in OPENPOSE_NAMES),
                   miss=tuple(round(pk[n]["miss_rate"], 3) for n in OPENPOSE_NAMES),
                   hidden_jitter=round(hidden, 2), outlier=round(study["all"]["outlier_rate"], 3),
                   swap_arm=round(study["swap_rate"]["arm"] or 0.0, 3),
                   swap_leg=round(study["swap_rate"]["leg"] or 0.0, 3))


#: the error structure of a real detector, BlazePose, measured on the kit's renderings of 40 calibration scenes
#: (``benchmarks/detector_study.py``; ``ErrorStructure.from_study`` of its result, which a test compares): errors
#: smaller than the kit's simulation but confidence that says almost nothing about them (near 1 also for hidden
#: keypoints), misses concentrated on a few keypoints, more left/right swaps
BLAZEPOSE_STRUCTURE = ErrorStructure(
    jitter=(0.0149, 0.013, 0.0158, 0.0224, 0.0139, 0.019, 0.0151, 0.0106, 0.0137, 0.021, 0.0248, 0.0114, 0.023,
        0.0179, 0.0186, 0.0116, 0.0148, 0.0171, 0.0196, 0.0267, 0.0, 0.0169, 0.0232, 0.0, 0.0162),
    miss=(0.0, 0.0, 0.0, 0.225, 0.15, 0.0, 0.05, 0.025, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        1.0, 0.0, 0.0, 1.0, 0.0),
    hidden_jitter=1.16, outlier=0.024, swap_arm=0.074, swap_leg=0.075)


def simulate_openpose(body, vertices, cam, size, generator=None, level: float | None = None, mode: str = "body25",
                      views=None, definition: DetectorDefinition | None = None,
                      structure: ErrorStructure | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """An OpenPose-like detection of the person with true ``vertices`` [B,V,3] seen by ``cam``; ``size`` [B] the
    person's size in pixels. Returns ``(keypoints [B,25,2], confidence [B,25])`` in BODY_25 order.

    What the detector knows, and so all its confidences come from: each keypoint's visibility in the rendering
    (:func:`keypoint_visibility`), the foreshortening of its limb and random variation -- never the error it makes.
    Its errors: the keypoints are the detector's own definition (:class:`DetectorDefinition`, not the fitted
    model's joints); Gaussian jitter ``N(0, 0.02 level size)``, twice as large on hidden keypoints; gross outliers
    (probability ``0.04 level``, anywhere within half a person size) and single-limb left/right swaps (probability
    ``0.04 level`` per limb) that keep the confidence the keypoint would have had, as real OpenPose's do; missed
    keypoints, more often hidden ones. ``level``: the noise level (default :data:`OPENPOSE_LEVEL`, calibrated on
    the paper's Table 1). ``mode``: ``"body25"`` or ``"coco18"`` (3DPW's released detections: no feet, no
    mid-hip, and a frame with fewer than 6 detected keypoints has none). ``structure``: an :class:`ErrorStructure`
    (e.g. :data:`BLAZEPOSE_STRUCTURE`, a real detector's) in place of the errors and confidences above; the
    keypoint definition and the noise level stay.
    """
    if mode not in ("body25", "coco18"):
        raise ValueError(f"mode must be 'body25' or 'coco18', got {mode!r}")
    rng = _rng(generator)
    level = OPENPOSE_LEVEL if level is None else float(level)
    if level < 0:
        raise ValueError(f"the noise level must be >= 0, got {level}")
    definition = definition or DetectorDefinition(body)
    vertices = torch.as_tensor(vertices)
    with torch.no_grad():
        if views is None:
            from dispkit.render import render

            views = render(vertices, body, cam, modalities=("depth",))
        kp3d = definition(vertices.double()).to(vertices.dtype)
        vis = keypoint_visibility(definition, vertices, cam, views["depth"]).double().cpu().numpy()
        fore = _foreshortening(kp3d.double(), cam.to(dtype=torch.float64)).cpu().numpy()
        kp = cam.project(kp3d).double().cpu().numpy()
    B, J = kp.shape[:2]
    s = np.broadcast_to(np.asarray(torch.as_tensor(size).double().cpu()).reshape(-1), (B,))[:, None]
    seen = np.clip(vis / 0.5, 0.0, 1.0)                                           # ~1 for an unoccluded keypoint
    if structure is not None:
        det, conf = _structured(kp, s, seen, rng, level, structure)
        return _finish(det, conf, mode, vertices.dtype)
    conf = (0.35 + 0.65 * seen) * (0.6 + 0.4 * fore) * rng.uniform(0.55, 1.0, size=(B, J))
    conf[rng.random((B, J)) < 0.02 + 0.25 * (1.0 - seen)] = 0.0                    # missed, more often when hidden
    det = kp + rng.normal(size=kp.shape) * (0.02 * level * s * (1.0 + (1.0 - seen)))[..., None]
    out = rng.random((B, J)) < min(1.0, 0.04 * level)
    det[out] = kp[out] + (rng.random((int(out.sum()), 2)) - 0.5) * np.repeat(s, J, 1)[out][:, None]
    for parts in _LIMBS.values():                                                # single-limb left/right swaps
        r = [OPENPOSE_NAMES.index("R" + p) for p in parts]
        l_ = [OPENPOSE_NAMES.index("L" + p) for p in parts]
        swap = rng.random(B) < min(1.0, 0.04 * level)
        det[np.ix_(swap, r + l_)] = det[np.ix_(swap, l_ + r)]
    return _finish(det, conf, mode, vertices.dtype)


def _swap_limbs(det, rng, rates: dict) -> None:
    B = det.shape[0]
    for limb, parts in _LIMBS.items():                                           # single-limb left/right swaps
        r = [OPENPOSE_NAMES.index("R" + p) for p in parts]
        l_ = [OPENPOSE_NAMES.index("L" + p) for p in parts]
        swap = rng.random(B) < min(1.0, rates[limb])
        det[np.ix_(swap, r + l_)] = det[np.ix_(swap, l_ + r)]


def _structured(kp, s, seen, rng, level: float, st: ErrorStructure):
    """Detections with a measured :class:`ErrorStructure`: per-keypoint jitter (x the hidden factor where the
    keypoint is hidden), outliers, limb swaps, per-keypoint misses, and confidences independent of the error."""
    B, J = kp.shape[:2]
    sigma = np.asarray(st.jitter)[None, :] * level * s * (1.0 + (st.hidden_jitter - 1.0) * (1.0 - seen))
    det = kp + rng.normal(size=kp.shape) * sigma[..., None]
    out = rng.random((B, J)) < min(1.0, st.outlier * level)
    det[out] = kp[out] + (rng.random((int(out.sum()), 2)) - 0.5) * np.repeat(s, J, 1)[out][:, None]
    _swap_limbs(det, rng, {"arm": st.swap_arm * level, "leg": st.swap_leg * level})
    conf = rng.uniform(*st.confidence, size=(B, J))
    conf[rng.random((B, J)) < np.asarray(st.miss)[None, :]] = 0.0
    return det, conf


def _finish(det, conf, mode: str, dtype):
    if mode == "coco18":
        conf[:, [OPENPOSE_NAMES.index(n) for n in COCO18_MISSING]] = 0.0
        conf[(conf > 0).sum(1) < 6] = 0.0
    return torch.as_tensor(det, dtype=dtype), torch.as_tensor(conf, dtype=dtype)


# --------------------------------------------------------------------------- DensePose

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


#: SMPL parts (joint order) of the limbs a DensePose-like detector confuses left for right, as whole limbs
_DP_LIMBS = {"legs": ((1, 4, 7, 10), (2, 5, 8, 11)), "arms": ((16, 18, 20, 22), (17, 19, 21, 23))}


_MIRROR_CACHE: dict = {}


def _mirror_faces(body) -> tuple[np.ndarray, np.ndarray]:
    """For every face f: the face of the left/right mirrored surface and the order of its corners, so that corner k
    of f maps to corner ``perm[f, k]`` of ``mirror_face[f]`` (-1 where the mesh has no mirrored face). Computed
    once per body model (a Python loop over the faces)."""
    key = (id(body), body.name, int(body.faces.shape[0]))
    if key not in _MIRROR_CACHE:
        _MIRROR_CACHE[key] = _mirror_faces_uncached(body)
    return _MIRROR_CACHE[key]


def _mirror_faces_uncached(body) -> tuple[np.ndarray, np.ndarray]:
    faces = body.faces.cpu().numpy()
    mirror = body.mirror.cpu().numpy() if hasattr(body, "mirror") else None
    if mirror is None:
        return np.full(len(faces), -1), np.zeros((len(faces), 3), dtype=np.int64)
    where = {frozenset(f.tolist()): i for i, f in enumerate(faces)}
    mf = np.full(len(faces), -1)
    perm = np.zeros((len(faces), 3), dtype=np.int64)
    for i, f in enumerate(faces):
        m = mirror[f]
        j = where.get(frozenset(m.tolist()), -1)
        if j >= 0:
            mf[i] = j
            perm[i] = [int(np.nonzero(faces[j] == v)[0][0]) for v in m]
    return mf, perm


def simulate_densepose(views, size, stride: int = 2, generator=None, level: float | None = None,
                       noise: float = 0.04, outliers: float = 0.05, max_points: int = 4000, body=None,
                       limb_swaps: float = 0.15) -> dict:
    """DensePose-like correspondences: as :func:`gt_densepose`, but each pixel is matched to the surface point
    seen at a pixel displaced by ``N(0, level * noise * size)`` (clamped to the person; a displaced pixel off the
    body keeps its own point), and a fraction ``level * outliers`` to the point of a random body pixel. With
    ``body``, a frame's legs (and, independently, its arms) are also confused left for right with probability
    ``level * limb_swaps``: every correspondence on them goes to the mirrored limb's surface, the error real
    DensePose makes at the boundaries between parts. ``level``: the noise level (default
    :data:`DENSEPOSE_LEVEL`, calibrated on the paper's Table 1)."""
    rng = _rng(generator)
    level = DENSEPOSE_LEVEL if level is None else float(level)
    if level < 0:
        raise ValueError(f"the noise level must be >= 0, got {level}")
    noise, outliers, p_swap = noise * level, min(1.0, outliers * level), min(1.0, limb_swaps * level)
    dp = gt_densepose(views, stride, rng, max_points)
    fi, bary = views["face_index"], views["bary"]
    B, H, W = fi.shape
    swap = rng.random((B, len(_DP_LIMBS))) < p_swap if body is not None else np.zeros((B, len(_DP_LIMBS)), bool)
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
        if swap[b].any():
            mf, perm = _mirror_faces(body)
            part = body.part_labels.cpu().numpy()[body.faces.cpu().numpy()[:, 0]]           # part of each face
            limbs = [p for k, (left, right) in enumerate(_DP_LIMBS.values()) if swap[b, k] for p in left + right]
            f_now = dp["face_index"][b, :n].numpy()
            hit = np.isin(part[f_now], limbs) & (mf[f_now] >= 0)
            k = np.nonzero(hit)[0]
            old_bary = dp["bary"][b, k].clone()
            dp["face_index"][b, k] = torch.as_tensor(mf[f_now[k]])
            new_bary = torch.zeros_like(old_bary)
            new_bary.scatter_(1, torch.as_tensor(perm[f_now[k]]), old_bary)                    # corner k -> perm
            dp["bary"][b, k] = new_bary
    return dp
