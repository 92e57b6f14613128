"""Real photographs as backgrounds: the ones that packages on PyPI ship inside their wheels, with their licences.

A network trained over procedural backgrounds only meets real clutter, texture and light for the first time at
test time. No dataset can be fetched here, but several scientific-Python packages carry sample photographs in
their wheels. :data:`PHOTOGRAPHS` lists every one whose licence allows the use, with the package, the file, what it
shows, its licence, and its *split*: ``"train"`` photographs may appear behind training samples, ``"heldout"`` ones
only in the evaluation scenes (the held-out-appearance split of :mod:`dispkit.data.wide`). The split is by
photograph, never by crop: no crop of a held-out photograph is ever seen in training.

:func:`photo_background` cuts a random view out of one photograph: a random scale (from the whole photograph to an
eighth of its shorter side), position, rotation and mirror, then colour jitter (exposure, contrast, saturation,
white balance; grey photographs get a random tint) and sometimes a blur. One photograph gives many unlike crops.
``background_dir`` folders (your own photographs) keep working through
:func:`dispkit.data.appearance.make_background`.
"""
from __future__ import annotations

import functools
import importlib.resources
import importlib.util

import numpy as np
import torch
import torch.nn.functional as F

from dispkit.data.poses import _rng

__all__ = ["PHOTOGRAPHS", "SKIPPED", "load_photograph", "photo_background", "photographs"]

#: name -> (package, file inside the package, what it shows, licence, split)
PHOTOGRAPHS = {
    # training photographs
    "astronaut": ("skimage", "data/astronaut.png", "Eileen Collins in front of a flag and a model shuttle",
                  "public domain (NASA)", "train"),
    "chelsea": ("skimage", "data/chelsea.png", "a cat on a wooden floor", "CC0 (Stefan van der Walt)", "train"),
    "rocket": ("skimage", "data/rocket.jpg", "a rocket on its launch pad, sky and land", "public domain (SpaceX)",
               "train"),
    "hubble_deep_field": ("skimage", "data/hubble_deep_field.jpg", "galaxies on a black sky",
                          "public domain (NASA)", "train"),
    "china": ("sklearn", "datasets/images/china.jpg", "a temple roof, trees and sky",
              "CC BY 2.0 (danielbuechele, flickr)", "train"),
    "clock_motion": ("skimage", "data/clock_motion.png", "a wall clock, motion-blurred (grey)",
                     "public domain (Stefan van der Walt)", "train"),
    "coins": ("skimage", "data/coins.png", "coins on a table (grey)", "no known copyright restrictions "
              "(Brooklyn Museum)", "train"),
    "grass": ("skimage", "data/grass.png", "grass (grey)", "CC0 (linolafett, DeviantArt)", "train"),
    "gravel": ("skimage", "data/gravel.png", "gravel (grey)", "CC0 (CC0Textures)", "train"),
    "text": ("skimage", "data/text.png", "painted text on a wall corner (grey)", "public domain (Wikipedia)",
             "train"),
    # held-out photographs: evaluation scenes only
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "Grace Hopper in uniform before a flag",
                     "public domain (U.S. Navy photograph)", "heldout"),
    "coffee": ("skimage", "data/coffee.png", "a cup of coffee on a table", "CC0 (Rachel Michetti)", "heldout"),
    "camera": ("skimage", "data/camera.png", "a man behind a camera on a tripod, outdoors (grey)",
               "CC0 (Lav Varshney)", "heldout"),
    "flower": ("sklearn", "datasets/images/flower.jpg", "a flower and leaves", "CC BY 2.0 (vultilion, flickr)",
               "heldout"),
    "brick": ("skimage", "data/brick.png", "a brick wall (grey)", "CC0 (CC0Textures)", "heldout"),
}
#: photographs in those wheels that the kit does not use, and why
SKIPPED = {
    "skimage data/motorcycle_*.png": "a stereo pair from the Middlebury benchmark; no licence stated",
    "skimage data/moon.png, page.png": "no licence stated",
    "skimage data/retina.jpg, ihc.png, cell.png": "medical and microscope images, not scenes",
    "skimage data/logo.png, color.png": "graphics, not photographs",
}
_PIP_NAME = {"skimage": "scikit-image", "sklearn": "scikit-learn", "matplotlib": "matplotlib"}


def photographs(split: str | None = None) -> tuple[str, ...]:
    """The names of :data:`PHOTOGRAPHS` of one split (``"train"`` / ``"heldout"``), or all of them."""
    if split not in (None, "train", "heldout"):
        raise ValueError(f"split must be 'train', 'heldout' or None, got {split!r}")
    return tuple(n for n, row in PHOTOGRAPHS.items() if split is None or row[4] == split)


@functools.cache
def _load(name: str) -> np.ndarray:
    from PIL import Image

    if name not in PHOTOGRAPHS:
        raise KeyError(f"no photograph {name!r}; there are {sorted(PHOTOGRAPHS)}")
    package, file = PHOTOGRAPHS[name][:2]
    if importlib.util.find_spec(package) is None:
        raise ImportError(f"the photograph {name!r} ships inside the package {package!r}: pip install "
                          f"{_PIP_NAME[package]} (make setup installs it)")
    with importlib.resources.as_file(importlib.resources.files(package).joinpath(file)) as p, Image.open(p) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    rgb.setflags(write=False)
    return rgb


def load_photograph(name: str) -> np.ndarray:
    """Photograph ``name`` of :data:`PHOTOGRAPHS` as ``[H,W,3]`` float32 in [0, 1] (grey ones as RGB), read from the
    installed package that ships it (cached per process)."""
    return _load(name).astype(np.float32) / 255.0


def _is_grey(name: str) -> bool:
    img = _load(name)
    return bool(np.all(img[..., 0] == img[..., 1]) and np.all(img[..., 1] == img[..., 2]))


def photo_background(generator, H: int, W: int, split: str = "train", names=None) -> torch.Tensor:
    """A random view ``[H,W,3]`` float32 in [0, 1] of one photograph of ``split`` (or of ``names``).

    The view: a square-pixel window whose shorter side is ``exp(U(log 1/8, 0))`` of the photograph's shorter side,
    anywhere in it, rotated by ``N(0, 8)`` degrees, mirrored with probability 1/2 (reflection outside the
    photograph); then exposure x ``exp(N(0, 0.3))``, contrast x ``U(0.6, 1.3)``, saturation x ``U(0.3, 1.3)``,
    a white-balance gain ``exp(N(0, 0.08))`` per channel, a random tint ``U(0.5, 1)`` strength for grey
    photographs, and a Gaussian blur of ``U(0.5, 2)`` px with probability 0.3."""
    from dispkit.data.appearance import _check_size, _gaussian_blur

    rng = _rng(generator)
    H, W = _check_size(H, "H"), _check_size(W, "W")
    pool = photographs(split) if names is None else tuple(names)
    if not pool:
        raise ValueError("no photographs to draw from")
    name = pool[int(rng.integers(len(pool)))]
    src = torch.from_numpy(load_photograph(name)).permute(2, 0, 1)[None]        # [1,3,h,w]
    h, w = src.shape[-2:]
    side = min(h, w) * float(np.exp(rng.uniform(np.log(1 / 8), 0)))             # window's shorter side, px
    half = side / 2 * np.array([W / min(H, W), H / min(H, W)])                   # half extent (x, y), px
    cx, cy = rng.uniform(half[0], max(half[0], w - half[0])), rng.uniform(half[1], max(half[1], h - half[1]))
    a = np.deg2rad(rng.normal(0, 8))
    flip = -1.0 if rng.random() < 0.5 else 1.0
    # affine from output normalised coordinates to input normalised coordinates (align_corners=False)
    sx, sy = half[0] / (w / 2), half[1] / (h / 2)
    c, s = np.cos(a), np.sin(a)
    theta = torch.tensor([[flip * c * sx, -s * sy * (h / w), (2 * cx / w) - 1],
                          [flip * s * sx * (w / h), c * sy, (2 * cy / h) - 1]], dtype=torch.float32)[None]
    grid = F.affine_grid(theta, (1, 3, H, W), align_corners=False)
    img = F.grid_sample(src, grid, mode="bilinear", padding_mode="reflection", align_corners=False)[0]
    img = img.permute(1, 2, 0)                                                   # [H,W,3]
    if _is_grey(name):
        tint = torch.as_tensor(rng.uniform(0.3, 1.0, 3), dtype=torch.float32)
        k = float(rng.uniform(0.5, 1.0))
        img = img * (1 - k + k * tint / tint.max())
    grey = img.mean(-1, keepdim=True)
    img = grey + (img - grey) * float(rng.uniform(0.3, 1.3))                     # saturation
    mean = img.mean()
    img = mean + (img - mean) * float(rng.uniform(0.6, 1.3))                     # contrast
    img = img * float(np.exp(rng.normal(0, 0.3))) * torch.as_tensor(np.exp(rng.normal(0, 0.08, 3)),
                                                                     dtype=torch.float32)
    img = img.clamp(0, 1)
    if rng.random() < 0.3:
        img = _gaussian_blur(img, float(rng.uniform(0.5, 2.0)))
    return img.contiguous()
