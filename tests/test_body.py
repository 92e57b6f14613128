"""dispkit.body: the open SMPL-format model through smplx, user SMPL files, bad input."""
import pickle
import shutil
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import torch

from dispkit.body import OPEN_MODEL_PATH, SMPL_JOINT_NAMES, load_body_model, load_smpl_file

J = {n: i for i, n in enumerate(SMPL_JOINT_NAMES)}


@pytest.fixture(scope="module")
def body():
    return load_body_model("open")


@pytest.fixture(scope="module")
def asset():
    return load_smpl_file(OPEN_MODEL_PATH)


def _pose(**joints):
    bp = torch.zeros(1, 23, 3)
    for name, aa in joints.items():
        bp[0, J[name] - 1] = torch.tensor(aa, dtype=torch.float32)
    return bp.reshape(1, 69)


def test_asset_is_small_and_smpl_format(asset):
    assert OPEN_MODEL_PATH.stat().st_size <= 5 * 2**20
    V = asset["v_template"].shape[0]
    assert asset["shapedirs"].shape == (V, 3, 10)
    assert asset["posedirs"].shape == (V, 3, 207)
    assert asset["J_regressor"].shape == (24, V)
    assert asset["weights"].shape == (V, 24)
    np.testing.assert_array_equal(asset["kintree_table"][0, 1:],
                                  [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21])
    assert asset["kintree_table"][0, 0] == 4294967295
    # regressor: non-negative, sums to one, local support
    Jr = asset["J_regressor"]
    assert (Jr >= 0).all()
    np.testing.assert_allclose(Jr.sum(1), 1.0, atol=1e-5)
    joints = Jr @ asset["v_template"]
    for j in range(24):
        support = asset["v_template"][Jr[j] > 0]
        assert np.linalg.norm(support - joints[j], axis=1).max() <= 0.21  # 0.2 m around the fitted target
    np.testing.assert_allclose(asset["weights"].sum(1), 1.0, atol=1e-5)


def test_zero_pose_is_template_plus_shape_blend(body, asset):
    betas = torch.randn(4, 10, generator=torch.Generator().manual_seed(0))
    out = body(betas=betas)
    expected = asset["v_template"][None] + np.einsum("vck,bk->bvc", asset["shapedirs"], betas.numpy())
    np.testing.assert_allclose(out.vertices.numpy(), expected, atol=2e-6)


def test_shape_space_is_sensible(body):
    heights = []
    for b0 in (-2.0, 0.0, 2.0):
        v = body(betas=torch.tensor([[b0] + [0.0] * 9])).vertices[0]
        heights.append(float(v[:, 1].max() - v[:, 1].min()))
    assert 1.55 < heights[1] < 1.8  # an average adult
    assert heights[0] < heights[1] - 0.1 and heights[2] > heights[1] + 0.1  # beta0 is (mostly) height


def test_bending_one_knee_moves_only_that_leg(body, asset):
    rest = body().vertices[0]
    bent = body(body_pose=_pose(left_knee=[1.5, 0, 0])).vertices[0]
    moved = (bent - rest).norm(dim=-1) > 1e-5
    w = torch.as_tensor(asset["weights"])
    below_knee = w[:, [J["left_knee"], J["left_ankle"], J["left_foot"]]].sum(1) > 0
    assert moved.any()
    assert not (moved & ~below_knee).any(), "vertices without left-knee influence moved"
    # the moving vertices are on the left leg (+X is the body's left), below the hip, mostly below the knee
    joints = body().joints[0]
    assert (rest[moved, 0] > 0).all()
    assert (rest[moved, 1] < joints[J["left_hip"], 1] - 0.1).all()
    assert (rest[moved, 1] < joints[J["left_knee"], 1]).float().mean() > 0.8
    # flexion bends the shin backwards (-Z): the ankle goes behind and up
    ank0 = body().joints[0, J["left_ankle"]]
    ank1 = body(body_pose=_pose(left_knee=[1.5, 0, 0])).joints[0, J["left_ankle"]]
    assert ank1[2] < ank0[2] - 0.2 and ank1[1] > ank0[1] + 0.2


def test_joints_track_the_mesh_across_shapes_and_poses(body, asset):
    """Each joint keeps its place relative to the vertices of its own body part."""
    labels = torch.as_tensor(asset["part_labels"])
    parents = asset["kintree_table"][0].astype(np.int64)
    # a joint sits where its part meets its parent's part: use both
    region = [(labels == k) | (labels == max(int(parents[k]) if k else 0, 0)) for k in range(24)]

    def relative(out):
        v, j = out.vertices[0], out.joints[0]
        rel = []
        for k in range(24):
            pv = v[region[k]]
            lo, hi = pv.min(0).values, pv.max(0).values
            rel.append((j[k] - pv.mean(0)) / (hi - lo).clamp_min(0.02))
        return torch.stack(rel)

    ref = relative(body())
    g = torch.Generator().manual_seed(1)
    for _ in range(4):
        betas = 1.5 * torch.randn(1, 10, generator=g)
        out = body(betas=betas)
        assert (relative(out) - ref).abs().max() < 0.15
        # joints stay inside their part's bounding box
        v = out.vertices[0]
        for k in range(24):
            pv = v[region[k]]
            assert ((out.joints[0, k] >= pv.min(0).values - 0.01) & (out.joints[0, k] <= pv.max(0).values + 0.01)).all()
    # posing moves joints rigidly with their part: distance to the part's centroid is kept
    posed = body(body_pose=_pose(left_elbow=[0, -1.4, 0], right_knee=[1.2, 0, 0], spine2=[0.3, 0.2, 0]))
    rest = body()
    for k in (J["left_wrist"], J["right_ankle"], J["head"]):
        d0 = (rest.joints[0, k] - rest.vertices[0, labels == k].mean(0)).norm()
        d1 = (posed.joints[0, k] - posed.vertices[0, labels == k].mean(0)).norm()
        assert abs(float(d1 - d0)) < 0.01


def test_openpose_joints_are_where_body25_says(body):
    op = dict(zip(body.openpose_names, body().openpose[0]))
    assert body().openpose.shape == (1, 25, 3)
    assert op["LShoulder"][0] > 0.1 and op["RShoulder"][0] < -0.1  # +X is the body's left
    assert op["Nose"][2] > op["Neck"][2] + 0.05                     # faces +Z
    assert op["Nose"][1] > op["Neck"][1] and op["LEye"][1] > op["Nose"][1]
    assert op["LEye"][0] > 0 > op["REye"][0] and op["LEar"][0] > op["LEye"][0]
    for s in "LR":
        assert op[s + "Heel"][2] < op[s + "Ankle"][2] < op[s + "BigToe"][2]
        assert op[s + "BigToe"][1] < op[s + "Knee"][1] < op[s + "Hip"][1]
    assert abs(op["LBigToe"][0]) < abs(op["LSmallToe"][0])         # big toe inside


def test_extras(body, asset):
    V = body.num_vertices
    c = body.canonical_colors
    assert c.shape == (V, 3) and c.min() >= 0 and c.max() <= 1
    np.testing.assert_allclose(c.min(0).values, 0, atol=1e-6)
    np.testing.assert_allclose(c.max(0).values, 1, atol=1e-6)
    assert set(body.part_labels.tolist()) == set(range(24))
    m = body.mirror
    v = body.v_template
    assert (v[m] * torch.tensor([-1.0, 1, 1]) - v).norm(dim=-1).max() < 1e-3
    assert (m[m] == torch.arange(V)).float().mean() > 0.99
    # mirrored parts: the left hand's vertices mirror onto the right hand
    assert (body.part_labels[m][body.part_labels == J["left_hand"]] == J["right_hand"]).float().mean() > 0.95
    vt, ft = body.uv
    assert ft.shape == body.faces.shape and vt.min() >= 0 and vt.max() <= 1 and ft.max() < len(vt)
    assert body.faces.max() == V - 1


def test_batching_broadcast_and_rotation_matrices(body):
    g = torch.Generator().manual_seed(2)
    bp = 0.3 * torch.randn(3, 69, generator=g)
    go = 0.3 * torch.randn(3, 3, generator=g)
    betas = torch.randn(1, 10, generator=g)
    out = body(global_orient=go, body_pose=bp, betas=betas, transl=torch.tensor([[0.0, 0.0, 3.0]]))
    assert out.vertices.shape == (3, body.num_vertices, 3)
    single = body(global_orient=go[1:2], body_pose=bp[1:2], betas=betas, transl=torch.tensor([[0.0, 0.0, 3.0]]))
    torch.testing.assert_close(out.vertices[1:2], single.vertices, atol=1e-5, rtol=0)
    from smplx.lbs import batch_rodrigues
    R_go = batch_rodrigues(go).reshape(3, 1, 3, 3)
    R_bp = batch_rodrigues(bp.reshape(-1, 3)).reshape(3, 23, 3, 3)
    out_r = body(global_orient=R_go, body_pose=R_bp, betas=betas, transl=torch.tensor([[0.0, 0.0, 3.0]]))
    torch.testing.assert_close(out_r.vertices, out.vertices, atol=1e-5, rtol=0)
    assert (out.vertices[..., 2].mean(1) > 2.5).all()


def test_exported_pickle_loads_with_plain_smplx(tmp_path, body):
    """The asset is SMPL-format: smplx.SMPL(model_path=...) reads it as a pickle with no shims."""
    import subprocess

    import smplx

    out = tmp_path / "SMPL_NEUTRAL.pkl"
    subprocess.run([sys.executable, "data_scripts/build_open_body_model.py", "--export-pkl", str(out)], check=True,
                   capture_output=True)
    vid = dict(body.vertex_ids)
    m = smplx.SMPL(model_path=str(out), vertex_ids=vid)
    bp = 0.2 * torch.randn(2, 69, generator=torch.Generator().manual_seed(3))
    ref = m(body_pose=bp, betas=torch.zeros(2, 10), global_orient=torch.zeros(2, 3))
    ours = body(body_pose=bp)
    torch.testing.assert_close(ref.vertices, ours.vertices, atol=1e-6, rtol=0)
    # and a folder holding SMPL_NEUTRAL.pkl is accepted by our loader
    assert load_body_model(tmp_path).num_vertices == body.num_vertices


def _fake_chumpy(monkeypatch):
    """A stand-in `chumpy` package whose Ch pickles its state like the real one."""
    ch_mod = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = np.asarray(x, np.float64)
            self._dirty_vars = set()
            self._itr = None
            self._depends_on_deps = {}

        def __getstate__(self):  # chumpy drops its weakref dicts and pickles __dict__
            return dict(self.__dict__)

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    ch_mod.Ch = Ch
    pkg = types.ModuleType("chumpy")
    pkg.ch = ch_mod
    monkeypatch.setitem(sys.modules, "chumpy", pkg)
    monkeypatch.setitem(sys.modules, "chumpy.ch", ch_mod)
    return Ch


@pytest.mark.parametrize("protocol", [0, 2])
def test_chumpy_pickle_loads_without_chumpy(tmp_path, monkeypatch, asset, body, protocol):
    Ch = _fake_chumpy(monkeypatch)
    d = {k: v for k, v in asset.items()}
    smpl_like = {
        "v_template": Ch(d["v_template"]), "shapedirs": Ch(d["shapedirs"]), "posedirs": d["posedirs"],
        "J_regressor": scipy.sparse.csc_matrix(d["J_regressor"].astype(np.float64)),
        "weights": Ch(d["weights"]), "kintree_table": d["kintree_table"], "f": d["f"].astype(np.uint32),
        "J": Ch(d["J_regressor"] @ d["v_template"]), "bs_style": "lbs", "bs_type": "lrotmin",
        "vertex_ids": d["vertex_ids"], "vertex_id_names": d["vertex_id_names"],
    }
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    with open(path, "wb") as fh:
        pickle.dump(smpl_like, fh, protocol=protocol)
    monkeypatch.delitem(sys.modules, "chumpy")
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    with pytest.raises(ImportError):
        import chumpy  # noqa: F401  -- really absent
    user = load_body_model(path)
    bp = 0.2 * torch.randn(2, 69, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(user(body_pose=bp).vertices, body(body_pose=bp).vertices, atol=1e-5, rtol=0)
    assert user.uv is None  # no UVs in an SMPL pickle: texture steps must ask for them


def test_missing_smpl_file_names_path_and_source(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere" / "SMPL_NEUTRAL.pkl"
    with pytest.raises(FileNotFoundError) as e:
        load_body_model(missing)
    assert str(missing) in str(e.value) and "smpl.is.tue.mpg.de" in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        load_body_model(tmp_path)  # an empty folder: lists the names it looked for
    assert "SMPL_NEUTRAL.pkl" in str(e.value)
    monkeypatch.delenv("DISPKIT_SMPL_DIR", raising=False)
    monkeypatch.setenv("DISPKIT_DATA", str(tmp_path / "data_root"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="data/body_models/smpl"):
        load_body_model("smpl")
    # the data root of dispkit.licensed (licensed_assets.py --check) is searched too
    found = tmp_path / "data_root" / "body_models" / "smpl" / "SMPL_NEUTRAL.npz"
    found.parent.mkdir(parents=True)
    shutil.copy(OPEN_MODEL_PATH, found)
    assert load_body_model("smpl").faces.shape[0] > 10000


def test_non_smpl_topology_without_vertex_ids_is_refused(tmp_path, asset):
    d = {k: v for k, v in asset.items() if k not in ("vertex_ids", "vertex_id_names")}
    np.savez(tmp_path / "m.npz", **d)
    with pytest.raises(ValueError, match="vertex_ids"):
        load_body_model(tmp_path / "m.npz")


def test_bad_parameters(body):
    with pytest.raises(ValueError, match=r"\[B,69\]"):
        body(body_pose=torch.zeros(1, 72))
    with pytest.raises(ValueError, match=r"\[B,10\]"):
        body(betas=torch.zeros(2, 11))
    with pytest.raises(ValueError, match=r"\[B,3\]"):
        body(transl=torch.zeros(2, 2))
    with pytest.raises(ValueError, match="non-finite"):
        body(body_pose=torch.full((1, 69), float("nan")))
    with pytest.raises(ValueError, match="non-finite"):
        body(betas=torch.tensor([[float("inf")] + [0.0] * 9]))
    with pytest.raises(ValueError, match="batch sizes"):
        body(body_pose=torch.zeros(2, 69), betas=torch.zeros(3, 10))
    with pytest.raises(ValueError, match="num_betas"):
        load_body_model("open", num_betas=11)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda(body):
    b = load_body_model("open", device="cuda")
    out = b(body_pose=torch.zeros(2, 69, device="cuda"))
    torch.testing.assert_close(out.vertices.cpu(), body(body_pose=torch.zeros(2, 69)).vertices, atol=1e-5, rtol=0)
