"""Exercises of notebook 02 (keys ``"02.*"``)."""
from __future__ import annotations

import torch

from dispkit.exercises._core import _as_tensor, _call, _close, _exercise, _number


def _reference_bary(p, a, b, c):
    p, a, b, c = (_as_tensor(x) for x in (p, a, b, c))
    area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    l1 = ((b[0] - p[0]) * (c[1] - p[1]) - (b[1] - p[1]) * (c[0] - p[0])) / area
    l2 = ((c[0] - p[0]) * (a[1] - p[1]) - (c[1] - p[1]) * (a[0] - p[0])) / area
    return torch.stack([l1, l2, 1 - l1 - l2])


@_exercise("02.barycentric", "Write barycentric(p, a, b, c): the barycentric coordinates (b1, b2, b3) of a 2D "
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
    return True, "right on 20 random triangles; the rasteriser computes exactly these for every pixel centre, then " \
                 "corrects them for perspective (as nvdiffrast does) before storing them, and Eq. 2 and Eq. 5 weigh " \
                 "the vertices with the corrected ones."


def _rays(cam) -> torch.Tensor:
    """[H,W,3] the direction d = ((u - c_x) / f_x, (v - c_y) / f_y, 1) from the camera centre through each pixel
    centre, in camera space (OpenCV axes)."""
    u, v = torch.meshgrid(torch.arange(cam.width, dtype=torch.float64) + 0.5,
                          torch.arange(cam.height, dtype=torch.float64) + 0.5, indexing="xy")
    f, c = cam.focal[0].double(), cam.center[0].double()
    return torch.stack([(u - c[0]) / f[0], (v - c[1]) / f[1], torch.ones_like(u)], -1)


@_exercise("02.edge_normals", "Predict, then measure: on the wide-angle render with the body near the image edge "
           "(edge_views), what share of the visible pixels has a camera-space normal with n_z > 0? A number in "
           "[0, 1]; pass views=edge_views.",
           "under perspective a surface faces the camera when n · d < 0, d the ray from the camera centre to the "
           "surface point; n_z < 0 is the orthographic special case d = +z. Near the image edge d is far from +z.")
def _edge_normals(answer, views=None):
    if views is None or not all(k in views for k in ("normal", "mask", "camera")):
        return False, "pass views=edge_views (the wide-angle render above: normals, mask and its camera) so the " \
                      "check can measure the share on it."
    a = _number(answer)
    if not 0.0 <= a <= 1.0:
        return False, f"a share is a number between 0 and 1 (0.1: a tenth of the visible pixels), not {a:g}."
    m, n = views["mask"][0].cpu(), views["normal"][0].cpu().double()
    if not bool(m.any()):
        return False, "nothing is rendered in these views: render the body in front of the camera first."
    measured = float((n[..., 2] > 0)[m].double().mean())
    d = _rays(views["camera"])
    away = float(((n * d).sum(-1) > 0)[m].double().mean())
    off_axis = float(torch.rad2deg(torch.acos(d[..., 2] / d.norm(dim=-1)))[m].mean())
    why = (f"the render measures {measured:.1%} of the visible pixels with n_z > 0, but only {away:.2%} with n · d > 0 "
           "(interpolated vertex normals along the silhouette). A pinhole camera's rays fan out: near the image "
           "edge the ray d is far from the optical axis, so a surface can face the camera (n · d < 0) while its "
           "normal points away from the camera along the optical axis (n_z > 0). \"visible ⇒ n_z < 0\" holds for "
           "orthographic projection only, where every ray is +z.")
    tol = max(0.05, 0.5 * measured)
    rule = f"the check accepts answers within max(0.05, half the measured share) = {tol:.3f} of it"
    if abs(a - measured) <= tol:
        return True, f"your {a:.0%} is close ({rule}): {why}"
    if a == 0.0:
        return False, "0 is the orthographic answer (every ray along +z, so a visible surface has n_z < 0). This " \
                      "camera is a wide-angle pinhole and the body sits near the image edge: look at the direction " \
                      "of the ray to the body there."
    return False, ("too low: " if a < measured else "too high: ") + f"the rays d to the body are {off_axis:.0f}° off " \
        "the optical axis on average here; count the visible surfaces whose normal is within 90° of −d but more " \
        f"than 90° from −z ({rule})."


@_exercise("02.crop_focal", "A 256 x 256 full image (f = sqrt(256² + 256²)) is cropped to a 128-pixel box and "
           "rendered at 64 x 64 through the crop camera. What is the crop camera's focal length?",
           "the crop camera scales the intrinsics by the crop's pixels per full-image pixel (64 / 128).")
def _crop_focal(answer):
    from dispkit.camera import Camera

    cam = Camera.full_image(256, 256)
    want = float(cam.crop(torch.tensor([[64.0, 64.0, 192.0, 192.0]]), (64, 64)).focal[0, 0])
    a = _number(answer)
    if _close(a, want):
        return True, f"f' = f · 64/128 = {want:.2f} px (Camera.crop): the same field of view, covered by fewer, " \
                     "larger pixels, so the crop is rendered exactly instead of resampled."
    if _close(a, float(cam.focal[0, 0]) * 2):
        return False, "you scaled up; the crop has fewer pixels than the box (64 for 128), so f shrinks."
    if _close(a, float(cam.focal[0, 0])):
        return False, "that is the full image's f; the crop camera's pixels are bigger."
    return False, f"{a:g} px is not f scaled by the crop's pixels per box pixel."


