"""Texture estimation by back-projection (dispkit.texture)."""
import math

import pytest
import torch
from scipy.spatial.transform import Rotation

from dispkit import texture as T
from dispkit.camera import Camera
from dispkit.data.appearance import make_texture
from dispkit.data.poses import sample_pose
from dispkit.render import render


def test_bake_uv_reproduces_vertex_colours(body):
    """Baking vertex colours and sampling the map at the vertices' UVs gives the colours back (orientation,
    row flip and seams are right)."""
    colors = body.canonical_colors
    tex = T.bake_uv(colors, body, size=512)
    assert tex.shape == (512, 512, 3) and torch.isfinite(tex).all()
    back = T.sample_at_vertices(tex, body)  # the map at every vertex's UV
    assert float((back - colors).abs().mean()) < 0.01
    const = T.bake_uv(torch.full((body.num_vertices, 3), 0.25), body, size=64)
    torch.testing.assert_close(const, torch.full_like(const, 0.25), atol=1e-5, rtol=0)


def _turntable(body, n=4):
    p = body.zero_params(n)
    p["global_orient"] = torch.tensor(Rotation.from_euler("XY", [[math.pi, 2 * math.pi * k / n] for k in range(n)])
                                      .as_rotvec(), dtype=torch.float32)
    p["body_pose"] = sample_pose(0, kind="a_pose", batch_size=n)
    p["transl"] = torch.tensor([[0.0, 0.2, 3.0]]).repeat(n, 1)
    return body(**p).vertices, Camera.full_image(320, 240)


def test_estimate_texture_from_frames(body):
    true = make_texture(1, body=body)
    verts, cam = _turntable(body)
    images = render(verts, body, cam, texture=true)["rgb"]
    est, info = T.estimate_texture(images, verts, cam, body, size=256)
    assert 0.3 < info["coverage"] < 1.0 and int(info["views_per_vertex"].max()) >= 2
    err = T.texture_error(est, true, body, info["seen"])
    other = T.texture_error(make_texture(2, body=body), true, body, info["seen"])
    seen_err = err["seen_mean_abs_error_255"]
    assert seen_err < 6 and seen_err < 0.2 * other["seen_mean_abs_error_255"]
    # re-rendering the first frame with the estimate looks like the image
    again = render(verts[:1], body, cam, texture=est)
    m = again["mask"][0]
    assert float((again["rgb"][0][m] - images[0][m]).abs().mean()) < 10 / 255
    # a single frame sees less than the turntable; unseen vertices are filled (finite, in range)
    _, one = T.estimate_texture(images[:1], verts[:1], cam, body, size=64)
    assert one["coverage"] < info["coverage"]
    assert torch.isfinite(one["vertex_colors"]).all() and one["vertex_colors"].min() >= 0


def test_backproject_bad_input(body):
    verts, cam = _turntable(body, n=2)
    with pytest.raises(ValueError, match=r"\[N,H,W,3\]"):
        T.backproject(torch.zeros(2, 240, 320), verts, cam, body)
    with pytest.raises(ValueError, match="one mesh per image"):
        T.backproject(torch.zeros(3, 240, 320, 3), verts, cam, body)
    with pytest.raises(ValueError, match="the camera renders"):
        T.backproject(torch.zeros(2, 100, 100, 3), verts, cam, body)


def test_degradations():
    tex = torch.full((32, 32, 3), 0.5)
    noisy = T.degrade(tex, "noise", 30, 0)
    assert abs(float((noisy - tex).std()) * 255 - 30) < 3  # pixel-wise N(0, 30) on the 0-255 scale
    bright = T.degrade(tex, "brightness", 50, 1)
    shift = bright - tex
    assert float(shift.std()) < 1e-6 and float(shift.abs().max()) > 0  # one global offset
    assert torch.equal(T.degrade(tex, "noise", 10, 3), T.degrade(tex, "noise", 10, 3))
    assert T.degrade(torch.ones(4, 4, 3), "brightness", 200, 2).max() <= 1
    with pytest.raises(ValueError, match="noise"):
        T.degrade(tex, "blur", 1)


def test_reference_frames_estimate_the_scene_texture(body):
    from dispkit.data.synthetic import make_scene, reference_frames

    scene = make_scene(5, body=body)
    imgs, verts, cam = reference_frames(scene, 3, body)
    assert imgs.shape == (3, scene.height, scene.width, 3) and verts.shape == (3, body.num_vertices, 3)
    est, info = T.estimate_texture(imgs, verts, cam, body, size=128)
    own = T.texture_error(est, scene.texture, body, info["seen"])["seen_mean_abs_error_255"]
    other = T.texture_error(est, make_scene(6, body=body).texture, body, info["seen"])["seen_mean_abs_error_255"]
    assert own < other  # (shading and background at silhouettes make it far from exact)
    assert torch.equal(reference_frames(scene, 3, body)[0], imgs)  # deterministic per scene
