"""SMPLify refinement (§3.2 Eq. 4 and Eq. 7; §4.1's modified SMPLify), batched over frames.

The fit minimises ``λ_2D L_2D + λ_θ L_θ + λ_β L_β (+ λ_α L_α)`` (Eq. 4) over the body pose, shape, global
orientation and translation, in the *full* image with the camera ``f = √(w² + h²)`` (§4.1), in two stages:

1. ``camera``: global orientation and translation only (the torso's placement),
2. ``body``: everything.

Data terms (:class:`DataTerm`): :class:`DenseTerm` (Eq. 7, the paper's: Geman-McClure over the visible
vertices' 2D targets of Eq. 6), :class:`KeypointTerm` (OpenPose BODY_25 with confidences) and
:class:`DensePoseTerm` (pixel -> body-surface correspondences). Reprojection residuals are scaled by the
person's size (measured in a 224-pixel crop, as SPIN's fit sees a person) and weighted as in §4.1
(:data:`DATA_WEIGHTS`: 5.0 OpenPose, 0.4 ours, 0.002 DensePose with GMM/VPoser; 0.04 ours with the cNF).

Priors (:func:`load_prior`): :class:`GMMPrior` (SMPLify's mixture, from ``gmm_08.pkl`` by path, or the open
mixture fitted to the kit's pose sampler), and the latent priors of :mod:`dispkit.priors` (VPoser, the
conditional flow "cNF"), for which the body stage optimises the latent code with ``||z||²`` instead of the
pose; the shape regulariser ``||β||²`` and the bending term ``Σ exp(θ_i)`` of elbows and knees (off by default,
as in the paper's modified SMPLify). The camera-depth term of SPIN's implementation is left
out, as the paper does.

Frames are independent (Adam updates each parameter element on its own, and every frame's loss depends only
on its parameters): a batch of B frames gives the B fits one would get one by one. A frame without usable
data (no visible vertex, no confident keypoint) is returned unchanged and flagged; a frame whose loss turns
non-finite is stopped at its last finite parameters, flagged, and its message recorded.
"""
from __future__ import annotations

import json
import math
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from dispkit.body import OPENPOSE_NAMES, BodyModel, BodyOutput
from dispkit.camera import Camera

__all__ = ["DATA_WEIGHTS", "PARAM_NAMES", "DataTerm", "DensePoseTerm", "DenseTerm", "FitConfig", "FitResult",
           "GMMPrior", "KeypointTerm", "bending_term", "gmof", "load_prior", "predicted_dense_term",
           "read_openpose_json", "refine", "refine_sequence", "smplify"]

PARAM_NAMES = ("global_orient", "body_pose", "betas", "transl")
PRIOR_DIR = Path(__file__).resolve().parent / "assets" / "priors"
GMM_HELP = ("SMPLify's gmm_08.pkl comes with SMPLify (https://smplify.is.tue.mpg.de, code download) or SPIN's data "
            "(fetch_data.sh); pass its path as prior='gmm:/path/to/gmm_08.pkl'. Without it, the open mixture "
            "shipped with dispkit (prior='gmm') is used.")
REFERENCE_SIZE = 224.0  # residuals are measured as if the person filled a 224-pixel crop (SPIN's fitting size)


#: §4.1's multipliers of the reprojection terms, per data term and pose prior (the paper raises none for OpenPose
#: with the cNF: "we only adjust the weight of the reprojection term" for the dense and DensePose terms)
DATA_WEIGHTS = {
    "keypoints": {"gmm": 5.0, "vposer": 5.0, "cnf": 5.0},
    "dense": {"gmm": 0.4, "vposer": 0.4, "cnf": 0.04},
    "densepose": {"gmm": 0.002, "vposer": 0.002, "cnf": 0.002},
}


def gmof(residual: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman-McClure robust error ``ρ(r) = σ² r² / (σ² + r²)``, elementwise (SMPLify's ``gmof``)."""
    r2 = residual ** 2
    return sigma ** 2 * r2 / (sigma ** 2 + r2)


def _size_scale(size, B: int, device, dtype) -> torch.Tensor:
    """Factor turning full-image pixels into pixels of a 224-pixel person crop, per frame [B]."""
    if size is None:
        return torch.ones(B, device=device, dtype=dtype)
    size = torch.as_tensor(size, device=device, dtype=dtype).reshape(-1).expand(B)
    if not bool((size > 0).all()):
        raise ValueError("person sizes must be positive (pixels, e.g. the box side)")
    return REFERENCE_SIZE / size


# --------------------------------------------------------------------------- data terms

class DataTerm:
    """A reprojection term: ``loss(out, cam) -> [B]``, ``valid -> [B] bool`` (frames it can constrain).

    ``camera_loss`` is what the camera stage minimises (by default the same loss).
    """

    weight: float = 1.0
    valid: torch.Tensor

    def loss(self, out: BodyOutput, cam: Camera) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def camera_loss(self, out: BodyOutput, cam: Camera) -> torch.Tensor:
        return self.loss(out, cam)


class DenseTerm(DataTerm):
    """Eq. 7: ``L_2D = Σ_i w_i ρ(π(M(θ, β))_i − V_est,i)`` over the mesh vertices.

    ``targets`` [B,V,2] full-image pixels (Eq. 6's ``V_est``), ``visible`` [B,V] the ``w_i`` (Eq. 5's
    visibility), ``size`` [B] the person's size in pixels (e.g. the box side) for the scale, ``weight`` the
    §4.1 multiplier (0.4 with GMM/VPoser, 0.04 with cNF), ``sigma`` the Geman-McClure scale (in 224-crop
    pixels, SMPLify's 100).
    """

    def __init__(self, targets, visible, size=None, weight: float = 0.4, sigma: float = 100.0):
        targets = torch.as_tensor(targets)
        visible = torch.as_tensor(visible, device=targets.device).bool()
        if targets.ndim != 3 or targets.shape[-1] != 2 or visible.shape != targets.shape[:2]:
            raise ValueError(f"targets must be [B,V,2] and visible [B,V], got {tuple(targets.shape)} and "
                             f"{tuple(visible.shape)}")
        finite = torch.isfinite(targets).all(-1)
        self.targets = torch.where(finite[..., None], targets, torch.zeros_like(targets))
        self.visible = visible & finite
        self.valid = self.visible.any(1)
        self.scale = _size_scale(size, targets.shape[0], targets.device, targets.dtype)
        self.weight, self.sigma = float(weight), float(sigma)

    def loss(self, out: BodyOutput, cam: Camera) -> torch.Tensor:
        # invisible vertices are replaced by the (detached) body centre before projecting: a vertex behind the
        # camera must not send inf * 0 = NaN gradients through the masked sum
        v = out.vertices
        v = torch.where(self.visible[..., None], v, v.detach().mean(1, keepdim=True))
        proj = cam.project(v)
        r = (proj - self.targets.to(proj.dtype)) * self.scale.to(proj.dtype)[:, None, None]
        rho = gmof(r, self.sigma).sum(-1)
        return self.weight * torch.where(self.visible, rho, torch.zeros_like(rho)).sum(1)  # w_i (NaN-safe)


    @classmethod
    def from_field(cls, field, face_index, bary, faces, init_vertices, cam: Camera, size=None, scale=None,
                   **kw) -> DenseTerm:
        """The dense term from a per-pixel field (predicted or GT) and the renderings of the initial mesh.

        Eq. 5 (:func:`dispkit.displacement.pixels_to_vertices`) turns the field [B,H,W,2] into per-vertex
        displacements and the visibility ``w_i``; Eq. 6 (:func:`~dispkit.displacement.vertex_targets`) adds the
        projection of ``init_vertices`` by ``cam`` (the full-image camera). When the field lives in a crop,
        ``scale`` [B] is crop pixels per full-image pixel: displacements are divided by it first.
        """
        from dispkit.displacement import pixels_to_vertices, vertex_targets

        v, visible = pixels_to_vertices(field, face_index, bary, faces, init_vertices.shape[1])
        if scale is not None:
            v = v / torch.as_tensor(scale, dtype=v.dtype, device=v.device).reshape(-1, 1, 1)
        return cls(vertex_targets(v, init_vertices, cam), visible, size=size, **kw)


class DensePoseTerm(DataTerm):
    """DensePose-style correspondences: image pixels ``x_n`` [B,N,2] matched to body-surface points (triangle
    ``face_index`` [B,N] of ``faces``, barycentrics ``bary`` [B,N,3]); ``Σ_n ρ(π(Σ_k b_nk v_{f_n,k}) − x_n)``.

    ``valid`` [B,N] marks real correspondences (default: ``face_index >= 0``); ``weight`` 0.002 as §4.1 (DensePose
    gives a point per pixel, hence the small weight).
    """

    def __init__(self, pixels, face_index, bary, faces, valid=None, size=None, weight: float = 0.002,
                 sigma: float = 100.0):
        pixels = torch.as_tensor(pixels)
        face_index = torch.as_tensor(face_index, device=pixels.device).long()
        bary = torch.as_tensor(bary, device=pixels.device, dtype=pixels.dtype)
        if pixels.ndim != 3 or pixels.shape[-1] != 2 or face_index.shape != pixels.shape[:2] or \
                bary.shape != (*pixels.shape[:2], 3):
            raise ValueError(f"pixels [B,N,2], face_index [B,N] and bary [B,N,3] expected, got "
                             f"{tuple(pixels.shape)}, {tuple(face_index.shape)}, {tuple(bary.shape)}")
        faces = torch.as_tensor(faces, device=pixels.device).long()
        ok = (face_index >= 0) & (face_index < faces.shape[0]) & torch.isfinite(pixels).all(-1)
        ok &= torch.isfinite(bary).all(-1)
        if valid is not None:
            ok &= torch.as_tensor(valid, device=pixels.device).bool()
        self.pixels = torch.where(ok[..., None], pixels, torch.zeros_like(pixels))
        self.corners = faces[face_index.clamp(min=0, max=faces.shape[0] - 1)]  # [B,N,3] vertex ids
        # padding entries point at a real surface point (vertex 0 of face 0) so that projections stay finite
        self.bary = torch.where(ok[..., None], bary, torch.tensor([1.0, 0.0, 0.0], dtype=bary.dtype,
                                                                   device=bary.device))
        self.ok = ok
        self.valid = ok.any(1)
        self.scale = _size_scale(size, pixels.shape[0], pixels.device, pixels.dtype)
        self.weight, self.sigma = float(weight), float(sigma)

    def loss(self, out, cam):
        v = out.vertices
        B, N = self.corners.shape[:2]
        corners = torch.gather(v, 1, self.corners.reshape(B, N * 3, 1).expand(-1, -1, 3)).reshape(B, N, 3, 3)
        points = (corners * self.bary.to(v.dtype)[..., None]).sum(2)
        r = (cam.project(points) - self.pixels.to(v.dtype)) * self.scale.to(v.dtype)[:, None, None]
        rho = gmof(r, self.sigma).sum(-1)
        return self.weight * torch.where(self.ok, rho, torch.zeros_like(rho)).sum(1)


# SPIN places the camera with the torso joints; neck and hips are ignored in its body stage (their definitions
# differ between OpenPose and SMPL). ``ignore`` makes that choice explicit.
TORSO = ("RShoulder", "LShoulder", "RHip", "LHip")
HIPS = ("MidHip", "RHip", "LHip")


class KeypointTerm(DataTerm):
    """OpenPose BODY_25 keypoints: ``Σ_j c_j² ρ(π(J_j) − x_j)`` (SMPLify's term), scaled by the person's size.

    ``keypoints`` [B,25,2] full-image pixels, ``confidence`` [B,25] in [0,1] (0 = missing), ``weight`` 5.0 as
    §4.1, ``ignore`` joint names left out of the body stage (default: the hips, whose OpenPose and SMPL
    definitions differ), ``min_confidence`` below which a keypoint counts as missing.
    """

    def __init__(self, keypoints, confidence=None, size=None, weight: float = 5.0, sigma: float = 100.0,
                 ignore=HIPS, min_confidence: float = 0.1):
        kp = torch.as_tensor(keypoints)
        if kp.ndim != 3 or kp.shape[1:] != (25, 2):
            raise ValueError(f"keypoints must be [B,25,2] (BODY_25 order), got {tuple(kp.shape)}")
        conf = torch.ones(kp.shape[:2], dtype=kp.dtype) if confidence is None else torch.as_tensor(confidence)
        conf = conf.to(device=kp.device, dtype=kp.dtype)
        if conf.shape != kp.shape[:2]:
            raise ValueError(f"confidence must be [B,25], got {tuple(conf.shape)}")
        finite = torch.isfinite(kp).all(-1) & torch.isfinite(conf)
        conf = torch.where(finite & (conf >= min_confidence), conf, torch.zeros_like(conf))
        self.keypoints = torch.where(finite[..., None], kp, torch.zeros_like(kp))
        bad = set(ignore) - set(OPENPOSE_NAMES)
        if bad:
            raise ValueError(f"unknown BODY_25 joints {sorted(bad)}; names are {OPENPOSE_NAMES}")
        keep = torch.tensor([n not in set(ignore) for n in OPENPOSE_NAMES], device=kp.device)
        torso = torch.tensor([n in TORSO for n in OPENPOSE_NAMES], device=kp.device)
        self.confidence = conf * keep
        self.torso_confidence = conf * torso
        self.valid = (self.confidence > 0).any(1)
        self.scale = _size_scale(size, kp.shape[0], kp.device, kp.dtype)
        self.weight, self.sigma = float(weight), float(sigma)

    def _term(self, out, cam, conf):
        proj = cam.project(out.openpose)
        r = (proj - self.keypoints.to(proj.dtype)) * self.scale.to(proj.dtype)[:, None, None]
        rho = conf ** 2 * gmof(r, self.sigma).sum(-1)
        return self.weight * torch.where(conf > 0, rho, torch.zeros_like(rho)).sum(1)

    def loss(self, out, cam):
        return self._term(out, cam, self.confidence)

    def camera_loss(self, out, cam):
        # the torso joints when they were detected, else every confident joint
        has_torso = (self.torso_confidence > 0).any(1, keepdim=True)
        return self._term(out, cam, torch.where(has_torso, self.torso_confidence, self.confidence))


def read_openpose_json(path, person: int | str = "largest") -> tuple[torch.Tensor, torch.Tensor]:
    """Read one person's BODY_25 keypoints from an OpenPose ``*_keypoints.json``: ``([25,2], [25])``.

    ``person``: an index into ``people`` or ``"largest"`` (the widest confident extent). A file without
    people gives zero confidences (the fit then leaves the frame unchanged).
    """
    data = json.loads(Path(path).read_text())
    people = data.get("people", [])
    if not people:
        return torch.zeros(25, 2), torch.zeros(25)
    arrs = [np.asarray(p["pose_keypoints_2d"], dtype=np.float32).reshape(-1, 3) for p in people]
    if any(a.shape[0] != 25 for a in arrs):
        raise ValueError(f"{path}: expected BODY_25 keypoints (25 per person), got {[a.shape[0] for a in arrs]}")
    if person == "largest":
        def extent(a):
            ok = a[:, 2] > 0.1
            return float(np.ptp(a[ok, :2], axis=0).max()) if ok.sum() > 1 else 0.0
        person = int(np.argmax([extent(a) for a in arrs]))
    a = arrs[int(person)]
    return torch.from_numpy(a[:, :2].copy()), torch.from_numpy(a[:, 2].copy())


# --------------------------------------------------------------------------- priors

class GMMPrior(torch.nn.Module):
    """SMPLify's Gaussian-mixture pose prior over ``body_pose`` [B,69]: the negative log-likelihood of the
    best component, ``min_k ½ (θ − μ_k)ᵀ Σ_k⁻¹ (θ − μ_k) − log(w_k / √|Σ_k| · const)`` (SMPLify's
    "max-mixture" approximation)."""

    def __init__(self, means, covars, weights, name: str = "gmm"):
        super().__init__()
        means = torch.as_tensor(np.asarray(means), dtype=torch.float64)
        covars = torch.as_tensor(np.asarray(covars), dtype=torch.float64)
        weights = torch.as_tensor(np.asarray(weights), dtype=torch.float64).reshape(-1)
        K, D = means.shape
        if covars.shape != (K, D, D) or weights.shape != (K,):
            raise ValueError(f"GMM shapes disagree: means {tuple(means.shape)}, covars {tuple(covars.shape)}, "
                             f"weights {tuple(weights.shape)}")
        if D != 69:
            raise ValueError(f"the GMM pose prior models body_pose (69 values), got dimension {D}")
        _, logdet = torch.linalg.slogdet(covars)
        # SMPLify's weighting: w_k / (const * sqrt|Σ_k|), normalised by the smallest determinant for stability
        nll_w = torch.log(weights) - 0.5 * (logdet - logdet.min()) - 0.5 * D * math.log(2 * math.pi)
        self.register_buffer("means", means.float())
        self.register_buffer("precisions", torch.linalg.inv(covars).float())
        self.register_buffer("log_weights", nll_w.float())
        self.name = name

    def forward(self, body_pose: torch.Tensor, betas: torch.Tensor | None = None) -> torch.Tensor:
        d = body_pose[:, None, :] - self.means.to(body_pose.dtype)  # [B,K,69]
        m = torch.einsum("bki,kij,bkj->bk", d, self.precisions.to(d.dtype), d)
        return (0.5 * m - self.log_weights.to(d.dtype)).min(1).values

    @classmethod
    def from_file(cls, path) -> GMMPrior:
        """``gmm_08.pkl`` (SMPLify's format: ``means``, ``covars``, ``weights``) or an ``.npz`` with those keys."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no GMM prior at {path}. {GMM_HELP}")
        if path.suffix == ".npz":
            d = dict(np.load(path))
        else:
            with path.open("rb") as f:
                d = pickle.load(f, encoding="latin1")
        missing = {"means", "covars", "weights"} - set(d)
        if missing:
            raise ValueError(f"{path} is not a GMM prior file: missing {sorted(missing)}")
        return cls(d["means"], d["covars"], d["weights"], name=f"gmm:{path.name}")


def load_prior(prior="gmm") -> torch.nn.Module:
    """A pose prior by name.

    ``"gmm"`` (the open mixture shipped with dispkit) or ``"gmm:PATH"`` (SMPLify's ``gmm_08.pkl``);
    ``"vposer"`` (dispkit's open VPoser) or ``"vposer:PATH"`` (human_body_prior's V02 folder);
    ``"cnf"`` (dispkit's conditional flow) or ``"cnf:PATH"``; or a module given as is: ``prior(body_pose, betas)
    -> [B]``, or a latent prior with ``latent_init(init)`` and ``pose_from_latent(z, init)``.
    """
    if not isinstance(prior, str):
        return prior
    from dispkit.priors import ConditionalFlowPrior, VPoser

    name, _, path = prior.partition(":")
    path = os.path.expanduser(path) if path else None
    if name == "gmm":
        if path is None:
            path = PRIOR_DIR / "gmm_open.npz"
            if not path.is_file():
                raise FileNotFoundError(f"the open GMM is missing from this installation ({path}); rebuild it with "
                                        "`python data_scripts/fit_open_gmm.py`")
        return GMMPrior.from_file(path)
    if name == "vposer":
        return VPoser.load(path)
    if name == "cnf":
        return ConditionalFlowPrior.load(path)
    raise ValueError(f"unknown prior {prior!r}: use 'gmm', 'vposer', 'cnf' (each optionally ':PATH') or a module")


# elbows and knees in body_pose (axis-angle, 23 joints x 3): SMPLify's bending term, with its signs
_BEND_INDEX = (55 - 3, 58 - 3, 12 - 3, 15 - 3)
_BEND_SIGN = (1.0, -1.0, -1.0, -1.0)


def bending_term(body_pose: torch.Tensor) -> torch.Tensor:
    """``L_α = Σ_{elbows, knees} exp(θ_i)²`` (SMPLify's bending term on unnatural bends) [B]."""
    sign = torch.tensor(_BEND_SIGN, dtype=body_pose.dtype, device=body_pose.device)
    return torch.exp(body_pose[:, list(_BEND_INDEX)] * sign).pow(2).sum(-1)


# --------------------------------------------------------------------------- the fit

@dataclass
class FitConfig:
    """Stages and weights of the fit. Prior weights are SMPLify's (SPIN's defaults, squared)."""

    camera_iters: int = 30
    body_iters: int = 100
    optimizer: str = "adam"         # "adam" (frames independent) or "lbfgs" (one line search for the batch)
    lr_camera: float = 0.01
    lr_body: float = 0.01
    pose_prior_weight: float = 4.78 ** 2
    shape_weight: float = 5.0 ** 2
    bending_weight: float = 0.0     # SMPLify: 15.2 ** 2; off in the paper's modified version
    latent_weight: float = 4.78 ** 2  # ||z||² of a latent prior (VPoser, cNF)
    lr_latent: float = 0.05         # Adam's step for a latent code (a unit of z moves the pose far less than 1 rad)
    track_every: int = 1            # record the losses every N iterations


@dataclass
class FitResult:
    """Refined parameters (each [B,...]), the posed body, per-stage loss curves and per-frame flags."""

    params: dict
    vertices: torch.Tensor
    joints: torch.Tensor
    losses: dict = field(default_factory=dict)    # stage -> [iterations, B] total loss per frame
    fitted: torch.Tensor | None = None            # [B] bool: the frame was optimised to the end
    messages: list = field(default_factory=list)  # one string per frame ("" when fine)
    seconds: float = 0.0
    inputs: dict = field(default_factory=dict)    # what the data came from (refine: crops, views, field, box)


def _is_latent(prior) -> bool:
    return prior is not None and hasattr(prior, "pose_from_latent") and hasattr(prior, "latent_init")


def _total(body, params, cam, data, prior, cfg: FitConfig, stage: str, init=None):
    params = dict(params)
    z = params.pop("latent", None)
    if z is not None:  # a latent prior: the body pose is decoded from z
        params["body_pose"] = prior.pose_from_latent(z, init)
    out = body(**params)
    if stage == "camera":
        loss = data.camera_loss(out, cam)
    else:
        loss = data.loss(out, cam)
        loss = loss + cfg.shape_weight * params["betas"].pow(2).sum(-1)
        if z is not None:
            loss = loss + cfg.latent_weight * z.pow(2).sum(-1)
        elif prior is not None and cfg.pose_prior_weight:
            loss = loss + cfg.pose_prior_weight * prior(params["body_pose"], params["betas"])
        if cfg.bending_weight:
            loss = loss + cfg.bending_weight * bending_term(params["body_pose"])
    return loss


def _step(opt, opt_params, body, leaves, cam, data, prior, cfg, stage, active, init=None) -> torch.Tensor:
    """One optimiser step on the active frames; returns the per-frame losses [B] it evaluated (first call)."""
    seen = []

    def closure():
        opt.zero_grad()
        per_frame = _total(body, leaves, cam, data, prior, cfg, stage, init)
        per_frame = torch.where(active, per_frame, torch.zeros_like(per_frame))
        seen.append(per_frame.detach())
        total = per_frame[torch.isfinite(per_frame)].sum()
        total.backward()
        for p in opt_params:  # frames that stopped or never started receive no update
            if p.grad is not None:
                p.grad[~active] = 0
                p.grad[~torch.isfinite(p.grad).all(-1)] = 0
        return total

    opt.step(closure)
    return seen[0]


def smplify(body: BodyModel, init: dict, cam: Camera, data: DataTerm, prior="gmm",
            config: FitConfig | None = None, progress: bool = False) -> FitResult:
    """Fit the body to ``data`` starting from ``init`` (a dict of ``global_orient [B,3]``, ``body_pose [B,69]``,
    ``betas [B,10]``, ``transl [B,3]``) seen by ``cam`` (full image, f = √(w²+h²); batch 1 or B).

    Eq. 4 in two stages (camera: global orientation and translation; body: all parameters). ``prior``: see
    :func:`load_prior` (``None`` for no pose prior). Returns a :class:`FitResult`.
    """
    import time

    from tqdm.auto import tqdm

    cfg = config or FitConfig()
    t0 = time.perf_counter()
    missing = [k for k in PARAM_NAMES if k not in init]
    if missing:
        raise ValueError(f"init is missing {missing}; it needs {PARAM_NAMES}")
    params = {k: torch.as_tensor(init[k], dtype=body.dtype, device=body.device).detach().clone() for k in PARAM_NAMES}
    B = params["body_pose"].shape[0]
    for k, v in params.items():
        if v.shape[0] != B:
            raise ValueError(f"init[{k!r}] has batch {v.shape[0]}, body_pose has {B}")
        if not torch.isfinite(v).all():
            raise ValueError(f"init[{k!r}] contains non-finite values")
    if cam.batch_size not in (1, B):
        raise ValueError(f"the camera has batch {cam.batch_size}, the parameters {B}")
    if data.valid.shape[0] != B:
        raise ValueError(f"the data term holds {data.valid.shape[0]} frames, the parameters {B}")
    pose_prior = load_prior(prior) if prior is not None else None
    if pose_prior is not None and isinstance(pose_prior, torch.nn.Module):
        pose_prior = pose_prior.to(body.device)
    if cfg.optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {cfg.optimizer!r}")

    active = data.valid.to(body.device).clone()     # frames being optimised
    messages = ["" if bool(v) else "no usable data (no visible vertex / confident keypoint): left unchanged"
                for v in data.valid]
    latent = _is_latent(pose_prior)
    init_params = {k: v.clone() for k, v in params.items()}
    if latent:
        pose_prior.eval()
        for p in pose_prior.parameters():
            p.requires_grad_(False)
    last_good = {k: v.clone() for k, v in params.items()}
    losses = {}
    body_names = ("global_orient", "betas", "transl", "latent") if latent else PARAM_NAMES
    stages = [("camera", ("global_orient", "transl"), cfg.camera_iters, cfg.lr_camera),
              ("body", body_names, cfg.body_iters, cfg.lr_body)]
    for stage, names, iters, lr in stages:
        if iters <= 0 or not bool(active.any()):
            continue
        if "latent" in names:  # start the latent at the code of the current pose (frames keep theirs)
            last_good["latent"] = pose_prior.latent_init(dict(params)).to(body.dtype)
        decoded = {"body_pose"} if "latent" in names else set()  # the pose comes from the latent code
        leaves = {k: last_good[k].clone().requires_grad_(k in names) for k in last_good if k not in decoded}
        opt_params = [leaves[k] for k in names]
        if cfg.optimizer == "adam":
            opt = torch.optim.Adam([{"params": [leaves[k]], "lr": cfg.lr_latent if k == "latent" else lr}
                                    for k in names])
        else:
            opt = torch.optim.LBFGS(opt_params, lr=1.0, max_iter=20, line_search_fn="strong_wolfe")
        curve = []
        for it in tqdm(range(iters), desc=f"SMPLify {stage}", disable=not progress, leave=False):
            per_frame = _step(opt, opt_params, body, leaves, cam, data, pose_prior, cfg, stage, active,
                              init_params)
            bad = active & ~torch.isfinite(per_frame)
            with torch.no_grad():
                for v in leaves.values():
                    bad = bad | (active & ~torch.isfinite(v).all(-1))
                for b in torch.nonzero(bad).flatten().tolist():
                    messages[b] = f"non-finite loss in the {stage} stage at iteration {it}: stopped there"
                active &= ~bad
                for k, v in leaves.items():  # stopped / inactive frames keep their last finite parameters
                    v.data[~active] = last_good[k][~active]
                    last_good[k][active] = v.data[active]
            if it % cfg.track_every == 0 or it == iters - 1:
                curve.append(per_frame.cpu())
        losses[stage] = torch.stack(curve) if curve else torch.zeros(0, B)
        if "latent" in last_good:
            with torch.no_grad():
                pose = pose_prior.pose_from_latent(last_good.pop("latent"), init_params)
            # frames that never ran (no data) keep their initial pose exactly
            last_good["body_pose"] = torch.where(data.valid.to(pose.device)[:, None], pose, last_good["body_pose"])
        params = {k: last_good[k].clone() for k in PARAM_NAMES}
    with torch.no_grad():
        out = body(**params)
    fitted = active & data.valid.to(active.device)
    return FitResult(params=params, vertices=out.vertices, joints=out.joints, losses=losses, fitted=fitted,
                     messages=messages, seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------- the whole method

def predicted_dense_term(image, init_vertices, cam: Camera, texture, body: BodyModel, net, box=None,
                         weight: float = 0.4, sigma: float = 100.0) -> tuple[DenseTerm, dict]:
    """§3.1 + Eq. 5-6 for full images: crop the person around the initial estimate, render it there with the
    person's texture, predict the per-pixel field, and turn it into the dense term (in full-image pixels).

    ``image`` [B,H,W,3] in [0,1]; ``init_vertices`` [B,V,3]; ``texture`` [S,S,3] or [B,S,S,3];
    ``net`` a :class:`dispkit.net.DisplacementNet` or a name for :func:`dispkit.net.load_pretrained`;
    ``box`` [B,4] (default: 1.25 x the projected initial mesh, square). Returns ``(term, extras)`` with the
    crops, renderings, predicted field and box for inspection.
    """
    from dispkit import net as netmod
    from dispkit.camera import box_from_points, crop_image
    from dispkit.render import render

    model = netmod.load_pretrained(net) if isinstance(net, str) else net
    S = model.config.crop
    image = torch.as_tensor(image)
    if image.ndim != 4 or image.shape[-1] != 3:
        raise ValueError(f"image must be [B,H,W,3], got {tuple(image.shape)}")
    with torch.no_grad():
        if box is None:
            box = box_from_points(cam.project(init_vertices), scale=1.25)
        crops = crop_image(image.permute(0, 3, 1, 2).float(), box, (S, S))
        views = render(init_vertices, body, cam, texture=texture, box=box, size=(S, S))
        field = model.predict(crops, views)
        person = box_from_points(cam.project(init_vertices), scale=1.0)  # the person's extent, whatever the box
    side = (box[:, 2] - box[:, 0]).to(field.dtype)
    term = DenseTerm.from_field(field, views["face_index"], views["bary"], body.faces, init_vertices, cam,
                                size=(person[:, 2] - person[:, 0]).to(field.dtype), scale=S / side, weight=weight,
                                sigma=sigma)
    return term, {"crops": crops, "views": views, "field": field, "box": box}


def refine(image, init: dict, cam: Camera, texture, net="cpu", prior="gmm", body: BodyModel | None = None,
           config: FitConfig | None = None, progress: bool = False) -> FitResult:
    """The whole method in one call: predict the dense displacements of the initial estimate ``init`` in
    ``image`` (§3.1), convert them to 2D vertex targets (Eq. 5, Eq. 6) and refine with SMPLify and the dense
    term (Eq. 4, Eq. 7). ``image`` [B,H,W,3] (or [H,W,3]) full images, ``cam`` their full-image camera."""
    from dispkit.body import load_body_model

    body = body if body is not None else load_body_model("open")
    image = torch.as_tensor(image)
    image = image[None] if image.ndim == 3 else image
    with torch.no_grad():
        init_vertices = body(**{k: init[k] for k in PARAM_NAMES}).vertices
    term, extras = predicted_dense_term(image, init_vertices, cam, texture, body, net)
    result = smplify(body, init, cam, term, prior=prior, config=config, progress=progress)
    result.inputs = extras
    return result


def refine_sequence(images, init: dict, cam: Camera, net="cpu", prior="gmm", body: BodyModel | None = None,
                    config: FitConfig | None = None, texture_frames: int = 8, texture_size: int = 256,
                    batch: int = 8, progress: bool = True) -> FitResult:
    """:func:`refine` over a sequence of one person, the way the paper runs on video (§4): first the person's
    texture is back-projected (:func:`dispkit.texture.estimate_texture`) from ``texture_frames`` evenly spaced
    frames with the *initial* meshes (the GT is unknown at test time), then every frame is refined in batches
    of ``batch``. ``images`` [T,H,W,3] in [0,1]; ``init`` params [T,...]; ``cam`` batch 1 or T. Returns one
    :class:`FitResult` over all frames; ``inputs`` holds ``texture`` and ``texture_info``.
    """
    from tqdm.auto import tqdm

    from dispkit.body import load_body_model
    from dispkit.texture import estimate_texture

    body = body if body is not None else load_body_model("open")
    images = torch.as_tensor(images).float()
    T = images.shape[0]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be [T,H,W,3], got {tuple(images.shape)}")
    for k in PARAM_NAMES:
        if init[k].shape[0] != T:
            raise ValueError(f"init[{k!r}] has {init[k].shape[0]} frames, the images {T}")
    cams = cam.expand(T) if cam.batch_size == 1 else cam
    with torch.no_grad():
        verts = body(**{k: init[k] for k in PARAM_NAMES}).vertices
    pick = torch.linspace(0, T - 1, min(int(texture_frames), T)).round().long().unique()
    tex, info = estimate_texture(images[pick], verts[pick], cams.index(pick), body, size=texture_size)
    parts = []
    for c0 in tqdm(range(0, T, batch), desc="refine", disable=not progress):
        idx = torch.arange(c0, min(T, c0 + batch))
        parts.append(refine(images[idx], {k: init[k][idx] for k in PARAM_NAMES}, cams.index(idx),
                            tex, net=net, prior=prior, body=body, config=config))
    out = FitResult(params={k: torch.cat([r.params[k] for r in parts]) for k in parts[0].params},
                    vertices=torch.cat([r.vertices for r in parts]), joints=torch.cat([r.joints for r in parts]),
                    fitted=torch.cat([r.fitted for r in parts]), messages=sum((r.messages for r in parts), []),
                    seconds=sum(r.seconds for r in parts),
                    losses={s: torch.cat([r.losses[s] for r in parts], 1) for s in parts[0].losses})
    out.inputs = {"texture": tex, "texture_info": info, "texture_frames": pick}
    return out
