"""dispkit.data: synthetic scenes (.synthetic), poses (.poses), textures (.appearance), regressors (.regressors)."""
import numpy as np
import pytest
import torch
from PIL import Image

from dispkit.body import load_body_model
from dispkit.data import appearance as A
from dispkit.data import poses as P
from dispkit.data import regressors as Rg
from dispkit.data import synthetic as S
from dispkit.metrics import mpjpe, pa_mpjpe

PARAMS = ("global_orient", "body_pose", "betas", "transl")


@pytest.fixture(scope="module")
def body():
    return load_body_model("open")


@pytest.fixture(scope="module")
def scene(body):
    return S.make_scene(3, body=body)


def test_same_seed_same_scene_different_seed_different(body, scene):
    again = S.make_scene(3, body=body)
    for name in ("image", "mask", "box", "texture", "degraded_texture", "background", "light"):
        assert torch.equal(getattr(scene, name), getattr(again, name)), name
    for part in ("gt", "init"):
        for k in PARAMS:
            assert torch.equal(getattr(scene, part)[k], getattr(again, part)[k]), (part, k)
    assert torch.equal(scene.camera.focal, again.camera.focal)
    other = S.make_scene(4, body=body)
    assert not torch.equal(scene.image, other.image)
    assert not torch.equal(scene.gt["body_pose"], other.gt["body_pose"])


def test_regressor_changes_only_init(body, scene):
    hmr = S.make_scene(3, "hmr-like", body=body)
    assert torch.equal(scene.image, hmr.image)
    for k in PARAMS:
        assert torch.equal(scene.gt[k], hmr.gt[k])
    assert not torch.equal(scene.init["body_pose"], hmr.init["body_pose"])


def test_image_and_fields(scene):
    assert scene.image.shape == (240, 320, 3) and scene.image.dtype == torch.float32
    assert float(scene.image.min()) >= 0 and float(scene.image.max()) <= 1
    assert float(scene.image.std()) > 0.02
    assert scene.mask.shape == (240, 320) and scene.mask.dtype == torch.bool
    assert scene.box.shape == (4,)
    f = float(scene.camera.focal[0, 0])
    assert f == pytest.approx((320 ** 2 + 240 ** 2) ** 0.5)
    for part in (scene.gt, scene.init):
        assert [tuple(part[k].shape) for k in PARAMS] == [(1, 3), (1, 69), (1, 10), (1, 3)]
    assert scene.kind in P.POSE_KINDS and scene.regressor == "pare-like"


def test_other_size(body):
    sc = S.make_scene(11, width=160, height=128, body=body, texture_size=128)
    assert sc.image.shape == (128, 160, 3) and sc.texture.shape == (128, 128, 3)
    assert 0.005 < float(sc.mask.float().mean()) < 0.6


def test_box_and_mask(body, scene):
    with torch.no_grad():
        out = body(**scene.gt)
    j2d = scene.camera.project(out.joints)[0]
    x0, y0, x1, y1 = scene.box.tolist()
    assert bool(((j2d[:, 0] >= x0) & (j2d[:, 0] <= x1) & (j2d[:, 1] >= y0) & (j2d[:, 1] <= y1)).all())
    frac = float(scene.mask.float().mean())
    assert 0.005 < frac < 0.6
    ys, xs = torch.nonzero(scene.mask, as_tuple=True)   # the mask lies inside the box
    assert xs.min() >= x0 - 1 and xs.max() <= x1 + 1 and ys.min() >= y0 - 1 and ys.max() <= y1 + 1


def test_person_size_and_placement(body):
    for seed in range(12):
        gt, cam, meta = S.sample_params(np.random.default_rng([seed, 0]), body, 320, 240)
        with torch.no_grad():
            v2d = cam.project(body(**gt).vertices)[0]
        h = float(v2d[:, 1].max() - v2d[:, 1].min()) / 240
        w = float(v2d[:, 0].max() - v2d[:, 0].min()) / 320
        assert 0.3 < h < 0.9 and w < 0.95, (seed, h, w, meta["kind"])
        inside = (v2d[:, 0] >= 0) & (v2d[:, 0] < 320) & (v2d[:, 1] >= 0) & (v2d[:, 1] < 240)
        assert float(inside.float().mean()) > 0.97, seed
        assert meta["pelvis"][2] > 1.0


def test_poses_respect_limits_and_are_not_uniform():
    euler, kinds = P.sample_euler_pose(np.random.default_rng(0), batch_size=600)
    lo, hi = P.ANATOMICAL_LIMITS[..., 0], P.ANATOMICAL_LIMITS[..., 1]
    assert np.all(euler >= lo - 1e-12) and np.all(euler <= hi + 1e-12)
    assert len(P.POSE_KINDS) >= 8 and set(kinds) == set(P.POSE_KINDS)
    knees = euler[:, [P._J["left_knee"], P._J["right_knee"]], 0]
    assert knees.min() >= 0                                   # never hyper-extended backward
    assert np.all(P.ANATOMICAL_LIMITS[P._J["left_knee"], 0] == (0.0, 2.4))
    # Not uniform within the limits: most samples sit well inside them (key poses + small noise).
    span = hi - lo
    rel = (euler - lo) / np.where(span > 0, span, 1)
    assert np.mean((rel > 0.02) & (rel < 0.98)) > 0.8
    stand, _ = P.sample_euler_pose(np.random.default_rng(1), "stand", batch_size=50)
    assert stand[:, P._J["left_knee"], 0].mean() < 0.3 and stand[:, P._J["left_shoulder"], 2].mean() < -0.8
    bp = P.sample_pose(np.random.default_rng(2), batch_size=4)
    assert bp.shape == (4, 69) and bp.dtype == torch.float32
    assert P.sample_pose(3).shape == (69,)


def test_pose_sign_conventions(body):
    """Key poses look like their names (SMPL frame: y up, z = the body's front)."""
    J = {n: i for i, n in enumerate(body.joint_names)}

    def joints(kind):
        with torch.no_grad():
            return body(body_pose=P.euler_to_axis_angle(P.KEY_POSES[kind])[None]).joints[0]

    st = joints("stand")
    for side in ("left", "right"):   # arms hang down by the sides
        assert st[J[f"{side}_wrist"], 1] < st[J[f"{side}_shoulder"], 1] - 0.35
    assert st[J["left_wrist"], 0] > 0 > st[J["right_wrist"], 0]   # left is +x
    up = joints("reach_up")
    assert up[J["left_wrist"], 1] > up[J["head"], 1] and up[J["right_wrist"], 1] > up[J["head"], 1]
    fw = joints("reach_forward")
    assert fw[J["left_wrist"], 2] > fw[J["left_shoulder"], 2] + 0.35
    sit = joints("sit")
    assert sit[J["left_knee"], 2] > sit[J["pelvis"], 2] + 0.25   # thighs forward
    assert abs(float(sit[J["left_ankle"], 2] - sit[J["left_knee"], 2])) < 0.15  # shanks vertical
    wb = joints("walk_b")                                           # the knee bends backward
    assert wb[J["right_ankle"], 2] < wb[J["right_knee"], 2]


def test_textures(body):
    tex = A.make_texture(np.random.default_rng(0), 128, body)
    assert tex.shape == (128, 128, 3) and tex.dtype == torch.float32
    assert float(tex.min()) >= 0 and float(tex.max()) <= 1 and float(tex.std()) > 0.05
    assert not torch.equal(tex, A.make_texture(np.random.default_rng(1), 128, body))
    est = A.degraded_texture(tex, np.random.default_rng(0), body)
    assert est.shape == tex.shape and float(est.min()) >= 0 and float(est.max()) <= 1
    assert float((est - tex).abs().mean()) > 0.02

    def corr(a, b):
        return float(np.corrcoef(a.reshape(-1).numpy(), b.reshape(-1).numpy())[0, 1])

    assert corr(est, tex) > 0.2
    clean = A.degraded_texture(tex, np.random.default_rng(0), body, hidden=None, n_blobs=0)
    assert corr(clean, tex) > 0.8
    pm = A.texture_part_map(body, 128)
    assert pm["part"].min() >= 0 and pm["part"].max() <= 23 and 0.3 < float(pm["covered"].float().mean()) < 1
    assert 0.2 < float(pm["back"].float().mean()) < 0.8


def test_init_errors_plausible(body):
    for seed in range(4):
        gt, init, _, _ = S.scene_params(seed, "prohmr-like", body=body)
        assert not torch.equal(gt["body_pose"], init["body_pose"])
        with torch.no_grad():
            og, oi = body(**gt), body(**init)
        m, pa = float(mpjpe(oi.joints, og.joints)[0]), float(pa_mpjpe(oi.joints, og.joints)[0])
        assert 15 < m < 300 and 5 < pa < 200 and pa <= m + 1e-3, (seed, m, pa)
        # depth error moves the pelvis along its ray: the 2D pelvis stays near the person
        assert abs(float(init["transl"][0, 2] - gt["transl"][0, 2])) < 0.5 * float(gt["transl"][0, 2])


def test_background(tmp_path):
    bg = A.make_background(np.random.default_rng(0), 60, 80)
    assert bg.shape == (60, 80, 3) and bg.dtype == torch.float32
    assert float(bg.min()) >= 0 and float(bg.max()) <= 1 and float(bg.std()) > 0.01
    Image.new("RGB", (50, 40), (255, 0, 0)).save(tmp_path / "a.png")
    Image.new("RGB", (300, 200), (0, 0, 255)).save(tmp_path / "b.png")
    (tmp_path / "notes.txt").write_text("not an image")
    seen = set()
    for seed in range(8):
        img = A.make_background(np.random.default_rng(seed), 60, 80, tmp_path)
        assert img.shape == (60, 80, 3)
        colour = tuple(img.reshape(-1, 3).mean(0).round().int().tolist())
        assert colour in {(1, 0, 0), (0, 0, 1)}
        seen.add(colour)
    assert len(seen) == 2


def test_scene_with_background_dir(body, tmp_path):
    Image.new("RGB", (64, 48), (0, 255, 0)).save(tmp_path / "green.png")
    sc = S.make_scene(5, body=body, width=128, height=96, texture_size=64, background_dir=tmp_path, noise_std=0.0)
    corner = sc.image[~sc.mask]
    assert float(corner[:, 1].mean()) > 0.9 and float(corner[:, 0].mean()) < 0.1


def test_bad_inputs(body, tmp_path):
    with pytest.raises(ValueError, match="pare-like.*hmr-like.*prohmr-like"):
        S.make_scene(0, "hmr2", body=body)
    gt, _, _ = S.sample_params(np.random.default_rng(0), body)
    with pytest.raises(ValueError, match="pare-like"):
        Rg.simulate_regressor(gt, "nope", np.random.default_rng(0), body)
    with pytest.raises(ValueError, match="width"):
        S.make_scene(0, width=0, body=body)
    with pytest.raises(ValueError, match="height"):
        S.make_scene(0, height=-5, body=body)
    with pytest.raises(ValueError, match="seed"):
        S.make_scene(-1, body=body)
    with pytest.raises(ValueError, match="size"):
        A.make_texture(0, size=0, body=body)
    with pytest.raises(ValueError, match="stand"):
        P.sample_pose(0, kind="fly")
    with pytest.raises(ValueError, match="no images"):
        A.make_background(0, 10, 10, tmp_path)
    with pytest.raises(ValueError, match="not a folder"):
        A.make_background(0, 10, 10, tmp_path / "missing")
    with pytest.raises(ValueError, match="texture"):
        A.degraded_texture(torch.zeros(8, 4, 3), 0, body)
