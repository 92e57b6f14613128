"""dispkit.lbs: SMPL's skinning on a vertex subset gives the full model's vertices and joints, and a fit through it
the same fit as through the whole mesh."""
import pytest
import torch

from dispkit import fit, terms
from dispkit.lbs import SubsetLBS


def _params(B, seed=0, scale=0.4):
    g = torch.Generator().manual_seed(seed)
    return {"global_orient": torch.randn(B, 3, generator=g) * scale,
            "body_pose": torch.randn(B, 69, generator=g) * scale, "betas": torch.randn(B, 10, generator=g),
            "transl": torch.randn(B, 3, generator=g)}


@pytest.mark.parametrize("B", [1, 5])
def test_subset_matches_the_full_model(body, B):
    p = _params(B, seed=B)
    ids = torch.randperm(body.num_vertices, generator=torch.Generator().manual_seed(1))[:500]
    lbs = SubsetLBS(body, ids)
    out, full = lbs(**p), body(**p)
    assert torch.equal(lbs.vertex_ids, ids.unique(sorted=True))
    assert (out.vertices - full.vertices[:, lbs.vertex_ids]).abs().max() < 1e-5
    assert (out.joints - full.joints).abs().max() < 1e-5 and (out.openpose - full.openpose).abs().max() < 1e-5
    assert (lbs.index[lbs.vertex_ids] == torch.arange(len(lbs.vertex_ids))).all()
    assert int((lbs.index >= 0).sum()) == len(lbs.vertex_ids)


def test_subset_with_pose_correctives(body):
    """The open model's posedirs are zero; SMPL's are not: the subset applies them like smplx does."""
    import copy

    b = copy.deepcopy(body)
    b.smpl.posedirs.data.normal_(0, 1e-3, generator=torch.Generator().manual_seed(0))
    p = _params(3)
    lbs = SubsetLBS(b, torch.arange(0, b.num_vertices, 7))
    assert not lbs.pose_free
    assert (lbs(**p).vertices - b(**p).vertices[:, lbs.vertex_ids]).abs().max() < 1e-5


def test_gradients_match(body):
    p = {k: v.requires_grad_() for k, v in _params(2, seed=3).items()}
    ids = torch.arange(100, 4000, 3)
    lbs = SubsetLBS(body, ids)
    g1 = torch.autograd.grad(lbs(**p).vertices.square().sum() + lbs(**p).openpose.sum(), list(p.values()))
    full = body(**p)
    g2 = torch.autograd.grad(full.vertices[:, lbs.vertex_ids].square().sum() + full.openpose.sum(), list(p.values()))
    for a, b in zip(g1, g2):
        assert (a - b).abs().max() <= 1e-5 * b.abs().max()


def test_a_fit_through_the_subset_is_the_same_fit(body):
    from dispkit.camera import Camera

    gt, init = _params(3, seed=5, scale=0.2), _params(3, seed=6, scale=0.2)
    for p in (gt, init):
        p["global_orient"] = p["global_orient"] + torch.tensor([3.14159, 0, 0])
        p["transl"] = torch.tensor([[0.0, 0.2, 3.0]]).repeat(3, 1)
    init["betas"] = gt["betas"] + 0.3
    cam = Camera.full_image(320, 240)
    with torch.no_grad():
        gv = body(**gt).vertices
    target = cam.project(gv)
    visible = torch.zeros(3, body.num_vertices, dtype=torch.bool)
    visible[:, ::5] = True
    kp = cam.project(body(**gt).openpose)
    cases = {"dense": terms.DenseTerm(target, visible, size=torch.full((3,), 150.0)),
             "keypoints": terms.KeypointTerm(kp, torch.ones(3, 25), size=torch.full((3,), 150.0))}
    for name, term in cases.items():
        cfg = dict(camera_iters=10, body_iters=30)
        a = fit.smplify(body, init, cam, term, prior="gmm", config=fit.FitConfig(subset_lbs=False, **cfg))
        b = fit.smplify(body, init, cam, term, prior="gmm", config=fit.FitConfig(subset_lbs=True, **cfg))
        assert (a.vertices - b.vertices).norm(dim=-1).max() < 1e-4, name       # 0.1 mm
        assert torch.allclose(a.losses["body"], b.losses["body"], rtol=1e-3, atol=1e-3), name
