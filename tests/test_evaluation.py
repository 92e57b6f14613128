"""The honest benchmark: detectors that do not see the truth, the OOD split, the paper's baselines, one evaluation
layer (dispkit.evaluation, dispkit.data.observations, dispkit.data.ood)."""
import numpy as np
import pytest
import torch

from dispkit import evaluation as ev
from dispkit import fit, net, paper, priors, terms
from dispkit.camera import person_box
from dispkit.data import observations as obs
from dispkit.data import ood
from dispkit.data.poses import BODY_JOINTS, KEY_POSES
from dispkit.data.regressors import REGRESSOR_PRESETS
from dispkit.data.synthetic import make_scene
from dispkit.metrics import mpjpe
from dispkit.render import render


@pytest.fixture(scope="module")
def scenes(body):
    return [make_scene(s, "pare-like", body=body) for s in range(910_000, 910_016)]


def _detections(body, scenes, detect):
    """Per keypoint: confidence, error (pixels / person size, against the detector's own definition), visibility."""
    definition = obs.DetectorDefinition(body)
    conf, err, vis = [], [], []
    for s in scenes:
        with torch.no_grad():
            go = body(**s.gt)
        size = person_box(s.camera, go.vertices, 1.0)
        size = size[:, 2] - size[:, 0]
        truth = s.camera.project(definition(go.vertices))
        kp, c = detect(go, s, size, definition)
        depth = render(go.vertices, body, s.camera, modalities=("depth",))["depth"]
        conf.append(c[0].numpy())
        err.append(((kp - truth).norm(dim=-1) / size[:, None])[0].numpy())
        vis.append(obs.keypoint_visibility(definition, go.vertices, s.camera, depth)[0].numpy())
    return map(np.concatenate, (conf, err, vis))


def _partial_corr(a, b, given):
    """Correlation of a and b after removing what a linear function of ``given`` explains of each."""
    X = np.stack([np.ones_like(given), given], 1)
    ra = a - X @ np.linalg.lstsq(X, a, rcond=None)[0]
    rb = b - X @ np.linalg.lstsq(X, b, rcond=None)[0]
    return float(np.corrcoef(ra, rb)[0, 1])


def test_the_simulated_openpose_confidences_carry_no_information_about_the_error(body, scenes):
    """The detector may know visibility, never the error: beyond what visibility explains, its confidences are
    uncorrelated with its errors -- unlike the old error-aware detector, kept as a sensitivity setting."""
    conf, err, vis = _detections(body, scenes, lambda go, s, size, d: obs.simulate_openpose(
        body, go.vertices, s.camera, size, s.seed, definition=d))
    seen = conf > 0
    assert seen.mean() > 0.6                                       # most keypoints are reported
    r = _partial_corr(conf[seen], err[seen], vis[seen])
    assert abs(r) < 0.12, r
    # the errors are real: outliers and swaps keep a high confidence, as real OpenPose's do
    assert (conf[seen & (err > 0.15)] > 0.3).mean() > 0.5
    oc, oe, ov = _detections(body, scenes, lambda go, s, size, d: obs.simulate_keypoints_oracle(
        s.camera.project(d(go.vertices)), size, s.seed))
    os_ = oc > 0
    assert _partial_corr(oc[os_], oe[os_], ov[os_]) < -0.4        # the oracle's confidences do know the error


def test_the_detector_keypoints_are_not_the_fitted_models_joints(body):
    definition = obs.DetectorDefinition(body)
    out = body(**body.zero_params(2))
    gap = (definition(out.vertices) - out.openpose).norm(dim=-1)[0]
    names = obs.OPENPOSE_NAMES
    for j in ("RHip", "LHip", "MidHip", "Neck"):
        assert gap[names.index(j)] > 0.025, (j, gap[names.index(j)])   # centimetres apart, like real OpenPose
    assert gap.max() < 0.1


def test_coco18_mode_reports_no_feet_and_no_mid_hip(body, scenes):
    s = scenes[0]
    with torch.no_grad():
        go = body(**s.gt)
    _, conf = obs.simulate_openpose(body, go.vertices, s.camera, 150.0, 0, mode="coco18")
    missing = [obs.OPENPOSE_NAMES.index(n) for n in obs.COCO18_MISSING]
    assert (conf[0, missing] == 0).all() and (conf[0] > 0).sum() >= 6
    with pytest.raises(ValueError, match="mode"):
        obs.simulate_openpose(body, go.vertices, s.camera, 150.0, 0, mode="body135")


def test_the_ood_split_shares_no_pose_family_and_no_error_model_with_training(body):
    assert not set(ood.OOD_POSES) & set(KEY_POSES)
    assert ood.distance_to_kit_poses() > 0.2                      # rad RMS over the 23 joints, mirrored or not
    assert not set(ood.OOD_REGRESSORS) & set(REGRESSOR_PRESETS)
    s = make_scene(950_003, "ood-pare-like", 240, 426, body, distribution="ood")
    assert s.kind in ood.OOD_POSES and s.distribution == "ood" and s.image.shape == (426, 240, 3)
    with pytest.raises(ValueError, match="OOD regressor"):
        make_scene(950_003, "pare-like", 240, 426, body, distribution="ood")
    # the error structure differs: limb-heavy (distal joints rotate more than the spine) and biased
    gts = [make_scene(950_000 + k, "ood-pare-like", 240, 426, body, distribution="ood") for k in range(6)]
    d = np.stack([(s.init["body_pose"] - s.gt["body_pose"]).reshape(23, 3).norm(dim=-1).numpy() for s in gts])
    distal = [i for i, n in enumerate(BODY_JOINTS) if "knee" in n or "elbow" in n]
    spine = [i for i, n in enumerate(BODY_JOINTS) if "spine" in n]
    assert d[:, distal].mean() > 2 * d[:, spine].mean()


def test_spin_default_runs_and_its_camera_round_trip_is_exact(body, scenes):
    batch = ev.Batch.from_scenes(scenes[:2], body)
    kp, conf = obs.simulate_openpose(body, batch.go.vertices, batch.cam, batch.size, 0)
    term = terms.spin_keypoint_term(kp, conf)
    cfg = fit.FIT_PRESETS["spin_default"]
    none = fit.smplify(body, batch.init, batch.cam, term, prior="gmm",
                       config=fit.FitConfig(**{**vars(cfg), "camera_iters": 0, "body_iters": 0}))
    for k in fit.PARAM_NAMES:                                        # f = 5000 camera there and back: no change
        torch.testing.assert_close(none.params[k], batch.init[k], atol=1e-4, rtol=1e-4)
    short = fit.FitConfig(**{**vars(cfg), "camera_iters": 5, "body_iters": 5})
    r = fit.smplify(body, batch.init, batch.cam, term, prior="gmm", config=short)
    assert r.fitted.all() and torch.isfinite(r.vertices).all()
    assert not torch.allclose(r.params["body_pose"], batch.init["body_pose"])


def test_spins_body_stage_keeps_the_translation_the_default_frees_it(body, scenes):
    batch = ev.Batch.from_scenes(scenes[:2], body)
    term = obs.gt_dense_term(body, batch.go.vertices, batch.io.vertices, batch.cam, size=batch.size)
    fixed = fit.FitConfig(camera_iters=0, body_iters=5, transl_in_body=False)   # as SPIN
    r = fit.smplify(body, batch.init, batch.cam, term, prior="gmm", config=fixed)
    torch.testing.assert_close(r.params["transl"], batch.init["transl"])
    assert fit.FitConfig().transl_in_body and not fit.FIT_PRESETS["spin_default"].transl_in_body
    default = fit.FitConfig(camera_iters=0, body_iters=5)
    free = fit.smplify(body, batch.init, batch.cam, term, prior="gmm", config=default)
    assert not torch.allclose(free.params["transl"], batch.init["transl"])


def test_the_vposer_fit_starts_at_the_initial_pose_exactly(body, scenes):
    batch = ev.Batch.from_scenes(scenes[:4], body)
    vp = priors.load_prior("vposer")
    pose = vp.pose_from_latent(vp.latent_init(batch.init), batch.init)
    out = body(**{**batch.init, "body_pose": pose})
    assert float(mpjpe(out.joints.detach(), batch.io.joints).max()) < 2.0   # mm (decode(encode(θ)) alone is far off)


def test_what_if_terms_interpolate_between_the_gt_field_and_the_prediction(body, scenes):
    """a x the network's error: a = 1 is the prediction itself; a = 0 the GT field seen through the same crop,
    whose targets land on the GT vertices' projections."""
    batch = ev.Batch.from_scenes(scenes[:1], body)
    model = net.build("cpu").eval()  # untrained: large errors, which makes the interpolation visible
    out, info = ev.predicted_terms(batch, body, model, error_scales=[1.0, 0.0])
    ours, one, zero = out["Ours"], out["Ours, error x1"], out["Ours, error x0"]
    assert torch.equal(one.visible, ours.visible) and ours.visible.sum() > 300
    v = ours.visible[0]
    torch.testing.assert_close(one.targets[0, v], ours.targets[0, v])
    gt_px = batch.cam.project(batch.go.vertices)[0, v]
    err_zero = (zero.targets[0, v] - gt_px).norm(dim=-1)
    err_pred = (ours.targets[0, v] - gt_px).norm(dim=-1)
    assert err_zero.median() < 0.5 and err_pred.median() > 5 * err_zero.median()
    assert info["pixels"] > 0 and info["epe_sum"] > info["zero_sum"] * 0.1


def test_evaluate_split_scores_every_method_and_the_calibration_moves_the_ratio(body, scenes):
    quick = fit.FitConfig(camera_iters=3, body_iters=5)
    spin = fit.FitConfig(**{**vars(fit.FIT_PRESETS["spin_default"]), "camera_iters": 3, "body_iters": 5})
    r = ev.evaluate_split(scenes[:2], body, ["OP GT", "OP", "OP*", "DP"], ["gmm"], config=quick, progress=False,
                          spin_config=spin)
    assert set(r["rows"]) == {"init", "+GMM (OP GT)", "+GMM (OP)", "+GMM (OP*)", "+GMM (DP)"}
    for row in r["rows"].values():
        assert all(np.isfinite(row[m]) for m in ev.METRICS)
    with pytest.raises(ValueError, match="network"):
        ev.evaluate_split(scenes[:1], body, ["Ours"], ["gmm"], progress=False)
    cal = ev.calibrate_level(scenes[:2], body, "openpose", target_ratio=1.0, config=quick, iters=2, progress=False)
    assert len(cal["trace"]) == 2 and cal["trace"][0][0] == 2.0 and cal["trace"][1][0] in (1.0, 3.0)


def test_the_paper_numbers_and_ratios():
    assert paper.ratio_to_init("pare-like", "+GMM (OP)") == pytest.approx(1.085, abs=1e-3)
    assert paper.ratio_to_init("prohmr-like", "+CNF (OP)") == pytest.approx(0.931, abs=1e-3)
    assert paper.ratio_to_init("pare-like", "+GMM (DP)") == pytest.approx(1.374, abs=1e-3)
    assert paper.ratio_to_init("pare-like", "+CNF (OP)") is None   # the paper has no such row
