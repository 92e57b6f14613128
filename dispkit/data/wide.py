"""Appearance as broad as real images: clothing families, real photographs behind the person, several lights.

The kit's scenes dress people in one procedural garment model over procedural rooms under one white light; a
network trained on them does not help on people in other clothes, before real photographs, under other light.
This module draws appearance from much wider families, and keeps some of them apart for evaluation:

=========================  =======================================  ===========================================
ingredient                 training (``split="train"``)             held out (``split="heldout"``, evaluation)
=========================  =======================================  ===========================================
clothing families          :data:`TRAIN_FAMILIES`: the kit's         :data:`HELDOUT_FAMILIES`: camouflage,
                           garments, plain colours, stripes at       tartan, patches of the held-out
                           any angle, scale and colour count,        photographs
                           prints (dots and shapes), colour blocks,
                           smooth colour noise, patches of the
                           training photographs in UV space, a
                           graphic on the chest
upper vs lower body        a family and colours each (a one-piece     the same
                           garment a fifth of the time)
backgrounds                half the training photographs of          the held-out photographs
                           :mod:`dispkit.data.photos`, half the      (:mod:`dispkit.data.photos`)
                           broad procedural families
light and camera           :func:`shade_wide`: 1-3 coloured lights, ambient 0.05-0.7, a specular term, a soft
                           cast shadow, exposure and gamma, blur, shot and read noise, JPEG compression (the same
                           for both splits: light is not held out)
=========================  =======================================  ===========================================

:func:`make_texture_wide` paints a texture for the body's UV layout, :func:`background_wide` draws a background and
:func:`shade_wide` lights and photographs a rendered person. Each takes a NumPy Generator (or a seed) and is a pure
function of it. The scene generators ``"wide"`` (training: the texture pool) and ``"photo"`` (the held-out
appearance split) of :func:`dispkit.data.synthetic.make_scene` use them with the kit's poses, cameras and regressor
errors; ``DisplacementDataset(distribution="wide")`` with the broad ones.
"""
from __future__ import annotations

import io

import numpy as np
import torch

from dispkit.data.appearance import (
    _FEET,
    _FOREARM,
    _HAIR,
    _HEAD,
    _SHANK,
    _SKIN,
    _THIGH,
    _TORSO,
    _UPPER_ARM,
    _check_size,
    _gaussian_blur,
    _hsv,
    _low_freq_noise,
    make_texture,
    texture_part_map,
)
from dispkit.data.poses import _rng

__all__ = ["HELDOUT_FAMILIES", "TRAIN_FAMILIES", "background_wide", "make_texture_wide", "shade_wide"]

#: the clothing families drawn for training (probabilities)
TRAIN_FAMILIES = {"kit": 0.15, "plain": 0.1, "stripes": 0.15, "print": 0.15, "blocks": 0.1, "noise": 0.1,
                  "photo": 0.15, "graphic": 0.1}
#: the clothing families of the held-out appearance split only (probabilities)
HELDOUT_FAMILIES = {"camo": 0.35, "tartan": 0.35, "photo": 0.3}
_PHOTO_SPLIT = {"train": "train", "heldout": "heldout"}


def _families(split: str) -> dict:
    if split == "train":
        return TRAIN_FAMILIES
    if split == "heldout":
        return HELDOUT_FAMILIES
    raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")


def _pick(rng, table: dict) -> str:
    names = list(table)
    p = np.array([table[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _colour(rng, sat=(0.0, 0.9), val=(0.1, 1.0)) -> np.ndarray:
    return _hsv(rng.random(), rng.uniform(*sat), rng.uniform(*val))


def _palette(rng, n: int) -> np.ndarray:
    """``n`` colours: a random base hue with related or contrasting others (real garments rarely use random hues)."""
    h0 = rng.random()
    scheme = rng.integers(3)        # 0 analogous, 1 complementary, 2 any
    out = []
    for k in range(n):
        h = h0 + (rng.normal(0, 0.06) if scheme == 0 else (0.5 * (k % 2) + rng.normal(0, 0.03)) if scheme == 1
                  else rng.random())
        out.append(_hsv(h, rng.uniform(0.0, 0.95), rng.uniform(0.08, 1.0)))
    return np.stack(out)


def _pattern(rng, family: str, pm: dict, size: int, photo_split: str) -> np.ndarray:
    """One garment's pattern [S,S,3] over the whole texture image (masked to the garment by the caller)."""
    pos = pm["pos"].numpy()
    S = size
    if family == "plain":
        return np.broadcast_to(_palette(rng, 1)[0], (S, S, 3)).copy()
    if family == "stripes":                       # any direction on the 3D template, any period, 2-4 colours
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        period = float(np.exp(rng.uniform(np.log(0.01), np.log(0.25))))
        cols = _palette(rng, int(rng.integers(2, 5)))
        duty = rng.dirichlet(np.ones(len(cols)))
        t = ((pos @ d) / period + rng.random()) % 1.0
        idx = np.searchsorted(np.cumsum(duty), t).clip(0, len(cols) - 1)
        return cols[idx]
    if family == "tartan":                        # crossed translucent bands of several widths and colours
        cols = _palette(rng, int(rng.integers(3, 6)))
        img = np.broadcast_to(cols[0], (S, S, 3)).copy()
        period = float(np.exp(rng.uniform(np.log(0.04), np.log(0.2))))
        a = rng.uniform(0, np.pi)
        u = pos[..., 0] * np.cos(a) + pos[..., 2] * np.sin(a)
        for coord in (pos[..., 1], u + 0.3 * pos[..., 2]):
            for k in range(1, len(cols)):
                w, off = rng.uniform(0.05, 0.3), rng.random()
                band = ((coord / period + off) % 1.0) < w
                img = np.where(band[..., None], 0.5 * img + 0.5 * cols[k], img)
        return img
    if family == "print":                          # dots and shapes in texture space on a ground colour
        cols = _palette(rng, int(rng.integers(2, 4)))
        img = np.broadcast_to(cols[0], (S, S, 3)).copy()
        yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
        r = S * float(np.exp(rng.uniform(np.log(0.006), np.log(0.05))))
        n = int(min(1500, 0.35 * S * S / (np.pi * r * r) * rng.uniform(0.2, 1.0)))
        square = rng.random() < 0.4
        for _ in range(n):
            cy, cx, c = rng.uniform(0, S), rng.uniform(0, S), cols[1 + int(rng.integers(len(cols) - 1))]
            y0, y1, x0, x1 = int(max(0, cy - r - 1)), int(min(S, cy + r + 2)), int(max(0, cx - r - 1)), \
                int(min(S, cx + r + 2))
            dy, dx = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
            m = (np.maximum(np.abs(dy), np.abs(dx)) < r) if square else (dy * dy + dx * dx < r * r)
            img[y0:y1, x0:x1][m] = c
        return img
    if family == "noise":                           # smooth colour noise (tie-dye, washes)
        base = _palette(rng, 1)[0]
        img = base + 0.35 * _low_freq_noise(rng, S, S, 3, cells=int(rng.integers(3, 12))).numpy()
        return np.clip(img, 0, 1)
    if family == "camo":                            # thresholded multi-octave noise in 3-4 colours
        cols = _palette(rng, int(rng.integers(3, 5)))
        field = sum(a * _low_freq_noise(rng, S, S, 1, cells=c).numpy()[..., 0]
                    for c, a in ((4, 1.0), (9, 0.5), (20, 0.25)))
        q = np.quantile(field, np.linspace(0, 1, len(cols) + 1)[1:-1])
        return cols[np.searchsorted(q, field)]
    if family == "photo":                            # a patch of a photograph laid over the UV layout
        from dispkit.data.photos import photo_background

        return photo_background(rng, S, S, photo_split).numpy()
    raise ValueError(f"unknown clothing family {family!r}")


def make_texture_wide(generator=None, size: int = 128, body=None, split: str = "train") -> tuple[torch.Tensor, dict]:
    """A clothing texture ``[size,size,3]`` float32 in [0, 1] of one of the families of ``split`` and what it is.

    Skin, hair and shoes as :func:`~dispkit.data.appearance.make_texture`; the upper garment (torso and no, short or
    long sleeves) and the lower one (trousers, three-quarter or shorts) each get a family and a palette of their own,
    or one garment covers both (a fifth of the time). Family ``"kit"`` is the kit's own texture. ``"blocks"``
    gives every garment part its own colour; ``"graphic"`` puts a photograph (training split) or a print on the
    chest of a plain top. Returns ``(texture, info)`` with ``info = {"upper": family, "lower": family}``.
    """
    rng = _rng(generator)
    size = _check_size(size, "size")
    fams = _families(split)
    photo_split = _PHOTO_SPLIT[split]
    upper = _pick(rng, fams)
    if upper == "kit":
        return make_texture(rng, size, body), {"upper": "kit", "lower": "kit"}
    lower_fams = {k: v for k, v in fams.items() if k != "kit"}
    pm = texture_part_map(body, size)
    part, pos = pm["part"].numpy(), pm["pos"].numpy()
    skin = _SKIN[rng.integers(len(_SKIN))] * rng.uniform(0.9, 1.08)
    img = np.broadcast_to(skin, (size, size, 3)).copy()
    sleeves = ("none", "short", "long")[rng.integers(3)]
    legs = ("long", "long", "three_quarter", "shorts")[rng.integers(4)]
    top_parts = [p for p in _TORSO if p != 0] + list(_UPPER_ARM if sleeves != "none" else ()) \
        + list(_FOREARM if sleeves == "long" else ())
    bottom = np.isin(part, [0, *_THIGH])
    shank = np.isin(part, _SHANK)
    if legs == "long":
        bottom |= shank
    elif legs == "three_quarter":                     # the upper half of the shanks
        y = pos[..., 1]
        bottom |= shank & (y > np.median(y[shank]))
    top = np.isin(part, top_parts)
    if sleeves == "short":                            # short sleeves end half way down the upper arm
        ua = np.isin(part, _UPPER_ARM)
        top &= ~ua | (np.abs(pos[..., 0]) < np.median(np.abs(pos[..., 0][ua])))
    one_piece = rng.random() < 0.2
    lower = upper if one_piece else _pick(rng, lower_fams)
    if one_piece:
        pat = _pattern(rng, upper, pm, size, photo_split) if upper not in ("blocks", "graphic") else None
        if pat is not None:
            img = np.where((top | bottom)[..., None], pat, img)
        else:
            upper = lower = "plain"
            img = np.where((top | bottom)[..., None], _palette(rng, 1)[0], img)
    else:
        for region, fam, parts in ((top, upper, top_parts), (bottom, lower, [0, *_THIGH, *_SHANK])):
            if fam == "blocks":
                cols = _palette(rng, len(parts))
                pat = cols[np.searchsorted(np.array(sorted(parts)), np.clip(part, 0, None)).clip(0, len(parts) - 1)]
            elif fam == "graphic":
                pat = np.broadcast_to(_palette(rng, 1)[0], (size, size, 3)).copy()
            else:
                pat = _pattern(rng, fam, pm, size, photo_split)
            img = np.where(region[..., None], pat, img)
        if upper == "graphic":                          # a print on the chest (front of the spine parts)
            chest = np.isin(part, (6, 9)) & ~pm["back"].numpy()
            ys, xs = np.nonzero(chest)
            if len(ys):
                y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
                fam = "photo" if rng.random() < 0.6 else "print"
                patch = _pattern(rng, fam, pm, size, photo_split)
                box = np.zeros_like(chest)
                cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
                hy, hx = (y1 - y0) * rng.uniform(0.2, 0.45), (x1 - x0) * rng.uniform(0.2, 0.45)
                box[int(cy - hy):int(cy + hy) + 1, int(cx - hx):int(cx + hx) + 1] = True
                img = np.where((box & chest)[..., None], patch, img)
    feet = np.isin(part, _FEET)
    img = np.where(feet[..., None], _colour(rng, (0, 0.5), (0.03, 0.7)), img)
    head = part == _HEAD
    if head.any():
        y = pos[..., 1]
        lo, hi = y[head].min(), y[head].max()
        hair_line = lo + rng.uniform(0.5, 0.72) * (hi - lo)
        hair = head & ((y > hair_line) | (pm["back"].numpy() & (y > lo + rng.uniform(0.1, 0.4) * (hi - lo))))
        img = np.where(hair[..., None], _HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.8, 1.2), img)
    img = img * (1.0 + rng.uniform(0.03, 0.15) * _low_freq_noise(rng, size, size, 1, cells=12).numpy())
    return torch.as_tensor(np.clip(img, 0, 1), dtype=torch.float32), {"upper": upper, "lower": lower}


def background_wide(generator, H: int, W: int, split: str = "train", photo_share: float = 0.5) -> torch.Tensor:
    """A background [H,W,3]: with probability ``photo_share`` (always for ``split="heldout"``) a view of a photograph
    of ``split`` (:func:`dispkit.data.photos.photo_background`), else a broad procedural one
    (:func:`dispkit.data.broad.make_background_broad`)."""
    from dispkit.data.broad import make_background_broad
    from dispkit.data.photos import photo_background

    rng = _rng(generator)
    _families(split)
    if split == "heldout" or rng.random() < photo_share:
        return photo_background(rng, H, W, split)
    return make_background_broad(rng, H, W)


def _jpeg(img: torch.Tensor, quality: int) -> torch.Tensor:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((img.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)).save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0)


def shade_wide(rgb, normal, mask, background, generator, noise_std: float | None = None):
    """The camera image of a rendered person under wide light and camera effects.

    Ambient ``U(0.05, 0.7)`` of a random warm-to-cool tint; 1, 2 or 3 directional lights (probabilities 0.45 /
    0.4 / 0.15), the first from the camera's side with strength ``U(0.5, 1.3)``, the others from anywhere in front
    with ``U(0.1, 0.8)``, each of a random colour; half the time a Blinn-Phong specular term (strength
    ``U(0.05, 0.4)``, exponent 4-64) towards the camera; half the time a soft shadow of the person cast on the
    background away from the first light; exposure x ``exp(N(0, 0.2))`` and gamma ``exp(N(0, 0.12))``; a Gaussian
    blur of ``U(0.2, 1.5)`` px; shot noise ``U(0, 0.04) sqrt(I)`` plus read noise ``U(0.002, 0.02)``
    (``noise_std`` fixes the read noise); JPEG compression at quality ``U(25, 95)`` half the time.
    Returns ``(image [H,W,3], first light direction, ambient, read-noise std)``."""
    rng = _rng(generator)
    H, W = mask.shape
    warm = rng.uniform(-1, 1)
    tint = np.array([1 + 0.15 * warm, 1.0, 1 - 0.15 * warm])
    ambient = float(rng.uniform(0.05, 0.7))
    shade = torch.as_tensor(ambient * tint, dtype=torch.float32).expand(H, W, 3).clone()
    n_lights = 1 + int(rng.choice(3, p=[0.45, 0.4, 0.15]))
    first = None
    spec = torch.zeros(H, W, 1)
    shininess, ks = float(np.exp(rng.uniform(np.log(4), np.log(64)))), float(rng.uniform(0.05, 0.4))
    use_spec = rng.random() < 0.5
    view = torch.tensor([0.0, 0.0, -1.0])
    for k in range(n_lights):
        if k == 0:
            d = np.array([rng.uniform(-0.9, 0.9), rng.uniform(-1.0, 0.4), -rng.uniform(0.3, 1.0)])
            gain = rng.uniform(0.5, 1.3)
        else:
            d = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), -rng.uniform(0.05, 1.0)])
            gain = rng.uniform(0.1, 0.8)
        d = torch.as_tensor(d / np.linalg.norm(d), dtype=torch.float32)
        first = d if first is None else first
        colour = torch.as_tensor(_hsv(rng.random(), rng.uniform(0, 0.5) if k == 0 else rng.uniform(0, 0.9), 1.0)
                                 * gain, dtype=torch.float32)
        ndl = (normal * d).sum(-1, keepdim=True).clamp(min=0)
        shade = shade + colour * ndl
        if use_spec:
            h = (d + view) / (d + view).norm().clamp(min=1e-6)
            spec = spec + ks * gain * (normal * h).sum(-1, keepdim=True).clamp(min=0) ** shininess * (ndl > 0)
    person = (rgb * shade + spec).clamp(0, 1)
    bg = background
    if rng.random() < 0.5:                                 # a soft shadow cast on the background
        m = mask.float()
        ys, xs = torch.nonzero(mask, as_tuple=True)
        if len(ys):
            extent = float(ys.max() - ys.min() + 1)
            shift = (-first[:2] / first[:2].norm().clamp(min=1e-6) * extent * rng.uniform(0.03, 0.2)).tolist()
            sh = torch.roll(m, shifts=(int(round(shift[1])), int(round(shift[0]))), dims=(0, 1))
            sh = _gaussian_blur(sh[..., None], max(0.5, extent * rng.uniform(0.01, 0.05)))
            bg = bg * (1 - float(rng.uniform(0.2, 0.6)) * sh)
    img = torch.where(mask[..., None], person, bg)
    img = (img * float(np.exp(rng.normal(0, 0.2)))).clamp(0, 1) ** float(np.exp(rng.normal(0, 0.12)))
    img = _gaussian_blur(img, float(rng.uniform(0.2, 1.5)))
    read = float(rng.uniform(0.002, 0.02)) if noise_std is None else float(noise_std)
    shot = float(rng.uniform(0, 0.04))
    noise = rng.normal(0, 1, img.shape) * np.sqrt(read ** 2 + shot ** 2 * img.numpy())
    img = (img + torch.as_tensor(noise, dtype=torch.float32)).clamp(0, 1)
    if rng.random() < 0.5:
        img = _jpeg(img, int(rng.integers(25, 96)))
    return img.contiguous(), first, ambient, read
