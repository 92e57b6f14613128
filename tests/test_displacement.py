"""dispkit.displacement: Eq. 1, 2, 5, 6 and the end-point error."""
import pytest
import torch
from conftest import posed

from dispkit.camera import Camera
from dispkit.displacement import epe, pixel_field, pixels_to_vertices, vertex_displacements, vertex_targets
from dispkit.render import render


@pytest.fixture(scope="module")
def scene(body):
    """An initial mesh and a nearby 'ground truth' (another seeded pose/shape), rendered at 256²."""
    init = posed(body, B=2, seed=0)
    target = posed(body, B=2, seed=1)
    cam = Camera.full_image(256, 256)
    views = render(init, body, cam)
    return init, target, cam, views


def test_eq1_and_eq6_are_inverse(body, scene):
    init, target, cam, _ = scene
    v = vertex_displacements(target, init, cam)
    assert v.shape == (2, body.num_vertices, 2)
    assert v.norm(dim=-1).mean() > 1.0  # the two meshes differ by pixels
    assert torch.allclose(vertex_targets(v, init, cam), cam.project(target), atol=1e-4)
    # a different camera for the estimate (pi vs pi-hat)
    cam2 = Camera.full_image(256, 256)
    cam2.focal = cam2.focal * 1.1
    v2 = vertex_displacements(target, init, cam, cam2)
    assert torch.allclose(v2, cam.project(target) - cam2.project(init))


def test_constant_field_survives_eq2_then_eq5_exactly(body, scene):
    init, _, _, views = scene
    c = torch.tensor([3.5, -1.25])
    field = pixel_field(c.expand(2, body.num_vertices, 2), views["face_index"], views["bary"], body.faces)
    m = views["mask"]
    assert torch.allclose(field[m], c.expand(int(m.sum()), 2), atol=1e-5)
    assert (field[~m] == 0).all()
    back, visible = pixels_to_vertices(field, views["face_index"], views["bary"], body.faces, body.num_vertices)
    assert visible.any(1).all()
    assert torch.allclose(back[visible], c.expand(int(visible.sum()), 2), atol=1e-5)
    assert (back[~visible] == 0).all()


def test_affine_pixel_field_round_trip_is_close(body, scene):
    """f(x) = A x + c over the pixels -> Eq. 5 gives A x̄_i + c, x̄_i the weighted centroid of vertex i's pixels."""
    init, _, cam, views = scene
    H, W = views["mask"].shape[1:]
    ys, xs = torch.meshgrid(torch.arange(H) + 0.5, torch.arange(W) + 0.5, indexing="ij")
    px = torch.stack([xs, ys], -1).expand(2, H, W, 2)
    A = torch.tensor([[0.05, -0.02], [0.01, 0.03]])
    field = px @ A.T + torch.tensor([1.0, 2.0])
    back, visible = pixels_to_vertices(field, views["face_index"], views["bary"], body.faces, body.num_vertices)
    expect = cam.project(init) @ A.T + torch.tensor([1.0, 2.0])
    err = (back - expect).norm(dim=-1)[visible]
    # measured at 256²: mean 0.016, max 0.24 (|A| ~ 0.05: the centroid of a vertex's pixels is ~0.3 px from its
    # projection on average, up to ~5 px for silhouette vertices seen from one side only)
    assert err.mean() < 0.03 and err.max() < 0.5, (err.mean(), err.max())


def test_gt_round_trip_recovers_eq1_on_visible_vertices(body, scene):
    """Eq. 1 -> Eq. 2 -> Eq. 5 is a local barycentric smoothing: small error on visible vertices."""
    init, target, cam, views = scene
    v = vertex_displacements(target, init, cam)
    field = pixel_field(v, views["face_index"], views["bary"], body.faces)
    back, visible = pixels_to_vertices(field, views["face_index"], views["bary"], body.faces, body.num_vertices)
    err = (back - v).norm(dim=-1)[visible]
    scale = v.norm(dim=-1)[visible].mean()
    # measured (mean displacement 11.7 px at 256²): error mean 0.089 px (0.8 %), median 0.056 px, 99th percentile
    # 0.57 px, max 4.3 px (fingers and silhouette vertices, where the field changes within a pixel);
    # 128²: 0.068 px mean for 5.3 px displacements, 512²: 0.13 px for 24.5 px.
    assert err.mean() < 0.02 * scale and err.median() < 0.1, (err.mean(), scale)
    assert torch.quantile(err, 0.99) < 0.1 * scale
    assert 0.2 < visible.float().mean() < 0.7  # the back of the body is not visible


def test_visibility_is_exactly_the_vertices_of_visible_triangles(body, scene):
    _, _, _, views = scene
    field = torch.randn(2, *views["mask"].shape[1:], 2)
    back, visible = pixels_to_vertices(field, views["face_index"], views["bary"], body.faces, body.num_vertices)
    for b in range(2):
        fi = views["face_index"][b]
        tri = body.faces[fi[fi >= 0].unique()].unique()
        expect = torch.zeros(body.num_vertices, dtype=torch.bool)
        expect[tri] = True
        assert not (visible[b] & ~expect).any()  # never a vertex outside the visible triangles
        # vertices of visible triangles are missing only when their weight is ~0 at every pixel
        assert (visible[b] == expect).float().mean() > 0.995
        assert (back[b][~visible[b]] == 0).all()


def test_empty_mask_gives_no_visibility_and_no_nan(body):
    fi = torch.full((1, 8, 8), -1)
    bary = torch.zeros(1, 8, 8, 3)
    back, visible = pixels_to_vertices(torch.randn(1, 8, 8, 2), fi, bary, body.faces, body.num_vertices)
    assert not visible.any() and torch.isfinite(back).all() and (back == 0).all()
    assert pixel_field(torch.randn(1, body.num_vertices, 2), fi, bary, body.faces).abs().sum() == 0
    assert epe(torch.randn(1, 8, 8, 2), torch.randn(1, 8, 8, 2), fi >= 0) == 0


def test_epe_by_hand():
    pred = torch.zeros(2, 2, 2, 2)
    gt = torch.zeros(2, 2, 2, 2)
    gt[0, 0, 0] = torch.tensor([3.0, 4.0])
    gt[1, 1, 1] = torch.tensor([6.0, 8.0])
    mask = torch.zeros(2, 2, 2, dtype=torch.bool)
    mask[0, 0, :] = True
    mask[1, :, :] = True
    assert epe(pred, gt, mask) == pytest.approx((5.0 + 10.0) / 6)
    assert torch.allclose(epe(pred, gt, mask, reduction="none"), torch.tensor([2.5, 2.5]))
    assert epe(pred, gt) == pytest.approx(15.0 / 8)
    with pytest.raises(ValueError, match="same shape"):
        epe(pred, gt[..., :1])
    with pytest.raises(ValueError, match="reduction"):
        epe(pred, gt, reduction="sum")


def test_pixel_field_is_differentiable_and_batched(body, scene):
    _, _, _, views = scene
    v = torch.randn(2, body.num_vertices, 2, requires_grad=True)
    field = pixel_field(v, views["face_index"], views["bary"], body.faces)
    field.sum().backward()
    assert v.grad.abs().sum() > 0
    one = pixel_field(v[1:].detach(), views["face_index"][1:], views["bary"][1:], body.faces)
    assert torch.allclose(field[1:].detach(), one)


def test_bad_inputs(body, scene):
    init, target, cam, views = scene
    with pytest.raises(ValueError, match="different vertex counts"):
        vertex_displacements(target[:, :100], init, cam)
    with pytest.raises(ValueError, match="bary must have shape"):
        pixel_field(torch.zeros(2, body.num_vertices, 2), views["face_index"], views["bary"][..., :2], body.faces)
    with pytest.raises(ValueError, match="refers to triangle"):
        pixels_to_vertices(torch.zeros(2, 256, 256, 2), views["face_index"], views["bary"], body.faces[:10], 50)
    with pytest.raises(ValueError, match="field must have shape"):
        pixels_to_vertices(torch.zeros(2, 128, 128, 2), views["face_index"], views["bary"], body.faces,
                           body.num_vertices)
