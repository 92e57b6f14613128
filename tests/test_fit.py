"""SMPLify (dispkit.fit): robust error, GMM prior, data terms, batched fits, bad input."""
import json
import math
import pickle

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from dispkit import fit, pipeline, priors, terms
from dispkit.camera import Camera
from dispkit.data.openpose import read_openpose_json
from dispkit.metrics import mpjpe

FAST = fit.FitConfig(camera_iters=10, body_iters=60, lr_body=0.02)


def test_gmof_is_geman_mcclure():
    r = torch.tensor([0.0, 1.0, 10.0, 1e4])
    rho = terms.gmof(r, 10.0)
    assert rho[0] == 0 and torch.isclose(rho[2], torch.tensor(50.0))  # ρ(σ) = σ²/2
    assert torch.isclose(rho[1], torch.tensor(100.0 / 101.0))
    assert 99.0 < float(rho[3]) < 100.0  # saturates at σ²: outliers stop pulling


def _gmm(K=3, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=0.3, size=(K, 69))
    A = rng.normal(size=(K, 69, 69)) * 0.05
    covars = A @ A.transpose(0, 2, 1) + 0.01 * np.eye(69)
    w = rng.random(K) + 0.5
    return means, covars, w / w.sum()


def test_gmm_prior_matches_the_gaussian_log_likelihood():
    means, covars, w = _gmm(K=1)
    prior = priors.GMMPrior(means, covars, w)
    theta = torch.as_tensor(np.random.default_rng(1).normal(scale=0.3, size=(4, 69)), dtype=torch.float32)
    logpdf = multivariate_normal(means[0], covars[0]).logpdf(theta.double().numpy())
    _, logdet = np.linalg.slogdet(covars[0])
    # one component: SMPLify's nll = -log N(θ) - ½ log|Σ| (its determinant normalisation)
    np.testing.assert_allclose(prior(theta).numpy(), -logpdf - 0.5 * logdet, rtol=1e-4)
    # several: the best component's term (max-mixture); the mean of a component scores better than far away
    means, covars, w = _gmm(K=3)
    prior = priors.GMMPrior(means, covars, w)
    near = prior(torch.as_tensor(means, dtype=torch.float32))
    far = prior(torch.as_tensor(means + 1.0, dtype=torch.float32))
    assert (near < far).all()


def test_gmm_files_smplify_format_and_missing(tmp_path):
    means, covars, w = _gmm(K=2)
    path = tmp_path / "gmm_08.pkl"
    with path.open("wb") as f:
        pickle.dump({"means": means, "covars": covars, "weights": w}, f, protocol=2)
    prior = priors.load_prior(f"gmm:{path}")
    assert isinstance(prior, priors.GMMPrior) and prior.means.shape == (2, 69)
    with pytest.raises(FileNotFoundError, match="smplify.is.tue.mpg.de"):
        priors.load_prior(f"gmm:{tmp_path / 'nope.pkl'}")
    with pytest.raises(ValueError, match="unknown prior"):
        priors.load_prior("vposer-typo")
    # the shipped open mixture: SMPLify's format, and a natural pose scores better than a contorted one
    open_prior = priors.load_prior("gmm")
    assert open_prior.means.shape == (8, 69)
    rest = torch.zeros(1, 69)
    twisted = torch.full((1, 69), 1.2)
    assert float(open_prior(rest)) < float(open_prior(twisted))


def _problem(body, B=2, seed=0):
    """GT poses, a perturbed initial estimate, and GT 2D projections seen by a full-image camera."""
    g = torch.Generator().manual_seed(seed)
    gt = body.zero_params(B)
    gt["global_orient"] = torch.tensor([[math.pi, 0.0, 0.0]]).repeat(B, 1)  # y-up body in a y-down camera
    gt["body_pose"] = 0.25 * torch.randn(B, 69, generator=g)
    gt["betas"] = 0.5 * torch.randn(B, 10, generator=g)
    gt["transl"] = torch.tensor([[0.0, 0.2, 4.0]]).repeat(B, 1)
    init = {k: v.clone() for k, v in gt.items()}
    init["body_pose"] = gt["body_pose"] + 0.15 * torch.randn(B, 69, generator=g)
    init["global_orient"] = gt["global_orient"] + 0.1 * torch.randn(B, 3, generator=g)
    init["transl"] = gt["transl"] + torch.tensor([0.05, -0.03, 0.3])
    cam = Camera.full_image(640, 480)
    return gt, init, cam


def test_dense_fit_recovers_the_pose_and_frames_are_independent(body):
    gt, init, cam = _problem(body, B=2)
    out_gt = body(**gt)
    targets = cam.project(out_gt.vertices)
    visible = torch.ones(targets.shape[:2], dtype=torch.bool)
    data = terms.DenseTerm(targets, visible, size=torch.tensor([300.0, 300.0]))
    r = fit.smplify(body, init, cam, data, prior="gmm", config=FAST)
    before = mpjpe(body(**init).joints, out_gt.joints)
    after = mpjpe(r.joints, out_gt.joints)
    assert r.fitted.all() and r.messages == ["", ""]
    assert float(after.max()) < 0.5 * float(before.min()), (before, after)
    assert set(r.losses) == {"camera", "body"} and r.losses["body"].shape == (FAST.body_iters + 1, 2)
    assert (r.losses["body"][-1] < r.losses["body"][0]).all()
    # the same frame alone gives the same fit (Adam is elementwise; losses do not mix frames)
    one = fit.smplify(body, {k: v[1:] for k, v in init.items()}, cam,
                      terms.DenseTerm(targets[1:], visible[1:], size=torch.tensor([300.0])), prior="gmm", config=FAST)
    torch.testing.assert_close(one.params["body_pose"], r.params["body_pose"][1:], atol=2e-4, rtol=0)


def test_keypoint_fit_and_frames_without_data(body):
    gt, init, cam = _problem(body, B=2, seed=1)
    kp = cam.project(body(**gt).openpose)
    conf = torch.ones(2, 25)
    conf[1] = 0.0  # frame 1: nothing detected
    data = terms.KeypointTerm(kp, conf, size=300.0)
    r = fit.smplify(body, init, cam, data, prior="gmm", config=FAST)
    assert r.fitted.tolist() == [True, False] and "unchanged" in r.messages[1]
    for k in fit.PARAM_NAMES:
        assert torch.equal(r.params[k][1], init[k][1].to(r.params[k].dtype))
        assert torch.isfinite(r.params[k]).all()
    assert float(mpjpe(r.joints[:1], body(**gt).joints[:1])) < float(mpjpe(body(**init).joints[:1],
                                                                           body(**gt).joints[:1]))
    with pytest.raises(ValueError, match="BODY_25"):
        terms.KeypointTerm(torch.zeros(1, 24, 2))
    with pytest.raises(ValueError, match="unknown BODY_25 joints"):
        terms.KeypointTerm(kp, ignore=("Pelvis",))


class _Explodes(terms.DataTerm):
    """A data term whose frame 0 turns NaN after a few evaluations."""

    def __init__(self, inner, after):
        self.inner, self.after, self.calls, self.valid, self.weight = inner, after, 0, inner.valid, 1.0

    def loss(self, out, cam):
        self.calls += 1
        loss = self.inner.loss(out, cam)
        if self.calls > self.after:
            loss = loss * torch.tensor([float("nan"), 1.0])
        return loss


def test_non_finite_loss_stops_only_that_frame(body):
    gt, init, cam = _problem(body, B=2, seed=2)
    targets = cam.project(body(**gt).vertices)
    dense = terms.DenseTerm(targets, torch.ones(targets.shape[:2], dtype=torch.bool), size=300.0)
    r = fit.smplify(body, init, cam, _Explodes(dense, after=FAST.camera_iters + 5), prior="gmm", config=FAST)
    assert r.fitted.tolist() == [False, True]
    assert "non-finite" in r.messages[0] and "body" in r.messages[0] and r.messages[1] == ""
    for k in fit.PARAM_NAMES:
        assert torch.isfinite(r.params[k]).all()
    with pytest.raises(ValueError, match="missing"):
        fit.smplify(body, {"body_pose": init["body_pose"]}, cam, dense)
    with pytest.raises(ValueError, match="non-finite"):
        fit.smplify(body, dict(init, transl=torch.full((2, 3), float("nan"))), cam, dense)


def test_read_openpose_json(tmp_path):
    small = np.zeros((25, 3))
    small[:, :2] = np.random.default_rng(0).random((25, 2)) * 20
    small[:, 2] = 0.9
    big = small.copy()
    big[:, :2] *= 10
    big[3, 2] = 0.0
    path = tmp_path / "frame_keypoints.json"
    path.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": small.ravel().tolist()},
                                                            {"pose_keypoints_2d": big.ravel().tolist()}]}))
    kp, conf = read_openpose_json(path)
    np.testing.assert_allclose(kp.numpy(), big[:, :2], rtol=1e-6)
    assert conf[3] == 0 and conf[0] == pytest.approx(0.9)
    kp0, _ = read_openpose_json(path, person=0)
    np.testing.assert_allclose(kp0.numpy(), small[:, :2], rtol=1e-6)
    path.write_text(json.dumps({"people": []}))
    kp, conf = read_openpose_json(path)
    assert kp.shape == (25, 2) and (conf == 0).all()


def test_bending_term_penalises_hyperextension():
    pose = torch.zeros(2, 69)
    pose[1, 9] = -0.8  # left knee bent backwards (SMPLify's sign convention: -θ_x penalised)
    b = terms.bending_term(pose)
    assert b[0] == pytest.approx(4.0) and b[1] > b[0]
    assert fit.FitConfig().bending_weight == 0  # off by default, as in the paper's modified SMPLify


def test_lbfgs_option_also_fits(body):
    gt, init, cam = _problem(body, B=1, seed=3)
    out_gt = body(**gt)
    targets = cam.project(out_gt.vertices)
    data = terms.DenseTerm(targets, torch.ones(targets.shape[:2], dtype=torch.bool), size=300.0)
    cfg = fit.FitConfig(camera_iters=2, body_iters=4, optimizer="lbfgs")
    r = fit.smplify(body, init, cam, data, prior="gmm", config=cfg)
    assert float(mpjpe(r.joints, out_gt.joints)) < 0.5 * float(mpjpe(body(**init).joints, out_gt.joints))
    with pytest.raises(ValueError, match="optimizer"):
        fit.smplify(body, init, cam, data, config=fit.FitConfig(optimizer="sgd"))


def test_densepose_term_and_simulated_detections(body):
    from dispkit.data import observations as obs
    from dispkit.render import render

    gt, init, cam = _problem(body, B=2, seed=4)
    out_gt = body(**gt)
    views = render(out_gt.vertices, body, cam, modalities=("mask", "face_index", "bary"))
    dp = obs.gt_densepose(views, stride=3, generator=0)
    assert dp["valid"].any(1).all() and (dp["face_index"][dp["valid"]] >= 0).all()
    # GT correspondences: the GT body explains them to rasterisation precision (zero loss up to float error)
    term = terms.DensePoseTerm(dp["pixels"], dp["face_index"], dp["bary"], body.faces, dp["valid"], size=300.0)
    per_point = term.loss(out_gt, cam) / dp["valid"].sum(1) / term.weight
    assert float(per_point.max()) < 1e-2
    # (these random test poses are far from the GMM's poses: fit the term alone, with a weight for ~5k points)
    term.weight = 0.05
    r = fit.smplify(body, init, cam, term, prior=None, config=FAST)
    assert (mpjpe(r.joints, out_gt.joints) < 0.75 * mpjpe(body(**init).joints, out_gt.joints)).all()
    # noisy versions: same shapes, errors of the advertised size
    noisy = obs.simulate_densepose(views, size=300.0, stride=3, generator=0)
    assert noisy["pixels"].shape == dp["pixels"].shape and not torch.equal(noisy["bary"], dp["bary"])
    # the limb swaps of the DensePose simulation send a limb's points to the mirrored limb
    swapped = obs.simulate_densepose(views, size=300.0, stride=3, generator=0, level=1.0, noise=0.0, outliers=0.0,
                                     body=body, limb_swaps=1.0)
    assert (swapped["face_index"] != dp["face_index"])[dp["valid"]].float().mean() > 0.2
    # the simulated OpenPose: seeded, errors of the advertised size; a level of 0 leaves only the definition gap
    kp, conf = obs.simulate_openpose(body, out_gt.vertices, cam, torch.tensor([300.0, 300.0]), generator=0)
    again, _ = obs.simulate_openpose(body, out_gt.vertices, cam, torch.tensor([300.0, 300.0]), generator=0)
    assert torch.equal(kp, again) and ((conf >= 0) & (conf <= 1)).all() and (conf > 0).float().mean() > 0.5
    exact, _ = obs.simulate_openpose(body, out_gt.vertices, cam, 300.0, generator=0, level=0.0)
    gap = (exact - cam.project(out_gt.openpose)).norm(dim=-1)
    assert float(gap.max()) < 0.1 * 300 and float(gap.mean()) > 0.1
    # the oracle detector (a sensitivity setting): a left/right swap exchanges the sides
    kp = cam.project(out_gt.openpose)
    sw, _ = obs.simulate_keypoints_oracle(kp, 300.0, generator=0, noise=0, outliers=0, swaps=1.0, missed=0)
    torch.testing.assert_close(sw[:, 2], kp[:, 5].to(sw.dtype))  # RShoulder <- LShoulder


def test_gt_dense_term_matches_the_gt_projection(body):
    from dispkit.data import observations as obs

    gt, init, cam = _problem(body, B=1, seed=5)
    go, io = body(**gt), body(**init)
    term = obs.gt_dense_term(body, go.vertices, io.vertices, cam, size=300.0)
    vis = term.visible[0]
    assert 1000 < int(vis.sum()) < body.num_vertices
    err = (term.targets[0, vis] - cam.project(go.vertices)[0, vis]).norm(dim=-1)
    assert float(err.median()) < 0.2  # Eq. 2 then Eq. 5 reproduce Eq. 1 at visible vertices (sub-pixel)


def test_refine_runs_the_whole_method(body):
    import dispkit
    from dispkit import net
    from dispkit.data.synthetic import make_scene

    scene = make_scene(3, "pare-like", body=body)
    model = net.build("cpu")  # untrained: this checks the plumbing, benchmarks/tables.py the accuracy
    cfg = fit.FitConfig(camera_iters=2, body_iters=3)
    r = dispkit.refine(scene.image, scene.init, scene.camera, scene.degraded_texture, net=model, body=body,
                       config=cfg)
    S = model.config.crop
    assert r.inputs["field"].shape == (1, S, S, 2) and r.inputs["crops"].shape == (1, 3, S, S)
    assert r.fitted.all() and all(torch.isfinite(v).all() for v in r.params.values())
    assert set(r.losses) == {"camera", "body"}
    with pytest.raises(ValueError, match=r"\[B,H,W,3\]"):
        pipeline.predicted_dense_term(scene.image[..., :2][None], body(**scene.init).vertices, scene.camera,
                                 scene.degraded_texture, body, model)


def test_refine_sequence_rejects_mismatched_inputs(body):
    init = {k: torch.zeros(2, n) for k, n in (("global_orient", 3), ("body_pose", 69), ("betas", 10),
                                               ("transl", 3))}
    cam = Camera.full_image(64, 48)
    with pytest.raises(ValueError, match="images must be"):
        pipeline.refine_sequence(torch.zeros(2, 48, 64), init, cam, body=body)
    with pytest.raises(ValueError, match="frames"):
        pipeline.refine_sequence(torch.zeros(3, 48, 64, 3), init, cam, body=body)
