"""Texture estimation by back-projection (§4, data pre-processing; Fig. 3).

*"We generate texture maps by back-projecting the image colors from multiple frames to all visible
vertices."* The kit does it in three steps:

1. :func:`backproject` -- for every frame, the image colour of each visible vertex: the barycentric-weighted
   mean of the pixels whose visible triangle contains it (the same scatter as Eq. 5,
   :func:`dispkit.displacement.pixels_to_vertices`, applied to the image instead of a displacement field);
2. the per-vertex **median** over the frames that saw the vertex;
3. :func:`bake_uv` -- rasterise the mesh in UV space (the rasteriser of :mod:`dispkit.raster`) and interpolate
   the vertex colours into a texture map stored like an image (row 0 = top, the convention of
   :func:`dispkit.render.render`). Vertices no frame saw get the mean colour of the seen vertices of their body
   part (or of all seen vertices), and are reported.

:func:`estimate_texture` chains them; :func:`texture_error` compares a texture with the true one.
"""
from __future__ import annotations

import torch

from dispkit import inputs
from dispkit.displacement import pixels_to_vertices

__all__ = ["backproject", "bake_uv", "degrade", "estimate_texture", "sample_at_vertices", "scene_texture",
           "texture_error"]


@torch.no_grad()
def backproject(images, vertices, cam, body, min_weight: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame vertex colours from images: ``images`` [N,H,W,3] in [0,1], ``vertices`` [N,V,3] (the person's
    fitted or GT meshes), ``cam`` batch 1 or N (full-image cameras). Returns ``(colors [N,V,3], seen [N,V])``;
    a vertex counts as seen when its accumulated barycentric weight exceeds ``min_weight`` (a fraction of a
    pixel). ``uint8`` images (0-255) are converted to float / 255; bad inputs raise the errors of
    :mod:`dispkit.inputs`."""
    from dispkit.render import render

    images = inputs.check_image(images, "images", layout="[N,H,W,3]", single=False)
    vertices = inputs.to_tensor(vertices, "vertices")
    if vertices.ndim != 3 or vertices.shape[0] != images.shape[0]:
        raise inputs.BatchMismatchError(f"vertices must be [N,V,3] with one mesh per image ({images.shape[0]}), "
                                        f"got {tuple(vertices.shape)}")
    vertices = inputs.check_vertices(vertices, V=getattr(body, "num_vertices", None)).float()
    inputs.check_camera_batch(cam, images.shape[0], what="the number of images")
    min_weight = inputs.check_number(min_weight, "min_weight", lo=0.0)
    if (cam.height, cam.width) != tuple(images.shape[1:3]):
        raise inputs.InputShapeError(f"the camera renders {(cam.height, cam.width)}, the images are "
                                     f"{tuple(images.shape[1:3])}")
    views = render(vertices, body, cam, modalities=("mask", "face_index", "bary"))
    return pixels_to_vertices(images, views["face_index"], views["bary"], body.faces, vertices.shape[1],
                              min_weight=min_weight)


def _median_over_frames(colors, seen):
    x = torch.where(seen[..., None], colors, torch.full_like(colors, float("nan")))
    med = torch.nanmedian(x, dim=0).values  # [V,3]
    ok = seen.any(0)
    return torch.where(ok[:, None], med, torch.zeros_like(med)), ok, seen.sum(0)


def _fill_unseen(colors, ok, part_labels):
    """Unseen vertices take the mean colour of the seen vertices of their part, else of all seen vertices."""
    out = colors.clone()
    if not bool(ok.any()):
        return out.fill_(0.5)
    overall = colors[ok].mean(0)
    if part_labels is None:
        out[~ok] = overall
        return out
    parts = part_labels.long()
    P = int(parts.max()) + 1
    sums = torch.zeros(P, 3).index_add_(0, parts[ok], colors[ok])
    counts = torch.zeros(P).index_add_(0, parts[ok], torch.ones(int(ok.sum())))
    means = torch.where(counts[:, None] > 0, sums / counts.clamp(min=1)[:, None], overall)
    out[~ok] = means[parts[~ok]]
    return out


@torch.no_grad()
def bake_uv(vertex_colors, body, size: int = 512, uv=None) -> torch.Tensor:
    """A UV texture map [size,size,3] (row 0 = top) from vertex colours [V,3], by rasterising the mesh in UV
    space. Texels no triangle covers are filled by ``_dilate``: the covered texels grow outward one ring per step,
    each new texel the mean of its covered 4-neighbours, for up to 64 steps; texels still uncovered after that get
    the mean colour of all texels filled so far (so bilinear lookup at seams and island borders blends no black in)."""
    from dispkit.raster import interpolate, rasterize
    from dispkit.render import image_uv

    vt, ft = image_uv(uv if uv is not None else body.uv)
    vt, ft = vt.float(), ft.long()
    faces = torch.as_tensor(body.faces).long()
    # colour per texture vertex: the colour of the mesh vertex at the same triangle corner
    per_vt = torch.zeros(vt.shape[0], 3)
    per_vt[ft.reshape(-1)] = torch.as_tensor(vertex_colors).float()[faces.reshape(-1)]
    # texel (r, k) has its centre at uv = ((k + .5)/S, (r + .5)/S) (image rows); the rasteriser puts row r at
    # y_ndc = 2 (r + .5)/S - 1, so clip = (2u - 1, 2v - 1)
    pos = torch.cat([vt * 2 - 1, torch.zeros(vt.shape[0], 1), torch.ones(vt.shape[0], 1)], 1)
    rast = rasterize(pos[None], ft.int(), (size, size))
    tex = interpolate(per_vt[None], rast, ft.int())[0]                                    # [S,S,3]
    covered = rast[0, ..., 3] > 0
    return _dilate(tex, covered)


def _dilate(tex, covered, steps: int = 64):
    """Grow covered texels into uncovered ones (4-neighbour mean), then fill the rest with the mean colour."""
    tex, cov = tex.clone(), covered.clone()
    for _ in range(steps):
        if bool(cov.all()):
            break
        t = tex * cov[..., None]
        c = cov.float()
        pad_t = torch.nn.functional.pad(t.permute(2, 0, 1), (1, 1, 1, 1))
        pad_c = torch.nn.functional.pad(c[None], (1, 1, 1, 1))
        s = pad_t[:, :-2, 1:-1] + pad_t[:, 2:, 1:-1] + pad_t[:, 1:-1, :-2] + pad_t[:, 1:-1, 2:]
        n = pad_c[:, :-2, 1:-1] + pad_c[:, 2:, 1:-1] + pad_c[:, 1:-1, :-2] + pad_c[:, 1:-1, 2:]
        grow = (~cov) & (n[0] > 0)
        tex[grow] = (s / n.clamp(min=1)).permute(1, 2, 0)[grow]
        cov = cov | grow
    if not bool(cov.all()):
        tex[~cov] = tex[cov].mean(0) if bool(cov.any()) else 0.5
    return tex


def estimate_texture(images, vertices, cam, body, size: int = 512) -> tuple[torch.Tensor, dict]:
    """The person's texture from several frames (§4): back-projection, per-vertex median, UV baking.

    ``images`` [N,H,W,3] (float in [0,1], or uint8 converted to float / 255), ``vertices`` [N,V,3] (the person's
    meshes in those frames), ``cam`` (batch 1 or N), ``size`` the texture's side in texels (1 to 8192).
    Bad inputs raise the errors of :mod:`dispkit.inputs`. Returns ``(texture [size,size,3], info)`` with
    ``vertex_colors`` [V,3], ``seen`` [V] (seen in at least one frame), ``views_per_vertex`` [V] and ``coverage``
    (fraction of vertices seen).
    """
    size = inputs.check_int(size, "size", lo=1, hi=8192)
    if getattr(body, "uv", None) is None:
        raise inputs.InputTypeError("body has no UV coordinates (uv = (vt, ft)) to bake a texture map into: the open "
                                    "model has them; an SMPL .pkl does not")
    colors, seen = backproject(images, vertices, cam, body)
    med, ok, count = _median_over_frames(colors, seen)
    filled = _fill_unseen(med, ok, getattr(body, "part_labels", None))
    tex = bake_uv(filled, body, size)
    return tex, {"vertex_colors": filled, "seen": ok, "views_per_vertex": count,
                 "coverage": float(ok.float().mean())}


def scene_texture(scene, frames: int = 4, size: int | None = None, body=None) -> tuple[torch.Tensor, dict]:
    """A synthetic scene's person texture estimated the paper's way: back-projected (:func:`estimate_texture`)
    from ``frames`` other frames of the same person (:func:`dispkit.data.synthetic.reference_frames`, GT meshes).
    ``size`` defaults to the scene's texture size. Returns ``(texture [S,S,3], info)`` like
    :func:`estimate_texture`."""
    from dispkit.body import default_body
    from dispkit.data.synthetic import reference_frames

    body = default_body(body)
    images, vertices, cam = reference_frames(scene, frames, body)
    return estimate_texture(images, vertices, cam, body, size=int(size or scene.texture.shape[0]))


@torch.no_grad()
def sample_at_vertices(tex, body) -> torch.Tensor:
    """A texture map's colour at every mesh vertex's UV [V,3] (bilinear; a seam vertex takes one of its UVs)."""
    from dispkit.raster import texture
    from dispkit.render import image_uv

    vt, ft = image_uv(body.uv)
    faces = torch.as_tensor(body.faces).long()
    vuv = torch.zeros(int(faces.max()) + 1, 2)
    vuv[faces.reshape(-1)] = vt.float()[ft.long().reshape(-1)]
    return texture(torch.as_tensor(tex).float()[None], vuv[None, None])[0, 0]


@torch.no_grad()
def texture_error(estimated, true, body, seen=None) -> dict:
    """Mean absolute colour error (0-255 scale) between two texture maps at the mesh vertices' UVs: over all
    vertices and over the ``seen`` ones [V] (if given)."""
    err = (sample_at_vertices(estimated, body) - sample_at_vertices(true, body)).abs().mean(-1) * 255
    out = {"mean_abs_error_255": float(err.mean())}
    if seen is not None:
        out["seen_mean_abs_error_255"] = float(err[seen].mean()) if bool(seen.any()) else float("nan")
    return out


def degrade(texture, kind: str, sigma: float, generator=None) -> torch.Tensor:
    """The texture perturbations of Table 3: ``kind="noise"`` adds pixel-wise Gaussian noise N(0, sigma) and
    ``kind="brightness"`` one global offset N(0, sigma) to every texel (sigma on the 0-255 scale); clamped to
    [0, 1]. ``generator``: a torch.Generator or a seed."""
    tex = torch.as_tensor(texture).float()
    g = generator if isinstance(generator, torch.Generator) else torch.Generator().manual_seed(int(generator or 0))
    if kind == "noise":
        delta = torch.randn(tex.shape, generator=g) * sigma / 255
    elif kind == "brightness":
        delta = torch.randn((), generator=g) * sigma / 255
    else:
        raise ValueError(f"kind must be 'noise' or 'brightness', got {kind!r}")
    return (tex + delta).clamp(0, 1)
