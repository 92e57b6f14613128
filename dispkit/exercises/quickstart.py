"""Exercises of notebook 00 (keys ``"00.*"``)."""
from __future__ import annotations

import torch

from dispkit.exercises._core import _as_tensor, _call, _close, _exercise, _name, _number


@_exercise("00.focal", "The paper's full-image camera for a 1920 x 1080 frame: its focal length f in pixels?",
           "§4.1 uses the image diagonal: f = sqrt(w² + h²).")
def _focal(answer):
    from dispkit.camera import Camera

    want = float(Camera.full_image(1920, 1080).focal[0, 0])
    a = _number(answer)
    if _close(a, want, rel=1e-3):
        return True, f"f = sqrt(1920² + 1080²) = {want:.1f} px: the image diagonal, so every image gets the " \
                     f"same diagonal field of view, 2·arctan(1/2) ≈ 53°, whatever its aspect ratio."
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


@_exercise("00.lever", "Rotate one joint by 0.5 rad about the z axis (axis-angle [0, 0, 0.5]) from the rest pose: "
           "which of 'left_shoulder', 'left_elbow', 'left_wrist' moves the body's vertices the most on average? "
           "Predict first, then measure.",
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
        return True, f"mean vertex motion for 0.5 rad about z: {table}. The shoulder carries the whole arm and " \
                     "hand on the longest lever: a regressor's small error at the top of a chain is a large error at " \
                     "its end."
    return False, "not the most; think of how many vertices hang below each joint and how far they are from it."


