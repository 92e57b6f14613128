"""The checks of what a user passes at the kit's front doors, and their error types.

Every public entry point a user calls directly (:func:`dispkit.pipeline.refine`, :func:`dispkit.fit.smplify`,
:func:`dispkit.render.render`, :func:`dispkit.raster.rasterize`, :func:`dispkit.texture.estimate_texture`, the
readers of :mod:`dispkit.data`, :func:`dispkit.body.load_body_model`, :func:`dispkit.priors.load_prior`,
:func:`dispkit.checkpoints.load_pretrained`) checks its arguments with the helpers below before any work, so
that a mistake is answered at the door, by an error naming what was expected and what came, rather than by a
crash deep inside, a NaN or a silent result on garbage.

One error type per kind of mistake. Each subclasses :class:`InputError` (catch it for any refused input) *and*
the builtin these checks raised before they existed (``ValueError``, ``TypeError``, ``KeyError``), so code that
catches the builtin keeps working:

====================== ============================= =====================================================
error                  builtin(s)                    the mistake
====================== ============================= =====================================================
InputShapeError        ValueError                    wrong layout or shape (``[B,3,H,W]`` for ``[B,H,W,3]``)
InputDtypeError        TypeError, ValueError         wrong element type (int16 image, float faces, bool)
InputTypeError         TypeError                     wrong kind of object (no Camera, no dict, no path)
InputRangeError        ValueError                    values or numbers outside their range
NonFiniteInputError    ValueError                    NaN or inf
MissingKeyError        KeyError, ValueError          a required key is missing (``init`` without ``transl``)
UnexpectedKeyError     KeyError, ValueError          a key that is not one of the valid ones
BatchMismatchError     ValueError                    batch sizes that disagree
EmptyBatchError        ValueError                    a batch of zero frames
UnknownNameError       ValueError                    a name that is not one of the choices (a prior, ...)
FileContentError       ValueError                    a file that exists but holds something else
====================== ============================= =====================================================

Images: float in [0, 1] or ``uint8`` in [0, 255]; ``uint8`` is converted to float (``/ 255``), floats outside
``[-1e-3, 1 + 1e-3]`` are refused (0-255 floats are not guessed), other integer types are refused.
"""
from __future__ import annotations

import functools
import math
import numbers
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "IMAGE_TOLERANCE",
    "PARAM_LIMITS",
    "BatchMismatchError",
    "EmptyBatchError",
    "FileContentError",
    "InputDtypeError",
    "InputError",
    "InputRangeError",
    "InputShapeError",
    "InputTypeError",
    "MissingKeyError",
    "NonFiniteInputError",
    "UnexpectedKeyError",
    "UnknownNameError",
    "check_batch",
    "check_box",
    "check_camera_batch",
    "check_data_term",
    "check_finite",
    "check_image",
    "check_image_camera",
    "check_int",
    "check_number",
    "check_params",
    "check_path",
    "check_texture",
    "check_vertices",
    "one_line",
    "one_line_errors",
    "reads_file",
    "to_tensor",
]


# ====================================================================== the error types
class InputError(Exception):
    """Base of every error of this module: what a user passed was refused (see the table in the module doc)."""


class InputShapeError(InputError, ValueError):
    """Wrong layout or shape, e.g. an image ``[B,3,H,W]`` where ``[B,H,W,3]`` is expected."""


class InputDtypeError(InputError, TypeError, ValueError):
    """Wrong element type (an ``int16`` image, float face indices, a bool pose). A ``TypeError``, and a
    ``ValueError`` too: some of these checks raised one before."""


class InputTypeError(InputError, TypeError):
    """Wrong kind of object: not a :class:`~dispkit.camera.Camera`, not a dict, not a path, not a number."""


class InputRangeError(InputError, ValueError):
    """Values (or a number) outside their range: an image in 0-255 floats, a negative step count."""


class NonFiniteInputError(InputError, ValueError):
    """NaN or inf where finite numbers are needed."""


class _KeyMessage(KeyError):
    """A KeyError whose ``str`` is its readable sentence (a plain KeyError shows the repr of its argument)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class MissingKeyError(InputError, _KeyMessage, ValueError):
    """A required key is missing (``init`` without ``'transl'``, a file without an entry)."""


class UnexpectedKeyError(InputError, _KeyMessage, ValueError):
    """A key that is none of the valid ones (the message lists them)."""


class BatchMismatchError(InputError, ValueError):
    """Batch sizes (frames) that disagree between arguments or entries."""


class EmptyBatchError(InputError, ValueError):
    """A batch of zero frames (nothing to do is almost always a mistake upstream)."""


class UnknownNameError(InputError, ValueError):
    """A name that is none of the choices (a prior, a modality, a config); the message lists them."""


class FileContentError(InputError, ValueError):
    """A file that exists but holds something else (not a pickle, another format, entries of the wrong shape)."""


# ====================================================================== helpers
#: images (and textures) may overshoot [0, 1] by this much (resampling, compression); beyond it they are refused
IMAGE_TOLERANCE = 1e-3
#: largest magnitude of a body parameter that can still be an estimate; beyond it the input is garbage
#: (axis-angle in radians: 100 rad is 16 turns; betas in standard deviations; translations in metres)
PARAM_LIMITS = {"global_orient": 100.0, "body_pose": 100.0, "betas": 100.0, "transl": 1e4}
_PARAM_WHAT = {"global_orient": "axis-angle", "body_pose": "axis-angle of 23 joints", "betas": "shape coefficients",
               "transl": "metres"}


def one_line(e: BaseException, limit: int = 500) -> str:
    """An error's message on one line of at most ``limit`` characters (for command lines and for the causes quoted
    in this module's messages)."""
    text = str(e.args[0]) if isinstance(e, KeyError) and len(e.args) == 1 else str(e)
    text = " ".join(text.split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 5] + " ..."


def one_line_errors(parser):
    """Make an ``argparse.ArgumentParser`` report a bad argument (its own checks and ``parser.error(...)``) as one
    line on stderr, ``prog: error: <what to do> (see --help)``, exit status 2, without the usage block."""
    def error(message):
        parser.exit(2, f"{parser.prog}: error: {' '.join(str(message).split())} (see --help)\n")

    parser.error = error
    return parser


def _shape(x) -> str:
    return str(tuple(x.shape)) if hasattr(x, "shape") else type(x).__name__


def to_tensor(x, name: str) -> torch.Tensor:
    """``x`` as a tensor (tensors pass unchanged; numpy arrays, lists and numbers are converted).

    Raises :class:`InputTypeError` for what holds no numbers (None, strings, dicts, ragged lists, objects).
    """
    if isinstance(x, torch.Tensor):
        return x
    if x is None or isinstance(x, (str, bytes, Mapping)):
        raise InputTypeError(f"{name} must be a tensor or an array of numbers, got {type(x).__name__}")
    try:
        a = np.asarray(x)
    except (ValueError, TypeError) as e:  # ragged lists, objects numpy cannot read
        raise InputTypeError(f"{name} must be a tensor or an array of numbers, got {type(x).__name__} ({e})") from e
    if a.dtype.kind not in "biufc":
        raise InputTypeError(f"{name} must be a tensor or an array of numbers, got a {type(x).__name__} of "
                             f"{a.dtype}")
    if a.dtype.kind == "u" and a.dtype.itemsize > 1:  # torch reads few unsigned types: keep the values
        a = a.astype(np.int64)
    return torch.from_numpy(np.ascontiguousarray(a))


def _real(t: torch.Tensor, name: str, expected: str = "real numbers (a float tensor)") -> torch.Tensor:
    """``t`` as floating point (integers are converted to float32); bool and complex are refused."""
    if t.dtype == torch.bool or t.is_complex():
        raise InputDtypeError(f"{name} must hold {expected}, got {t.dtype}")
    return t if t.is_floating_point() else t.to(torch.float32)


def check_finite(t: torch.Tensor, name: str, per: str = "frame") -> torch.Tensor:
    """:class:`NonFiniteInputError` naming how many values of ``t`` are NaN/inf and in which ``per``
    (the leading dimension) they are."""
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        where = ""
        if t.ndim:
            items = bad.reshape(bad.shape[0], -1).any(1).nonzero().flatten().tolist()
            where = f" in {per}(s) {items[:10]}" + (" ..." if len(items) > 10 else "")
        raise NonFiniteInputError(f"{name} contains {int(bad.sum())} non-finite value(s) (NaN/inf){where}")
    return t


def check_int(x, name: str, lo: int | None = None, hi: int | None = None) -> int:
    """``x`` as an int (a bool or a float with a fraction is refused) within ``[lo, hi]``."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Integral, np.integer)):
        if isinstance(x, float) and x.is_integer():
            x = int(x)
        else:
            raise InputTypeError(f"{name} must be an integer, got {x!r} ({type(x).__name__})")
    x = int(x)
    if (lo is not None and x < lo) or (hi is not None and x > hi):
        span = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise InputRangeError(f"{name} must be {span}, got {x}")
    return x


def check_number(x, name: str, lo: float | None = None, hi: float | None = None, open_lo: bool = False) -> float:
    """``x`` as a finite float within ``[lo, hi]`` (``open_lo``: strictly above ``lo``)."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, np.floating, np.integer)):
        raise InputTypeError(f"{name} must be a number, got {x!r} ({type(x).__name__})")
    x = float(x)
    if not math.isfinite(x):
        raise NonFiniteInputError(f"{name} must be finite, got {x}")
    if (lo is not None and (x < lo or (open_lo and x == lo))) or (hi is not None and x > hi):
        span = (f"> {lo:g}" if open_lo else f">= {lo:g}") if hi is None else f"in [{lo:g}, {hi:g}]"
        raise InputRangeError(f"{name} must be {span}, got {x:g}")
    return x


def check_path(path, name: str = "path") -> Path:
    """``path`` (str or os.PathLike, user-expanded) as a Path; :class:`InputTypeError` for anything else."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"{name} must be a path (str or pathlib.Path), got {type(path).__name__}")
    return Path(path).expanduser()


def _unit_range(t: torch.Tensor, name: str, what: str) -> torch.Tensor:
    """uint8 0-255 -> float32 0-1; float32 in [0, 1] (within IMAGE_TOLERANCE, then clamped); the rest refused."""
    if t.dtype == torch.uint8:
        return t.to(torch.float32) / 255.0
    if not t.is_floating_point():
        raise InputDtypeError(f"{name} must be float in [0, 1] or uint8 in [0, 255], got {t.dtype} "
                              f"(convert it: {what}.float() / <its maximum>)")
    t = t.to(torch.float32)
    check_finite(t, name, per="item")
    if t.numel():
        lo, hi = float(t.min()), float(t.max())
        if lo < -IMAGE_TOLERANCE or hi > 1.0 + IMAGE_TOLERANCE:
            hint = " (0-255 values? pass uint8, or divide by 255)" if hi > 1.5 and hi <= 255.5 and lo >= -0.5 else ""
            raise InputRangeError(f"{name} values must be in [0, 1] (float) or [0, 255] (uint8), got values in "
                                  f"[{lo:.4g}, {hi:.4g}]{hint}")
        t = t.clamp(0.0, 1.0)
    return t


def check_image(image, name: str = "image", layout: str = "[B,H,W,3]", single: bool = True,
                batch: int | None = None) -> torch.Tensor:
    """Full images as a float32 tensor ``[B,H,W,3]`` in [0, 1].

    ``uint8`` images (0-255, what PIL, imageio and OpenCV give) are **converted** (``/ 255``); float images must
    lie in [0, 1] (a tolerance of :data:`IMAGE_TOLERANCE`); other dtypes are refused. ``single``: one image
    ``[H,W,3]`` is taken as a batch of one. ``batch``: the number of images required.
    """
    t = to_tensor(image, name)
    if single and t.ndim == 3 and t.shape[-1] == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[-1] != 3:
        hint = ""
        if t.ndim == 4 and t.shape[1] == 3:
            hint = ": channels first? use image.permute(0, 2, 3, 1)"
        elif t.ndim == 4 and t.shape[-1] == 4:
            hint = ": RGBA? drop the alpha channel, image[..., :3]"
        elif t.ndim in (2, 3) or t.shape[-1] == 1:
            hint = ": grey? repeat it to three channels"
        raise InputShapeError(f"{name} must be {layout} (RGB, channels last), got {tuple(t.shape)}{hint}")
    if t.shape[0] == 0:
        raise EmptyBatchError(f"{name} holds no image (batch size 0): {layout} needs at least one")
    if t.shape[1] == 0 or t.shape[2] == 0:
        raise InputShapeError(f"{name} has no pixels: {layout} with H, W >= 1, got {tuple(t.shape)}")
    if batch is not None and t.shape[0] != batch:
        raise BatchMismatchError(f"{name} holds {t.shape[0]} image(s), the parameters {batch} frame(s)")
    return _unit_range(t, name, name)


def check_image_camera(image: torch.Tensor, cam, name: str = "image") -> None:
    """The images ``[B,H,W,3]`` have the camera's size (the full image the camera was made for)."""
    H, W = image.shape[1:3]
    if (H, W) != (cam.height, cam.width):
        raise InputShapeError(f"{name} is {W}x{H} pixels (W x H) but the camera's image is {cam.width}x{cam.height}: "
                              f"give the full image the camera belongs to, or Camera.full_image({W}, {H})")


def check_texture(texture, B: int | None = None, name: str = "texture") -> torch.Tensor:
    """A UV texture map as float32 ``[1 or B, Ht, Wt, 3]`` in [0, 1] (from ``[Ht,Wt,3]``, ``[B,Ht,Wt,3]``, or
    RGBA, whose alpha is dropped). ``uint8`` is converted (``/ 255``); floats outside [0, 1] are refused."""
    t = to_tensor(texture, name)
    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[-1] not in (3, 4):
        raise InputShapeError(f"{name} must be [B,Ht,Wt,3] or [Ht,Wt,3] (RGB, channels last), "
                              f"got {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise EmptyBatchError(f"{name} holds no texture map (batch size 0)")
    if B is not None and t.shape[0] not in (1, B):
        raise BatchMismatchError(f"{name} holds {t.shape[0]} maps {tuple(t.shape)}: give one [Ht,Wt,3], or one per "
                                 f"frame [{B},Ht,Wt,3]")
    if t.shape[1] == 0 or t.shape[2] == 0:
        raise InputShapeError(f"{name} has no texels: Ht, Wt >= 1 needed, got {tuple(t.shape)}")
    return _unit_range(t, name, name)[..., :3].contiguous()


def check_vertices(vertices, name: str = "vertices", B: int | None = None, V: int | None = None,
                   layout: str = "[B,V,3]", single: bool = True, hint: str = "") -> torch.Tensor:
    """Meshes ``[B,V,3]`` (``single``: ``[V,3]`` is a batch of one) as a float tensor (integers converted),
    finite; ``B`` frames and ``V`` vertices when given. ``hint`` follows the non-finite message."""
    t = to_tensor(vertices, name)
    if single and t.ndim == 2:
        t = t[None]
    if t.ndim != 3 or t.shape[-1] != 3:
        raise InputShapeError(f"{name} must have shape {layout}, got {tuple(t.shape)}")
    t = _real(t, name)
    if t.shape[0] == 0:
        raise EmptyBatchError(f"{name} holds no mesh (batch size 0)")
    if V is not None and t.shape[1] != V:
        raise InputShapeError(f"{name} has {t.shape[1]} vertices per mesh, the body model {V}")
    if B is not None and t.shape[0] != B:
        raise BatchMismatchError(f"{name} holds {t.shape[0]} mesh(es), {B} expected")
    finite = torch.isfinite(t).all(-1).all(-1)
    if not bool(finite.all()):
        bad = (~finite).nonzero().flatten().tolist()
        raise NonFiniteInputError(f"{name} contain NaN or inf in batch item(s) {bad[:10]}{hint}")
    return t


def check_params(init, body=None, B: int | None = None, name: str = "init") -> dict:
    """SMPL parameters ``{global_orient [B,3], body_pose [B,69], betas [B,num_betas], transl [B,3]}`` (axis-angle,
    metres), finite, one batch size (``B`` when given) and within :data:`PARAM_LIMITS`; returned as tensors in
    ``body``'s dtype and device (float32 without a body). Missing keys raise :class:`MissingKeyError`, others
    :class:`UnexpectedKeyError` (listing the valid keys)."""
    from dispkit.fit import PARAM_NAMES

    nb = int(getattr(body, "num_betas", 10))
    tails = {"global_orient": 3, "body_pose": 69, "betas": nb, "transl": 3}
    need = ", ".join(f"{k} [B,{n}]" for k, n in tails.items())
    if not isinstance(init, Mapping):
        raise InputTypeError(f"{name} must be a dict of {need}, got {type(init).__name__}")
    missing = [k for k in PARAM_NAMES if k not in init]
    if missing:
        raise MissingKeyError(f"{name} is missing {', '.join(map(repr, missing))}; it needs {need}")
    extra = sorted(str(k) for k in init if k not in PARAM_NAMES)
    if extra:
        raise UnexpectedKeyError(f"{name} has unexpected key(s) {', '.join(map(repr, extra))}; the valid keys are "
                                 f"{', '.join(PARAM_NAMES)}")
    dtype = getattr(body, "dtype", torch.float32)
    device = getattr(body, "device", None)
    out = {}
    for k, n in tails.items():
        key = f"{name}[{k!r}]"
        t = _real(to_tensor(init[k], key), key)
        if t.ndim != 2 or t.shape[1] != n:
            hint = ""
            if t.ndim == 1 and t.shape[0] == n:
                hint = " (one frame? add the batch dimension: x[None])"
            elif k in ("global_orient", "body_pose") and t.ndim >= 3 and t.shape[-2:] == (3, 3):
                hint = " (rotation matrices? convert them to axis-angle)"
            raise InputShapeError(f"{key} must be [B,{n}] ({_PARAM_WHAT[k]}), got {tuple(t.shape)}{hint}")
        out[k] = t.to(dtype=dtype, device=device)
    sizes = {k: v.shape[0] for k, v in out.items()}
    if len(set(sizes.values())) > 1:
        raise BatchMismatchError(f"{name}'s entries disagree on the number of frames: {sizes}")
    b = sizes["body_pose"]
    if b == 0:
        raise EmptyBatchError(f"{name} holds no frame (batch size 0)")
    if B is not None and b != B:
        raise BatchMismatchError(f"{name} and the images disagree on the number of frames: {b} estimate(s), "
                                 f"{B} image(s)")
    for k, v in out.items():
        check_finite(v, f"{name}[{k!r}]")
        big = float(v.abs().max())
        if big > PARAM_LIMITS[k]:
            raise InputRangeError(f"{name}[{k!r}] has a value of magnitude {big:.3g}, beyond {PARAM_LIMITS[k]:g} "
                                  f"({_PARAM_WHAT[k]}): not an estimate")
    return out


def check_camera_batch(cam, B: int, name: str = "cam", what: str = "the parameters' batch"):
    """``cam`` is a :class:`dispkit.camera.Camera` of batch 1 or ``B``; returns it."""
    from dispkit.camera import Camera

    if not isinstance(cam, Camera):
        raise InputTypeError(f"{name} must be a dispkit.camera.Camera (e.g. Camera.full_image(width, height)), "
                             f"got {type(cam).__name__}")
    check_batch(cam.batch_size, B, f"camera batch ({cam.batch_size}) must be 1 or match {what} ({B})", one=True)
    return cam


def check_batch(n: int, B: int, message: str, one: bool = False) -> None:
    """:class:`BatchMismatchError` with ``message`` unless ``n == B`` (or ``n == 1`` with ``one``)."""
    if n != B and not (one and n == 1):
        raise BatchMismatchError(message)


def check_data_term(data, B: int) -> None:
    """A data term of :mod:`dispkit.terms` (``loss``, ``camera_loss``, ``valid [B]``) for ``B`` frames."""
    if not (hasattr(data, "loss") and hasattr(data, "valid")):
        raise InputTypeError(f"data must be a data term of dispkit.terms (DenseTerm, KeypointTerm, DensePoseTerm, "
                             f"...), got {type(data).__name__}")
    check_batch(int(data.valid.shape[0]), B, f"the data term holds {data.valid.shape[0]} frames, the parameters {B}")


def check_box(box, B: int, name: str = "box") -> torch.Tensor:
    """Boxes ``[B,4]`` (or ``[4]``, or batch 1) ``(x0, y0, x1, y1)`` in pixels, finite, with positive sides."""
    t = _real(to_tensor(box, name), name)
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2 or t.shape[-1] != 4:
        raise InputShapeError(f"{name} must be [B,4] (x0, y0, x1, y1), got {tuple(t.shape)}")
    check_batch(t.shape[0], B, f"{name} holds {t.shape[0]} box(es), the images {B}", one=True)
    check_finite(t, name)
    if not bool(((t[:, 2] > t[:, 0]) & (t[:, 3] > t[:, 1])).all()):
        raise InputRangeError(f"{name} needs x1 > x0 and y1 > y0, got {t.tolist()[:4]}")
    return t.expand(B, 4)


# ====================================================================== files
#: what a file's content can make a reader raise deep inside (anything else is a bug and passes unchanged)
_CONTENT_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, EOFError, OverflowError,
                   pickle.UnpicklingError, zipfile.BadZipFile, UnicodeDecodeError, RuntimeError)


def reads_file(what: str):
    """Decorator of a reader whose first argument is a file (or folder): an error the file's *content* causes
    deep inside (a reshape that fails, an entry of the wrong type, a truncated pickle) becomes a
    :class:`FileContentError` naming the file and ``what`` it should be. Errors of this module, missing
    files and the rest pass unchanged."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(path, *args, **kwargs):
            try:
                return fn(path, *args, **kwargs)
            except InputError:
                raise
            except _CONTENT_ERRORS as e:
                raise FileContentError(f"{path}: not a valid {what} ({type(e).__name__}: {one_line(e)})") from e
        return wrapper
    return deco
