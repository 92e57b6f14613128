"""dispkit.render.render: the paper's modalities (§3.1) against ray casting and analytic cases."""

import copy

import numpy as np
import pytest
import torch
from conftest import posed

from dispkit.camera import Camera
from dispkit.raster import available_backends
from dispkit.raycast import raycast_camera
from dispkit.render import MODALITIES, interpolate, render, vertex_normals


def _ring(mask):
    """Pixels within one pixel of the silhouette boundary."""
    m = np.pad(mask, 1, mode="edge")
    inner = np.ones_like(mask)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            inner &= m[1 + di:1 + di + mask.shape[0], 1 + dj:1 + dj + mask.shape[1]] == mask
    return ~inner


def test_body_matches_ray_casting_at_256(body):
    v = posed(body)
    cam = Camera.full_image(256, 256)
    views = render(v, body, cam)
    ours = views["face_index"][0].numpy()
    ids, hit = raycast_camera(v, body.faces, cam)
    fg = (ours >= 0) | (ids >= 0)
    assert fg.mean() > 0.15, "the body should cover a good part of the frame"
    agree = ours == ids
    assert agree[fg].mean() >= 0.995, f"id agreement {agree[fg].mean():.4f}"
    # disagreements only at silhouette pixels or between triangles sharing a vertex (edge pixels)
    faces = body.faces.numpy()
    ring = _ring(ours >= 0) | _ring(ids >= 0)
    for i, j in zip(*np.nonzero(fg & ~agree)):
        a, b = ours[i, j], ids[i, j]
        assert ring[i, j] or (a >= 0 and b >= 0 and set(faces[a]) & set(faces[b])), (i, j, a, b)

    # barycentrics reconstruct the ray's hit point; depth is the hit's camera-space z
    pc = cam.to_camera(v)[0].double().numpy()
    bary = views["bary"][0].double().numpy()
    pts = (bary[..., :, None] * pc[faces[np.maximum(ours, 0)]]).sum(-2)
    size = np.ptp(pc, axis=0).max()
    ok = agree & (ours >= 0)
    err = np.linalg.norm(pts[ok] - hit[ok], axis=-1)
    assert err.max() < 1e-4 * size, err.max()
    depth = views["depth"][0].numpy()
    assert np.abs(depth[ok] - hit[ok][:, 2]).max() < 1e-4 * size
    assert np.allclose(bary[ok].sum(-1), 1.0, atol=1e-5) and (bary[ok] > -1e-5).all()


def test_modalities_shapes_backgrounds_and_values(body):
    v = posed(body, B=2, seed=3)
    cam = Camera.full_image(96, 128)
    tex = torch.rand(64, 64, 3)
    views = render(v, body, cam, texture=tex, bg_color=(0.2, 0.4, 0.6))
    assert set(views) == set(MODALITIES) | {"rast", "camera"}
    B, H, W = 2, 128, 96
    shapes = {"rgb": (B, H, W, 3), "depth": (B, H, W), "normal": (B, H, W, 3), "vertex_color": (B, H, W, 3),
              "mask": (B, H, W), "face_index": (B, H, W), "bary": (B, H, W, 3), "uv": (B, H, W, 2),
              "rast": (B, H, W, 4)}
    for k, s in shapes.items():
        assert tuple(views[k].shape) == s, k
    m = views["mask"]
    assert m.dtype == torch.bool and views["face_index"].dtype == torch.int64
    bg = ~m
    assert (views["face_index"][bg] == -1).all() and (views["face_index"][m] >= 0).all()
    for k in ("depth", "normal", "vertex_color", "bary", "uv"):
        assert (views[k][bg] == 0).all(), k
    assert torch.allclose(views["rgb"][bg], torch.tensor([0.2, 0.4, 0.6]))
    # depth: positive, within the body's camera-space z range
    z = cam.to_camera(v)[..., 2]
    d = views["depth"]
    for b in range(B):
        assert d[b][m[b]].min() >= z[b].min() - 1e-5 and d[b][m[b]].max() <= z[b].max() + 1e-5
    # normals: unit, and the visible surface faces the camera (n . ray < 0) almost everywhere
    n = views["normal"][m]
    assert torch.allclose(n.norm(dim=-1), torch.ones(len(n)), atol=1e-5)
    H_, W_ = torch.meshgrid(torch.arange(H) + 0.5, torch.arange(W) + 0.5, indexing="ij")
    rays = torch.stack([(W_ - cam.center[0, 0]) / cam.focal[0, 0], (H_ - cam.center[0, 1]) / cam.focal[0, 1],
                        torch.ones(H, W)], -1).expand(B, H, W, 3)[m]
    facing = ((n * rays).sum(-1) < 0).float().mean()
    assert facing > 0.97, facing
    # vertex colours are the canonical colours interpolated with the barycentrics
    f = body.faces[views["face_index"][m]]
    expect = (views["bary"][m][..., None] * body.canonical_colors[f]).sum(-2)
    assert torch.allclose(views["vertex_color"][m], expect, atol=1e-5)
    assert views["vertex_color"].min() >= 0 and views["vertex_color"].max() <= 1 + 1e-6
    # rgb inside the texture's range; a constant texture gives that colour on the mask
    assert views["rgb"][m].min() >= 0 and views["rgb"][m].max() <= 1
    const = render(v, body, cam, texture=torch.full((8, 8, 3), 0.7), modalities=["rgb", "mask"])
    assert set(const) == {"rgb", "mask", "rast", "camera"}
    assert torch.allclose(const["rgb"][m], torch.tensor(0.7))


def test_texture_lookup_follows_uvs_with_rows_top_down(body):
    """A texture that stores its own (u, v_row) coordinates reads back the interpolated uv."""
    v = posed(body, seed=1)
    cam = Camera.full_image(128, 128)
    Ht, Wt = 256, 256
    r, k = torch.meshgrid((torch.arange(Ht) + 0.5) / Ht, (torch.arange(Wt) + 0.5) / Wt, indexing="ij")
    tex = torch.stack([k, r, torch.zeros_like(r)], -1)
    views = render(v, body, cam, texture=tex)
    m = views["mask"][0]
    uv = views["uv"][0][m]
    rgb = views["rgb"][0][m][:, :2]
    inner = ((uv > 1.0 / Ht) & (uv < 1 - 1.0 / Ht)).all(-1)  # away from the wrap-around seam
    assert inner.float().mean() > 0.95
    assert torch.allclose(rgb[inner], uv[inner], atol=1e-5)
    # uv is the body's vt with v flipped into image rows
    vt, ft = body.uv
    f = ft[views["face_index"][0][m]]
    expect = (views["bary"][0][m][..., None] * vt[f]).sum(-2)
    assert torch.allclose(uv[:, 0], expect[:, 0], atol=1e-5)
    assert torch.allclose(uv[:, 1], 1 - expect[:, 1], atol=1e-5)


def test_numba_and_torch_paths_agree(body):
    """interpolate/vertex_normals have a numba path (CPU, no grad) and a torch path."""
    v = posed(body, B=2, seed=4)
    cam = Camera.full_image(80, 80)
    views = render(v, body, cam, texture=torch.rand(32, 32, 3))
    rast = views["rast"]
    attr = torch.rand(2, v.shape[1], 5)
    fast = interpolate(attr, rast, body.faces)
    slow = interpolate(attr.clone().requires_grad_(), rast, body.faces).detach()
    assert torch.allclose(fast, slow, atol=1e-6)
    n_fast = vertex_normals(v, body.faces)
    n_slow = vertex_normals(v.clone().requires_grad_(), body.faces).detach()
    assert torch.allclose(n_fast, n_slow, atol=1e-5)


def test_crop_rendering_is_exact(body):
    """A crop with scale 1 reproduces the full render's pixels; a 2x crop has the full render's silhouette."""
    v = posed(body, seed=2)
    cam = Camera.full_image(160, 160)
    full = render(v, body, cam)
    x0, y0 = 40, 24
    crop = render(v, body, cam, box=torch.tensor([x0, y0, x0 + 64, y0 + 96.0]), size=(96, 64))
    assert crop["camera"].width == 64 and crop["camera"].height == 96
    for k in ("face_index", "mask"):
        assert torch.equal(crop[k][0], full[k][0, y0:y0 + 96, x0:x0 + 64]), k
    assert torch.allclose(crop["depth"][0], full["depth"][0, y0:y0 + 96, x0:x0 + 64], atol=1e-5)
    # rendering the same box at twice the resolution: each full pixel = mean of 2x2 crop pixels (coverage)
    big = render(v, body, cam, box=torch.tensor([x0, y0, x0 + 64, y0 + 96.0]), size=(192, 128))
    cov = big["mask"][0].float().reshape(96, 2, 64, 2).mean((1, 3))
    interior = full["mask"][0, y0:y0 + 96, x0:x0 + 64]
    assert (cov[interior] > 0).float().mean() > 0.99 and (cov[~interior] < 1).float().mean() > 0.99


def test_depth_is_perspective_correct_on_a_tilted_plane():
    """A plane through z = 3 tilted about y: rendered depth equals the analytic ray-plane intersection."""
    n = 20
    xs = torch.linspace(-1, 1, n)
    X, Y = torch.meshgrid(xs, xs, indexing="xy")
    Z = 3.0 + 0.8 * X  # tilted
    verts = torch.stack([X, Y, Z], -1).reshape(1, -1, 3)
    idx = torch.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = torch.cat([torch.stack([a, b, d], -1).reshape(-1, 3), torch.stack([a, d, c], -1).reshape(-1, 3)])

    class Mesh:
        pass

    mesh = Mesh()
    mesh.faces = faces
    cam = Camera.full_image(64, 48)
    views = render(verts, mesh, cam)
    m = views["mask"][0]
    assert m.float().mean() > 0.2
    i, j = torch.nonzero(m, as_tuple=True)
    rx = (j + 0.5 - cam.center[0, 0]) / cam.focal[0, 0]
    # ray (rx*t, ry*t, t) meets z = 3 + 0.8 x  ->  t = 3 / (1 - 0.8 rx)
    t = 3.0 / (1 - 0.8 * rx)
    assert torch.allclose(views["depth"][0][m], t, atol=1e-5)
    # the plane's normal in camera space, pointing to -z side or +z side consistently
    nrm = views["normal"][0][m]
    expect = torch.nn.functional.normalize(torch.tensor([-0.8, 0.0, 1.0]), dim=0)
    assert torch.allclose(nrm.abs(), expect.abs().expand_as(nrm), atol=1e-5)


def test_empty_views_and_bad_inputs(body):
    v = posed(body, B=2)
    cam = Camera.full_image(64, 64)
    behind = v.clone()
    behind[..., 2] *= -1  # the whole body behind the camera
    views = render(behind, body, cam)
    assert not views["mask"].any() and (views["face_index"] == -1).all()
    aside = v + torch.tensor([50.0, 0, 0])
    assert not render(aside, body, cam)["mask"].any()
    bad = v.clone()
    bad[1, 10, 0] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or inf in batch item\(s\) \[1\]"):
        render(bad, body, cam)
    with pytest.raises(ValueError, match="needs a texture"):
        render(v, body, cam, modalities=["rgb"])
    with pytest.raises(ValueError, match="unknown modalities"):
        render(v, body, cam, modalities=["albedo"])
    with pytest.raises(ValueError, match="needs size"):
        render(v, body, cam, box=torch.tensor([0, 0, 10, 10.0]))
    with pytest.raises(ValueError, match="camera batch"):
        render(v, body, Camera.full_image(64, 64, batch_size=3))
    with pytest.raises(TypeError, match="Camera"):
        render(v, body, object())
    with pytest.raises(ValueError, match="texture must be"):
        render(v, body, cam, texture=torch.rand(8, 8))


def test_batch_renders_each_item_independently(body):
    v = posed(body, B=3, seed=5)
    cam = Camera.full_image(72, 72)
    tex = torch.rand(3, 16, 16, 3)
    batch = render(v, body, cam, texture=tex)
    assert not torch.equal(batch["mask"][0], batch["mask"][1])
    for b in range(3):
        one = render(v[b:b + 1], body, cam, texture=tex[b])
        for k in ("face_index", "depth", "normal", "rgb", "vertex_color"):
            assert torch.allclose(batch[k][b], one[k][0], atol=1e-6), (k, b)


@pytest.mark.skipif("nvdiffrast" not in available_backends(), reason="nvdiffrast with CUDA not available here")
def test_cpu_and_nvdiffrast_modalities_agree(body):  # pragma: no cover - needs a GPU
    v = posed(body, B=2, seed=6)
    cam = Camera.full_image(256, 256)
    tex = torch.rand(128, 128, 3)
    cpu = render(v, body, cam, texture=tex, backend="cpu")
    gpu_body = copy.deepcopy(body).to("cuda")  # a copy: .to() moves a module in place, and `body` is session-wide
    gpu = render(v.cuda(), gpu_body, cam.to("cuda"), texture=tex.cuda(), backend="nvdiffrast")
    same = cpu["face_index"] == gpu["face_index"].cpu()
    fg = cpu["mask"] | gpu["mask"].cpu()
    assert same[fg].float().mean() > 0.99
    both = same & cpu["mask"]
    for k in ("depth", "normal", "vertex_color", "rgb"):
        assert torch.allclose(cpu[k][both], gpu[k].cpu()[both], atol=1e-3), k


def test_fused_cpu_path_matches_the_torch_path(body, monkeypatch):
    """render's CPU fast path (one numba pass) equals the any-device path (interpolate + texture in torch)."""
    from dispkit import raster

    v = posed(body, B=2, seed=7)
    cam = Camera.full_image(64, 64)
    tex = torch.rand(2, 32, 32, 3)
    fast = render(v, body, cam, texture=tex, bg_color=0.5)
    monkeypatch.setattr(raster, "_numba_module", lambda: None)  # torch rasteriser, interpolate, texture
    slow = render(v, body, cam, texture=tex, bg_color=0.5)
    assert fast["mask"].any()
    assert torch.equal(fast["face_index"], slow["face_index"]) and torch.equal(fast["mask"], slow["mask"])
    for k in ("depth", "normal", "vertex_color", "uv", "rgb", "bary"):
        assert torch.allclose(fast[k], slow[k], atol=1e-5), k


def test_faces_edited_in_place_are_checked_again():
    """The range check of faces is cached per tensor; an in-place edit must invalidate it."""
    from dispkit.raster import rasterize

    pos = torch.tensor([[-0.5, -0.5, 0.0, 1.0], [0.5, -0.5, 0.0, 1.0], [0.0, 0.5, 0.0, 1.0]])
    faces = torch.tensor([[0, 1, 2]])
    assert rasterize(pos, faces, (8, 8))[..., 3].max() == 1
    faces[0, 2] = 7  # now out of range
    with pytest.raises(ValueError, match="out of range"):
        rasterize(pos, faces, (8, 8))
    with pytest.raises(ValueError, match="out of range"):
        rasterize(pos[:2], torch.tensor([[0, 1, 2]]), (8, 8))
