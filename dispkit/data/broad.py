"""The broad training distribution: what the displacement network and the open priors learn from.

The paper trains on Human3.6M + 3DPW + SURREAL, 64 ProHMR samples per frame and the GT pose with PARE's shape
and camera (§4): many poses, many cameras, many kinds of regressor error. The kit's own scene generator
(:mod:`dispkit.data.synthetic`, the in-distribution benchmark split) draws 12 key poses with noise in one
320 x 240 landscape camera; a network trained only on it does not generalise (issue 16). This module widens every
ingredient, ingredient by ingredient, and stays apart from the out-of-distribution test split
(:mod:`dispkit.data.ood`), whose pose families, regressor-error structure (regression to the mean pose, a forward
lean) and striped / brick backgrounds it never draws (its warm key + cool fill light is one case of the broad
second light):

=====================  ==========================================  ==========================================
ingredient             the kit's generator (ID split)              broad (this module, training only)
=====================  ==========================================  ==========================================
poses                  12 key poses + per-joint noise              a third each: key poses with 2 x the noise;
                                                                   blends of two key poses; continuous poses
                                                                   over the anatomical ranges (every joint
                                                                   drawn inside its limits, pulled towards a
                                                                   relaxed stance by a random amount)
framing                320 x 240, person 45-80 % of the height     320 x 240, 240 x 320, 256 x 256, 384 x 216
                                                                   and 216 x 384 frames, person 35-95 %
camera                 pitch N(0, 0.1), roll N(0, 0.03) rad        pitch N(0, 0.25), roll N(0, 0.1) rad
regressor errors       the three presets                           a preset x U(0.3, 1.5), each joint's error
                                                                   x a log-normal factor (heteroscedastic), a
                                                                   global pitch / yaw bias, a depth bias
lighting, background   one white light, ambient U(0.35, 0.55)      one tinted light, half the time a second
                       the kit's wall/floor/blobs backgrounds      light of any colour, ambient U(0.15, 0.65),
                                                                   blur 0.3-1 px, noise up to 0.03; the kit's
                                                                   backgrounds, clutter, checkerboards, lines,
                                                                   colour noise, or a user's image folder
=====================  ==========================================  ==========================================

``benchmarks/TRAINED_ON.md`` lists what each learned part saw. Every function takes a NumPy Generator (or a
seed) and is a pure function of it.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from dispkit.body import default_body
from dispkit.data.appearance import _gaussian_blur
from dispkit.data.poses import _NOISE, ANATOMICAL_LIMITS, KEY_POSES, POSE_KINDS, _rng, euler_to_axis_angle, mirror_euler
from dispkit.data.regressors import REGRESSOR_PRESETS, _random_rotations, with_translation

__all__ = ["BROAD_IMAGE_SIZES", "POSE_SOURCES", "sample_euler_pose_broad", "sample_params_broad",
           "sample_pose_broad", "shade_and_composite_broad", "make_background_broad",
           "BACKGROUND_FAMILIES", "simulate_regressor_broad"]

#: (width, height) of the training frames: landscape, portrait, square, wide and tall
BROAD_IMAGE_SIZES = ((320, 240), (240, 320), (256, 256), (384, 216), (216, 384))
#: how a broad pose is drawn (probabilities)
POSE_SOURCES = {"key": 1 / 3, "blend": 1 / 3, "continuous": 1 / 3}
_RELAXED = KEY_POSES["stand"]


def sample_euler_pose_broad(generator=None) -> tuple[np.ndarray, str]:
    """One broad pose as Euler angles [23,3] (the layout of :mod:`dispkit.data.poses`) and its source
    (:data:`POSE_SOURCES`): ``"key"`` a key pose x U(0.6, 1.2) with 2 x the kit's per-joint noise; ``"blend"`` a
    random mix ``w A + (1 - w) B`` of two key poses with 1.5 x the noise; ``"continuous"`` every joint uniform in
    its :data:`~dispkit.data.poses.ANATOMICAL_LIMITS`, pulled ``1 - λ`` of the way to a relaxed stance,
    ``λ ~ U(0.3, 1)``. Mirrored with probability 1/2, clamped to the limits."""
    rng = _rng(generator)
    src = list(POSE_SOURCES)[int(rng.choice(len(POSE_SOURCES), p=list(POSE_SOURCES.values())))]
    lo, hi = ANATOMICAL_LIMITS[..., 0], ANATOMICAL_LIMITS[..., 1]
    if src == "key":
        e = KEY_POSES[POSE_KINDS[int(rng.integers(len(POSE_KINDS)))]] * rng.uniform(0.6, 1.2)
        e = e + rng.normal(size=(23, 3)) * 2.0 * _NOISE[:, None]
    elif src == "blend":
        a, b = rng.choice(len(POSE_KINDS), 2, replace=False)
        w = rng.uniform(0, 1)
        e = w * KEY_POSES[POSE_KINDS[int(a)]] + (1 - w) * KEY_POSES[POSE_KINDS[int(b)]]
        e = e + rng.normal(size=(23, 3)) * 1.5 * _NOISE[:, None]
    else:
        lam = rng.uniform(0.3, 1.0)
        e = lam * rng.uniform(lo, hi) + (1 - lam) * _RELAXED
    if rng.random() < 0.5:
        e = mirror_euler(e)
    return np.clip(e, lo, hi), src


def sample_pose_broad(generator=None, batch_size: int = 1) -> torch.Tensor:
    """``batch_size`` broad ``body_pose`` axis-angle vectors [B,69] (float32); see :func:`sample_euler_pose_broad`."""
    rng = _rng(generator)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return euler_to_axis_angle(np.stack([sample_euler_pose_broad(rng)[0] for _ in range(int(batch_size))]))


def sample_params_broad(generator, body=None, image_size=None) -> tuple[dict, object, dict]:
    """Broad ground truth and camera: a broad pose, a frame of :data:`BROAD_IMAGE_SIZES` (or ``image_size``), pitch
    N(0, 0.25) / roll N(0, 0.1) rad, the person 35-95 % of the height. Returns ``(params, camera, meta)`` like
    :func:`dispkit.data.synthetic.sample_params`; ``meta`` adds ``image_size`` and ``pose_source``."""
    from dispkit.data.synthetic import place_body

    rng = _rng(generator)
    body = default_body(body)
    if image_size is None:
        image_size = BROAD_IMAGE_SIZES[int(rng.integers(len(BROAD_IMAGE_SIZES)))]
    w, h = (int(x) for x in image_size)
    euler, src = sample_euler_pose_broad(rng)
    params, cam, meta = place_body(rng, body, euler, f"broad:{src}", w, h, pitch_sigma=0.25, roll_sigma=0.1,
                                   height_fraction=(0.35, 0.95))
    return params, cam, {**meta, "image_size": (w, h), "pose_source": src}


def simulate_regressor_broad(gt_params, generator=None, body=None) -> tuple[dict, str]:
    """A broad regressor estimate of ``gt_params`` (batch 1 or B) and its description: a random preset of
    :data:`~dispkit.data.regressors.REGRESSOR_PRESETS` scaled by U(0.3, 1.5); each joint's rotation error scaled by
    its own log-normal factor exp(N(0, 0.4)); a global pitch / yaw bias N(0, 0.05) rad; a depth bias N(0, 0.04).
    No regression to the mean pose and no forward lean (the OOD regressors' structure stays unseen)."""
    rng, body = _rng(generator), default_body(body)
    name = list(REGRESSOR_PRESETS)[int(rng.integers(len(REGRESSOR_PRESETS)))]
    p, k = REGRESSOR_PRESETS[name], float(rng.uniform(0.3, 1.5))
    go = gt_params["global_orient"].detach().double().cpu().numpy()
    bp = gt_params["body_pose"].detach().double().cpu().numpy()
    betas = gt_params["betas"].detach().double().cpu().numpy()
    B = go.shape[0]
    sig = k * p["sigma_joint"] * np.exp(rng.normal(0, 0.4, B * 23))
    err = _random_rotations(rng, B * 23, 1.0) * sig[:, None]
    R_bp = Rotation.from_rotvec(bp.reshape(-1, 3)) * Rotation.from_rotvec(err)
    bias = Rotation.from_euler("xy", rng.normal(0, 0.05, (B, 2)))
    R_go = bias * Rotation.from_rotvec(_random_rotations(rng, B, k * p["sigma_global"])) * Rotation.from_rotvec(go)
    betas_i = betas + rng.normal(0, k * p["sigma_betas"], betas.shape)
    scale = 1 + rng.normal(0, 0.04) + rng.normal(0, k * p["sigma_depth"], (B, 1))
    offset = np.concatenate([rng.normal(0, k * p["sigma_xy"], (B, 2)), np.zeros((B, 1))], 1)
    init = {"global_orient": torch.as_tensor(R_go.as_rotvec(), dtype=torch.float32),
            "body_pose": torch.as_tensor(R_bp.as_rotvec().reshape(B, 69), dtype=torch.float32),
            "betas": torch.as_tensor(betas_i, dtype=torch.float32)}
    return with_translation(init, gt_params, scale, offset, body), f"broad:{name}x{k:.2f}"


#: background families of :func:`make_background_broad` (probabilities)
BACKGROUND_FAMILIES = {"kit": 0.3, "clutter": 0.25, "checker": 0.15, "lines": 0.15, "noise": 0.15}


def make_background_broad(generator, H: int, W: int, background_dir=None) -> torch.Tensor:
    """A broad background [H,W,3] in [0, 1]: with ``background_dir`` one of the user's images
    (:func:`dispkit.data.appearance.make_background`); otherwise one of :data:`BACKGROUND_FAMILIES`: the kit's
    wall-and-floor scene, clutter (rectangles and ellipses of every size, sharp-edged, like furniture and
    objects), a checkerboard at a random angle, scale and perspective, random straight lines of random widths
    and angles (poles, frames, edges), or multi-octave colour noise; then a random illumination gradient and,
    sometimes, a blur. The point is edges and textures of every scale and orientation near the person, so the
    network learns to look at the body, not at the background. The OOD split's backgrounds (periodic vertical
    stripes, brick walls, :func:`dispkit.data.ood.make_background_ood`) are not among them."""
    from dispkit.data.appearance import _hsv, _low_freq_noise, make_background

    rng = _rng(generator)
    if background_dir is not None:
        return make_background(rng, H, W, background_dir)
    fams = list(BACKGROUND_FAMILIES)
    fam = fams[int(rng.choice(len(fams), p=list(BACKGROUND_FAMILIES.values())))]
    if fam == "kit":
        return make_background(rng, H, W)
    y = np.linspace(0, 1, H)[:, None, None] * (H / max(H, W))
    x = np.linspace(0, 1, W)[None, :, None] * (W / max(H, W))

    def colour():
        return _hsv(rng.random(), rng.uniform(0, 0.9), rng.uniform(0.1, 1.0))

    img = np.broadcast_to(colour(), (H, W, 3)).copy()
    if fam == "clutter":
        for _ in range(int(rng.integers(4, 25))):
            cy, cx, sy, sx = rng.uniform(0, 1), rng.uniform(0, 1), *np.exp(rng.uniform(np.log(0.02), np.log(0.5), 2))
            if rng.random() < 0.6:
                a, c = rng.uniform(0, np.pi), None
                u = (x - cx) * np.cos(a) + (y - cy) * np.sin(a)
                v = -(x - cx) * np.sin(a) + (y - cy) * np.cos(a)
                m = (np.abs(u) < sx) & (np.abs(v) < sy)
            else:
                m = ((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2 < 1
            c = colour() * (1 + 0.2 * (y - cy))                            # a little shading per object
            img = np.where(m, c, img)
    elif fam == "checker":
        a, period = rng.uniform(0, np.pi), np.exp(rng.uniform(np.log(0.03), np.log(0.3)))
        u = (x * np.cos(a) + y * np.sin(a)) / period
        v = (-x * np.sin(a) + y * np.cos(a)) / period
        if rng.random() < 0.5:                                             # a receding floor or wall
            d = 1 + rng.uniform(0.5, 3) * (v * period)
            u, v = u / np.maximum(d, 0.1), v / np.maximum(d, 0.1)
        t = (np.floor(u) + np.floor(v)) % 2
        img = colour() * t + colour() * (1 - t)
    elif fam == "lines":
        for _ in range(int(rng.integers(3, 20))):
            a, off, w = rng.uniform(0, np.pi), rng.uniform(-0.2, 1.2), np.exp(rng.uniform(np.log(0.004), np.log(0.06)))
            d = np.abs((x - 0.5) * np.cos(a) + (y - 0.5) * np.sin(a) - (off - 0.5))
            img = np.where(d < w, colour(), img)
    else:                                                                  # multi-octave colour noise
        for cells, amp in ((3, 0.25), (8, 0.15), (24, 0.1), (max(H, W) // 3, 0.05 * rng.uniform(0, 2))):
            lum = _low_freq_noise(rng, H, W, 1, cells=max(2, int(cells))).numpy()
            img = img + amp * (lum + 0.4 * _low_freq_noise(rng, H, W, 3, cells=max(2, int(cells))).numpy())
    g = rng.uniform(-0.4, 0.4, 2)                                          # illumination gradient
    img = img * (1 + g[0] * (x - 0.5) + g[1] * (y - 0.5))
    img = torch.as_tensor(np.clip(img, 0, 1), dtype=torch.float32)
    if rng.random() < 0.3:
        img = _gaussian_blur(img, float(rng.uniform(0.5, 2.0)))
    return img


def shade_and_composite_broad(rgb, normal, mask, background, generator):
    """A broad camera image of a rendered person: one light from a random direction on the camera's side, tinted
    (per-channel gain U(0.8, 1.2)), and with probability 1/2 a second light from anywhere in front with its own
    random tint and strength U(0.15, 0.7); ambient U(0.15, 0.65), blur sigma U(0.3, 1) px, noise U(0.003, 0.03).
    Returns ``(image [H,W,3], light direction, ambient, noise_std)``."""
    rng = _rng(generator)
    light = np.array([rng.uniform(-0.9, 0.9), rng.uniform(-1.0, 0.3), -rng.uniform(0.3, 1.0)])
    light = torch.as_tensor(light / np.linalg.norm(light), dtype=torch.float32)
    tint = torch.as_tensor(rng.uniform(0.8, 1.2, 3), dtype=torch.float32)
    ambient = float(rng.uniform(0.15, 0.65))
    lambert = (normal * light).sum(-1, keepdim=True).clamp(min=0)
    shade = ambient + (1 - ambient) * 1.15 * lambert * tint
    if rng.random() < 0.5:                                                # a second light, any colour
        second = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), -rng.uniform(0.1, 1.0)])
        second = torch.as_tensor(second / np.linalg.norm(second), dtype=torch.float32)
        gain = torch.as_tensor(rng.uniform(0.3, 1.0, 3) * rng.uniform(0.15, 0.7), dtype=torch.float32)
        shade = shade + gain * (normal * second).sum(-1, keepdim=True).clamp(min=0)
    person = (rgb * shade).clamp(0, 1)
    img = torch.where(mask[..., None], person, background)
    img = _gaussian_blur(img, float(rng.uniform(0.3, 1.0)))
    sd = float(rng.uniform(0.003, 0.03))
    img = (img + torch.as_tensor(rng.normal(0, sd, img.shape), dtype=torch.float32)).clamp(0, 1)
    return img, light, ambient, sd
