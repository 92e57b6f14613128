"""The paper's input modalities (§3.1): posed meshes rendered to RGB, depth, normals, vertex colours and index maps.

The paper renders the initial SMPL mesh (RGB from a texture map, depth, normals and
"unique vertex colours") and needs, for every pixel, the visible triangle and its
barycentric coordinates (Eq. 2, Eq. 5). :func:`render` rasterises a mesh once and computes
every modality of :data:`MODALITIES` from the same visible triangle and perspective-correct
barycentrics, so they are pixel-aligned with each other and with the triangle index map. On
the CPU all modalities come from one numba pass over the pixels; on other devices (or without
numba) from :func:`interpolate` and :func:`texture` in PyTorch.

The primitives live in :mod:`dispkit.raster`: ``rasterize`` / ``interpolate`` / ``texture``
with nvdiffrast's contract, their backends (``"cpu"`` numba, ``"torch"``, ``"nvdiffrast"``),
the thread count, validation and the numba warm-up. The three primitives are re-exported
here (``dispkit.render.rasterize(pos_clip, faces, (H, W), backend="auto")``); use everything
else (``set_num_threads``, ``get_num_threads``, ``warmup``, ``available_backends``,
``BACKENDS``) from :mod:`dispkit.raster`.

Texture coordinates: body models carry OBJ-convention UVs (``v = 0`` at the bottom of the
texture image); :func:`image_uv` flips them to image rows (row 0 = top), the convention of
the texture maps and of :func:`texture`.
"""
from __future__ import annotations

import numpy as np
import torch

from dispkit import inputs
from dispkit import raster as _raster
from dispkit.raster import interpolate, rasterize, texture

__all__ = [
    "MODALITIES",
    "image_uv",
    "interpolate",
    "rasterize",
    "render",
    "texture",
    "vertex_normals",
]

MODALITIES = ("rgb", "depth", "normal", "vertex_color", "mask", "face_index", "bary", "uv")


def vertex_normals(vertices: torch.Tensor, faces) -> torch.Tensor:
    """Unit, area-weighted vertex normals [B,V,3] of triangle meshes ``vertices`` [B,V,3].

    Each face adds its (unnormalised, i.e. area-weighted) normal ``(v1 - v0) x (v2 - v0)``
    to its three vertices. For SMPL's counter-clockwise winding the normals point out of
    the body. Vertices that belong to no face get a zero normal.
    """
    vertices = torch.as_tensor(vertices)
    if vertices.ndim == 2:
        vertices = vertices.unsqueeze(0)
    if vertices.ndim != 3 or vertices.shape[-1] != 3:
        raise ValueError(f"vertices must have shape [B,V,3], got {tuple(vertices.shape)}")
    faces = _raster._check_faces(faces, vertices.shape[1], vertices.device).long()
    kernels = _raster._numba_module() if vertices.device.type == "cpu" and not vertices.requires_grad else None
    if kernels is not None and vertices.dtype in (torch.float32, torch.float64):
        vertices = vertices.contiguous()
        n = torch.empty_like(vertices)
        kernels.vertex_normals(vertices.numpy(), faces.numpy(), n.numpy())
        return n
    v0, v1, v2 = (vertices[:, faces[:, k]] for k in range(3))
    fn = torch.linalg.cross(v1 - v0, v2 - v0, dim=-1)  # [B,F,3]
    n = torch.zeros_like(vertices)
    for k in range(3):
        n.index_add_(1, faces[:, k], fn)
    return torch.nn.functional.normalize(n, dim=-1, eps=1e-12)


def image_uv(uv) -> tuple[torch.Tensor, torch.Tensor]:
    """A body's UVs ``(vt [T,2], ft [F,3])`` (OBJ convention, v = 0 at the bottom) with v flipped to image rows
    (row 0 = top of the texture image), the convention of texture maps and :func:`texture`."""
    if uv is None:
        raise ValueError("texture given, but the body model has no UV coordinates (vt, ft); "
                         "the open model has them, an SMPL .pkl does not: pass uv=(vt, ft) from SMPL's UV "
                         "template (smpl_uv.obj) or render without texture")
    vt, ft = uv
    vt = torch.as_tensor(vt)
    return torch.stack([vt[:, 0], 1.0 - vt[:, 1]], -1), torch.as_tensor(ft)


@torch.no_grad()
def render(vertices, body, cam, texture=None, *, box=None, size=None, modalities=None,
           backend: str = "auto", bg_color=0.0, uv=None, near: float = 0.1, far: float = 100.0,
           num_threads: int | None = None) -> dict:
    """Render the paper's input modalities of posed meshes (§3.1): the "renderings" the network sees.

    The mesh is rasterised once (:func:`rasterize`, nvdiffrast's contract) and every modality is
    interpolated from the same visible triangle and perspective-correct barycentrics, so they are
    pixel-aligned with each other and with the triangle index map that Eq. 2 and Eq. 5 use.
    Rendering takes no gradients (the paper renders without them).

    Parameters
    ----------
    vertices : Tensor [B,V,3]
        Posed vertices in world coordinates (e.g. ``body(...).vertices``).
    body : BodyModel
        Supplies ``faces``, ``canonical_colors`` (the "unique vertex colours") and ``uv``;
        any object with a ``faces`` attribute works for the untextured modalities.
    cam : dispkit.camera.Camera
        Batch of B (or 1) cameras; the output has the camera's image size.
    texture : Tensor [B,Ht,Wt,3] or [Ht,Wt,3], optional
        UV texture map, float in [0, 1] or ``uint8`` in [0, 255] (converted to float / 255; RGBA: the
        alpha is dropped), stored like an image (row 0 = top). The body's UVs
        follow the OBJ convention (v = 0 at the bottom) and are flipped accordingly. Without a
        texture, ``rgb`` is not computed.
    box, size : Tensor [B,4] (x0, y0, x1, y1) in full-image pixels, and (H, W)
        Render the person crop ``box`` at resolution ``size`` through the exact crop camera
        ``cam.crop(box, size)`` (no resampling of a full-image render).
    modalities : iterable of str, optional
        Subset of ``MODALITIES`` to compute (default: all that the inputs allow).
    backend : rasteriser backend, see :func:`rasterize`.
    bg_color : float or 3 floats
        Background of ``rgb``.
    uv : (vt [T,2], ft [F,3]), optional
        Texture coordinates overriding ``body.uv`` (OBJ convention).

    Returns
    -------
    dict of tensors on the vertices' device, image rows top to bottom, columns left to right:

    ==============  ==============  ===================================================  ==============
    key             shape           content                                              background
    ==============  ==============  ===================================================  ==============
    rgb             [B,H,W,3]       bilinear texture lookup at the interpolated UV       ``bg_color``
    depth           [B,H,W]         camera-space z of the visible surface (metres)       0
    normal          [B,H,W,3]       unit normal in camera space (x right, y down,        0
                                    z forward; a surface faces the camera where n · d < 0,
                                    d the viewing ray: n_z < 0 only near the optical axis),
                                    interpolated from area-weighted vertex normals
    vertex_color    [B,H,W,3]       interpolated canonical vertex colours (the           0
                                    template's coordinates normalised to [0, 1])
    mask            [B,H,W] bool    a triangle covers the pixel centre                   False
    face_index      [B,H,W] long    visible triangle (the AIndexMap of Eq. 2 and 5)      -1
    bary            [B,H,W,3]       barycentrics of that triangle's vertices 0, 1, 2     0
                                    (``(u, v, 1 - u - v)`` of ``rast``)
    uv              [B,H,W,2]       interpolated texture coordinates (image rows)        0
    rast            [B,H,W,4]       the raw rasteriser output ``(u, v, z/w, id + 1)``    0
    camera          Camera          the camera used (the crop camera with ``box``)
    ==============  ==============  ===================================================  ==============

    Raises
    ------
    ValueError
        a texture without UVs; and the errors of :mod:`dispkit.inputs` (ValueErrors or TypeErrors): non-finite
        vertices (``NonFiniteInputError``, naming the batch item), wrong shapes (``InputShapeError``), an empty
        batch, a camera batch that is neither 1 nor B (``BatchMismatchError``), no Camera (``InputTypeError``),
        a texture out of [0, 1], an unknown modality (``UnknownNameError``).
    """
    vertices = inputs.check_vertices(vertices, V=getattr(body, "num_vertices", None),
                                     hint=": the body parameters (or the optimisation that produced them) "
                                          "diverged; nothing to render")
    inputs.check_camera_batch(cam, vertices.shape[0], what="the vertices' batch")
    near = inputs.check_number(near, "near", lo=0.0, open_lo=True)
    far = inputs.check_number(far, "far", lo=near, open_lo=True)
    if box is not None:
        if size is None:
            raise ValueError("render(..., box=...) needs size=(H, W) of the crop")
        cam = cam.crop(box, _raster._parse_resolution(size))
    elif size is not None and _raster._parse_resolution(size) != (cam.height, cam.width):
        raise ValueError(f"size={size} differs from the camera's image ({cam.height}, {cam.width}); "
                         "give box= to render a crop, or a camera of that size")
    B, V = vertices.shape[:2]
    if cam.batch_size != B:
        cam = cam.expand(B)
    cam = cam.to(device=vertices.device)
    faces = _raster._check_faces(getattr(body, "faces", body), V, vertices.device).long()

    wanted = set(MODALITIES if modalities is None else modalities)
    unknown = wanted - set(MODALITIES)
    if unknown:
        raise inputs.UnknownNameError(f"unknown modalities {sorted(unknown)}; choose from {MODALITIES}")
    if texture is not None:
        texture = inputs.check_texture(texture, B)
    if texture is None:
        if modalities is not None and "rgb" in wanted:
            raise ValueError("the 'rgb' modality needs a texture map")
        wanted.discard("rgb")
    colors = getattr(body, "canonical_colors", None)
    if colors is None:
        if modalities is not None and "vertex_color" in wanted:
            raise ValueError("the 'vertex_color' modality needs body.canonical_colors")
        wanted.discard("vertex_color")
    vt = ft = None
    if "rgb" in wanted or "uv" in wanted:
        if uv is None and getattr(body, "uv", None) is None and "rgb" not in wanted:
            wanted.discard("uv")  # no UVs and no texture asked for: skip silently
        else:
            vt, ft = image_uv(getattr(body, "uv", None) if uv is None else uv)
            vt, ft = vt.to(vertices.device), _raster._check_faces(ft, vt.shape[0], vertices.device).long()
            if ft.shape[0] != faces.shape[0]:
                raise ValueError(f"ft has {ft.shape[0]} triangles but the mesh has {faces.shape[0]}")

    H, W = cam.height, cam.width
    pc = cam.to_camera(vertices)  # camera space [B,V,3]
    rast = rasterize(cam.camera_to_clip(pc, near=near, far=far), faces, (H, W), backend=backend,
                     num_threads=num_threads)
    tex = texture.to(vertices.device) if "rgb" in wanted else None  # checked above: float32 [1 or B,Ht,Wt,3]
    if vertices.device.type == "cpu" and _raster._numba_module() is not None:
        out = _modalities_numba(wanted, rast, pc, faces, colors, vt, ft, tex, bg_color)
    else:
        out = _modalities_torch(wanted, rast, pc, faces, colors, vt, ft, tex, bg_color)
    out["rast"] = rast
    out["camera"] = cam
    return out


def _modalities_numba(wanted, rast, pc, faces, colors, vt, ft, tex, bg_color):
    """CPU fast path: every modality in one numba pass over the pixels (``_raster_numba.shade``)."""
    kernels = _raster._numba_module()
    B, H, W = rast.shape[:3]
    V = pc.shape[1]
    f32 = torch.float32
    attr = torch.zeros(B, V, 7, dtype=f32)
    if "depth" in wanted:
        attr[..., 0] = pc[..., 2]
    if "normal" in wanted:
        attr[..., 1:4] = vertex_normals(pc, faces)
    if "vertex_color" in wanted:
        attr[..., 4:7] = torch.as_tensor(colors).to(f32)

    def img(key, *shape):  # unwanted outputs are 1-pixel dummies the kernel never writes
        return torch.empty((B, H, W, *shape) if key in wanted else (1, 1, 1, *shape), dtype=f32)

    out = {"depth": img("depth"), "normal": img("normal", 3), "vertex_color": img("vertex_color", 3),
           "uv": img("uv", 2), "rgb": img("rgb", 3), "bary": img("bary", 3),
           "face_index": torch.empty(B, H, W, dtype=torch.int64) if "face_index" in wanted
           else torch.zeros(1, 1, 1, dtype=torch.int64)}
    if vt is None:
        vt, ft = torch.zeros(1, 2, dtype=f32), torch.zeros(1, 3, dtype=torch.int64)
    texn = tex if tex is not None else torch.zeros(1, 1, 1, 3, dtype=f32)
    bg = torch.as_tensor(bg_color, dtype=f32).expand(3).contiguous()
    flags = np.array([k in wanted for k in ("depth", "normal", "vertex_color", "uv", "rgb", "bary", "face_index")],
                     dtype=np.int64)
    kernels.shade(rast.contiguous().numpy(), faces.numpy(), attr.numpy(), ft.contiguous().numpy(),
                  vt.to(f32).contiguous().numpy(), texn.numpy(), bg.numpy(), flags,
                  out["depth"].numpy(), out["normal"].numpy(), out["vertex_color"].numpy(), out["uv"].numpy(),
                  out["rgb"].numpy(), out["bary"].numpy(), out["face_index"].numpy())
    out = {k: v for k, v in out.items() if k in wanted}
    if "mask" in wanted:
        out["mask"] = rast[..., 3] > 0
    return out


def _modalities_torch(wanted, rast, pc, faces, colors, vt, ft, tex, bg_color):
    """Any-device path (CUDA, or no numba): :func:`interpolate` and :func:`texture` in torch."""
    B, V = pc.shape[:2]
    tid = rast[..., 3].long()  # [B,H,W], 0 = background
    mask = tid > 0
    fdt = torch.float32
    attrs, slices = [], {}
    for key, c in (("depth", 1), ("normal", 3), ("vertex_color", 3)):
        if key in wanted:
            slices[key] = (sum(a.shape[-1] for a in attrs), c)
            if key == "depth":
                attrs.append(pc[..., 2:3].to(fdt))
            elif key == "normal":
                attrs.append(vertex_normals(pc, faces).to(fdt))
            else:
                attrs.append(torch.as_tensor(colors, device=pc.device).to(fdt).expand(B, V, 3))
    out = {}
    if attrs:
        img = interpolate(torch.cat(attrs, -1), rast, faces)
        for key, (s, c) in slices.items():
            out[key] = img[..., s:s + c]
        if "depth" in out:
            out["depth"] = out["depth"][..., 0]
        if "normal" in out:
            out["normal"] = torch.nn.functional.normalize(out["normal"], dim=-1, eps=1e-12)
    if "rgb" in wanted or "uv" in wanted:
        uvimg = interpolate(vt.to(fdt), rast, ft)
        if "uv" in wanted:
            out["uv"] = uvimg
        if "rgb" in wanted:
            bg = torch.as_tensor(bg_color, dtype=fdt, device=pc.device).expand(B, *mask.shape[1:], 3)
            out["rgb"] = torch.where(mask[..., None], texture(tex, uvimg, filter_mode="linear",
                                                              boundary_mode="wrap"), bg)
    if "mask" in wanted:
        out["mask"] = mask
    if "face_index" in wanted:
        out["face_index"] = tid - 1
    if "bary" in wanted:
        u, v = rast[..., 0], rast[..., 1]
        out["bary"] = torch.stack([u, v, torch.where(mask, 1.0 - u - v, torch.zeros_like(u))], -1)
    return out
