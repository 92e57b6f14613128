"""The OP* rows are SPIN's default SMPLify: the kit's ``spin_default`` preset with SPIN's keypoint term against a
fit written here from SPIN's conventions alone (its 224-pixel crop with f = 5000 and the principal point at the
crop's centre; camera stage: global orientation and camera translation, plain squared errors of the four torso
joints when all four are detected, else of the GT torso joints, plus 100² (t_z − t_z,init)²; body stage: pose,
shape and orientation with the translation fixed, Σ c² ρ(r) over the joints but Neck and the hips, the GMM
× 4.78², the bending term × 15.2², ‖β‖² × 5²; Adam at 1e-2 in both stages). No SPIN code is used.
"""
import pytest
import torch

from dispkit import fit, priors, terms
from dispkit.body import OPENPOSE_NAMES
from dispkit.camera import person_box
from dispkit.data.synthetic import make_scene

TORSO_OP = [OPENPOSE_NAMES.index(n) for n in ("RHip", "LHip", "RShoulder", "LShoulder")]
TORSO_MODEL = [2, 1, 17, 16]   # the body model's right hip, left hip, right shoulder, left shoulder
IGNORED = [OPENPOSE_NAMES.index(n) for n in ("Neck", "RHip", "LHip")]
ITERS = 15


def _gmof(x, sigma=100.0):
    return sigma ** 2 * x ** 2 / (sigma ** 2 + x ** 2)


def _spin_by_hand(body, init, cam, kp_full, conf, gt_torso_full, gmm, iters):
    """SPIN's two stages in SPIN's crop coordinates; returns the fitted parameters in the full image's frame."""
    with torch.no_grad():
        out0 = body(**init)
        box = person_box(cam, out0.vertices, 1.2)                 # SPIN's crop: 1.2 x the initial person
        side = box[:, 2] - box[:, 0]
        s = (224.0 / side)[:, None, None]
        kp = (kp_full - box[:, None, :2]) * s
        gt_t = (gt_torso_full - box[:, None, :2]) * s
        f_full, c_full = cam.focal[:, 0], cam.center                 # the scene's camera: R = I, t = 0
        k = 5000.0 * side / 224.0 / f_full
        pelvis = out0.joints[:, 0]
        u = (cam.project(pelvis[:, None])[:, 0] - box[:, :2]) * s[:, 0]
        z = k * pelvis[:, 2]
        root = body(**{**init, "transl": torch.zeros_like(init["transl"])}).joints[:, 0]
        cam_t0 = torch.stack([(u[:, 0] - 112) * z / 5000, (u[:, 1] - 112) * z / 5000, z], -1) - root

    def project(x, cam_t):
        x = x + cam_t[:, None]
        return 5000.0 * x[..., :2] / x[..., 2:] + 112.0

    go = init["global_orient"].clone().requires_grad_(True)
    cam_t = cam_t0.clone().requires_grad_(True)
    bp, betas = init["body_pose"].clone(), init["betas"].clone()
    all4 = (conf[:, TORSO_OP] > 0).all(1)
    opt = torch.optim.Adam([go, cam_t], lr=1e-2)
    for _ in range(iters):
        opt.zero_grad()
        out = body(global_orient=go, body_pose=bp, betas=betas)
        op = ((project(out.openpose[:, TORSO_OP], cam_t) - kp[:, TORSO_OP]) ** 2).sum((1, 2))
        gt = ((project(out.joints[:, TORSO_MODEL], cam_t) - gt_t) ** 2).sum((1, 2))
        loss = torch.where(all4, op, gt) + 100.0 ** 2 * (cam_t[:, 2] - cam_t0[:, 2]) ** 2
        loss.sum().backward()
        opt.step()
    cam_t = cam_t.detach()
    go = go.detach().clone().requires_grad_(True)
    bp.requires_grad_(True)
    betas.requires_grad_(True)
    c = conf.clone()
    c[:, IGNORED] = 0
    opt = torch.optim.Adam([go, bp, betas], lr=1e-2)
    sign = torch.tensor([1.0, -1.0, -1.0, -1.0])
    for _ in range(iters):
        opt.zero_grad()
        out = body(global_orient=go, body_pose=bp, betas=betas)
        rep = (c ** 2 * _gmof(project(out.openpose, cam_t) - kp).sum(-1)).sum(-1)
        bend = torch.exp(bp[:, [52, 55, 9, 12]] * sign).pow(2).sum(-1)
        loss = rep + 4.78 ** 2 * gmm(bp, betas) + 15.2 ** 2 * bend + 5.0 ** 2 * betas.pow(2).sum(-1)
        loss.sum().backward()
        opt.step()
    with torch.no_grad():   # back to the full image: the pelvis keeps its crop pixel, its depth is divided by k
        params = {"global_orient": go.detach(), "body_pose": bp.detach(), "betas": betas.detach()}
        root = body(**params).joints[:, 0]
        x = root + cam_t
        px = (5000.0 * x[:, :2] / x[:, 2:] + 112.0) / s[:, 0] + box[:, :2]
        zf = x[:, 2] / k
        pelvis = torch.cat([(px - c_full) * zf[:, None] / f_full[:, None], zf[:, None]], -1)
        params["transl"] = pelvis - root
    return params


@pytest.fixture(scope="module")
def case(body):
    scenes = [make_scene(900_000 + k, "pare-like", body=body) for k in range(2)]
    init = {k: torch.cat([s.init[k] for s in scenes]) for k in fit.PARAM_NAMES}
    gt = {k: torch.cat([s.gt[k] for s in scenes]) for k in fit.PARAM_NAMES}
    cam = scenes[0].camera
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        gt_out = body(**gt)
    kp = cam.project(gt_out.openpose) + 2.0 * torch.randn(2, 25, 2, generator=g)
    gt_torso = cam.project(gt_out.joints[:, TORSO_MODEL]) + 2.0 * torch.randn(2, 4, 2, generator=g)
    conf = torch.rand(2, 25, generator=g) * 0.8 + 0.2
    conf[1, OPENPOSE_NAMES.index("LHip")] = 0.0       # the second frame misses a torso joint: SPIN's fallback
    return body, init, cam, kp, conf, gt_torso


def test_spin_default_is_spins_smplify(case):
    body, init, cam, kp, conf, gt_torso = case
    gmm = priors.load_prior("gmm")
    cfg = fit.FitConfig(**{**vars(fit.FIT_PRESETS["spin_default"]), "camera_iters": ITERS, "body_iters": ITERS})
    kit = fit.smplify(body, init, cam, terms.spin_keypoint_term(kp, conf, gt_torso), prior="gmm", config=cfg)
    ref = _spin_by_hand(body, init, cam, kp, conf, gt_torso, gmm, ITERS)
    for k in ("global_orient", "body_pose", "betas"):
        torch.testing.assert_close(kit.params[k], ref[k], atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(kit.params["transl"], ref["transl"], atol=1e-5, rtol=1e-4)    # metres
    with torch.no_grad():
        v_ref = body(**ref).vertices
    assert float((kit.vertices - v_ref).norm(dim=-1).max()) < 1e-4                       # 0.1 mm
    # the fallback mattered: without the GT torso the second frame's camera stage aims at the crop's corner
    other = fit.smplify(body, init, cam, terms.spin_keypoint_term(kp, conf), prior="gmm", config=cfg)
    torch.testing.assert_close(other.params["body_pose"][0], kit.params["body_pose"][0])
    assert not torch.allclose(other.params["global_orient"][1], kit.params["global_orient"][1], atol=1e-3)


def test_the_loss_curves_end_with_the_final_loss(case):
    body, init, cam, kp, conf, gt_torso = case
    cfg = fit.FitConfig(**{**vars(fit.FIT_PRESETS["spin_default"]), "camera_iters": 4, "body_iters": 6})
    r = fit.smplify(body, init, cam, terms.spin_keypoint_term(kp, conf, gt_torso), prior="gmm", config=cfg)
    assert r.losses["camera"].shape == (5, 2) and r.losses["body"].shape == (7, 2)
    longer = fit.FitConfig(**{**vars(cfg), "body_iters": 7})
    r7 = fit.smplify(body, init, cam, terms.spin_keypoint_term(kp, conf, gt_torso), prior="gmm", config=longer)
    # the 7-iteration run's 7th entry (before its last step) is the loss the 6-iteration run ended with
    torch.testing.assert_close(r.losses["body"][-1], r7.losses["body"][6], rtol=1e-5, atol=1e-3)


def test_the_wrong_spin_calls_are_refused(case):
    body, init, cam, kp, conf, _ = case
    with pytest.raises(TypeError, match="224-pixel crop"):
        terms.spin_keypoint_term(kp, conf, size=torch.full((2,), 150.0))
    with pytest.raises(ValueError, match="spin_default"):
        fit.smplify(body, init, cam, terms.spin_keypoint_term(kp, conf), prior="gmm", config=fit.FitConfig())
    with pytest.raises(ValueError, match="SPIN's keypoint term"):
        fit.smplify(body, init, cam, terms.KeypointTerm(kp, conf), prior="gmm", config=fit.FIT_PRESETS["spin_default"])
    with pytest.raises(ValueError, match="224-pixel crop"):
        terms.spin_keypoint_term(kp, conf).loss(body(**init), cam)


def test_spins_camera_stage_depth_term_is_on_the_camera_frame_translation(body):
    """Turned by a camera rotation, the depth penalty follows the camera's z axis, not the world's."""
    scene = make_scene(900_000, "pare-like", body=body)
    cfg = fit.FitConfig(camera_depth_weight=1.0)
    R = torch.tensor([[[1.0, 0, 0], [0, 0, -1], [0, 1, 0]]])      # the camera's z axis is the world's y
    cam = scene.camera._replace(R=R)
    p = {k: v.clone() for k, v in scene.init.items()}
    moved = {**p, "transl": p["transl"] + torch.tensor([[0.0, 0.3, 0.0]])}
    zero = fit._total(body, p, cam, _Zero(), None, cfg, "camera", p)
    dz = fit._total(body, moved, cam, _Zero(), None, cfg, "camera", p)
    assert float(zero) == 0.0 and float(dz) == pytest.approx(0.09, rel=1e-4)


class _Zero(terms.DataTerm):
    valid = torch.ones(1, dtype=torch.bool)

    def loss(self, out, cam):
        return torch.zeros(out.vertices.shape[0])
