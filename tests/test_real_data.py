"""Training and evaluating on real datasets (issue 17), on fixtures written in the real formats."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from dispkit import inputs, protocol
from dispkit.body import default_body
from dispkit.camera import Camera, crop_cam_to_full
from dispkit.checkpoints import body_record, check_body, model_from_checkpoint
from dispkit.data import h36m, real, rich, threedpw

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def body():
    return default_body()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    threedpw.synthetic_3dpw(root / "3DPW", seed=3, frames=4, split="train")
    threedpw.synthetic_3dpw(root / "3DPW", seed=4, frames=3, split="test")
    threedpw.synthetic_3dpw(root / "3DPW", seed=6, frames=3, split="test")
    made = h36m.synthetic_h36m(root / "H36M", seed=5, frames=4)
    return {"root": root, "h36m": made}


def test_world_parameters_move_into_camera_coordinates_and_reflections_are_refused(body):
    rng = np.random.default_rng(0)
    T = 3
    params = {"global_orient": torch.as_tensor(rng.normal(0, 1, (T, 3)), dtype=torch.float32),
              "body_pose": torch.as_tensor(rng.normal(0, 0.2, (T, 69)), dtype=torch.float32),
              "betas": torch.as_tensor(rng.normal(0, 1, (T, 10)), dtype=torch.float32),
              "transl": torch.as_tensor(rng.normal(0, 1, (T, 3)), dtype=torch.float32)}
    R = torch.as_tensor(Rotation.random(T, random_state=1).as_matrix(), dtype=torch.float32)
    t = torch.as_tensor(rng.normal(0, 1, (T, 3)) + [0, 0, 8], dtype=torch.float32)
    K = torch.tensor([[500.0, 0, 160], [0, 500, 120], [0, 0, 1]]).expand(T, 3, 3)
    world_cam = Camera.from_K(K, 320, 240, R=R, t=t)
    cam_params = real.to_camera_frame(params, world_cam, body)
    with torch.no_grad():
        vw, vc = body(**params).vertices, body(**cam_params).vertices
    assert torch.allclose(world_cam.to_camera(vw), vc, atol=1e-4)
    assert torch.allclose(world_cam.project(vw), Camera.from_K(K, 320, 240).project(vc), atol=1e-2)
    mirror = Camera.from_K(K, 320, 240, R=R * torch.tensor([-1.0, 1, 1])[:, None], t=t)
    with pytest.raises(inputs.FileContentError, match="reflection"):
        real.to_camera_frame(params, mirror, body)


def test_estimates_files_one_prediction_or_many_samples_per_frame_and_their_errors(tmp_path):
    T, K = 4, 3
    rng = np.random.default_rng(1)
    p = tmp_path / "pare.npz"
    np.savez(p, global_orient=rng.normal(size=(T, 3)), body_pose=rng.normal(size=(T, 69)),
             betas=rng.normal(size=(T, 11)), transl=rng.normal(size=(T, 3)), frame_index=np.arange(T) + 2)
    e = real.read_estimates(p)
    assert e["body_pose"].shape == (T, 1, 69) and e["betas"].shape == (T, 1, 10)
    assert e["frame_index"].tolist() == [2, 3, 4, 5]
    q = tmp_path / "prohmr.npz"          # K samples, one shape per frame, the crop camera
    cam = np.abs(rng.normal(1, 0.1, (T, K, 3)))
    center, size = rng.uniform(100, 200, (T, 2)), rng.uniform(80, 120, T)
    np.savez(q, global_orient=rng.normal(size=(T, K, 3)), body_pose=rng.normal(size=(T, K, 69)),
             betas=rng.normal(size=(T, 10)), pred_cam=cam, box_center=center, box_size=size, image_size=[320, 240])
    e = real.read_estimates(q)
    assert e["global_orient"].shape == (T, K, 3) and e["betas"].shape == (T, K, 10)
    want = crop_cam_to_full(torch.as_tensor(cam[:, 1], dtype=torch.float32), torch.as_tensor(center),
                            torch.as_tensor(size), 320, 240)
    assert torch.allclose(e["transl"][:, 1], want, atol=1e-4)
    bad = tmp_path / "bad.npz"
    np.savez(bad, global_orient=np.zeros((T, 3)), body_pose=np.zeros((T, 69)))
    with pytest.raises(inputs.FileContentError, match="betas"):
        real.read_estimates(bad)
    np.savez(bad, global_orient=np.full((T, 3), np.nan), body_pose=np.zeros((T, 69)), betas=np.zeros((T, 10)),
             transl=np.zeros((T, 3)))
    with pytest.raises(inputs.FileContentError, match="NaN"):
        real.read_estimates(bad)
    np.savez(bad, global_orient=np.zeros((T, 3)), body_pose=np.zeros((T, 69)), betas=np.zeros((T, 10)),
             transl=np.zeros((T, 3)), frame_index=np.arange(T) + 10)
    with pytest.raises(inputs.FileContentError, match="frame_index"):
        real.read_estimates(bad, frames=5)
    with pytest.raises(FileNotFoundError):
        real.read_estimates(tmp_path / "missing.npz")


def test_data_specs_parse_with_weights_splits_and_clear_errors():
    got = real.parse_data_spec("3dpw:/d/3DPW:validation@2,h36m:/d/h.npz:/img,synthetic@0.5,3dpw:/e")
    assert got == [("3dpw", "/d/3DPW", "validation", 2.0), ("h36m", "/d/h.npz", "/img", 1.0),
                   ("synthetic", "", "", 0.5), ("3dpw", "/e", "", 1.0)]
    for bad, match in (("foo:/x", "unknown source"), ("3dpw", "path"), ("3dpw:/x@-1", "positive"),
                       ("3dpw:/x@w", "number"), ("", "at least one")):
        with pytest.raises(inputs.InputError, match=match):
            real.parse_data_spec(bad)


def test_h36m_without_a_camera_is_placed_by_its_keypoints(data, body):
    (src,) = real.load_sources("h36m", data["h36m"]["npz"], body)
    assert torch.allclose(src.params["transl"], data["h36m"]["transl"], atol=1e-3)
    assert src.estimates is not None and len(src) == 4


def test_real_samples_are_deterministic_and_their_field_vanishes_when_the_estimate_is_the_truth(data, body,
                                                                                                 tmp_path):
    root = data["root"] / "3DPW"
    (src,) = real.load_sources("3dpw", root, body, split="train")
    ds = real.RealFramesDataset([src], crop=32, seed=1, body=body, cache_dir=tmp_path)
    a, b = ds[5], ds[5]
    for k in ("image", "rgb", "field", "mask", "box"):
        assert torch.equal(a[k], b[k]), k
    assert a["image"].shape == (3, 32, 32) and a["field"].shape == (32, 32, 2)
    assert float(a["mask"].float().mean()) > 0.02
    assert list(tmp_path.rglob("*.npy")), "the subject's texture is cached"
    # the GT itself as the estimate: every displacement is zero (the two bodies share one camera frame)
    src.estimates = {**{k: v[:, None] for k, v in src.params.items()},
                     "frame_index": torch.as_tensor(src.frame_index)}
    ds = real.RealFramesDataset([src], crop=32, seed=1, body=body, mix={"regressor": 1.0}, cache_dir=tmp_path)
    for i in range(3):
        it = ds[i]
        assert it["source"].endswith(":regressor")
        assert float(it["field"].abs().max()) < 1e-3
    # the image crop shows the person where the GT renders it
    fg = it["image"].permute(1, 2, 0)[it["mask"]].mean(0)
    bg = it["image"].permute(1, 2, 0)[~it["mask"]].mean(0)
    assert float((fg - bg).abs().max()) > 0.03


def test_sources_mix_by_weight(data, body, tmp_path):
    spec = f"3dpw:{data['root'] / '3DPW'}@3,h36m:{data['h36m']['npz']}@1"
    ds = real.make_training_data(spec, crop=16, body=body, progress=False, cache_dir=tmp_path)
    kinds = [ds[i]["source"].split(":")[0] for i in range(40)]
    assert 0.55 < kinds.count("3dpw") / 40 < 0.95 and "h36m" in kinds


def _run(args, **kw):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1"}, **kw)


def test_the_training_command_trains_on_real_format_data_resumes_and_records_the_body(data, tmp_path):
    spec = f"3dpw:{data['root'] / '3DPW'},h36m:{data['h36m']['npz']}@0.5,synthetic@0.5"
    args = ["-m", "dispkit.train", "--config", "cpu", "--batch-size", "2", "--log-every", "2",
            "--checkpoint-every", "2", "--workers", "0", "--texture", "simulated", "--data", spec,
            "--out", str(tmp_path / "run"), "--no-progress", "--precision", "fp32"]
    r = _run([*args, "--steps", "2"])
    assert r.returncode == 0, r.stderr[-2000:]
    r = _run([*args, "--steps", "4", "--resume"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1])["resumed"] is True
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert [int(x.split(",")[0]) for x in rows[1:]] == [2, 4]
    net = model_from_checkpoint(tmp_path / "run" / "last.pt")
    assert net.trained_for == body_record(default_body())
    check_body(net, default_body())
    net.trained_for = {**net.trained_for, "name": "smpl", "num_vertices": 6890, "topology": "0" * 16}
    with pytest.raises(inputs.FileContentError, match="trained for the body model 'smpl'"):
        check_body(net, default_body())
    from dispkit import refine
    from dispkit.data.synthetic import make_scene

    scene = make_scene(0, width=96, height=72)
    with pytest.raises(inputs.FileContentError, match="6890 vertices"):
        refine(scene.image, scene.init, scene.camera, scene.degraded_texture, net=net)
    r = _run(["-m", "dispkit.train", "--data", "3dpw:/no/such/dir", "--out", str(tmp_path / "x")])
    assert r.returncode != 0 and "no such file or folder" in r.stderr


def test_the_protocol_evaluates_a_split_resumes_and_labels_its_joints(data, tmp_path, body):
    spec = f"3dpw:{data['root'] / '3DPW'}:test"
    out = tmp_path / "eval"
    table = protocol.evaluate_split(spec, out, priors=("gmm",), fast=True, progress=False)
    assert table["sequences"] == 2 and table["frames"] == 6
    assert "24 joints" in table["joints"] and set(table["rows"]) == {"init", "+GMM (Ours)"}
    for m in table["rows"].values():
        assert all(np.isfinite(v) and v > 0 for v in m.values())
    assert table["paper_3dpw"]["init"]["MPJPE"] == 74.5
    assert "| paper (3DPW), PARE init |" in (out / "table1.md").read_text()
    seq = sorted((out / "sequences").glob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in seq]
    protocol.evaluate_split(spec, out, priors=("gmm",), fast=True, progress=False)
    assert [p.stat().st_mtime_ns for p in seq] == stamps, "finished sequences are not recomputed"
    # a joint regressor: 17 rows of weights over the vertices -> the 14 LSP joints, hips as the root
    rng = np.random.default_rng(0)
    J = rng.random((17, body.num_vertices)) * (rng.random((17, body.num_vertices)) > 0.995)
    J = J / J.sum(1, keepdims=True)
    np.save(tmp_path / "J.npy", J)
    t2 = protocol.evaluate_split(spec, tmp_path / "eval14", priors=("gmm",), fast=True, progress=False,
                                 joints_regressor=tmp_path / "J.npy", max_frames=2)
    assert "14 LSP" in t2["joints"] and t2["frames"] == 4
    with torch.no_grad():
        out14, root = protocol.eval_joints(torch.zeros(1, body.num_vertices, 3) + 1.0, torch.zeros(1, 24, 3),
                                           torch.as_tensor(J, dtype=torch.float32))
    assert out14.shape == (1, 14, 3) and root == (2, 3) and torch.allclose(out14, torch.ones(1, 14, 3))
    np.save(tmp_path / "J10.npy", np.ones((17, 10)))
    with pytest.raises(inputs.FileContentError, match="13492|vertices"):
        protocol.load_joint_regressor(tmp_path / "J10.npy", body)
    with pytest.raises(Exception, match="J_regressor_h36m"):
        protocol.load_joint_regressor(tmp_path / "none.npy", body)
    (data["root"] / "3DPW" / "estimates" / "synthetic_000006.npz").rename(tmp_path / "moved.npz")
    try:
        with pytest.raises(FileNotFoundError, match="estimates"):
            protocol.evaluate_split(spec, tmp_path / "e3", fast=True, progress=False)
    finally:
        (tmp_path / "moved.npz").rename(data["root"] / "3DPW" / "estimates" / "synthetic_000006.npz")


def test_rich_sources_in_camera_coordinates_and_the_protocol_on_a_rich_split(tmp_path, body):
    made = rich.synthetic_rich(tmp_path / "RICH", seed=11, frames=3, body=body)
    sources = real.load_sources("rich", tmp_path / "RICH", body, split="test")
    assert [s.name for s in sources] == [f"{made['sequence']}_cam03"], "camera 4 has no images: skipped"
    s = sources[0]
    assert s.gender == "male" and list(s.frame_index) == made["frame_ids"] and len(s) == 3
    with torch.no_grad():  # the world-frame bodies come back in camera 3's coordinates
        err = (body(**s.params).vertices - body(**made["params"]).vertices).norm(dim=-1).max()
    assert float(err) < 2e-3, f"{float(err) * 1000:.1f} mm from the true camera-frame mesh"
    assert s.image(1).shape == (s.camera.height, s.camera.width, 3)
    assert s.estimate(2, 0) is not None and s.estimate(2, 0)["body_pose"].shape == (1, 69)
    assert real.parse_data_spec(f"rich:{tmp_path}:test") == [("rich", str(tmp_path), "test", 1.0)]
    table = protocol.evaluate_split(f"rich:{tmp_path / 'RICH'}:test", tmp_path / "out", priors=("gmm",), fast=True,
                                    progress=False)
    assert table["sequences"] == 1 and table["frames"] == 3 and set(table["rows"]) == {"init", "+GMM (Ours)"}
    assert table["paper_rich"]["init"]["MPJPE"] == 106.8 and table["split"]["dataset"] == "rich"
    md = (tmp_path / "out" / "table1.md").read_text()
    assert "RICH columns" in md and "| paper (RICH), PARE +GMM (Ours) |" in md
    # RICH's own SMPL-X bodies: refused with the way to get SMPL ones
    rich.synthetic_rich(tmp_path / "RICHX", seed=11, frames=2, body=body, smplx=True)
    with pytest.raises(inputs.FileContentError, match="transfer_model"):
        real.load_sources("rich", tmp_path / "RICHX", body, split="test")
    with pytest.raises(FileNotFoundError, match="bodies_smpl"):
        real.load_sources("rich", tmp_path / "RICH", body, split="validation")


def test_the_protocol_poses_each_actors_gt_with_the_gendered_model(tmp_path, monkeypatch):
    from dispkit.body import OPEN_MODEL_PATH

    smpl = tmp_path / "smpl"
    smpl.mkdir()
    model = dict(np.load(OPEN_MODEL_PATH, allow_pickle=False))
    np.savez(smpl / "SMPL_NEUTRAL.npz", **model)            # stand-ins with the open model's topology
    for name, scale in (("SMPL_MALE.npz", 1.08), ("SMPL_FEMALE.npz", 0.92)):
        np.savez(smpl / name, **{**model, "v_template": model["v_template"] * scale})
    monkeypatch.setenv("DISPKIT_SMPL_DIR", str(smpl))
    threedpw.synthetic_3dpw(tmp_path / "3DPW", seed=8, frames=2, split="test", gender="m")
    spec = f"3dpw:{tmp_path / '3DPW'}:test"
    g = protocol.evaluate_split(spec, tmp_path / "g", body="smpl", fast=True, progress=False)
    assert g["gt_model"] == "the actors' gendered SMPL models"
    (smpl / "SMPL_MALE.npz").unlink()
    n = protocol.evaluate_split(spec, tmp_path / "n", body="smpl", fast=True, progress=False)
    assert "not gendered" in n["gt_model"]
    # the 8 % larger male model moves every GT vertex: the initial estimate's PVE changes, its joints' too
    assert abs(g["rows"]["init"]["PVE"] - n["rows"]["init"]["PVE"]) > 1.0


def test_the_licensed_asset_check_names_the_joint_regressor():
    r = _run(["data_scripts/licensed_assets.py", "--check"])
    assert "h36m_regressor" in r.stdout + r.stderr
