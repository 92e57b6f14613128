"""Seeded synthetic scenes: the open stand-in for SURREAL / 3DPW / RICH.

A scene is a textured body (the kit's open SMPL-format model) rendered over a procedural
background with a full-image camera (``f = sqrt(w^2 + h^2)``, the paper's choice, §4.1),
together with its ground-truth SMPL parameters and a *simulated regressor's* initial
estimate (the paper refines the outputs of PARE, HMR+ / SPIN and ProHMR; §4). The ingredients
have their own modules: the poses (:mod:`dispkit.data.poses`), the appearance -- textures, their
degradation, backgrounds, shading -- (:mod:`dispkit.data.appearance`) and the simulated regressors
(:mod:`dispkit.data.regressors`); this module samples the ground truth and the camera and puts
a scene together.

Everything is reproducible from one integer seed: the same seed gives a bitwise identical
scene. The seed drives three independent NumPy streams, so changing one ingredient does
not change the others:

* ``np.random.default_rng([seed, 0])``: pose, shape, camera placement (the GT),
* ``np.random.default_rng([seed, 1])``: the regressor's errors (per preset),
* ``np.random.default_rng([seed, 2])``: appearance (texture, background, light, noise).

Conventions
-----------
* Body poses are axis-angle, SMPL layout: ``global_orient [B,3]``, ``body_pose [B,69]``
  (23 joints, SMPL joints 1..23), ``betas [B,10]``, ``transl [B,3]`` (metres). The pose
  library's Euler-angle conventions are described in :mod:`dispkit.data.poses`.
* Camera space is OpenCV (x right, y down, z forward); a body in SMPL's frame is turned
  upright by the 180 degree rotation about x in ``global_orient``.
* Images are ``[H,W,3]`` float32 in ``[0, 1]``, row 0 at the top.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from dispkit.body import default_body
from dispkit.camera import Camera, box_from_points
from dispkit.data.appearance import _check_size, degraded_texture, make_background, make_texture, shade_and_composite
from dispkit.data.poses import _rng, euler_to_axis_angle, sample_euler_pose
from dispkit.data.regressors import REGRESSOR_PRESETS, _preset, simulate_regressor

__all__ = ["DISTRIBUTIONS", "Scene", "make_scene", "person_sequence", "place_body", "reference_frames",
           "sample_params", "scene_params"]


# ----------------------------------------------------------------------------- GT sampling
def _aa(R: np.ndarray) -> np.ndarray:
    return Rotation.from_matrix(R).as_rotvec()


def sample_params(generator, body=None, width: int = 320, height: int = 240, kind: str | None = None,
                  height_fraction: tuple[float, float] = (0.45, 0.8)) -> tuple[dict, Camera, dict]:
    """Sample ground-truth SMPL parameters and a camera, without rendering.

    Pose from :func:`~dispkit.data.poses.sample_euler_pose`; ``betas ~ N(0, I)`` clipped to +-3; global orientation =
    small camera pitch/roll (``N(0, 0.1)`` / ``N(0, 0.03)`` rad) times the upright flip (pi about x)
    times a uniform yaw about the body's vertical axis. The camera is the full-image camera
    (``f = sqrt(w^2 + h^2)``, identity extrinsics); the body is placed at the depth that makes its
    projected height ``U(height_fraction)`` of the image height (or its width at most 90 % of the
    image width) and shifted so that it stays inside the frame.

    Returns ``(params, camera, meta)``: params are ``[1,...]`` float32 tensors ``global_orient,
    body_pose, betas, transl``; meta holds ``kind``, ``yaw``, ``euler`` ([23,3]) and ``pelvis``
    (camera-space pelvis position, metres).
    """
    rng = _rng(generator)
    body = default_body(body)
    euler, kinds = sample_euler_pose(rng, kind)
    return place_body(rng, body, euler, kinds[0], width, height, pitch_sigma=0.1, roll_sigma=0.03,
                      height_fraction=height_fraction)


def place_body(generator, body, euler, kind: str, width: int, height: int, pitch_sigma: float = 0.1,
               roll_sigma: float = 0.03, height_fraction: tuple[float, float] = (0.45, 0.8)
               ) -> tuple[dict, Camera, dict]:
    """Ground truth and full-image camera for a pose ``euler`` [23,3]: ``betas ~ N(0, I)`` clipped to +-3, a
    uniform yaw, camera pitch / roll ``N(0, pitch_sigma)`` / ``N(0, roll_sigma)``, and the depth and image
    position that make the person ``U(height_fraction)`` of the image height (at most 90 % of its width), inside
    the frame. Shared by the kit's scenes (:func:`sample_params`) and the OOD ones (:mod:`dispkit.data.ood`)."""
    rng = _rng(generator)
    width, height = _check_size(width, "width"), _check_size(height, "height")
    body_pose = euler_to_axis_angle(euler)[None]
    betas = torch.as_tensor(np.clip(rng.normal(size=(1, body.num_betas)), -3, 3), dtype=torch.float32)
    yaw = rng.uniform(-math.pi, math.pi)
    pitch, roll = rng.normal(0, pitch_sigma), rng.normal(0, roll_sigma)
    R = Rotation.from_euler("xz", [pitch, roll]).as_matrix() @ Rotation.from_rotvec([math.pi, 0, 0]).as_matrix() \
        @ Rotation.from_rotvec([0, yaw, 0]).as_matrix()
    go = torch.as_tensor(_aa(R)[None], dtype=torch.float32)
    with torch.no_grad():
        out = body(global_orient=go, body_pose=body_pose, betas=betas)
    v = (out.vertices[0] - out.joints[0, 0]).double().numpy()     # pelvis-relative, camera axes
    cam = Camera.full_image(width, height)
    f = float(cam.focal[0, 0])
    ext = v.max(0) - v.min(0)
    frac = rng.uniform(*height_fraction)
    z = max(f * ext[1] / (frac * height), f * ext[0] / (0.9 * width)) + 0.5 * ext[2]
    pix_w, pix_h = f * ext[0] / z, f * ext[1] / z
    mid = (v.max(0) + v.min(0)) / 2
    u_t = width / 2 + rng.uniform(-1, 1) * 0.6 * max(0.0, (width - pix_w) / 2)
    v_t = height / 2 + rng.uniform(-1, 1) * 0.5 * max(0.0, (height - pix_h) / 2)
    pelvis = np.array([z * (u_t - width / 2) / f - mid[0], z * (v_t - height / 2) / f - mid[1], z])
    transl = torch.as_tensor(pelvis - out.joints[0, 0].double().numpy(), dtype=torch.float32)[None]
    params = {"global_orient": go, "body_pose": body_pose, "betas": betas, "transl": transl}
    return params, cam, {"kind": kind, "yaw": float(yaw), "euler": euler, "pelvis": pelvis}


#: the scene generators: the kit's own (training and the in-distribution split), the out-of-distribution one, and
#: the kit's people in wide appearance (:mod:`dispkit.data.wide`): ``"wide"`` with the training clothing families and
#: photographs (the texture pool of ``DisplacementDataset(distribution="wide")``), ``"photo"`` with the held-out
#: ones (the held-out-appearance split)
DISTRIBUTIONS = ("kit", "ood", "wide", "photo")


def _check_distribution(distribution: str) -> str:
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    return distribution


def scene_params(seed: int, regressor="pare-like", width: int = 320, height: int = 240, body=None,
                 kind: str | None = None, distribution: str = "kit") -> tuple[dict, dict, Camera, dict]:
    """GT parameters, the regressor's initial estimate, camera and meta of scene ``seed`` (no rendering).

    The exact code path of :func:`make_scene` for the parameters: GT from ``default_rng([seed, 0])``,
    regressor errors from ``default_rng([seed, 1])``. ``distribution="ood"``: the out-of-distribution poses,
    cameras and regressor errors of :mod:`dispkit.data.ood` (``regressor`` an ``OOD_REGRESSORS`` name).
    """
    seed = _check_seed(seed)
    if _check_distribution(distribution) == "ood":
        from dispkit.data import ood

        gt, cam, meta = ood.sample_params_ood(np.random.default_rng([seed, 0]), body, width, height, kind)
        init = ood.simulate_regressor_ood(gt, regressor, np.random.default_rng([seed, 1]), body)
        return gt, init, cam, meta
    _preset(regressor)
    gt, cam, meta = sample_params(np.random.default_rng([seed, 0]), body, width, height, kind)
    init = simulate_regressor(gt, regressor, np.random.default_rng([seed, 1]), body)
    return gt, init, cam, meta


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


# ----------------------------------------------------------------------------- scenes
@dataclass(frozen=True, eq=False)
class Scene:
    """One synthetic frame (see :func:`make_scene`). Tensors are float32 on the CPU.

    ``image [H,W,3]`` in [0, 1]; ``mask [H,W]`` bool (GT person pixels); ``camera`` (batch 1,
    full-image f); ``box [4]`` (x0, y0, x1, y1) square person box, 1.2 x the projected GT mesh's
    extent (may reach outside the image); ``gt`` / ``init``: dicts of ``global_orient [1,3]``,
    ``body_pose [1,69]``, ``betas [1,10]``, ``transl [1,3]``; ``texture`` ``[S,S,3]`` (the person's)
    and ``degraded_texture`` ``[S,S,3]`` (its simulated back-projection,
    :func:`~dispkit.data.appearance.degraded_texture`); ``background [H,W,3]``; ``light`` (unit
    direction towards the light, camera space).
    """
    seed: int
    regressor: str
    image: torch.Tensor
    mask: torch.Tensor
    camera: Camera
    box: torch.Tensor
    gt: dict
    init: dict
    texture: torch.Tensor
    degraded_texture: torch.Tensor
    background: torch.Tensor
    light: torch.Tensor
    kind: str
    meta: dict = field(default_factory=dict)
    distribution: str = "kit"

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


def make_scene(seed: int, regressor="pare-like", width: int = 320, height: int = 240, body=None, *,
               texture_size: int = 256, kind: str | None = None, background_dir=None,
               noise_std: float | None = None, distribution: str = "kit") -> Scene:
    """Render seeded synthetic scene ``seed`` (see the module docstring for the random streams).

    The GT body (from :func:`scene_params`) is textured with
    :func:`~dispkit.data.appearance.make_texture`, shaded with Lambert lighting from the rendered
    camera-space normals (ambient ``U(0.35, 0.55)`` plus a directional light from a random direction
    on the camera's side, mostly from above), composited over
    :func:`~dispkit.data.appearance.make_background`, blurred slightly (Gaussian, sigma 0.5 px) and
    given Gaussian sensor noise (``noise_std``, default ``U(0.005, 0.02)``). ``degraded_texture``
    hides the side of the body the camera does not see (back for a front-facing person, else front).
    ``regressor`` (a :data:`~dispkit.data.regressors.REGRESSOR_PRESETS` name) only changes ``init``;
    the image does not depend on it. ``distribution="ood"`` makes a scene of the out-of-distribution split
    (:mod:`dispkit.data.ood`: other poses, portrait framing, camera pitch and roll, another regressor-error
    model, other lights and backgrounds; ``regressor`` an ``OOD_REGRESSORS`` name). ``"wide"`` / ``"photo"``: the
    kit's people, poses, cameras and regressor errors in the wide appearance of :mod:`dispkit.data.wide` (training
    or held-out clothing families and photographs, several lights, JPEG); ``meta["clothing"]`` names the families.
    """
    from dispkit.render import render

    seed = _check_seed(seed)
    if not isinstance(regressor, str):
        raise ValueError(f"regressor must be a preset name ({', '.join(REGRESSOR_PRESETS)}), got {regressor!r}")
    width, height = _check_size(width, "width"), _check_size(height, "height")
    texture_size = _check_size(texture_size, "texture_size")
    body = default_body(body)
    gt, init, cam, meta = scene_params(seed, regressor, width, height, body, kind, distribution)
    rng = np.random.default_rng([seed, 2])
    extra = {}
    if distribution in ("wide", "photo"):
        from dispkit.data.wide import make_texture_wide

        tex, clothing = make_texture_wide(rng, texture_size, body, _WIDE_SPLIT[distribution])
        extra["clothing"] = clothing
    else:
        tex = make_texture(rng, texture_size, body)
    hidden = "back" if abs(meta["yaw"]) < math.pi / 2 else "front"
    est = degraded_texture(tex, rng, body, hidden=hidden)
    background, shade = _appearance(distribution, background_dir)
    bg = background(rng, height, width)
    with torch.no_grad():
        out_gt = body(**gt)
        r = render(out_gt.vertices, body, cam, texture=tex, modalities=("rgb", "normal", "mask"))
    mask = r["mask"][0]
    img, light, ambient, sd = shade(r["rgb"][0], r["normal"][0], mask, bg, rng, noise_std)
    box = box_from_points(cam.project(out_gt.vertices), scale=1.2, square=True)[0]
    return Scene(seed=seed, regressor=regressor, image=img.contiguous(), mask=mask, camera=cam, box=box,
                 gt=gt, init=init, texture=tex, degraded_texture=est, background=bg, light=light,
                 kind=meta["kind"], meta={"yaw": meta["yaw"], "euler": meta["euler"], "ambient": ambient,
                                          "noise_std": sd, "hidden": hidden, **extra}, distribution=distribution)


def _appearance(distribution: str, background_dir=None):
    """(background(rng, H, W), shade_and_composite) of a scene generator."""
    if distribution == "ood":
        from dispkit.data import ood

        return ood.make_background_ood, ood.shade_and_composite_ood
    if distribution in ("wide", "photo") and background_dir is None:
        from dispkit.data.wide import background_wide, shade_wide

        split = _WIDE_SPLIT[distribution]
        return (lambda rng, H, W: background_wide(rng, H, W, split)), shade_wide
    if distribution in ("wide", "photo"):
        from dispkit.data.wide import shade_wide

        return (lambda rng, H, W: make_background(rng, H, W, background_dir)), shade_wide
    return (lambda rng, H, W: make_background(rng, H, W, background_dir)), shade_and_composite


#: the appearance split of :mod:`dispkit.data.wide` behind each wide scene generator
_WIDE_SPLIT = {"wide": "train", "photo": "heldout"}


def person_sequence(scene: Scene, n: int = 4, body=None, generator=None, camera: Camera | None = None) -> dict:
    """Other frames of the scene's person (same shape and clothing, same camera and framing): ``n`` new poses,
    turned by ``n`` evenly spaced yaws (plus noise) so that every side is seen, shaded over new backgrounds.
    ``camera``: another camera (batch 1, no extrinsics, the scene's image size; e.g. a dataset's intrinsics): the
    person is moved along the depth axis by the ratio of the focal lengths, so that the framing stays.

    Returns a dict: ``images`` [n,H,W,3], ``params`` (``global_orient`` [n,3], ``body_pose`` [n,69],
    ``betas`` [n,10], ``transl`` [n,3], camera coordinates), ``vertices`` [n,V,3], ``camera`` (the scene's).
    ``generator``: a NumPy Generator or seed (default: derived from the scene's seed).
    """
    from dispkit.render import render

    body = default_body(body)
    rng = _rng(generator if generator is not None else np.random.default_rng([scene.seed, 3]))
    H, W = scene.height, scene.width
    with torch.no_grad():
        centre = body(**scene.gt).vertices.mean(1, keepdim=True)  # keep the scene's framing
    images, verts, params = [], [], []
    background, shade = _appearance(scene.distribution)
    for k in range(int(n)):
        if scene.distribution == "ood":
            from dispkit.data.ood import sample_params_ood

            p, cam, _ = sample_params_ood(rng, body, W, H)
        else:
            p, cam, _ = sample_params(rng, body, W, H)
        yaw = 2 * math.pi * k / n + rng.normal(0, 0.2)
        R = Rotation.from_rotvec(p["global_orient"][0].double().numpy()) * Rotation.from_rotvec([0, yaw, 0])
        p["global_orient"] = torch.as_tensor(R.as_rotvec()[None], dtype=torch.float32)
        p["betas"] = scene.gt["betas"]
        with torch.no_grad():
            v = body(**p).vertices
            shift = centre - v.mean(1, keepdim=True)
            if camera is not None:                    # same framing through another focal length
                depth = v.mean(1, keepdim=True)[..., 2:] + shift[..., 2:]
                ratio = float(camera.focal[0, 0] / scene.camera.focal[0, 0])
                shift = shift + torch.cat([torch.zeros_like(depth), torch.zeros_like(depth), depth * (ratio - 1)], -1)
            p["transl"] = p["transl"] + shift[:, 0]   # vertices move rigidly with transl
            v = v + shift
            r = render(v, body, scene.camera if camera is None else camera, texture=scene.texture,
                       modalities=("rgb", "normal", "mask"))
        bg = background(rng, H, W)
        img, *_ = shade(r["rgb"][0], r["normal"][0], r["mask"][0], bg, rng)
        images.append(img)
        verts.append(v[0])
        params.append(p)
    return {"images": torch.stack(images), "vertices": torch.stack(verts),
            "camera": scene.camera if camera is None else camera,
            "params": {k: torch.cat([p[k] for p in params]) for k in ("global_orient", "body_pose", "betas",
                                                                        "transl")}}


def reference_frames(scene: Scene, n: int = 4, body=None, generator=None) -> tuple[torch.Tensor, torch.Tensor, Camera]:
    """The frames of :func:`person_sequence` as ``(images [n,H,W,3], gt_vertices [n,V,3], camera)``: the
    "multiple frames" that the paper back-projects textures from (:func:`dispkit.texture.estimate_texture`)."""
    seq = person_sequence(scene, n, body, generator)
    return seq["images"], seq["vertices"], seq["camera"]
