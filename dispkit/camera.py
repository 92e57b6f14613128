"""Batched pinhole camera, projection pi and person crops (paper §4.1).

Conventions
-----------
* **Camera frame** is OpenCV's (as in SPIN's SMPLify): x right, y down, z forward.
  World to camera is ``X_c = R X + t``.
* **Pixels** are continuous coordinates ``(u, v)``, u along columns (right), v along
  rows (down). Pixel ``(i, j)`` (row i, column j) covers ``[j, j+1) x [i, i+1)``, so
  its centre is at ``(j + 0.5, i + 0.5)``. This is nvdiffrast's and
  ``torch.nn.functional.grid_sample(align_corners=False)``'s convention.
* **Full-image focal length**: the paper fits SMPL in the full image with the
  approximation ``f = sqrt(w^2 + h^2)`` (§4.1); the kit puts the principal point at the
  image centre, which the paper does not state (:meth:`Camera.full_image`).
* **Crops**: the network sees person crops. :meth:`Camera.crop` returns the camera
  whose intrinsics render exactly a box of the full image at the crop resolution, so
  rendering a crop is exact (no resampling of the rendering).

Everything is batched over a leading ``B``; a camera with ``B = 1`` broadcasts
against a batch of points. Tensors stay on the device they are given on.
"""
from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "CROP_SCALE",
    "Camera",
    "box_from_points",
    "clip_to_pixels",
    "crop_cam_to_full",
    "crop_grid",
    "crop_image",
    "crop_to_full",
    "crop_to_full_vectors",
    "full_to_crop",
    "full_to_crop_vectors",
    "ndc_to_pixels",
    "person_box",
    "person_crop",
    "pixels_to_ndc",
]

#: the person crop the network sees at test time: a square of 1.25 x the projected initial mesh's extent
CROP_SCALE = 1.25


def _check_shape(name: str, x: torch.Tensor, tail: tuple[int, ...], expected: str) -> None:
    if x.ndim != len(tail) + 1 or tuple(x.shape[1:]) != tail:
        raise ValueError(f"{name} must have shape {expected}, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains non-finite values")


def _check_points(points: torch.Tensor, dim: int, name: str = "points") -> torch.Tensor:
    points = torch.as_tensor(points)
    if points.ndim != 3 or points.shape[-1] != dim:
        raise ValueError(f"{name} must have shape [B,N,{dim}], got {tuple(points.shape)}")
    return points


def _batch(b1: int, b2: int, what: str) -> int:
    if b1 != b2 and 1 not in (b1, b2):
        raise ValueError(f"batch sizes do not match: {what} ({b1} vs {b2})")
    return max(b1, b2)


@dataclass(eq=False)
class Camera:
    """A batch of pinhole cameras sharing one image size.

    Parameters
    ----------
    focal : Tensor [B,2]
        ``(fx, fy)`` in pixels, positive.
    center : Tensor [B,2]
        Principal point ``(cx, cy)`` in pixels.
    R : Tensor [B,3,3], optional
        World-to-camera rotation (identity by default).
    t : Tensor [B,3], optional
        World-to-camera translation (zero by default).
    width, height : int
        Image size in pixels (the same for the whole batch).

    Notes
    -----
    ``center``, ``R`` and ``t`` are converted to the dtype and device of ``focal``
    (integer focal lengths become float32). Arrays and lists are accepted.
    """

    focal: torch.Tensor
    center: torch.Tensor
    R: torch.Tensor | None = None
    t: torch.Tensor | None = None
    width: int = 0
    height: int = 0

    def __post_init__(self):
        focal = torch.as_tensor(self.focal)
        if not focal.is_floating_point():
            focal = focal.to(torch.get_default_dtype())
        _check_shape("focal", focal, (2,), "[B,2] (fx, fy)")
        if not bool((focal > 0).all()):
            raise ValueError("focal lengths must be positive")
        B, like = focal.shape[0], {"dtype": focal.dtype, "device": focal.device}
        center = torch.as_tensor(self.center).to(**like)
        _check_shape("center", center, (2,), "[B,2] (cx, cy)")
        R = torch.eye(3, **like).repeat(B, 1, 1) if self.R is None else torch.as_tensor(self.R).to(**like)
        _check_shape("R", R, (3, 3), "[B,3,3]")
        t = torch.zeros(B, 3, **like) if self.t is None else torch.as_tensor(self.t).to(**like)
        _check_shape("t", t, (3,), "[B,3]")
        for name, x in (("center", center), ("R", R), ("t", t)):
            if x.shape[0] != B:
                raise ValueError(f"{name} has batch size {x.shape[0]} but focal has {B}")
        for name in ("width", "height"):
            v = getattr(self, name)
            try:
                v = operator.index(v)
            except TypeError:
                v = None
            if v is None or isinstance(getattr(self, name), bool) or v <= 0:
                raise ValueError(f"{name} must be a positive int, got {getattr(self, name)!r}")
            setattr(self, name, v)
        self.focal, self.center, self.R, self.t = focal, center, R, t

    # ------------------------------------------------------------------ construction
    @classmethod
    def full_image(cls, width: int, height: int, batch_size: int | None = None,
                   R: torch.Tensor | None = None, t: torch.Tensor | None = None,
                   device=None, dtype: torch.dtype = torch.float32) -> Camera:
        """Full-image camera of the paper (§4.1): ``f = sqrt(w^2 + h^2)``, centred principal point.

        Parameters
        ----------
        width, height : int
            Image size in pixels.
        batch_size : int, optional
            ``B``; inferred from ``R``/``t`` when they are batched, else 1.
        R, t : Tensor [B,3,3] / [3,3] and [B,3] / [3], optional
            Extrinsics; unbatched ones are repeated over the batch.
        device, dtype
            Where and in what precision to create the parameters (``device`` defaults
            to that of ``R`` or ``t`` when given).
        """
        R = None if R is None else torch.as_tensor(R)
        t = None if t is None else torch.as_tensor(t)
        if device is None:
            device = R.device if R is not None else (t.device if t is not None else None)
        sizes = {x.shape[0] for x, nd in ((R, 3), (t, 2)) if x is not None and x.ndim == nd}
        B = batch_size if batch_size is not None else (max(sizes) if sizes else 1)
        f = float(width ** 2 + height ** 2) ** 0.5
        focal = torch.full((B, 2), f, dtype=dtype, device=device)
        center = torch.tensor([width / 2.0, height / 2.0], dtype=dtype, device=device).expand(B, 2).clone()
        if R is not None and R.ndim == 2:
            R = R.expand(B, 3, 3)
        if t is not None and t.ndim == 1:
            t = t.expand(B, 3)
        return cls(focal, center, R, t, width, height)

    @classmethod
    def from_K(cls, K: torch.Tensor, width: int, height: int,
               R: torch.Tensor | None = None, t: torch.Tensor | None = None) -> Camera:
        """Camera from intrinsic matrices ``K`` [B,3,3] (skew must be zero)."""
        K = torch.as_tensor(K)
        if not K.is_floating_point():
            K = K.to(torch.get_default_dtype())
        _check_shape("K", K, (3, 3), "[B,3,3]")
        if bool((K[:, 0, 1].abs() > 1e-9 * K[:, 0, 0].abs()).any()):
            raise ValueError("K has non-zero skew, which a pinhole Camera cannot represent")
        return cls(torch.stack([K[:, 0, 0], K[:, 1, 1]], -1), K[:, :2, 2], R, t, width, height)

    # ------------------------------------------------------------------ batch helpers
    @property
    def batch_size(self) -> int:
        return self.focal.shape[0]

    @property
    def device(self) -> torch.device:
        return self.focal.device

    @property
    def dtype(self) -> torch.dtype:
        return self.focal.dtype

    @property
    def K(self) -> torch.Tensor:
        """Intrinsic matrices [B,3,3]."""
        K = torch.zeros(self.batch_size, 3, 3, dtype=self.dtype, device=self.device)
        K[:, 0, 0], K[:, 1, 1] = self.focal[:, 0], self.focal[:, 1]
        K[:, :2, 2], K[:, 2, 2] = self.center, 1.0
        return K

    def _replace(self, **kw) -> Camera:
        d = {"focal": self.focal, "center": self.center, "R": self.R, "t": self.t,
             "width": self.width, "height": self.height}
        d.update(kw)
        return Camera(**d)

    def to(self, device=None, dtype: torch.dtype | None = None) -> Camera:
        """Copy on another device and/or in another floating dtype."""
        f = lambda x: x.to(device=device, dtype=dtype)
        return self._replace(focal=f(self.focal), center=f(self.center), R=f(self.R), t=f(self.t))

    def index(self, i: int | slice | Sequence[int] | torch.Tensor) -> Camera:
        """Select cameras from the batch; an int keeps the batch dimension (``B = 1``)."""
        if isinstance(i, int):
            if not -self.batch_size <= i < self.batch_size:
                raise IndexError(f"camera index {i} out of range for batch size {self.batch_size}")
            i = slice(i % self.batch_size, i % self.batch_size + 1)
        return self._replace(focal=self.focal[i], center=self.center[i], R=self.R[i], t=self.t[i])

    __getitem__ = index

    def __len__(self) -> int:
        return self.batch_size

    def expand(self, batch_size: int) -> Camera:
        """Repeat a ``B = 1`` camera ``batch_size`` times (a no-op when ``B`` already matches)."""
        if self.batch_size == batch_size:
            return self
        if self.batch_size != 1:
            raise ValueError(f"can only expand a camera with batch size 1, not {self.batch_size}")
        rep = lambda x: x.expand(batch_size, *x.shape[1:]).clone()
        return self._replace(focal=rep(self.focal), center=rep(self.center), R=rep(self.R), t=rep(self.t))

    def __repr__(self) -> str:
        f, c = self.focal[0].tolist(), self.center[0].tolist()
        first = "" if self.batch_size == 1 else "[0]"
        return (f"Camera(B={self.batch_size}, {self.width}x{self.height}, f{first}=({f[0]:.1f}, {f[1]:.1f}), "
                f"c{first}=({c[0]:.1f}, {c[1]:.1f}), {str(self.dtype).replace('torch.', '')}, {self.device})")

    # ------------------------------------------------------------------ projection
    def to_camera(self, points: torch.Tensor) -> torch.Tensor:
        """World points [B,N,3] to camera space [B,N,3]: ``X_c = R X + t``."""
        points = _check_points(points, 3)
        _batch(points.shape[0], self.batch_size, "points vs camera")
        R, t = self.R.to(points.dtype), self.t.to(points.dtype)
        return points @ R.transpose(-1, -2) + t[:, None]

    def depth(self, points: torch.Tensor) -> torch.Tensor:
        """Camera-space depth ``z_c`` [B,N] of world points [B,N,3]."""
        return self.to_camera(points)[..., 2]

    def project(self, points: torch.Tensor) -> torch.Tensor:
        """Perspective projection pi: world points [B,N,3] to pixels [B,N,2].

        ``u = fx x_c / z_c + cx``, ``v = fy y_c / z_c + cy`` (x right, y down, pixel
        centres at +0.5). Points with ``z_c <= 0`` give meaningless values.
        """
        pc = self.to_camera(points)
        focal, center = self.focal.to(pc.dtype), self.center.to(pc.dtype)
        return pc[..., :2] / pc[..., 2:3] * focal[:, None] + center[:, None]

    def to_clip(self, points: torch.Tensor, near: float = 0.1, far: float = 100.0) -> torch.Tensor:
        """World points [B,N,3] to homogeneous clip coordinates [B,N,4] for nvdiffrast.

        OpenGL-style depth (``w = z_c``; ``z/w = -1`` at ``near`` and ``+1`` at ``far``)::

            x_clip = (2 fx / W) x_c + (2 cx / W - 1) z_c
            y_clip = (2 fy / H) y_c + (2 cy / H - 1) z_c
            z_clip = (far + near) / (far - near) z_c - 2 far near / (far - near)
            w_clip = z_c

        so that ``u = (x_ndc + 1) W / 2`` and ``v = (y_ndc + 1) H / 2`` reproduce
        :meth:`project` exactly.

        **Image rows.** nvdiffrast stores output row 0 at ``y_ndc = -1`` and samples
        pixel ``(i, j)`` at ``x_ndc = (j + 0.5) 2 / W - 1``, ``y_ndc = (i + 0.5) 2 / H - 1``.
        OpenGL users flip the result vertically because their camera's y points up.
        Here the camera's y points *down* and the sign of ``y_clip`` is chosen so that
        ``y_ndc = -1`` is the top image row: ``rast[b, i, j]`` is image row ``i``, column
        ``j`` with **no flip**. (nvdiffrast rasterises both triangle windings, so the
        resulting mirror of the OpenGL orientation does not matter.)
        """
        return self.camera_to_clip(self.to_camera(points), near, far)

    def camera_to_clip(self, pc: torch.Tensor, near: float = 0.1, far: float = 100.0) -> torch.Tensor:
        """Camera-space points [B,N,3] (from :meth:`to_camera`) to clip coordinates, see :meth:`to_clip`."""
        if not 0 < near < far:
            raise ValueError(f"need 0 < near < far, got near={near}, far={far}")
        pc = _check_points(pc, 3)
        _batch(pc.shape[0], self.batch_size, "points vs camera")
        W, H = self.width, self.height
        f, c = self.focal.to(pc.dtype)[:, None], self.center.to(pc.dtype)[:, None]
        x, y, z = pc.unbind(-1)
        return torch.stack([2 * f[..., 0] / W * x + (2 * c[..., 0] / W - 1) * z,
                            2 * f[..., 1] / H * y + (2 * c[..., 1] / H - 1) * z,
                            (far + near) / (far - near) * z - 2 * far * near / (far - near),
                            z], -1)

    # ------------------------------------------------------------------ crops
    def crop(self, box: torch.Tensor, out_size: tuple[int, int]) -> Camera:
        """Camera that renders exactly the box ``(x0, y0, x1, y1)`` at ``out_size = (H_out, W_out)``.

        With ``sx = W_out / (x1 - x0)`` and ``sy = H_out / (y1 - y0)``:
        ``fx' = fx sx``, ``cx' = (cx - x0) sx`` (likewise for y); extrinsics unchanged.
        The full-image pixel position ``x0`` maps to the crop's left edge and ``x1`` to
        its right edge, so crop pixel ``(i, j)`` sees the full-image point
        ``(x0 + (j + 0.5) / sx, y0 + (i + 0.5) / sy)`` (see :func:`crop_image`).

        Parameters
        ----------
        box : Tensor [B,4] or [4]
            Boxes in full-image pixels; a single box or a ``B = 1`` camera broadcasts.
        out_size : (int, int)
            Crop resolution ``(H_out, W_out)``.
        """
        box = _check_box(box, self.dtype, self.device)
        B = _batch(box.shape[0], self.batch_size, "box vs camera")
        cam = self.expand(B) if self.batch_size != B else self
        scale = _box_scale(box, out_size)
        return cam._replace(focal=cam.focal * scale, center=(cam.center - box[:, :2]) * scale,
                            width=int(out_size[1]), height=int(out_size[0]))


# ---------------------------------------------------------------------- ndc / pixels
def ndc_to_pixels(ndc: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """NDC ``(x, y)`` [..., 2] to pixels: ``u = (x + 1) W / 2``, ``v = (y + 1) H / 2``."""
    return (ndc[..., :2] + 1) * ndc.new_tensor([width / 2.0, height / 2.0])


def pixels_to_ndc(pixels: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Inverse of :func:`ndc_to_pixels` (also ``grid_sample``'s ``align_corners=False`` grid)."""
    return pixels[..., :2] / pixels.new_tensor([width / 2.0, height / 2.0]) - 1


def clip_to_pixels(clip: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Clip coordinates [..., 4] (from :meth:`Camera.to_clip`) to pixels [..., 2]."""
    return ndc_to_pixels(clip[..., :2] / clip[..., 3:4], width, height)


# ---------------------------------------------------------------------- crop transforms
def _check_box(box, dtype=None, device=None) -> torch.Tensor:
    box = torch.as_tensor(box, dtype=dtype, device=device)
    if not box.is_floating_point():
        box = box.to(torch.get_default_dtype())
    if box.ndim == 1:
        box = box[None]
    _check_shape("box", box, (4,), "[B,4] (x0, y0, x1, y1)")
    if not bool(((box[:, 2] > box[:, 0]) & (box[:, 3] > box[:, 1])).all()):
        raise ValueError("boxes must satisfy x1 > x0 and y1 > y0")
    return box


def _box_scale(box: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
    if len(out_size) != 2 or min(out_size) <= 0:
        raise ValueError(f"out_size must be (H_out, W_out) with positive entries, got {out_size}")
    H, W = out_size
    return torch.stack([W / (box[:, 2] - box[:, 0]), H / (box[:, 3] - box[:, 1])], -1)  # [B,2]


def _prep(pixels, box, out_size):
    pixels = _check_points(pixels, 2, "pixels")
    box = _check_box(box, pixels.dtype, pixels.device)
    _batch(pixels.shape[0], box.shape[0], "pixels vs box")
    return pixels, box[:, None, :2], _box_scale(box, out_size)[:, None]


def full_to_crop(pixels: torch.Tensor, box: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
    """Full-image pixels [B,N,2] to crop pixels: ``u' = (u - x0) sx``, ``v' = (v - y0) sy``."""
    pixels, origin, scale = _prep(pixels, box, out_size)
    return (pixels - origin) * scale


def crop_to_full(pixels: torch.Tensor, box: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
    """Crop pixels [B,N,2] to full-image pixels (inverse of :func:`full_to_crop`)."""
    pixels, origin, scale = _prep(pixels, box, out_size)
    return pixels / scale + origin


def full_to_crop_vectors(vectors: torch.Tensor, box: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
    """Displacement vectors [B,N,2] from full-image to crop pixels (scaling only)."""
    vectors, _, scale = _prep(vectors, box, out_size)
    return vectors * scale


def crop_to_full_vectors(vectors: torch.Tensor, box: torch.Tensor, out_size: tuple[int, int]) -> torch.Tensor:
    """Displacement vectors [B,N,2] from crop to full-image pixels (scaling only)."""
    vectors, _, scale = _prep(vectors, box, out_size)
    return vectors / scale


def box_from_points(points2d: torch.Tensor, scale: float = 1.2, square: bool = True,
                    valid: torch.Tensor | None = None, min_size: float = 1.0) -> torch.Tensor:
    """Box [B,4] ``(x0, y0, x1, y1)`` around 2D points [B,N,2] (e.g. projected joints).

    The box is centred on the points' bounding box and ``scale`` times its size (its
    longer side for ``square=True``), at least ``min_size`` pixels. ``valid`` [B,N]
    (bool) ignores points, e.g. undetected keypoints.
    """
    points2d = _check_points(points2d, 2, "points2d")
    if not bool(torch.isfinite(points2d if valid is None else points2d[torch.as_tensor(valid)]).all()):
        raise ValueError("points2d contains non-finite values")
    if valid is None:
        lo, hi = points2d.amin(1), points2d.amax(1)
    else:
        valid = torch.as_tensor(valid, dtype=torch.bool, device=points2d.device)
        if valid.shape != points2d.shape[:2]:
            raise ValueError(f"valid must have shape {tuple(points2d.shape[:2])}, got {tuple(valid.shape)}")
        if not bool(valid.any(1).all()):
            raise ValueError("every frame needs at least one valid point")
        inf = torch.tensor(float("inf"), dtype=points2d.dtype, device=points2d.device)
        lo = torch.where(valid[..., None], points2d, inf).amin(1)
        hi = torch.where(valid[..., None], points2d, -inf).amax(1)
    centre, size = (lo + hi) / 2, (hi - lo) * scale
    if square:
        size = size.amax(-1, keepdim=True).expand_as(size)
    half = size.clamp_min(min_size) / 2
    return torch.cat([centre - half, centre + half], -1)


def person_box(cam: Camera, vertices: torch.Tensor, scale: float = CROP_SCALE) -> torch.Tensor:
    """The person's square box [B,4]: ``scale`` x the extent of ``vertices`` [B,V,3] (the *initial* estimate at
    test time, where the truth is unknown) projected by ``cam``. ``scale=1`` gives the person's own extent."""
    return box_from_points(cam.project(vertices), scale=scale)


def person_crop(images: torch.Tensor, cam: Camera, vertices: torch.Tensor, size: int,
                scale: float = CROP_SCALE) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's input crop: images [B,3,H,W] resampled to [B,3,size,size] inside :func:`person_box`;
    returns ``(crops, box)``. The one crop rule of the kit (the pipeline and evaluation samples use it)."""
    box = person_box(cam, vertices, scale)
    return crop_image(images, box, (size, size)), box


def crop_grid(box: torch.Tensor, out_size: tuple[int, int], full_size: tuple[int, int]) -> torch.Tensor:
    """Sampling grid [B,H_out,W_out,2] for ``grid_sample(..., align_corners=False)``.

    Crop pixel ``(i, j)`` samples the full image (size ``full_size = (H, W)``) at
    ``(x0 + (j + 0.5) / sx, y0 + (i + 0.5) / sy)``: the same geometry as
    :meth:`Camera.crop`, so image crops and crop renderings line up.
    """
    box = _check_box(box)
    H_out, W_out = out_size
    scale = _box_scale(box, out_size)
    j = torch.arange(W_out, dtype=box.dtype, device=box.device) + 0.5
    i = torch.arange(H_out, dtype=box.dtype, device=box.device) + 0.5
    u = box[:, None, 0] + j / scale[:, None, 0]            # [B,W_out]
    v = box[:, None, 1] + i / scale[:, None, 1]            # [B,H_out]
    uv = torch.stack(torch.broadcast_tensors(u[:, None, :], v[:, :, None]), -1)
    return pixels_to_ndc(uv, full_size[1], full_size[0])


def crop_image(images: torch.Tensor, box: torch.Tensor, out_size: tuple[int, int],
               mode: str = "bilinear") -> torch.Tensor:
    """Crop and resample images [B,C,H,W] to [B,C,H_out,W_out] (zeros outside the image).

    Consistent with :meth:`Camera.crop`: a mesh rendered with the crop camera lies on
    the person in the cropped image.
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape [B,C,H,W], got {tuple(images.shape)}")
    dtype = images.dtype if images.is_floating_point() else torch.get_default_dtype()
    grid = crop_grid(torch.as_tensor(box, dtype=dtype, device=images.device), out_size, images.shape[-2:])
    if grid.shape[0] != images.shape[0]:
        B = _batch(grid.shape[0], images.shape[0], "box vs images")
        grid, images = grid.expand(B, *grid.shape[1:]), images.expand(B, *images.shape[1:])
    src = images if images.is_floating_point() else images.to(grid.dtype)
    return F.grid_sample(src, grid, mode=mode, padding_mode="zeros", align_corners=False)


def crop_cam_to_full(cam_crop: torch.Tensor, center: torch.Tensor, box_size: torch.Tensor, width: int,
                     height: int, focal: float | None = None) -> torch.Tensor:
    """A regressor's weak-perspective crop camera ``(s, tx, ty)`` [B,3] (HMR / SPIN / PARE / ProHMR: the body's
    origin projects to ``s (X + t)`` in crop coordinates normalised to [-1, 1]) to the body's translation [B,3]
    in the full image's camera (§4.1: ``f = sqrt(w² + h²)`` unless ``focal``, principal point at the centre).

    ``center`` [B,2] and ``box_size`` [B] are the crop box in full-image pixels (SPIN's ``center`` and
    ``200 * scale``). The depth makes the crop's scale match the box: ``t_z = 2 f / (b s)``; the crop's offset
    in the image shifts ``t_x, t_y`` so that the body's origin projects to the same pixel (CLIFF's
    ``cam_crop2full``). Use it to turn a regressor's outputs into the estimates dispkit refines."""
    cam_crop = torch.as_tensor(cam_crop)
    if cam_crop.ndim != 2 or cam_crop.shape[-1] != 3:
        raise ValueError(f"cam_crop must be [B,3] (s, tx, ty), got {tuple(cam_crop.shape)}")
    center = torch.as_tensor(center, dtype=cam_crop.dtype, device=cam_crop.device).reshape(-1, 2)
    b = torch.as_tensor(box_size, dtype=cam_crop.dtype, device=cam_crop.device).reshape(-1)
    s, tx, ty = cam_crop.unbind(-1)
    if not bool((s > 0).all()) or not bool((b > 0).all()):
        raise ValueError("the crop camera's scale s and the box size must be positive")
    f = float(width ** 2 + height ** 2) ** 0.5 if focal is None else float(focal)
    bs = b * s
    return torch.stack([tx + 2 * (center[:, 0] - width / 2) / bs, ty + 2 * (center[:, 1] - height / 2) / bs,
                        2 * f / bs], -1)
