"""dispkit.camera: pinhole projection, nvdiffrast clip space, person crops."""
import math

import pytest
import torch

from dispkit.camera import (
    Camera,
    box_from_points,
    clip_to_pixels,
    crop_image,
    crop_to_full,
    crop_to_full_vectors,
    full_to_crop,
    full_to_crop_vectors,
    ndc_to_pixels,
    pixels_to_ndc,
)


def _rot(axis_angle):
    """Rodrigues, independent of the package."""
    aa = torch.as_tensor(axis_angle, dtype=torch.float64)
    th = aa.norm()
    k = aa / th
    K = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]], dtype=torch.float64)
    return torch.eye(3, dtype=torch.float64) + math.sin(th) * K + (1 - math.cos(th)) * K @ K


def _points_in_front(B, N, gen, dtype=torch.float64):
    """Camera-space points with 2 < z < 8 inside a modest field of view."""
    z = 2 + 6 * torch.rand(B, N, 1, generator=gen, dtype=dtype)
    xy = (torch.rand(B, N, 2, generator=gen, dtype=dtype) - 0.5) * z
    return torch.cat([xy, z], -1)


def _random_camera(B, gen, W=640, H=480, dtype=torch.float64):
    focal = 400 + 800 * torch.rand(B, 2, generator=gen, dtype=dtype)
    center = torch.tensor([W, H], dtype=dtype) * (0.3 + 0.4 * torch.rand(B, 2, generator=gen, dtype=dtype))
    R = torch.stack([_rot(0.3 * torch.randn(3, generator=gen, dtype=dtype)) for _ in range(B)])
    t = torch.randn(B, 3, generator=gen, dtype=dtype) * 0.2
    return Camera(focal, center, R, t, W, H)


def _world(cam, pc):
    """World points whose camera-space coordinates are pc."""
    return (pc - cam.t[:, None]) @ cam.R


def test_full_image_focal_and_centre():
    cam = Camera.full_image(1920, 1080, batch_size=3)
    f = math.sqrt(1920 ** 2 + 1080 ** 2)
    assert cam.batch_size == 3 and (cam.width, cam.height) == (1920, 1080)
    torch.testing.assert_close(cam.focal, torch.full((3, 2), f))
    torch.testing.assert_close(cam.center, torch.tensor([[960.0, 540.0]] * 3))
    torch.testing.assert_close(cam.R, torch.eye(3).expand(3, 3, 3))
    torch.testing.assert_close(cam.t, torch.zeros(3, 3))
    assert len(repr(cam)) < 120 and "1920x1080" in repr(cam)


def test_optical_axis_hits_principal_point():
    cam = Camera.full_image(640, 480)
    pts = torch.tensor([[[0.0, 0.0, 1.0], [0.0, 0.0, 37.5]]])
    torch.testing.assert_close(cam.project(pts), torch.tensor([[[320.0, 240.0]] * 2]))


def test_known_point_by_hand():
    R = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90 deg about z
    cam = Camera(torch.tensor([[500.0, 400.0]]), torch.tensor([[300.0, 200.0]]), R[None],
                 torch.tensor([[0.1, -0.2, 2.0]]), 640, 480)
    X = torch.tensor([[[0.5, 0.3, 2.0]]])
    # X_c = R X + t = (-0.3 + 0.1, 0.5 - 0.2, 2 + 2) = (-0.2, 0.3, 4)
    torch.testing.assert_close(cam.to_camera(X), torch.tensor([[[-0.2, 0.3, 4.0]]]))
    torch.testing.assert_close(cam.depth(X), torch.tensor([[4.0]]))
    # u = 500 * -0.2 / 4 + 300 = 275, v = 400 * 0.3 / 4 + 200 = 230
    torch.testing.assert_close(cam.project(X), torch.tensor([[[275.0, 230.0]]]))
    # x right, y down: a point right of and below the axis lands right of and below the centre
    below_right = Camera.full_image(640, 480).project(torch.tensor([[[0.1, 0.1, 1.0]]]))
    assert (below_right > torch.tensor([320, 240])).all()


def test_clip_to_pixels_matches_project_and_depth_range():
    gen = torch.Generator().manual_seed(0)
    cam = _random_camera(4, gen)
    pc = _points_in_front(4, 50, gen)
    X = _world(cam, pc)
    near, far = 0.5, 20.0
    clip = cam.to_clip(X, near=near, far=far)
    assert clip.shape == (4, 50, 4)
    torch.testing.assert_close(clip[..., 3], pc[..., 2])  # w = z_c
    torch.testing.assert_close(clip_to_pixels(clip, cam.width, cam.height), cam.project(X))
    ndc = clip[..., :2] / clip[..., 3:]
    torch.testing.assert_close(ndc_to_pixels(ndc, cam.width, cam.height), cam.project(X))
    torch.testing.assert_close(pixels_to_ndc(cam.project(X), cam.width, cam.height), ndc)
    # near / far planes map to z_ndc = -1 / +1, and z_ndc grows with depth
    planes = _world(cam.index(0), torch.tensor([[[0.1, 0.2, near], [0.1, 0.2, far], [0.0, 0.0, 3.0]]],
                                               dtype=torch.float64))
    zc = cam.index(0).to_clip(planes, near=near, far=far)
    z_ndc = zc[..., 2] / zc[..., 3]
    torch.testing.assert_close(z_ndc[0, :2], torch.tensor([-1.0, 1.0], dtype=torch.float64))
    assert -1 < z_ndc[0, 2] < 1


def test_rasteriser_pixel_centres_and_top_row():
    """Pixel (i, j) is sampled at x_ndc = (j+.5)2/W - 1, y_ndc = (i+.5)2/H - 1; row 0 is the top."""
    W, H = 8, 6
    cam = Camera.full_image(W, H, dtype=torch.float64)
    i, j = 1, 5  # row 1 (near the top), column 5
    sample_ndc = torch.tensor([(j + 0.5) * 2 / W - 1, (i + 0.5) * 2 / H - 1], dtype=torch.float64)
    # a world point that projects exactly onto the centre of pixel (i, j)
    u, v = j + 0.5, i + 0.5
    f, c = cam.focal[0], cam.center[0]
    X = torch.tensor([[[(u - c[0]) / f[0] * 2.0, (v - c[1]) / f[1] * 2.0, 2.0]]], dtype=torch.float64)
    torch.testing.assert_close(cam.project(X)[0, 0], torch.tensor([u, v], dtype=torch.float64))
    clip = cam.to_clip(X)
    torch.testing.assert_close(clip[0, 0, :2] / clip[0, 0, 3], sample_ndc)
    # a point above the optical axis (y_c < 0: camera y points down) has y_ndc < 0 -> low rows = top
    up = cam.to_clip(torch.tensor([[[0.0, -0.5, 2.0]]], dtype=torch.float64))
    assert up[0, 0, 1] / up[0, 0, 3] < 0


def test_crop_camera_equals_full_to_crop():
    gen = torch.Generator().manual_seed(1)
    B = 5
    cam = _random_camera(B, gen, W=1920, H=1080)
    X = _world(cam, _points_in_front(B, 40, gen))
    x0 = 1500 * torch.rand(B, generator=gen, dtype=torch.float64) - 100
    y0 = 800 * torch.rand(B, generator=gen, dtype=torch.float64) - 100
    w = 50 + 400 * torch.rand(B, generator=gen, dtype=torch.float64)
    h = 50 + 400 * torch.rand(B, generator=gen, dtype=torch.float64)
    box = torch.stack([x0, y0, x0 + w, y0 + h], -1)
    for out_size in [(256, 256), (224, 160)]:  # (H_out, W_out), also non-square
        crop = cam.crop(box, out_size)
        assert (crop.height, crop.width) == out_size
        torch.testing.assert_close(crop.R, cam.R)
        torch.testing.assert_close(crop.t, cam.t)
        full_px = cam.project(X)
        crop_px = crop.project(X)
        torch.testing.assert_close(crop_px, full_to_crop(full_px, box, out_size))
        torch.testing.assert_close(crop_to_full(crop_px, box, out_size), full_px)
        # the box corners map to the crop's corners
        corners = box.view(B, 2, 2)
        torch.testing.assert_close(full_to_crop(corners, box, out_size),
                                   torch.tensor([[0.0, 0.0], [out_size[1], out_size[0]]],
                                                dtype=torch.float64).expand(B, 2, 2))
        # clip space of the crop camera addresses the crop's pixels
        torch.testing.assert_close(clip_to_pixels(crop.to_clip(X), crop.width, crop.height), crop_px)
        # displacement vectors only scale
        d = torch.randn(B, 40, 2, generator=gen, dtype=torch.float64)
        moved = crop_to_full(crop_px + d, box, out_size) - crop_to_full(crop_px, box, out_size)
        torch.testing.assert_close(crop_to_full_vectors(d, box, out_size), moved)
        back = full_to_crop_vectors(crop_to_full_vectors(d, box, out_size), box, out_size)
        torch.testing.assert_close(back, d)


def test_crop_hand_numbers_and_broadcast():
    cam = Camera(torch.tensor([[1000.0, 1000.0]]), torch.tensor([[500.0, 400.0]]), width=1000, height=800)
    crop = cam.crop(torch.tensor([[100.0, 200.0, 300.0, 300.0], [0.0, 0.0, 1000.0, 800.0]]), (50, 100))
    assert crop.batch_size == 2  # a B=1 camera broadcasts against two boxes
    torch.testing.assert_close(crop.focal[0], torch.tensor([500.0, 500.0]))   # sx = 100/200, sy = 50/100
    torch.testing.assert_close(crop.center[0], torch.tensor([200.0, 100.0]))  # (500-100)/2, (400-200)/2
    torch.testing.assert_close(crop.focal[1], torch.tensor([100.0, 62.5]))


def test_crop_image_matches_crop_geometry():
    H, W = 12, 16
    img = torch.arange(H * W, dtype=torch.float64).view(1, 1, H, W)
    # integer box at scale 1 is an exact copy
    out = crop_image(img, torch.tensor([[3.0, 2.0, 11.0, 8.0]]), (6, 8))
    torch.testing.assert_close(out, img[:, :, 2:8, 3:11])
    # an image whose value is the continuous u coordinate: crop pixel centres land where crop_to_full says
    u = (torch.arange(W, dtype=torch.float64) + 0.5).expand(1, 1, H, W)
    box = torch.tensor([[2.3, 1.7, 13.1, 9.9]], dtype=torch.float64)
    out = crop_image(u, box, (5, 7))
    centres = torch.stack([torch.arange(7, dtype=torch.float64) + 0.5,
                           torch.full((7,), 2.5, dtype=torch.float64)], -1)
    expected_u = crop_to_full(centres[None], box, (5, 7))[0, :, 0]
    torch.testing.assert_close(out[0, 0, 2], expected_u)


def test_box_from_points():
    pts = torch.tensor([[[10.0, 20.0], [30.0, 60.0], [20.0, 40.0]]])
    torch.testing.assert_close(box_from_points(pts, scale=1.0), torch.tensor([[0.0, 20.0, 40.0, 60.0]]))
    torch.testing.assert_close(box_from_points(pts, scale=1.5, square=False),
                               torch.tensor([[5.0, 10.0, 35.0, 70.0]]))
    valid = torch.tensor([[True, False, True]])
    torch.testing.assert_close(box_from_points(pts, scale=1.0, valid=valid),
                               torch.tensor([[5.0, 20.0, 25.0, 40.0]]))
    # default: square with 20% margin, contains all points
    box = box_from_points(pts)
    assert box[0, 2] - box[0, 0] == pytest.approx(48.0) and box[0, 3] - box[0, 1] == pytest.approx(48.0)
    with pytest.raises(ValueError, match="at least one valid"):
        box_from_points(pts, valid=torch.zeros(1, 3, dtype=torch.bool))


def test_batch_of_cameras_projects_independently():
    gen = torch.Generator().manual_seed(2)
    cam = _random_camera(3, gen)
    X = torch.randn(3, 10, 3, generator=gen, dtype=torch.float64) * 0.3
    X[..., 2] += 4.0
    together = cam.project(X)
    for b in range(3):
        torch.testing.assert_close(together[b:b + 1], cam[b].project(X[b:b + 1]))
    # a single camera broadcasts over a batch of point sets
    single = cam.index(1).project(X)
    torch.testing.assert_close(single, cam.index(1).expand(3).project(X))
    assert not torch.allclose(single[0], together[0])
    assert cam[1:].batch_size == 2 and cam[-1].batch_size == 1


def test_float64_and_dtype_conversion():
    cam = Camera.full_image(640, 480, dtype=torch.float64)
    assert cam.dtype == torch.float64 and cam.R.dtype == torch.float64
    X = torch.tensor([[[1e-3, -2e-3, 3.0]]], dtype=torch.float64)
    f = math.sqrt(640 ** 2 + 480 ** 2)
    torch.testing.assert_close(cam.project(X), torch.tensor([[[f * 1e-3 / 3 + 320, -f * 2e-3 / 3 + 240]]],
                                                            dtype=torch.float64), rtol=0, atol=1e-12)
    assert cam.to(dtype=torch.float32).project(X.float()).dtype == torch.float32
    assert Camera([[500, 500]], [[1, 2]], width=4, height=4).dtype == torch.get_default_dtype()


def test_from_K_roundtrip_and_gradients():
    cam = Camera.full_image(320, 240, batch_size=2)
    cam2 = Camera.from_K(cam.K, 320, 240)
    torch.testing.assert_close(cam2.focal, cam.focal)
    torch.testing.assert_close(cam2.center, cam.center)
    focal = torch.full((1, 2), 300.0, requires_grad=True)
    Camera(focal, torch.tensor([[160.0, 120.0]]), width=320, height=240).project(
        torch.tensor([[[0.1, 0.2, 2.0]]])).sum().backward()
    torch.testing.assert_close(focal.grad, torch.tensor([[0.05, 0.1]]))


@pytest.mark.parametrize("kwargs, match", [
    ({"focal": torch.ones(2), "center": torch.zeros(1, 2)}, r"focal must have shape \[B,2\]"),
    ({"focal": torch.ones(1, 3), "center": torch.zeros(1, 2)}, r"focal must have shape \[B,2\]"),
    ({"focal": torch.ones(1, 2), "center": torch.zeros(2, 2)}, "center has batch size 2"),
    ({"focal": torch.ones(1, 2), "center": torch.zeros(1, 2), "R": torch.eye(3)},
     r"R must have shape \[B,3,3\]"),
    ({"focal": torch.ones(1, 2), "center": torch.zeros(1, 2), "t": torch.zeros(1, 4)},
     r"t must have shape \[B,3\]"),
    ({"focal": torch.tensor([[1.0, float("nan")]]), "center": torch.zeros(1, 2)}, "non-finite"),
    ({"focal": -torch.ones(1, 2), "center": torch.zeros(1, 2)}, "positive"),
    ({"focal": torch.ones(1, 2), "center": torch.zeros(1, 2), "width": 0}, "width"),
    ({"focal": torch.ones(1, 2), "center": torch.zeros(1, 2), "height": 2.5}, "height"),
])
def test_bad_construction_raises(kwargs, match):
    kwargs = dict({"width": 10, "height": 10}, **kwargs)
    with pytest.raises(ValueError, match=match):
        Camera(**kwargs)


def test_bad_inputs_raise():
    cam = Camera.full_image(64, 48, batch_size=2)
    with pytest.raises(ValueError, match=r"\[B,N,3\]"):
        cam.project(torch.zeros(2, 5, 2))
    with pytest.raises(ValueError, match="batch sizes do not match"):
        cam.project(torch.ones(3, 5, 3))
    with pytest.raises(ValueError, match="x1 > x0"):
        cam.crop(torch.tensor([10.0, 10.0, 5.0, 20.0]), (32, 32))
    with pytest.raises(ValueError, match=r"\[B,4\]"):
        cam.crop(torch.zeros(2, 3), (32, 32))
    with pytest.raises(ValueError, match="near < far"):
        cam.to_clip(torch.ones(2, 1, 3), near=1.0, far=0.5)
    with pytest.raises(ValueError, match="expand"):
        cam.expand(4)
    with pytest.raises(IndexError):
        cam.index(2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda():
    cam = Camera.full_image(64, 48, device="cuda")
    assert cam.device.type == "cuda"
    X = torch.tensor([[[0.1, 0.2, 2.0]]], device="cuda")
    torch.testing.assert_close(cam.project(X).cpu(), cam.to("cpu").project(X.cpu()))


def test_crop_cam_to_full_matches_the_weak_perspective_crop():
    """The body's origin lands where the crop camera puts it, and a small offset there scales like s·b/2."""
    from dispkit.camera import crop_cam_to_full

    W, H = 1080, 1920
    cam_crop = torch.tensor([[0.9, 0.05, -0.2], [1.3, -0.1, 0.3]], dtype=torch.float64)
    center = torch.tensor([[400.0, 1100.0], [700.0, 600.0]], dtype=torch.float64)
    size = torch.tensor([500.0, 300.0], dtype=torch.float64)
    t = crop_cam_to_full(cam_crop, center, size, W, H)
    cam = Camera.full_image(W, H, batch_size=2, dtype=torch.float64)
    s, tx, ty = cam_crop.unbind(-1)
    for d in (0.0, 0.01):
        X = t[:, None] + torch.tensor([d, d, 0.0], dtype=torch.float64)
        weak = center + size[:, None] / 2 * s[:, None] * (torch.stack([tx, ty], -1) + d)
        assert torch.allclose(cam.project(X)[:, 0], weak, atol=1e-6)
    with pytest.raises(ValueError, match="positive"):
        crop_cam_to_full(-cam_crop, center, size, W, H)
