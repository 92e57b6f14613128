"""Procedural appearance of synthetic scenes: clothing textures, their simulated degradation, backgrounds, shading.

A person's texture (:func:`make_texture`) is painted per SMPL body part on the body's UV layout
(:func:`texture_part_map`): skin, hair, a top, trousers or shorts, shoes. :func:`degraded_texture` simulates
the flaws of the paper's back-projected personal textures (§4, Fig. 3): blur, a colour shift and holes where the
camera never looked (the back-projection itself is :func:`dispkit.texture.estimate_texture`).
:func:`make_background` draws a procedural room or crops an image of a folder, and
:func:`shade_and_composite` lights a rendered person and puts it on a background.

Every function takes a NumPy Generator or a seed; :func:`dispkit.data.synthetic.make_scene` draws a
scene's whole appearance from ``np.random.default_rng([seed, 2])``. Images and textures are ``[H,W,3]``
float32 in ``[0, 1]``, row 0 at the top.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dispkit.body import default_body
from dispkit.data.poses import _rng

__all__ = ["degraded_texture", "make_background", "make_texture", "shade_and_composite", "texture_part_map"]


def _check_size(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


# ----------------------------------------------------------------------------- textures
def texture_part_map(body=None, size: int = 512) -> dict[str, torch.Tensor]:
    """Rasterise the body's UV layout at ``size x size`` (cached per body and size).

    Returns a dict of ``[S,S]`` maps in texture-image convention (row r <-> ``v = 1 - (r + .5)/S``):
    ``part`` (int64, SMPL part id of the covering triangle; texels outside every UV island take the
    nearest island's id), ``covered`` (bool, inside a UV island), ``pos`` (``[S,S,3]`` the
    mean-shape T-pose surface point of the texel, metres) and ``back`` (bool, the texel lies on
    the back side of its body part: template z below the part's mean z).
    """
    from scipy.ndimage import distance_transform_edt

    from dispkit.raster import interpolate, rasterize

    body = default_body(body)
    size = _check_size(size, "size")
    cache = body.__dict__.setdefault("_synthetic_uv_cache", {})
    if size in cache:
        return cache[size]
    if body.uv is None:
        raise ValueError("the body model has no UV coordinates (vt/ft)")
    vt, ft = (x.detach().cpu() for x in body.uv)
    faces, labels = body.faces.cpu(), body.part_labels.cpu()
    pos = torch.stack([2 * vt[:, 0] - 1, 1 - 2 * vt[:, 1], torch.zeros(len(vt)), torch.ones(len(vt))], -1)
    rast = rasterize(pos.float(), ft, (size, size), backend="cpu")
    fid = rast[0, ..., 3].long() - 1
    covered = fid >= 0
    lf = labels[faces]                                             # [F,3] majority part of each face
    face_part = torch.where((lf[:, 0] == lf[:, 1]) | (lf[:, 0] == lf[:, 2]), lf[:, 0], lf[:, 1])
    vt_to_v = torch.zeros(len(vt), dtype=torch.long)
    vt_to_v[ft.reshape(-1)] = faces.reshape(-1)
    template = body.v_template.detach().cpu().float()
    tpos = interpolate(template[vt_to_v], rast, ft)[0]           # [S,S,3]
    part = torch.where(covered, face_part[fid.clamp(min=0)], torch.full_like(fid, -1))
    _, idx = distance_transform_edt(~covered.numpy(), return_indices=True)
    part = part[idx[0], idx[1]]
    tpos = tpos[idx[0], idx[1]]
    zmean = torch.zeros(24).index_add_(0, labels, template[:, 2]) / torch.bincount(labels, minlength=24).clamp(min=1)
    back = tpos[..., 2] < zmean[part]
    cache[size] = {"part": part, "covered": covered, "pos": tpos, "back": back}
    return cache[size]


def _low_freq_noise(rng: np.random.Generator, H: int, W: int, C: int = 1, cells: int = 6) -> torch.Tensor:
    """Smooth noise ``[H,W,C]`` of unit-ish amplitude: a random ``cells x cells`` grid, bicubic upsampled."""
    g = torch.as_tensor(rng.normal(size=(1, C, cells, cells)), dtype=torch.float32)
    return F.interpolate(g, size=(H, W), mode="bicubic", align_corners=False)[0].permute(1, 2, 0)


def _hsv(h, s, v) -> np.ndarray:
    import colorsys
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1)))


_SKIN = np.array([[0.96, 0.80, 0.69], [0.89, 0.67, 0.53], [0.78, 0.57, 0.42], [0.60, 0.42, 0.29],
                  [0.42, 0.28, 0.18], [0.30, 0.20, 0.13]])
_HAIR = np.array([[0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.45, 0.30, 0.15], [0.75, 0.62, 0.38],
                  [0.55, 0.55, 0.55]])
_PANTS = np.array([[0.16, 0.22, 0.38], [0.08, 0.08, 0.09], [0.55, 0.48, 0.34], [0.35, 0.36, 0.38],
                   [0.25, 0.30, 0.20], [0.45, 0.15, 0.12]])
# SMPL part ids
_HEAD, _NECK = 15, 12
_TORSO = (0, 3, 6, 9, 13, 14)            # pelvis, spine1-3, collars (pelvis is re-coloured as trousers)
_UPPER_ARM, _FOREARM, _HAND = (16, 17), (18, 19), (20, 21, 22, 23)
_THIGH, _SHANK, _FEET = (1, 2), (4, 5), (7, 8, 10, 11)


def make_texture(generator=None, size: int = 512, body=None) -> torch.Tensor:
    """Procedural clothing texture ``[size,size,3]`` float32 in [0, 1] for the body's UV layout.

    Per body part (via :func:`texture_part_map`): skin (random tone) on head, neck, hands and bare
    arms/legs; hair on the top/back of the head; a top (random colour, plain / stripes / checks,
    patterns laid out on the 3D template so they run around the body) on the torso and sleeves
    (none / short / long); trousers or shorts on pelvis and legs; shoes on the feet. A smooth
    multiplicative noise adds shading variation. ``generator``: NumPy Generator or seed.
    """
    rng = _rng(generator)
    size = _check_size(size, "size")
    pm = texture_part_map(body, size)
    part, pos = pm["part"].numpy(), pm["pos"].numpy()
    skin = _SKIN[rng.integers(len(_SKIN))] * rng.uniform(0.92, 1.06)
    hair = _HAIR[rng.integers(len(_HAIR))]
    top = _hsv(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.35, 0.95))
    top2 = _hsv(rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.2, 1.0))
    pants = _PANTS[rng.integers(len(_PANTS))] * rng.uniform(0.8, 1.2)
    shoes = _hsv(rng.random(), rng.uniform(0.0, 0.4), rng.uniform(0.05, 0.6))
    sleeves = ("none", "short", "long")[rng.integers(3)]
    shorts = rng.random() < 0.3
    pattern = ("plain", "stripes", "checks")[rng.integers(3)]

    top_parts = [p for p in _TORSO if p != 0] + list(_UPPER_ARM if sleeves != "none" else ()) \
        + list(_FOREARM if sleeves == "long" else ())
    lut = np.zeros((24, 3))
    lut[:] = skin
    lut[top_parts] = top
    lut[0] = pants
    lut[list(_THIGH)] = pants
    lut[list(_SHANK)] = skin if shorts else pants
    lut[list(_FEET)] = shoes
    img = lut[part]
    is_top = np.isin(part, top_parts)
    if pattern != "plain":
        period = rng.uniform(0.04, 0.12)
        band = np.sin(2 * np.pi * pos[..., 1] / period + rng.uniform(0, 6.3)) > 0
        if pattern == "checks":
            band ^= np.sin(2 * np.pi * (pos[..., 0] + pos[..., 2]) / period) > 0
        img = np.where((is_top & band)[..., None], top2, img)
    head = part == _HEAD
    y = pos[..., 1]
    if head.any():
        hy = y[head]
        lo, hi = hy.min(), hy.max()
        hair_line = lo + rng.uniform(0.55, 0.7) * (hi - lo)
        hair_mask = head & ((y > hair_line) | (pm["back"].numpy() & (y > lo + 0.3 * (hi - lo))))
        img = np.where(hair_mask[..., None], hair, img)
    shade = 1.0 + 0.08 * _low_freq_noise(rng, size, size, 1, cells=12).numpy()
    img = np.clip(img * shade, 0.0, 1.0)
    return torch.as_tensor(img, dtype=torch.float32)


def _gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``[H,W,C]`` (reflect padding)."""
    if sigma <= 0:
        return img
    r = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    C = img.shape[-1]
    t = img.permute(2, 0, 1)[None]
    t = F.pad(t, (r, r, r, r), mode="reflect")
    t = F.conv2d(t, k.view(1, 1, 1, -1).repeat(C, 1, 1, 1), groups=C)
    t = F.conv2d(t, k.view(1, 1, -1, 1).repeat(C, 1, 1, 1), groups=C)
    return t[0].permute(1, 2, 0).contiguous()


def degraded_texture(texture: torch.Tensor, generator=None, body=None, *, hidden: str | None = "back",
                     blur_sigma: float | None = None, gain_std: float = 0.08, offset_std: float = 0.03,
                     n_blobs: int | None = None) -> torch.Tensor:
    """Degraded copy of ``texture [S,S,3]``, like the paper's back-projected personal textures (§4, Fig. 3).

    A simulation of the flaws of :func:`dispkit.texture.estimate_texture`'s output, not a back-projection.

    Degradations, in this order:

    1. **blur**: Gaussian, ``blur_sigma`` texels (default ``S/256 * U(1, 2.5)``): back-projection
       from a low-resolution crop loses detail;
    2. **colour shift**: per-channel gain ``N(1, gain_std)`` and offset ``N(0, offset_std)`` (the
       image's lighting and camera response differ from the albedo);
    3. **holes**: texels never seen by the camera are unknown and set to the texture's mean grey:
       the ``hidden`` side of every body part (``"back"`` / ``"front"`` / ``None``, see
       :func:`texture_part_map`) plus ``n_blobs`` (default 3-6) random round holes
       (occlusions, back-projection failures).
    """
    rng = _rng(generator)
    texture = torch.as_tensor(texture, dtype=torch.float32)
    if texture.ndim != 3 or texture.shape[-1] != 3 or texture.shape[0] != texture.shape[1]:
        raise ValueError(f"texture must have shape [S,S,3], got {tuple(texture.shape)}")
    if hidden not in ("back", "front", None):
        raise ValueError(f"hidden must be 'back', 'front' or None, got {hidden!r}")
    S = texture.shape[0]
    sigma = S / 256 * rng.uniform(1.0, 2.5) if blur_sigma is None else float(blur_sigma)
    out = _gaussian_blur(texture, sigma)
    gain = torch.as_tensor(rng.normal(1.0, gain_std, 3), dtype=torch.float32)
    offset = torch.as_tensor(rng.normal(0.0, offset_std, 3), dtype=torch.float32)
    out = out * gain + offset
    hole = torch.zeros(S, S, dtype=torch.bool)
    if hidden is not None:
        back = texture_part_map(body, S)["back"]
        hole |= back if hidden == "back" else ~back
    nb = int(rng.integers(3, 7)) if n_blobs is None else int(n_blobs)
    yy, xx = torch.meshgrid(torch.arange(S, dtype=torch.float32), torch.arange(S, dtype=torch.float32),
                            indexing="ij")
    for _ in range(nb):
        cy, cx = rng.uniform(0, S, 2)
        rad = rng.uniform(0.03, 0.08) * S
        hole |= (yy - cy) ** 2 + (xx - cx) ** 2 < rad ** 2
    grey = out[~hole].mean() if bool((~hole).any()) else torch.tensor(0.5)
    out = torch.where(hole[..., None], grey, out)
    return out.clamp(0.0, 1.0)


# ----------------------------------------------------------------------------- backgrounds
_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def make_background(generator, H: int, W: int, background_dir: str | os.PathLike | None = None) -> torch.Tensor:
    """Background image ``[H,W,3]`` float32 in [0, 1].

    Procedural (default): a wall/sky gradient above a random horizon (45-75 % of the height), a floor
    below it with a darker gradient and optional perspective tiles, a few soft coloured blobs
    (furniture, trees) and smooth noise. With ``background_dir``, one of the folder's images (sorted
    names, picked by the generator) is scaled to cover ``H x W`` and randomly cropped.
    """
    rng = _rng(generator)
    H, W = _check_size(H, "H"), _check_size(W, "W")
    if background_dir is not None:
        return _background_from_dir(rng, H, W, background_dir)
    y = np.linspace(0, 1, H)[:, None, None]
    x = np.linspace(0, 1, W)[None, :, None]
    horizon = rng.uniform(0.45, 0.75)
    c_top, c_hor = _hsv(rng.random(), rng.uniform(0, 0.5), rng.uniform(0.5, 1.0)), \
        _hsv(rng.random(), rng.uniform(0, 0.4), rng.uniform(0.4, 0.95))
    wall = c_top + (c_hor - c_top) * np.clip(y / horizon, 0, 1)
    img = np.broadcast_to(wall, (H, W, 3)).copy()
    for _ in range(int(rng.integers(3, 9))):                      # soft blobs above the floor
        cy, cx = rng.uniform(0.0, horizon), rng.uniform(0, 1)
        sy, sx = rng.uniform(0.05, 0.3), rng.uniform(0.03, 0.25)
        a = np.exp(-0.5 * (((y - cy) / sy) ** 2 + ((x - cx) / sx) ** 2) ** 2) * rng.uniform(0.4, 0.9)
        img = img * (1 - a) + _hsv(rng.random(), rng.uniform(0.1, 0.8), rng.uniform(0.2, 0.9)) * a
    c_floor = _hsv(rng.random(), rng.uniform(0, 0.5), rng.uniform(0.2, 0.7))
    depth = np.clip((y - horizon) / (1 - horizon), 1e-3, 1)        # 0 at the horizon, 1 at the bottom
    floor = c_floor * (0.7 + 0.4 * depth)
    if rng.random() < 0.5:                                          # perspective tiles
        n = rng.uniform(4, 10)
        u = (x - 0.5) / depth
        tiles = (np.floor(u * n) + np.floor(2 * n / np.maximum(depth, 0.05))) % 2
        floor = floor * (0.88 + 0.12 * tiles)
    img = np.where(y > horizon, floor, img)
    img = img * (1 + 0.1 * _low_freq_noise(rng, H, W, 3, cells=8).numpy())
    return torch.as_tensor(np.clip(img, 0, 1), dtype=torch.float32)


def _background_from_dir(rng, H, W, background_dir) -> torch.Tensor:
    from PIL import Image

    folder = Path(background_dir)
    if not folder.is_dir():
        raise ValueError(f"background_dir {str(folder)!r} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_EXT)
    if not files:
        raise ValueError(f"background_dir {str(folder)!r} holds no images ({', '.join(_IMAGE_EXT)})")
    with Image.open(files[int(rng.integers(len(files)))]) as im:
        im = im.convert("RGB")
        s = max(H / im.height, W / im.width)
        w2, h2 = max(W, round(im.width * s)), max(H, round(im.height * s))
        im = im.resize((w2, h2), Image.BILINEAR)
        x0, y0 = int(rng.integers(w2 - W + 1)), int(rng.integers(h2 - H + 1))
        arr = np.asarray(im.crop((x0, y0, x0 + W, y0 + H)), dtype=np.float32) / 255.0
    return torch.as_tensor(arr.copy())


# ----------------------------------------------------------------------------- shading
def shade_and_composite(rgb, normal, mask, background, generator, noise_std: float | None = None):
    """The camera image of a rendered textured person: Lambert shading, background, blur, sensor noise.

    ``rgb``/``normal`` [H,W,3] and ``mask`` [H,W] from :func:`dispkit.render.render` of the GT body (camera
    space normals), ``background`` [H,W,3]. Ambient ``U(0.35, 0.55)`` plus a directional light from a random
    direction on the camera's side, mostly from above; Gaussian blur (sigma 0.5 px); Gaussian noise
    ``noise_std`` (default ``U(0.005, 0.02)``). Returns ``(image [H,W,3] in [0,1], light [3], ambient,
    noise_std)``.
    """
    rng = _rng(generator)
    light = np.array([rng.uniform(-0.7, 0.7), rng.uniform(-1.0, -0.1), -rng.uniform(0.4, 1.0)])
    light = torch.as_tensor(light / np.linalg.norm(light), dtype=torch.float32)
    ambient = float(rng.uniform(0.35, 0.55))
    lambert = (normal * light).sum(-1).clamp(min=0)   # both point to the camera side (z < 0)
    shade = ambient + (1 - ambient) * 1.15 * lambert
    person = (rgb * shade[..., None]).clamp(0, 1)
    img = torch.where(mask[..., None], person, background)
    img = _gaussian_blur(img, 0.5)
    sd = rng.uniform(0.005, 0.02) if noise_std is None else float(noise_std)
    img = (img + torch.as_tensor(rng.normal(0, sd, img.shape), dtype=torch.float32)).clamp(0, 1)
    return img, light, ambient, sd
