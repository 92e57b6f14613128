"""dispkit.terms: §4.1's weights per prior, and each data term's view of the vertices it reads."""
import pytest
import torch

from dispkit import terms
from dispkit.lbs import SubsetLBS


def test_data_weight_follows_section_4_1():
    assert terms.data_weight("dense", "gmm") == 0.4 and terms.data_weight("dense", "vposer") == 0.4
    assert terms.data_weight("dense", "cnf") == 0.04 and terms.data_weight("dense", "cnf:/some/file.pt") == 0.04
    assert terms.data_weight("keypoints", "gmm") == 5.0 and terms.data_weight("keypoints", "cnf") == 1.0
    assert terms.data_weight("dense", None) == 0.4 and terms.data_weight("densepose", torch.nn.Identity()) == 0.002


def test_restricted_terms_give_the_same_loss(body):
    from dispkit.camera import Camera

    cam = Camera.full_image(320, 240)
    p = {"global_orient": torch.tensor([[3.1416, 0.2, 0.0]]).repeat(2, 1), "body_pose": torch.zeros(2, 69),
         "betas": torch.zeros(2, 10), "transl": torch.tensor([[0.0, 0.2, 3.0], [0.1, 0.1, 3.5]])}
    out = body(**p)
    g = torch.Generator().manual_seed(0)
    target = cam.project(out.vertices) + torch.randn(2, body.num_vertices, 2, generator=g) * 3
    visible = torch.rand(2, body.num_vertices, generator=g) < 0.2
    dense = terms.DenseTerm(target, visible, size=torch.tensor([120.0, 90.0]))
    F = body.faces.shape[0]
    fi = torch.randint(0, F, (2, 50), generator=g)
    bary = torch.softmax(torch.randn(2, 50, 3, generator=g), -1)
    dp = terms.DensePoseTerm(target[:, :50], fi, bary, body.faces, size=torch.tensor([120.0, 90.0]))
    kp = terms.KeypointTerm(cam.project(out.openpose) + 2, size=torch.tensor([120.0, 90.0]))
    for term in (dense, dp, kp):
        ids = term.vertex_ids()
        lbs = SubsetLBS(body, ids)
        sub = term.restricted(lbs)
        assert torch.allclose(sub.loss(lbs(**p), cam), term.loss(out, cam), rtol=1e-5)
        assert torch.allclose(sub.camera_loss(lbs(**p), cam), term.camera_loss(out, cam), rtol=1e-5)
    assert len(kp.vertex_ids()) == 0
    assert set(dense.vertex_ids().tolist()) == set(visible.any(0).nonzero()[:, 0].tolist())


def test_refine_weighs_the_dense_term_by_the_prior(body, monkeypatch):
    from dispkit import pipeline
    from dispkit.data.synthetic import make_scene

    class Seen(Exception):
        pass

    seen = []

    def smplify(body, params, cam, term, **kw):
        seen.append(term.weight)
        raise Seen

    monkeypatch.setattr(pipeline, "smplify", smplify)
    s = make_scene(1, body=body, texture_size=64)
    for prior in ("gmm", "cnf"):
        with pytest.raises(Seen):
            pipeline.refine(s.image, s.init, s.camera, s.degraded_texture, prior=prior, body=body)
    assert seen == [0.4, 0.04]
