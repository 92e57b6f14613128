"""SMPLify (§3.2 Eq. 4; §4.1's modified version): the two-stage optimiser, batched over frames.

The fit minimises ``λ_2D L_2D + λ_θ L_θ + λ_β L_β (+ λ_α L_α)`` (Eq. 4) over the body pose, shape, global
orientation and translation, in the *full* image with the camera ``f = √(w² + h²)`` (§4.1), in two stages:

1. ``camera``: global orientation and translation only (the torso's placement),
2. ``body``: everything.

Data terms live in :mod:`dispkit.terms` (:class:`~dispkit.terms.DenseTerm`, Eq. 7, the paper's;
:class:`~dispkit.terms.KeypointTerm`, OpenPose; :class:`~dispkit.terms.DensePoseTerm`), pose priors in
:mod:`dispkit.priors` (GMM; the latent priors VPoser and the cNF, for which the body stage optimises the latent
code with ``||z||²`` instead of the pose). Besides the data term and the pose prior the fit has the shape
regulariser ``||β||²`` and SMPLify's bending term (off by default, as in the paper's modified SMPLify), and SPIN's
camera-depth term (off by default too, as the paper does; on in :data:`FIT_PRESETS` ``"spin_default"``). The
whole method (crop, render, predict, Eq. 5-6, this fit) is :func:`dispkit.pipeline.refine`.

Frames are independent (Adam updates each parameter element on its own, and every frame's loss depends only
on its parameters): a batch of B frames gives the B fits one would get one by one. A frame without usable
data (no visible vertex, no confident keypoint) is returned unchanged and flagged; a frame whose loss turns
non-finite is stopped at its last finite parameters, flagged, and its message recorded.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from dispkit import inputs
from dispkit.body import BodyModel
from dispkit.camera import Camera
from dispkit.priors import load_prior
from dispkit.terms import DataTerm, bending_term

__all__ = ["FIT_PRESETS", "PARAM_NAMES", "FitConfig", "FitResult", "smplify", "upright_start"]

PARAM_NAMES = ("global_orient", "body_pose", "betas", "transl")


@dataclass
class FitConfig:
    """Stages and weights of the fit. Prior weights are SMPLify's (SPIN's defaults, squared).

    The default is the paper's modified SMPLify (§4.1): full image, f = √(w² + h²), no bending and no camera-depth
    term. SPIN keeps the translation fixed in the body stage; with this schedule (30 camera iterations) that was
    measured to cost a lot on the calibration scenes (``benchmarks/results/calibration.json``,
    ``translation_in_body_stage``), so the body stage optimises it too (``transl_in_body``).
    :data:`FIT_PRESETS` ``"spin_default"`` is SPIN's own SMPLify (the paper's "OP*" rows), translation fixed.
    """

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
    transl_in_body: bool = True     # optimise the translation in the body stage too (SPIN keeps it fixed there)
    camera_depth_weight: float = 0.0  # SPIN's camera stage: 100² (t_z - t_z,init)²; off in the paper's version
    focal_length: float | None = None  # SPIN: 5000 px in a 224-pixel person crop; None: the image's own camera
    crop_scale: float = 1.2         # SPIN's crop: 1.2 x the person's extent (with focal_length only)
    subset_lbs: bool = False        # pose only the vertices the data term reads (dispkit.lbs: the same losses to
    #                                 float rounding, several times less arithmetic); False poses the whole mesh


#: named fit settings: the paper's modified SMPLify (the default) and SPIN's default SMPLify, which the paper's
#: Table 1 reports as "+GMM (OP)*": 224-pixel crop with f = 5000, 100 + 100 iterations, the bending term and the
#: camera-depth term on, translation fixed in the body stage (use it with terms.spin_keypoint_term, which ignores
#: the OpenPose joints SPIN ignores and fits the camera to the torso with plain squared errors)
FIT_PRESETS = {
    "paper": FitConfig(),
    "spin_default": FitConfig(camera_iters=100, body_iters=100, bending_weight=15.2 ** 2,
                              camera_depth_weight=100.0 ** 2, focal_length=5000.0, transl_in_body=False),
}


@dataclass
class FitResult:
    """Refined parameters (each [B,...]), the posed body, per-stage loss curves and per-frame flags."""

    params: dict
    vertices: torch.Tensor
    joints: torch.Tensor
    losses: dict = field(default_factory=dict)    # stage -> [tracked iterations + 1, B]: the loss per frame
    #                                               before each tracked step, then the stage's final loss
    fitted: torch.Tensor | None = None            # [B] bool: the frame was optimised to the end
    messages: list = field(default_factory=list)  # one string per frame ("" when fine)
    seconds: float = 0.0
    inputs: dict = field(default_factory=dict)    # what the data came from (refine: crops, views, field, box)


def _fixed_focal_camera(body: BodyModel, params: dict, cam: Camera, cfg: FitConfig):
    """SPIN's camera for the fit: focal ``cfg.focal_length`` in a 224-pixel crop of ``cfg.crop_scale`` x the
    initial person. In full-image pixels that is a pinhole with f' = f_SPIN · side / 224 centred on the crop; the
    camera moves along the pelvis' viewing ray (depth x k = f' / f) so that the initial body projects where it did.
    Returns ``(camera, back, box)``: ``back(params)`` moves a fitted body so that the *given* camera sees it as the
    fit camera did (same pelvis pixel, depth / k); ``box`` [B,4] is SPIN's crop in full-image pixels."""
    from dispkit.camera import person_box

    with torch.no_grad():
        out = body(**params)
        box = person_box(cam, out.vertices, cfg.crop_scale)
        side = (box[:, 2] - box[:, 0]).clamp(min=1.0)
        f_new = (cfg.focal_length * side / 224.0)[:, None].expand(-1, 2).to(cam.dtype)
        c_new = ((box[:, :2] + box[:, 2:]) / 2).to(cam.dtype)
        B = side.shape[0]
        R, t, f, c = (x.expand(B, *x.shape[1:]) for x in (cam.R, cam.t, cam.focal, cam.center))
        k = f_new[:, 0] / f[:, 0]
        q = torch.einsum("bij,bj->bi", R, out.joints[:, 0]) + t                         # camera-space pelvis
        px = f * q[:, :2] / q[:, 2:] + c
        z_new = k * q[:, 2]
        q_new = torch.cat([(px - c_new) * z_new[:, None] / f_new, z_new[:, None]], 1)
        fit_cam = Camera(f_new, c_new, R, t + q_new - q, cam.width, cam.height)

    def back(fitted: dict) -> dict:
        with torch.no_grad():
            pel = body(**fitted).joints[:, 0]
            q2 = torch.einsum("bij,bj->bi", R, pel) + fit_cam.t                         # in the fit camera
            px2 = f_new * q2[:, :2] / q2[:, 2:] + c_new
            z2 = q2[:, 2] / k
            q_orig = torch.cat([(px2 - c) * z2[:, None] / f, z2[:, None]], 1)
            p_orig = torch.einsum("bji,bj->bi", R, q_orig - t)                          # back to world
            return {**fitted, "transl": fitted["transl"] + (p_orig - pel).to(fitted["transl"].dtype)}

    return fit_cam, back, box


def _is_latent(prior) -> bool:
    return prior is not None and hasattr(prior, "pose_from_latent") and hasattr(prior, "latent_init")


def _total(body, params, cam, data, prior, cfg: FitConfig, stage: str, init=None):
    """Eq. 4 per frame [B]: ``λ_2D L_2D + λ_θ L_θ + λ_β L_β (+ λ_α L_α)`` in the body stage; the camera stage's
    data term (plus SPIN's camera-depth term when on). ``body`` is the body model or a :class:`dispkit.lbs.SubsetLBS`
    (then ``data`` is the term restricted to its vertices)."""
    params = dict(params)
    z = params.pop("latent", None)
    if z is not None:  # a latent prior: the body pose is decoded from z
        params["body_pose"] = prior.pose_from_latent(z, init)
    out = body(**params)
    if stage == "camera":
        loss = data.camera_loss(out, cam)
        if cfg.camera_depth_weight and init is not None:
            # SPIN's depth term is on the camera-frame translation: the z row of the camera's rotation
            R = cam.R.to(params["transl"].dtype).expand(params["transl"].shape[0], 3, 3)
            dz = (R[:, 2] * (params["transl"] - init["transl"])).sum(-1)
            loss = loss + cfg.camera_depth_weight * dz ** 2
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
    from tqdm.auto import tqdm

    cfg = config or FitConfig()
    t0 = time.perf_counter()
    # keys, shapes, batch sizes, finiteness of what the user passed (dispkit.inputs: a clear error per mistake)
    params = {k: v.detach().clone() for k, v in inputs.check_params(init, body, name="init").items()}
    B = params["body_pose"].shape[0]
    inputs.check_camera_batch(cam, B)
    inputs.check_data_term(data, B)
    back = None
    crop_relative = bool(getattr(data, "crop_relative", False))
    if cfg.focal_length is not None:  # SPIN's fixed-focal crop camera (FIT_PRESETS["spin_default"])
        if not crop_relative:
            raise ValueError("the spin_default preset fits in SPIN's 224-pixel crop: give it SPIN's keypoint term "
                             "(dispkit.terms.spin_keypoint_term), whose residuals the fit measures in that crop")
        cam, back, box = _fixed_focal_camera(body, params, cam, cfg)
        data = data.in_crop(box)
    elif crop_relative:
        raise ValueError("SPIN's keypoint term measures residuals in SPIN's 224-pixel crop: fit it with "
                         "config=FIT_PRESETS['spin_default'] (or a FitConfig with focal_length set)")
    pose_prior = load_prior(prior) if prior is not None else None
    if pose_prior is not None and isinstance(pose_prior, torch.nn.Module):
        pose_prior = pose_prior.to(body.device)
    if cfg.optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"optimizer must be 'adam' or 'lbfgs', got {cfg.optimizer!r}")

    poser, fit_data = body, data                    # what the iterations pose, and the term on what they pose
    ids = data.vertex_ids() if cfg.subset_lbs else None
    if ids is not None:
        from dispkit.lbs import SubsetLBS

        poser = SubsetLBS(body, ids)
        fit_data = data.restricted(poser)
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
    if not cfg.transl_in_body:
        body_names = tuple(n for n in body_names if n != "transl")
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
            per_frame = _step(opt, opt_params, poser, leaves, cam, fit_data, pose_prior, cfg, stage, active,
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
            if it % cfg.track_every == 0:
                curve.append(per_frame.cpu())
        with torch.no_grad():  # the loss the stage ends with (each entry above is the loss before its step)
            final = _total(poser, leaves, cam, fit_data, pose_prior, cfg, stage, init_params)
            curve.append(torch.where(active, final, torch.zeros_like(final)).cpu())
        losses[stage] = torch.stack(curve)
        if "latent" in last_good:
            with torch.no_grad():
                pose = pose_prior.pose_from_latent(last_good.pop("latent"), init_params)
            # frames that never ran (no data) keep their initial pose exactly
            last_good["body_pose"] = torch.where(data.valid.to(pose.device)[:, None], pose, last_good["body_pose"])
        params = {k: last_good[k].clone() for k in PARAM_NAMES}
    if back is not None:
        params = back(params)
    with torch.no_grad():
        out = body(**params)
    fitted = active & data.valid.to(active.device)
    return FitResult(params=params, vertices=out.vertices, joints=out.joints, losses=losses, fitted=fitted,
                     messages=messages, seconds=time.perf_counter() - t0)


def upright_start(body: BodyModel, keypoints: torch.Tensor, confidence: torch.Tensor, cam: Camera) -> dict:
    """Start parameters for a fit where no regressor's estimate exists (a photograph and a detector alone): the
    mean shape in the rest pose with the arms lowered to an A-pose, turned upright and facing the camera
    (``global_orient`` 180° about x), its mid-hip on the viewing ray of the detected mid-hip, at the depth where
    its neck-to-mid-hip length projects to the detected one (a pinhole: pixels = f · metres / depth).
    ``keypoints`` [B,25,2] (BODY_25, full-image pixels) and ``confidence`` [B,25] of a detector; the neck and the
    mid-hip must be detected. Returns the four parameters."""
    import math

    from dispkit.body import OPENPOSE_NAMES

    kp, conf = torch.as_tensor(keypoints), torch.as_tensor(confidence)
    B = kp.shape[0]
    neck, hip = OPENPOSE_NAMES.index("Neck"), OPENPOSE_NAMES.index("MidHip")
    if not bool(((conf[:, neck] > 0) & (conf[:, hip] > 0)).all()):
        raise ValueError("upright_start needs the neck and the mid-hip detected in every frame")
    go = torch.tensor([[math.pi, 0.0, 0.0]], dtype=body.dtype, device=body.device).expand(B, 3)
    zero = body.zero_params(B)
    # arms lowered from the T-pose to an A-pose: the rest pose's straight arms are far from most photographs
    pose = zero["body_pose"].reshape(B, 23, 3).clone()
    for name, z_rot in (("left_shoulder", -1.1), ("right_shoulder", 1.1)):
        pose[:, body.joint_names.index(name) - 1, 2] = z_rot
    zero["body_pose"] = pose.reshape(B, 69)
    with torch.no_grad():
        rest = body(**{**zero, "global_orient": go})
    torso_m = (rest.openpose[:, neck] - rest.openpose[:, hip]).norm(dim=-1)                    # [B]
    torso_px = (kp[:, neck] - kp[:, hip]).norm(dim=-1).clamp(min=1.0).to(torso_m)
    cam_b = cam.expand(B)
    f = cam_b.focal[:, 0].to(torso_m)
    z = f * torso_m / torso_px
    ray = torch.cat([(kp[:, hip].to(torso_m) - cam_b.center.to(torso_m)) / cam_b.focal.to(torso_m),
                     torch.ones(B, 1, dtype=torso_m.dtype, device=torso_m.device)], -1)
    q = ray * z[:, None]                                                     # the mid-hip in camera coordinates
    R = cam_b.R.to(q).expand(B, 3, 3)
    target = torch.einsum("bji,bj->bi", R, q - cam_b.t.to(q).expand(B, 3))   # world: R^T (q - t)
    return {**zero, "global_orient": go.clone(), "transl": target - rest.openpose[:, hip]}
