"""The notebooks' exercises and the checks that say right or wrong, and why.

    from dispkit.exercises import check
    check("00.focal", 2202.9)          # prints "right: ..." or "not yet: <why>"; returns a Verdict

Each notebook ends with two or three short exercises, each with a key ``"NN.name"``. An answer is either a value
(a number, a joint name, ...) compared with what the package computes, or a function the student writes, which
the check calls on cases it makes itself and compares with the package's own implementation of the same
equation. ``None`` (or ``...``) means "not answered yet" and prints the hint. Checks never raise: an answer
that fails to run is reported as wrong, with the error. :func:`summary` gives the last verdict of every key
checked in this process (the notebooks write it to their JSON, so the tests know the solutions pass).
"""
from __future__ import annotations

import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["EXERCISES", "Exercise", "Verdict", "check", "hint", "reset", "summary"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`check`: ``ok`` and the reason; true when right. Already printed by :func:`check`,
    so a notebook cell ending in ``check(...)`` shows the message once."""

    key: str
    ok: bool
    message: str
    answered: bool = True

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self):  # printed by check(); nothing more to show
        pass


@dataclass(frozen=True)
class Exercise:
    key: str
    question: str
    hint: str
    run: Callable  # (answer, **context) -> (ok, why)


EXERCISES: dict[str, Exercise] = {}
_LAST: dict[str, bool] = {}


class _NoAnswer(Exception):
    """A student's function returned None: its body is still to be written."""


def _call(fn, *args):
    out = fn(*args)
    if out is None:
        raise _NoAnswer
    return out


def _exercise(key: str, question: str, hint: str):
    def register(fn):
        EXERCISES[key] = Exercise(key, question, hint, fn)
        return fn
    return register


def check(key: str, answer, verbose: bool = True, **context) -> Verdict:
    """Check ``answer`` to exercise ``key`` (``context``: what the exercise's question says to pass, e.g. the
    notebook's scene). Prints one line (unless ``verbose=False``) and returns a :class:`Verdict`."""
    if key not in EXERCISES:
        raise KeyError(f"no exercise {key!r}; there are {', '.join(sorted(EXERCISES))}")
    ex = EXERCISES[key]
    if answer is None or answer is Ellipsis:
        v = Verdict(key, False, f"not answered yet. Hint: {ex.hint}", answered=False)
    else:
        try:
            ok, why = ex.run(answer, **context)
        except _NoAnswer:
            ok, why = None, f"your function returns None: write its body. Hint: {ex.hint}"
        except Exception as exc:  # the student's function failed: say where
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" (line {tb[-1].lineno} of {tb[-1].name})" if tb else ""
            ok, why = False, f"the answer raised {type(exc).__name__}: {exc}{where}"
        v = Verdict(key, bool(ok), why, answered=ok is not None)
    _LAST[key] = v.ok
    if verbose:
        print(f"[{key}] " + ("right: " if v.ok else ("not yet: " if v.answered else "")) + v.message)
    return v


def hint(key: str) -> str:
    """The hint of exercise ``key``."""
    return EXERCISES[key].hint


def summary(prefix: str = "") -> dict[str, bool]:
    """``{key: ok}`` of the last check of every exercise whose key starts with ``prefix``."""
    return {k: v for k, v in sorted(_LAST.items()) if k.startswith(prefix)}


def reset() -> None:
    """Forget the verdicts (tests)."""
    _LAST.clear()


# ------------------------------------------------------------------------------------------------ helpers

def _number(answer) -> float:
    if isinstance(answer, bool):
        raise TypeError("a number was expected, not True/False")
    if isinstance(answer, torch.Tensor):
        if answer.numel() != 1:
            raise TypeError(f"a single number was expected, got a tensor of shape {tuple(answer.shape)}")
        return float(answer)
    return float(answer)


def _close(a: float, b: float, rel: float = 1e-3, abs_: float = 1e-6) -> bool:
    return math.isfinite(a) and abs(a - b) <= max(abs_, rel * abs(b))


def _as_tensor(x, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(x).detach().to(dtype)


def _name(answer) -> str:
    return str(answer).strip().lower().replace(" ", "_").replace("-", "_")


# ------------------------------------------------------------------------------------------------ 00

@_exercise("00.focal", "The paper's full-image camera for a 1920 x 1080 frame: its focal length f in pixels?",
           "§4.1 uses the image diagonal: f = sqrt(w² + h²).")
def _focal(answer):
    from dispkit.camera import Camera

    want = float(Camera.full_image(1920, 1080).focal[0, 0])
    a = _number(answer)
    if _close(a, want, rel=1e-3):
        return True, f"f = sqrt(1920² + 1080²) = {want:.1f} px: the diagonal, so a person at depth z with height h " \
                     f"appears f·h/z pixels tall whatever the aspect ratio."
    if _close(a, 1920 + 1080, rel=1e-3):
        return False, "that is w + h; the paper's f is the length of the diagonal, sqrt(w² + h²)."
    if _close(a, 1920 ** 2 + 1080 ** 2, rel=1e-3):
        return False, "that is w² + h²; take its square root."
    if _close(a, 1920, rel=1e-3) or _close(a, 1080, rel=1e-3):
        return False, "that is one side of the image; f is the diagonal sqrt(w² + h²)."
    return False, f"{a:g} px is not sqrt(w² + h²) for w = 1920, h = 1080."


@_exercise("00.project", "Write project(points, width, height): camera-space points [N,3] (OpenCV: x right, "
           "y down, z forward) to pixels [N,2] with the full-image camera of §4.1.",
           "u = f x / z + w / 2, v = f y / z + h / 2 with f = sqrt(w² + h²).")
def _project(answer):
    from dispkit.camera import Camera

    if not callable(answer):
        return False, "pass your function itself (project, not project(...))."
    g = torch.Generator().manual_seed(0)
    for W, H in ((640, 480), (1080, 1920), (320, 240)):
        pts = torch.rand(20, 3, generator=g, dtype=torch.float64) * torch.tensor([2.0, 2.0, 4.0], dtype=torch.float64) \
            - torch.tensor([1.0, 1.0, -2.0], dtype=torch.float64)
        want = Camera.full_image(W, H, dtype=torch.float64).project(pts[None])[0]
        got = _as_tensor(_call(answer, pts.clone(), W, H))
        if got.shape != want.shape:
            return False, f"for {len(pts)} points the result must be [{len(pts)}, 2], got {tuple(got.shape)}."
        if torch.allclose(got, want, atol=1e-3):
            continue
        f = (W ** 2 + H ** 2) ** 0.5
        if torch.allclose(got, want - torch.tensor([W / 2, H / 2], dtype=torch.float64), atol=1e-3):
            return False, "the principal point is missing: add (w/2, h/2), the image centre."
        if torch.allclose(got, pts[:, :2] * f + torch.tensor([W / 2, H / 2], dtype=torch.float64), atol=1e-3):
            return False, "divide by the depth z: a pinhole camera's image shrinks with distance."
        if torch.allclose(got, want.flip(-1), atol=1e-3):
            return False, "x and y are swapped: u (columns) comes from x, v (rows) from y."
        return False, f"wrong pixels for a {W}x{H} image, e.g. {got[0].tolist()} instead of {want[0].tolist()}."
    return True, "your projection matches dispkit.camera.Camera.full_image(w, h).project on three image sizes."


def _mean_vertex_motion(body, joint: str, angle: float, axis: int = 0) -> float:
    """Mean 3D distance (m) the vertices move when ``joint`` rotates by ``angle`` about ``axis`` from the rest pose."""
    from dispkit.body import SMPL_JOINT_NAMES

    bp = torch.zeros(1, 23, 3)
    bp[0, SMPL_JOINT_NAMES.index(joint) - 1, axis] = angle
    with torch.no_grad():
        a = body().vertices
        b = body(body_pose=bp.reshape(1, 69)).vertices
    return float((a - b).norm(dim=-1).mean())


@_exercise("00.lever", "Rotate one joint by 0.5 rad from the rest pose: which of 'left_shoulder', 'left_elbow', "
           "'left_wrist' moves the body's vertices the most on average? Predict first, then measure.",
           "every vertex below a joint in the kinematic tree turns with it, and the distance moved grows with the "
           "distance from the joint (a lever arm).")
def _lever(answer, body=None):
    from dispkit.body import default_body

    body = default_body(body)
    cands = ("left_shoulder", "left_elbow", "left_wrist")
    name = _name(answer)
    if name not in cands:
        return False, f"answer one of {', '.join(cands)} (got {answer!r})."
    motion = {j: _mean_vertex_motion(body, j, 0.5, axis=2) for j in cands}
    best = max(motion, key=motion.get)
    table = ", ".join(f"{j} {1000 * m:.1f} mm" for j, m in motion.items())
    if name == best:
        return True, f"mean vertex motion: {table}. The shoulder carries the whole arm and hand on the longest " \
                     "lever: a regressor's small error at the top of a chain is a large error at its end."
    return False, "not the most; think of how many vertices hang below each joint and how far they are from it."


# ------------------------------------------------------------------------------------------------ 01

def _reference_bary(p, a, b, c):
    p, a, b, c = (_as_tensor(x) for x in (p, a, b, c))
    area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    l1 = ((b[0] - p[0]) * (c[1] - p[1]) - (b[1] - p[1]) * (c[0] - p[0])) / area
    l2 = ((c[0] - p[0]) * (a[1] - p[1]) - (c[1] - p[1]) * (a[0] - p[0])) / area
    return torch.stack([l1, l2, 1 - l1 - l2])


@_exercise("01.barycentric", "Write barycentric(p, a, b, c): the barycentric coordinates (b1, b2, b3) of a 2D "
           "point p in the triangle a, b, c (each a pair of pixel coordinates).",
           "b1 is the area of the triangle (p, b, c) divided by the area of (a, b, c), with signs; likewise b2 with "
           "(a, p, c); b3 = 1 - b1 - b2.")
def _barycentric(answer):
    if not callable(answer):
        return False, "pass your function itself."
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        a, b, c = (torch.rand(2, generator=g, dtype=torch.float64) * 10 for _ in range(3))
        w = torch.rand(3, generator=g, dtype=torch.float64)
        w = w / w.sum()
        p = w[0] * a + w[1] * b + w[2] * c
        got = _as_tensor(_call(answer, p.clone(), a.clone(), b.clone(), c.clone())).reshape(-1)
        if got.shape != (3,):
            return False, f"return three numbers, got shape {tuple(got.shape)}."
        if torch.allclose(got, w, atol=1e-6):
            continue
        if abs(float(got.sum()) - 1) > 1e-6:
            return False, f"barycentric coordinates sum to 1; yours sum to {float(got.sum()):.4f}."
        if torch.allclose(torch.sort(got).values, torch.sort(w).values, atol=1e-6):
            return False, "right numbers, wrong order: b1 belongs to a (it is 1 at a), b2 to b, b3 to c."
        return False, f"for p = {p.tolist()} in ({a.tolist()}, {b.tolist()}, {c.tolist()}) the coordinates are " \
                      f"not {got.tolist()}."
    return True, "right on 20 random triangles; the rasteriser stores exactly these for every pixel centre " \
                 "(perspective-corrected, as nvdiffrast does) and Eq. 2 and Eq. 5 weigh the vertices with them."


@_exercise("01.normal_sign", "In the camera frame (OpenCV: z points forward, away from the camera), is the z "
           "component of a normal of a surface facing the camera positive or negative?",
           "a surface facing the camera points back towards it, against the viewing direction +z.")
def _normal_sign(answer):
    s = _name(answer)
    neg = s in ("negative", "neg", "-", "minus", "<0") or (not isinstance(answer, str) and _number(answer) < 0)
    if neg:
        return True, "negative: visible surfaces point towards the camera, i.e. along -z (notebook 01 counts " \
                     "the share of rendered normals with n·ray < 0 to check the renderer)."
    return False, "the viewing ray goes along +z; a surface you see faces back along the ray."


@_exercise("01.crop_focal", "A 256 x 256 full image (f = sqrt(256² + 256²)) is cropped to a 128-pixel box and "
           "rendered at 64 x 64 through the crop camera. What is the crop camera's focal length?",
           "the crop camera scales the intrinsics by the crop's pixels per full-image pixel (64 / 128).")
def _crop_focal(answer):
    from dispkit.camera import Camera

    cam = Camera.full_image(256, 256)
    want = float(cam.crop(torch.tensor([[64.0, 64.0, 192.0, 192.0]]), (64, 64)).focal[0, 0])
    a = _number(answer)
    if _close(a, want):
        return True, f"f' = f · 64/128 = {want:.2f} px (Camera.crop): the same rays, fewer pixels per ray, so the " \
                     "crop is rendered exactly instead of resampled."
    if _close(a, float(cam.focal[0, 0]) * 2):
        return False, "you scaled up; the crop has fewer pixels than the box (64 for 128), so f shrinks."
    if _close(a, float(cam.focal[0, 0])):
        return False, "that is the full image's f; the crop camera's pixels are bigger."
    return False, f"{a:g} px is not f scaled by the crop's pixels per box pixel."


# ------------------------------------------------------------------------------------------------ 02

def _random_maps(seed: int):
    """A small random mesh with random triangle-index and barycentric maps (some background pixels)."""
    g = torch.Generator().manual_seed(seed)
    V, F, H, W = 30, 40, 6, 7
    faces = torch.stack([torch.randperm(V, generator=g)[:3] for _ in range(F)])
    face_index = torch.randint(-1, F, (H, W), generator=g)
    b = torch.rand(H, W, 3, generator=g, dtype=torch.float64)
    bary = b / b.sum(-1, keepdim=True)
    return V, faces, face_index, bary, g


@_exercise("02.eq2_pixel", "Write eq2_pixel(v, faces, face_index, bary, row, col): Eq. 2 for one pixel, from the "
           "per-vertex displacements v [V,2], the triangles faces [F,3] and the maps face_index [H,W] (-1 on "
           "background) and bary [H,W,3].",
           "t = face_index[row, col] is the visible triangle; its vertices are faces[t]; f = sum over k of "
           "bary[row, col, k] * v[faces[t, k]]; background pixels get (0, 0).")
def _eq2_pixel(answer):
    from dispkit.displacement import pixel_field

    if not callable(answer):
        return False, "pass your function itself."
    for seed in range(3):
        V, faces, face_index, bary, g = _random_maps(seed)
        v = torch.randn(V, 2, generator=g, dtype=torch.float64) * 5
        want = pixel_field(v[None], face_index[None], bary[None], faces)[0]
        for row in range(face_index.shape[0]):
            for col in range(face_index.shape[1]):
                got = _as_tensor(_call(answer, v.clone(), faces.clone(), face_index.clone(), bary.clone(), row,
                                             col)).reshape(-1)
                if got.shape != (2,):
                    return False, f"return a 2-vector, got shape {tuple(got.shape)}."
                if torch.allclose(got, want[row, col], atol=1e-6):
                    continue
                if int(face_index[row, col]) < 0:
                    return False, "a background pixel (face_index -1) has no triangle: its displacement is (0, 0) " \
                                  "(and the loss mask m of Eq. 3 is 0 there)."
                return False, f"pixel ({row}, {col}): expected the barycentric mix of its triangle's three vertex " \
                              f"displacements, got {got.tolist()}."
    return True, "your Eq. 2 matches dispkit.displacement.pixel_field on every pixel of three random meshes."


@_exercise("02.largest_joint", "Which of the 24 joints has the largest Eq. 1 displacement (in image pixels) in "
           "this notebook's scene? Pass its name and the scene: check(..., answer, scene=scene).",
           "apply vertex_displacements to the GT and initial joints (body(**scene.gt).joints, ...) and take the "
           "joint with the longest vector; dispkit.body.SMPL_JOINT_NAMES names them.")
def _largest_joint(answer, scene=None, body=None):
    from dispkit.body import SMPL_JOINT_NAMES, default_body
    from dispkit.displacement import vertex_displacements

    if scene is None:
        return False, "pass the scene too: check('02.largest_joint', answer, scene=scene)."
    body = default_body(body)
    with torch.no_grad():
        d = vertex_displacements(body(**scene.gt).joints, body(**scene.init).joints, scene.camera)[0].norm(dim=-1)
    order = torch.argsort(d, descending=True)
    best = SMPL_JOINT_NAMES[int(order[0])]
    name = _name(answer)
    if name not in SMPL_JOINT_NAMES:
        return False, f"{answer!r} is not one of the 24 joint names (dispkit.body.SMPL_JOINT_NAMES)."
    top = ", ".join(f"{SMPL_JOINT_NAMES[int(i)]} {float(d[i]):.1f} px" for i in order[:3])
    if name == best:
        return True, f"largest: {top}; pelvis {float(d[0]):.1f} px. The far ends of the kinematic chains " \
                     "collect the errors of every joint above them."
    rank = int((order == SMPL_JOINT_NAMES.index(name)).nonzero()[0, 0]) + 1
    return False, f"{name} is number {rank} of 24 ({float(d[SMPL_JOINT_NAMES.index(name)]):.1f} px); measure " \
                  "all 24 and take the longest."


@_exercise("02.resolution", "The scene is rendered at 320 x 240. Rendered at 640 x 480 with the same full-image "
           "camera rule, by what factor does the mean length of the Eq. 2 field change?",
           "f = sqrt(w² + h²) doubles with the image, and pixel coordinates scale with f.")
def _resolution(answer):
    a = _number(answer)
    if _close(a, 2.0, rel=0.02):
        return True, "x2: displacements are in pixels and scale with the resolution, which is why the fit measures " \
                     "residuals relative to the person's size (in 224-pixel-crop units, dispkit.terms.person_scale) " \
                     "and the network's field is converted from crop to full-image pixels."
    if _close(a, 4.0, rel=0.02):
        return False, "the number of pixels grows 4x, but each vector's length only scales with f."
    if _close(a, 1.0, rel=0.02):
        return False, "the field is measured in pixels, and there are more pixels per metre now."
    return False, f"{a:g} is not how f = sqrt(w² + h²) changes."


# ------------------------------------------------------------------------------------------------ 03

@_exercise("03.eq3_loss", "Write eq3(pred, target, mask): Eq. 3's loss of one stack, 1/(W H) Σ_xy m_xy "
           "||pred_xy - target_xy||_1, for one crop: pred and target [2,H,W], mask [H,W] (0/1); return a number.",
           "(pred - target).abs().sum(0) is the L1 norm per pixel; multiply by the mask, sum, divide by H * W.")
def _eq3(answer):
    from dispkit.train import eq3_loss

    g = torch.Generator().manual_seed(3)
    for H, W in ((4, 5), (7, 3)):
        pred, target = torch.randn(2, H, W, generator=g), torch.randn(2, H, W, generator=g)
        mask = torch.rand(H, W, generator=g) > 0.4
        want = float(eq3_loss([pred[None]], target[None], mask[None])[0])
        got = _number(_call(answer, pred, target, mask.float()))
        if not _close(got, want, rel=1e-4):
            if _close(got, want * H * W / max(float(mask.sum()), 1.0), rel=1e-4):
                return False, "you divided by the masked pixels; Eq. 3 divides by all W x H pixels of the crop."
            l2 = float(((pred - target).norm(dim=0) * mask).sum() / (H * W))
            if _close(got, l2, rel=1e-4):
                return False, "that is the L2 (end-point) distance; Eq. 3 uses the L1 norm ||.||_1."
            return False, f"on a {H} x {W} case you got {got:.5f}, Eq. 3 gives {want:.5f}."
    return True, "the L1 loss over the rendered pixels: robust to the few pixels whose target is wrong (a limb " \
                 "seen through another), and what dispkit.train.eq3_loss sums over the stacks."


@_exercise("03.zero_field", "The network's end-point error on a split is 3.2 px and predicting no displacement at "
           "all gives 6.4 px. What is the ratio to the zero field (the number bench_net.py reports)?",
           "EPE / zero-field EPE: below 1 the network helps, above 1 it is worse than doing nothing.")
def _zero_field(answer):
    a = _number(answer)
    if _close(a, 0.5, rel=0.01):
        return True, "0.5: half the displacement is left. Above 1.0 a prediction is worse than none: the " \
                     "refinement would then pull the body away from the truth (what the first network did on " \
                     "the OOD split)."
    if _close(a, 2.0, rel=0.01):
        return False, "inverted: divide the network's EPE by the zero field's."
    return False, f"{a:g} is not 3.2 / 6.4."


# ------------------------------------------------------------------------------------------------ 04

@_exercise("04.eq5_vertex", "Write eq5_vertex(field, face_index, bary, faces, i): Eq. 5 for vertex i, from a "
           "field [H,W,2], the maps face_index [H,W] (-1 on background) and bary [H,W,3] and faces [F,3]. Return "
           "the 2-vector, or None when no pixel sees the vertex.",
           "loop over the foreground pixels; where vertex i is corner k of the visible triangle, add bary[y, x, k] "
           "* field[y, x] to a sum and bary[y, x, k] to a weight; the answer is sum / weight.")
def _eq5_vertex(answer):
    from dispkit.displacement import pixels_to_vertices

    if not callable(answer):
        return False, "pass your function itself."
    for seed in range(3):
        V, faces, face_index, bary, g = _random_maps(seed)
        field = torch.randn(*face_index.shape, 2, generator=g, dtype=torch.float64) * 3
        field[face_index < 0] = 0
        want, vis = pixels_to_vertices(field[None], face_index[None], bary[None], faces, V)
        first = int(vis[0].nonzero()[0, 0])
        if answer(field.clone(), face_index.clone(), bary.clone(), faces.clone(), first) is None:
            raise _NoAnswer  # None for a vertex that pixels see: a stub
        for i in range(V):
            got = answer(field.clone(), face_index.clone(), bary.clone(), faces.clone(), i)
            if not bool(vis[0, i]):
                zero = torch.zeros(2, dtype=torch.float64)
                if got is not None and not torch.allclose(_as_tensor(got).reshape(-1), zero):
                    return False, f"vertex {i} is in no visible triangle: it gets no value (None), not {got}."
                continue
            if got is None:
                return False, f"vertex {i} is seen by some pixels, but your function returned None."
            got = _as_tensor(got).reshape(-1)
            if torch.allclose(got, want[0, i], atol=1e-6):
                continue
            m = face_index >= 0
            hit = m.clone()
            hit[m] = (faces[face_index[m]] == i).any(-1)
            if hit.any() and torch.allclose(got, field[hit].mean(0), atol=1e-6):
                return False, "that is the plain mean of the pixels; Eq. 5 weighs each pixel by the vertex's " \
                              "barycentric coordinate b_xy,i (and divides by their sum)."
            return False, f"vertex {i}: expected the barycentric-weighted mean of the pixels that see it."
    return True, "your Eq. 5 matches dispkit.displacement.pixels_to_vertices on every vertex of three random meshes."


@_exercise("04.noise", "Four pixels vote for a vertex with equal weights, each with independent noise of standard "
           "deviation 1 px. What is the standard deviation of the vertex's Eq. 5 value?",
           "the mean of n independent values with standard deviation s has standard deviation s / sqrt(n).")
def _noise(answer):
    a = _number(answer)
    if _close(a, 0.5, rel=0.01):
        return True, "1/sqrt(4) = 0.5 px: averaging helps only with the square root of the votes, and at this " \
                     "resolution a vertex gets about one pixel; the fit gains more from using ~1000 targets at once."
    if _close(a, 0.25, rel=0.01):
        return False, "0.25 is the variance (1/4); the standard deviation is its square root."
    if _close(a, 1.0, rel=0.01):
        return False, "averaging independent errors shrinks them."
    return False, f"{a:g} px is not s / sqrt(n) for s = 1, n = 4."


# ------------------------------------------------------------------------------------------------ 05

@_exercise("05.gmof", "Geman-McClure with σ = 100: ρ(r) = σ² r² / (σ² + r²). What is ρ at r = σ, and what is the "
           "largest value ρ can take? Answer both as a pair (rho_at_sigma, rho_max).",
           "put r = σ into the formula; for r -> infinity, r² / (σ² + r²) -> 1.")
def _gmof(answer):
    from dispkit.terms import gmof

    at, top = (_number(x) for x in answer)
    want_at = float(gmof(torch.tensor(100.0), 100.0))
    if not _close(at, want_at, rel=1e-3):
        return False, f"ρ(σ) = σ⁴ / 2σ² = σ² / 2 = {want_at:g}, not {at:g}."
    if not _close(top, 100.0 ** 2, rel=1e-3):
        return False, f"ρ(σ) is right; the limit for large r is σ² = 10000, not {top:g}."
    return True, "σ²/2 and σ²: a residual beyond a few σ costs almost the same as one at σ, so a swapped keypoint " \
                 "or a wrong displacement pulls on the body with a force that vanishes (dρ/dr -> 0) instead of " \
                 "growing like r (squared error)."


@_exercise("05.balance", "At the initial estimate the keypoint term's unweighted loss is 2.0e4 and the dense term's "
           "is 5.0e5 (it sums over ~1000 vertices). With the keypoint weight 5.0, which dense weight makes the two "
           "weighted terms equal?",
           "solve w · 5.0e5 = 5.0 · 2.0e4.")
def _balance(answer):
    a = _number(answer)
    want = 5.0 * 2.0e4 / 5.0e5
    if _close(a, want, rel=0.01):
        return True, f"{want:g}: the same order as §4.1's 0.4. The dense term is not weaker per target; it is " \
                     "summed over many more targets, so its multiplier is smaller."
    if _close(a, 1 / want, rel=0.01):
        return False, "inverted: the dense loss is the larger one, its weight must be below 1."
    return False, f"{a:g} · 5.0e5 is not 5.0 · 2.0e4."


# ------------------------------------------------------------------------------------------------ 06

@_exercise("06.median", "Four frames see one vertex with the grey values 0.52, 0.55, 0.50 and 0.95 (in the "
           "fourth the vertex is hidden behind an arm the renderer missed). Which colour does the paper's "
           "back-projection give the vertex, and what would the mean give? Answer (median, mean).",
           "the paper takes the median over the frames; compare with the mean.")
def _median(answer):
    med, mean = (_number(x) for x in answer)
    vals = torch.tensor([0.52, 0.55, 0.50, 0.95])
    if not _close(med, float(vals.median()), rel=1e-3) and not _close(med, 0.535, rel=1e-3):
        return False, f"the median of the four values is 0.535 (the mean of the middle two), not {med:g}."
    if not _close(mean, float(vals.mean()), rel=1e-3):
        return False, f"the median is right; the mean is {float(vals.mean()):.4f}, not {mean:g}."
    return True, "0.535 against 0.63: one wrong frame moves the mean by a fifth of the range and the median hardly " \
                 "at all, which is why §4 takes the median."


@_exercise("06.worst_variant", "In the ablation table (Table 3), which texture input gives the largest end-point "
           "error among the inputs to the full network? Pass the table: check(..., answer, table=table).",
           "compare table['epe_px'] over the first six variants (the ones fed to cpu_full).")
def _worst_variant(answer, table=None):
    if table is None:
        return False, "pass the table as table=table (the dict the ablation cell made)."
    from dispkit.evaluation import TEXTURE_VARIANTS

    textured = [v for v in TEXTURE_VARIANTS[:6] if v in table["epe_px"]]
    want = max(textured, key=table["epe_px"].get)
    if _name(answer) == _name(want):
        paper_ok = want == "wrong texture"
        return True, f"{want!r} ({table['epe_px'][want]:.2f} px). " + (
            "As in the paper: a wrong texture misleads more than noise or brightness." if paper_ok else
            "The paper finds the wrong texture worst; here it is not, so in this table the network relies on the "
            "texture less than the paper's does (see the closing notes of the benchmark).")
    return False, f"{answer!r} has {table['epe_px'].get(answer, float('nan')):.2f} px; another input is worse."


# ------------------------------------------------------------------------------------------------ 07

@_exercise("07.depth", "A regressor's crop camera is (s, tx, ty) = (0.9, 0, 0) for a 300-pixel box centred in a "
           "1920 x 1080 frame. At what depth t_z (metres) does the body stand in the full image's camera?",
           "the crop spans [-1, 1], i.e. b = 300 pixels for 2 units; a metre at depth t_z is f / t_z pixels: "
           "s · b / 2 = f / t_z with f = sqrt(w² + h²).")
def _depth(answer):
    from dispkit.camera import crop_cam_to_full

    want = float(crop_cam_to_full(torch.tensor([[0.9, 0.0, 0.0]]), torch.tensor([[960.0, 540.0]]),
                                  torch.tensor([300.0]), 1920, 1080)[0, 2])
    a = _number(answer)
    if _close(a, want, rel=0.005):
        return True, f"t_z = 2 f / (b s) = {want:.2f} m (dispkit.camera.crop_cam_to_full, CLIFF's rule): the " \
                     "regressor's scale becomes a depth in the full-image camera that SMPLify fits in."
    if _close(a, want / 2, rel=0.005):
        return False, "off by 2: the crop's normalised coordinates span 2 units ([-1, 1]) over b pixels."
    if _close(a, want * 2, rel=0.005):
        return False, "twice too far: b pixels span 2 normalised units, not 1."
    return False, f"{a:g} m is not 2 f / (b s) for f = sqrt(1920² + 1080²)."


@_exercise("07.texture_meshes", "refine_sequence back-projects the person's texture before refining. With which "
           "meshes: 'initial', 'refined' or 'gt'?",
           "what is known at test time?")
def _texture_meshes(answer):
    s = _name(answer)
    if s in ("initial", "init", "estimate", "estimates", "initial_estimate"):
        return True, "the initial meshes: the ground truth is unknown at test time, and the refined ones do not " \
                     "exist yet. Their errors blur the texture, which is why the network was trained on " \
                     "textures back-projected the same way."
    if s in ("gt", "ground_truth", "true"):
        return False, "at test time there is no ground truth."
    if s in ("refined", "fitted"):
        return False, "the texture is an input of the refinement, so it comes before it."
    return False, f"answer 'initial', 'refined' or 'gt' (got {answer!r})."


# ------------------------------------------------------------------------------------------------ 08

@_exercise("08.crop_to_full", "The network's crop is 64 x 64 pixels and the person's box 160 full-image pixels "
           "wide. A predicted displacement of 1 crop pixel is how many full-image pixels?",
           "the box's 160 pixels are resampled to 64.")
def _crop_to_full(answer):
    a = _number(answer)
    if _close(a, 160 / 64, rel=0.01):
        return True, "160 / 64 = 2.5: the pipeline divides Eq. 5's vectors by the crop's pixels per full-image " \
                     "pixel (DenseTerm.from_field(..., scale=S / side)) before Eq. 6 adds the full-image " \
                     "projection."
    if _close(a, 64 / 160, rel=0.01):
        return False, "inverted: a crop pixel is bigger than a full-image pixel here."
    return False, f"{a:g} is not the box's pixels per crop pixel."


@_exercise("08.paper_gain", "Table 1 of the paper: SMPLify + GMM with the predicted displacements lowers PARE's "
           "MPJPE on 3DPW from 74.5 to 65.5 mm. By how many percent?",
           "(before - after) / before x 100.")
def _paper_gain(answer):
    a = _number(answer)
    want = 100 * (74.5 - 65.5) / 74.5
    if _close(a, want, rel=0.01):
        return True, f"{want:.1f} %; with OpenPose instead (80.8 mm) the same fit makes PARE worse. Compare the " \
                     "gain this notebook printed for its scene and the kit's table (notebook 05)."
    if _close(a, want / 100, rel=0.01):
        return False, "that is a fraction; give it in percent."
    if _close(a, 100 * (74.5 - 65.5) / 65.5, rel=0.01):
        return False, "divide by the value before the fit (74.5), not after."
    return False, f"{a:g} % is not (74.5 - 65.5) / 74.5."


@_exercise("08.dense_weight", "§4.1 multiplies the reprojection loss by 5.0 for OpenPose and by what for the dense "
           "displacements (GMM prior)?",
           "read §4.1, or dispkit.terms.DATA_WEIGHTS.")
def _dense_weight(answer):
    from dispkit.terms import DATA_WEIGHTS

    want = DATA_WEIGHTS["dense"]["gmm"]
    a = _number(answer)
    if _close(a, want):
        return True, f"{want}: the dense term sums Geman-McClure errors over ~1000 visible vertices instead of 25 " \
                     "keypoints, so each target weighs less, and the sum still outweighs the prior."
    if _close(a, DATA_WEIGHTS["dense"]["cnf"]):
        return False, "that is the weight with the cNF prior (ProHMR's fitting); with GMM it is ten times larger."
    if _close(a, DATA_WEIGHTS["densepose"]["gmm"]):
        return False, "that is DensePose's weight (a point per pixel)."
    return False, f"{a:g} is not §4.1's weight for the dense term with GMM."
