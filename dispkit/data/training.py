"""Training samples for the displacement network, rendered on the fly, and fixed evaluation splits.

A sample is what §3.1's network sees and what Eq. 3 supervises, all at the network's crop size S:

* ``image`` [3,S,S]: the person crop of the camera image (the GT body, textured and shaded over a background);
* the renderings of the *initial* estimate with the person's *estimated* texture: ``rgb``, ``depth``,
  ``normal``, ``vertex_color`` ([S,S,C]) and ``mask`` [S,S];
* ``field`` [S,S,2]: the GT per-pixel displacement (Eq. 1 with the crop camera, then Eq. 2), crop pixels;
* ``scale``: crop pixels per full-image pixel (divide a crop-pixel EPE by it for full-image pixels).

Initial estimates mix, like §4 "Training": simulated regressor samples (``pare-like``, ``hmr-like``,
``prohmr-like``; with ``distribution="broad"`` scaled by U(0.3, 1.5) with heteroscedastic joints and biases,
:func:`dispkit.data.broad.simulate_regressor_broad`), the GT pose with a regressor's shape and camera
("ground-truth pose with PARE predicted shape and camera parameters"), and small random perturbations of the GT.
``distribution`` picks the scenes: ``"broad"`` (the default of :mod:`dispkit.train`: continuous poses, five frame
shapes, pitch and roll, tinted lights, :mod:`dispkit.data.broad`) or ``"kit"`` (the in-distribution generator's
12 key poses in one 320 x 240 camera, what the first shipped networks saw) or ``"mixed"`` (each sample broad, or
with probability :data:`KIT_SHARE` the kit's: the kit's scenes stay in a wide stream; the last stage of the shipped
``cpu_full``). The crop box comes from the initial estimate's projection (as at test time, where the GT is
unknown), jittered in scale and centre.
Every sample is a pure function of ``(seed, index)``, computed with one torch thread and one renderer thread
(:func:`one_thread`) whatever the process's settings: the main process, spawned DataLoader workers and resumed
runs on one machine get bit-identical samples. (Floating-point summation order depends on the thread count, so
without the fixed setting a 2-thread process and a 1-thread worker differ by ~1e-5; another machine's CPU and
libraries may differ by as much.) Use ``multiprocessing_context="spawn"`` for DataLoader workers: the numba renderer's
OpenMP threads do not survive ``fork()``.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from dispkit.body import default_body
from dispkit.camera import box_from_points, crop_image
from dispkit.data.appearance import degraded_texture, make_background, make_texture, shade_and_composite
from dispkit.data.regressors import REGRESSOR_PRESETS, simulate_regressor
from dispkit.data.synthetic import make_scene, sample_params, scene_params
from dispkit.displacement import pixel_field, vertex_displacements
from dispkit.render import render

__all__ = ["INIT_MIX", "POOL_SEED0", "DisplacementDataset", "jittered_box", "load_split", "load_texture_pool",
           "one_thread", "scene_sample", "texture_pool", "write_split"]

#: how the initial estimates of training pairs are drawn (probabilities)
#: with ``distribution="mixed"``, the share of samples drawn from the kit's generator (the rest are broad)
KIT_SHARE = 0.3
DISTRIBUTIONS = ("kit", "broad", "mixed", "wide")
INIT_MIX = {"regressor": 0.6, "gt_pose": 0.25, "perturbed": 0.15}
_PERTURB = {"sigma_joint": 0.06, "sigma_global": 0.05, "sigma_betas": 0.3, "sigma_depth": 0.04, "sigma_xy": 0.015}
_VIEW_KEYS = ("rgb", "depth", "normal", "vertex_color", "mask")
#: the texture pool's persons are the synthetic scenes ``POOL_SEED0 + 100_000 * seed + k`` (the held-out splits of
#: the benchmarks use seeds 900_000-900_099; training images never come from scene seeds)
POOL_SEED0 = 5_000_000
_POOL_VERSION = 1


@contextlib.contextmanager
def one_thread():
    """Compute inside this block with one torch thread and one ``"cpu"`` renderer thread (restored after): the
    fixed setting that makes a sample bit-identical in every process of a machine."""
    from dispkit import raster

    old_torch, old_render = torch.get_num_threads(), raster.set_num_threads(1)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old_torch)
        raster.set_num_threads(old_render)


def _pick_distribution(rng, distribution: str) -> str:
    """The generator of one sample: ``distribution`` itself, or for ``"mixed"`` the kit's with probability
    :data:`KIT_SHARE` and broad otherwise (one draw of ``rng``)."""
    if distribution not in ("mixed", "wide"):
        return distribution
    return "kit" if rng.random() < KIT_SHARE else "broad"


def _init_estimate(gt, rng, body, mode: str, distribution: str = "kit"):
    if mode == "regressor" and distribution == "broad":
        from dispkit.data.broad import simulate_regressor_broad

        return simulate_regressor_broad(gt, rng, body)
    if mode == "regressor":
        preset = list(REGRESSOR_PRESETS)[rng.integers(len(REGRESSOR_PRESETS))]
        return simulate_regressor(gt, preset, rng, body), preset
    if mode == "gt_pose":
        est = simulate_regressor(gt, "pare-like", rng, body)
        return {**est, "global_orient": gt["global_orient"], "body_pose": gt["body_pose"]}, "gt_pose"
    return simulate_regressor(gt, _PERTURB, rng, body), "perturbed"


def jittered_box(cam, init_vertices, rng) -> torch.Tensor:
    """A training sample's crop box [1,4]: the square box of the initial estimate's projection (as at test time,
    where the GT is unknown) scaled by U(1.15, 1.4), its centre moved by N(0, 0.05) box sides."""
    box = box_from_points(cam.project(init_vertices), scale=float(rng.uniform(1.15, 1.4)))
    side = box[0, 2] - box[0, 0]
    return box + torch.tensor([*rng.normal(0, 0.05, 2), 0, 0], dtype=box.dtype).repeat(2)[[0, 1, 0, 1]] * side


def _inside_frame(box, S: int, width: int, height: int) -> torch.Tensor:
    """[S,S] float: 1 where the crop pixel's centre lies inside the ``width`` x ``height`` full image, 0 outside
    (the crop of a person near the frame's edge shows :func:`dispkit.camera.crop_image`'s zero padding there)."""
    t = (torch.arange(S, dtype=torch.float64) + 0.5) / S
    x = box[0].double() + t * (box[2] - box[0]).double()
    y = box[1].double() + t * (box[3] - box[1]).double()
    return (((y >= 0) & (y <= height))[:, None] & ((x >= 0) & (x <= width))[None, :]).float()


def _sample_from(body, gt_vertices, init_vertices, cam, box, crop, image, est_texture) -> dict:
    """Views of the initial mesh at the crop, the GT field (Eq. 1 + Eq. 2) and the image crop, as a sample."""
    ccam = cam.crop(box, (crop, crop))
    views = render(init_vertices, body, ccam, texture=est_texture)
    v = vertex_displacements(gt_vertices, init_vertices, ccam)                     # Eq. 1, crop pixels
    field = pixel_field(v, views["face_index"], views["bary"], body.faces)       # Eq. 2
    item = {k: views[k][0] for k in _VIEW_KEYS}
    item["field"] = field[0].float()
    item["image"] = image
    item["scale"] = torch.tensor(float(crop / (box[0, 2] - box[0, 0])))
    item["box"] = box[0].float()
    return item


class DisplacementDataset(torch.utils.data.Dataset):
    """On-the-fly training samples (see the module docstring). ``len`` is nominal: any index works.

    Parameters
    ----------
    crop : the network's square crop size S.
    seed : dataset seed; sample ``i`` depends only on ``(seed, i)``.
    length : nominal length.
    image_size : (width, height) of the virtual full image (sets f = sqrt(w² + h²) and the framing).
    texture_size : side of the procedural UV textures.
    mix : probabilities of the initial-estimate modes (default :data:`INIT_MIX`).
    texture : the person's texture behind the RGB rendering. ``"simulated"``: a procedural texture and its
        :func:`~dispkit.data.appearance.degraded_texture` (blur, colour shift, hidden side, holes);
        ``"backprojected"``: a person of a :func:`texture_pool` (``pool``: its folder), whose true texture
        dresses the image and whose texture back-projected from 4 other frames is rendered -- the paper's way
        (§4), and what the network sees at test time.
    pool : folder of a :func:`texture_pool` (required for ``texture="backprojected"``).
    distribution : ``"kit"`` (default here: the in-distribution generator, ``image_size`` frames), ``"broad"``
        (:mod:`dispkit.data.broad`; ``image_size`` is then drawn per sample) or ``"mixed"`` (per sample, the kit's
        with probability :data:`KIT_SHARE`, else broad).
    background_dir : a folder of background images (e.g. your own photos) instead of the procedural ones.
    """

    def __init__(self, crop: int = 64, seed: int = 0, length: int = 100_000, image_size=(320, 240),
                 texture_size: int = 128, mix: dict | None = None, body=None, texture: str = "simulated",
                 pool=None, distribution: str = "kit", background_dir=None):
        if crop < 8:
            raise ValueError(f"crop must be >= 8 pixels, got {crop}")
        self.crop, self.seed, self.length = int(crop), int(seed), int(length)
        self.image_size, self.texture_size = tuple(image_size), int(texture_size)
        self.mix = dict(INIT_MIX if mix is None else mix)
        unknown = set(self.mix) - set(INIT_MIX)
        if unknown:
            raise ValueError(f"unknown init modes {sorted(unknown)}; choose from {sorted(INIT_MIX)}")
        self._body = body
        if texture not in ("simulated", "backprojected"):
            raise ValueError(f"texture must be 'simulated' or 'backprojected', got {texture!r}")
        if texture == "backprojected" and pool is None:
            raise ValueError("texture='backprojected' needs pool=<folder of dispkit.data.training.texture_pool()>")
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"distribution must be one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}")
        self.distribution = distribution
        self.background_dir = None if not background_dir else str(background_dir)
        if self.background_dir is not None:  # fail early on a missing or empty folder
            make_background(0, 8, 8, self.background_dir)
        self.texture, self.pool_path = texture, (None if pool is None else str(pool))
        self._pool = None
        if self.pool_path is not None:  # fail early (in the main process) on a missing or wrong pool
            p = load_texture_pool(self.pool_path)
            if p["true"].shape[1] != self.texture_size:
                raise ValueError(f"{self.pool_path}: pool textures are {p['true'].shape[1]}², the dataset's "
                                 f"texture_size is {self.texture_size}")

    def __getstate__(self):  # workers re-open the pool (memory-mapped) instead of receiving copies
        return {**self.__dict__, "_pool": None}

    @property
    def pool(self):
        if self._pool is None and self.pool_path is not None:
            self._pool = load_texture_pool(self.pool_path)
        return self._pool

    @property
    def body(self):
        if self._body is None:  # loaded lazily, once per worker process
            self._body = default_body()
        return self._body

    def __len__(self):
        return self.length

    def __getitem__(self, index: int) -> dict:
        index = int(index)
        if index < 0:
            raise IndexError(index)
        with one_thread():
            return self._make(index)

    def _make(self, index: int) -> dict:
        rng = np.random.default_rng([self.seed, index, 31337])
        body, S = self.body, self.crop
        dist = _pick_distribution(rng, self.distribution)
        wide = self.distribution == "wide"
        if dist == "broad":
            from dispkit.data.broad import make_background_broad, sample_params_broad, shade_and_composite_broad

            gt, cam, meta = sample_params_broad(rng, body)
            shade, background = shade_and_composite_broad, make_background_broad
        else:
            W, H = self.image_size
            gt, cam, meta = sample_params(rng, body, W, H)
            shade, background = shade_and_composite, make_background
        if wide:  # the wide appearance (dispkit.data.wide) over either geometry
            from dispkit.data.wide import background_wide, shade_wide

            shade = shade_wide
        modes = list(self.mix)
        mode = modes[rng.choice(len(modes), p=np.array([self.mix[m] for m in modes]) / sum(self.mix.values()))]
        init, source = _init_estimate(gt, rng, body, mode, dist)
        with torch.no_grad():
            gt_v, init_v = body(**gt).vertices, body(**init).vertices
            box = jittered_box(cam, init_v, rng)
            if self.texture == "backprojected":
                k = int(rng.integers(len(self.pool["true"])))
                tex = torch.from_numpy(self.pool["true"][k].astype(np.float32) / 255.0)
                est = torch.from_numpy(self.pool["estimated"][k].astype(np.float32) / 255.0)
            else:
                tex = make_texture(rng, self.texture_size, body)
                hidden = "back" if abs(meta["yaw"]) < math.pi / 2 else "front"
                est = degraded_texture(tex, rng, body, hidden=hidden)
            bg = (background_wide(rng, S, S) if wide and self.background_dir is None
                  else background(rng, S, S, self.background_dir))
            ccam = cam.crop(box, (S, S))
            g = render(gt_v, body, ccam, texture=tex, modalities=("rgb", "normal", "mask"))
            image, *_ = shade(g["rgb"][0], g["normal"][0], g["mask"][0], bg, rng)
            if dist == "broad":  # what lies outside the full frame is black, as crop_image pads it
                image = image * _inside_frame(box[0], S, *meta["image_size"])[..., None]
            item = _sample_from(body, gt_v, init_v, cam, box, S, image.permute(2, 0, 1).contiguous(), est)
        item["index"] = torch.tensor(index)
        item["source"] = source
        return item


def scene_sample(scene, crop: int, body=None, texture=None) -> dict:
    """A network sample from a full synthetic scene (evaluation): the image crop is *resampled* from the
    scene's image (as for real photos), the box comes from the initial estimate, the renderings use
    ``texture`` [S,S,3] (default: the scene's simulated ``degraded_texture``; pass the back-projected one of
    :func:`dispkit.texture.scene_texture` for the paper's setting); ``field`` is the GT (Eq. 1 + 2).
    Batch-free tensors like the dataset's."""
    body = default_body(body)
    texture = scene.degraded_texture if texture is None else texture
    with torch.no_grad():
        gt_v, init_v = body(**scene.gt).vertices, body(**scene.init).vertices
        box = box_from_points(scene.camera.project(init_v), scale=1.25)
        img = crop_image(scene.image.permute(2, 0, 1)[None], box, (crop, crop))[0]
        return _sample_from(body, gt_v, init_v, scene.camera, box, crop, img, texture)


# --------------------------------------------------------------------------- back-projected texture pool

def _cache_root() -> Path:
    return Path(os.environ.get("DISPKIT_CACHE", Path.home() / ".cache" / "dispkit"))


def texture_pool(n: int = 1000, seed: int = 0, texture_size: int = 128, frames: int = 4, cache_dir=None,
                 body=None, progress: bool = True, chunk: int = 50, distribution: str = "kit") -> Path:
    """Build once, then reuse, a pool of ``n`` synthetic persons with their true textures and the textures
    back-projected from ``frames`` other frames of each (:func:`dispkit.texture.scene_texture`, §4).

    Training on back-projected textures is what the paper does; they carry the artefacts the network meets at
    test time (baked-in shading, background at the silhouette, part-mean colour where no frame saw the body).
    Person ``k`` is the scene ``POOL_SEED0 + 100_000 * seed + k``. Building costs about 0.3 s per person on one
    core; the result (uint8 ``true.npy`` and ``estimated.npy`` [n,S,S,3], ``info.json``) goes to
    ``cache_dir`` (default ``$DISPKIT_CACHE`` or ``~/.cache/dispkit``) ``/texture_pool/<settings>/``. Finished
    chunks of ``chunk`` persons are kept, so an interrupted build resumes where it stopped.
    Returns the pool's folder (for :class:`DisplacementDataset` ``pool=``).
    """
    from tqdm.auto import tqdm

    from dispkit.texture import scene_texture, texture_error

    n, frames, texture_size = int(n), int(frames), int(texture_size)
    if n < 1 or frames < 1:
        raise ValueError(f"need n >= 1 persons and frames >= 1, got n={n}, frames={frames}")
    if distribution not in ("kit", "wide"):
        raise ValueError(f"a texture pool's persons come from the 'kit' or the 'wide' scenes, got {distribution!r}")
    root = Path(cache_dir) if cache_dir is not None else _cache_root()
    tag = "" if distribution == "kit" else f"_{distribution}"
    out = root / "texture_pool" / f"n{n}_seed{seed}_tex{texture_size}_f{frames}{tag}_v{_POOL_VERSION}"
    if (out / "info.json").is_file():
        return out
    body = default_body(body)
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=n, desc="texture pool (back-projection)", disable=not progress)
    for c0 in range(0, n, chunk):
        f = parts / f"{c0:07d}.npz"
        c1 = min(n, c0 + chunk)
        if f.is_file():
            bar.update(c1 - c0)
            continue
        true, est, cov, err = [], [], [], []
        for k in range(c0, c1):
            scene = make_scene(POOL_SEED0 + 100_000 * int(seed) + k, body=body, texture_size=texture_size,
                               distribution=distribution)
            tex, info = scene_texture(scene, frames, body=body)
            true.append(scene.texture.numpy())
            est.append(tex.numpy())
            cov.append(info["coverage"])
            err.append(texture_error(tex, scene.texture, body, info["seen"])["seen_mean_abs_error_255"])
            bar.update(1)
        tmp = f.with_suffix(".tmp.npz")
        np.savez(tmp, true=_to_u8(true), estimated=_to_u8(est), coverage=np.array(cov), error=np.array(err))
        tmp.replace(f)
    bar.close()
    arrays = [np.load(parts / f"{c0:07d}.npz") for c0 in range(0, n, chunk)]
    tmp_out = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp_out, ignore_errors=True)
    tmp_out.mkdir(parents=True)
    for key in ("true", "estimated"):
        np.save(tmp_out / f"{key}.npy", np.concatenate([a[key] for a in arrays]))
    cov = np.concatenate([a["coverage"] for a in arrays])
    err = np.concatenate([a["error"] for a in arrays])
    (tmp_out / "info.json").write_text(json.dumps({
        "n": n, "seed": int(seed), "texture_size": texture_size, "frames": frames, "version": _POOL_VERSION,
        "distribution": distribution,
        "first_scene_seed": POOL_SEED0 + 100_000 * int(seed), "mean_coverage": float(cov.mean()),
        "mean_seen_error_255": float(err.mean())}, indent=1))
    shutil.rmtree(out, ignore_errors=True)
    tmp_out.replace(out)
    shutil.rmtree(parts, ignore_errors=True)
    return out


def _to_u8(x):
    return (np.clip(np.stack(x), 0, 1) * 255 + 0.5).astype(np.uint8)


def load_texture_pool(path) -> dict:
    """A :func:`texture_pool` folder: ``true`` and ``estimated`` uint8 [n,S,S,3] (memory-mapped) and ``info``."""
    path = Path(path)
    if not (path / "info.json").is_file():
        raise FileNotFoundError(f"{path} is not a texture pool (no info.json); build one with "
                                "dispkit.data.training.texture_pool()")
    return {"true": np.load(path / "true.npy", mmap_mode="r"),
            "estimated": np.load(path / "estimated.npy", mmap_mode="r"),
            "info": json.loads((path / "info.json").read_text())}


# --------------------------------------------------------------------------- fixed splits

def write_split(path, seeds, regressor: str = "pare-like", width: int = 320, height: int = 240, body=None,
                distribution: str = "kit") -> Path:
    """Write a fixed evaluation split: seeds, GT and initial parameters and cameras, as .npz.

    The scenes are :func:`dispkit.data.synthetic.make_scene` of those seeds (``distribution``: ``"kit"`` or
    ``"ood"``); :func:`load_split` re-creates
    them and checks that the parameters still match (so code changes that would silently change an
    evaluation are caught).
    """
    body = default_body(body)
    seeds = np.asarray(list(seeds), dtype=np.int64)
    rows = [scene_params(int(s), regressor, width, height, body, distribution=distribution) for s in seeds]
    arrays = {"seeds": seeds, "regressor": np.array(regressor), "image_size": np.array([width, height]),
              "distribution": np.array(distribution)}
    for which, k in ((0, "gt"), (1, "init")):
        for key in ("global_orient", "body_pose", "betas", "transl"):
            arrays[f"{k}_{key}"] = np.concatenate([r[which][key].numpy() for r in rows])
    arrays["focal"] = np.concatenate([r[2].focal.numpy() for r in rows])
    arrays["center"] = np.concatenate([r[2].center.numpy() for r in rows])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def load_split(path, body=None, check: bool = True):
    """Yield the scenes of a split written by :func:`write_split` (``make_scene`` of its seeds).

    With ``check``, each scene's parameters are compared with the stored ones (atol 1e-5) and a mismatch
    raises ``ValueError`` naming the seed.
    """
    d = np.load(path)
    regressor = str(d["regressor"])
    width, height = (int(x) for x in d["image_size"])
    distribution = str(d["distribution"]) if "distribution" in d else "kit"
    for i, seed in enumerate(d["seeds"]):
        scene = make_scene(int(seed), regressor, width, height, body, distribution=distribution)
        if check:
            for k, params in (("gt", scene.gt), ("init", scene.init)):
                for key, val in params.items():
                    if not np.allclose(val.numpy(), d[f"{k}_{key}"][i:i + 1], atol=1e-5):
                        raise ValueError(f"{path}: scene seed {seed} no longer matches the split ({k}.{key}); "
                                         "the scene generator changed since the split was written")
        yield scene
