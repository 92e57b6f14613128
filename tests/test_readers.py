"""The readers of real datasets (dispkit.data.threedpw, .rich, ...), each on a tiny fixture in the dataset's format."""
import json
import math
import pickle
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import savemat
from scipy.spatial.transform import Rotation

from dispkit.data.densepose import densepose_to_pixels, read_densepose
from dispkit.data.h36m import read_h36m_spin
from dispkit.data.openpose import read_openpose_sequence
from dispkit.data.rich import read_opencv_xml, read_rich
from dispkit.data.surreal import read_surreal_info
from dispkit.data.threedpw import read_3dpw
from dispkit.licensed import LICENSED_ASSETS, asset_status

ROOT = Path(__file__).resolve().parents[1]


def project_by_hand(K, R, t, X):
    """K [R|t] X, dehomogenised."""
    p = K @ (R @ X + t)
    return p[:2] / p[2]


# ---------------------------------------------------------------------------------------------------- 3DPW
def rotation(seed):
    return Rotation.random(random_state=seed).as_matrix().astype(np.float32)


def write_3dpw(path, T=5, drop_key=None):
    """A 3DPW sequenceFiles pickle: two actors, betas [10] and [T,10], frame 2 of actor 0 not aligned."""
    rng = np.random.default_rng(0)
    cam_poses = np.tile(np.eye(4, dtype=np.float32), (T, 1, 1))
    for i in range(T):
        cam_poses[i, :3, :3] = rotation(i)
        cam_poses[i, :3, 3] = [0.1 * i, -0.2, 4.0]
    valid0 = np.ones(T, dtype=bool)
    valid0[2] = False
    data = {
        "sequence": "downtown_walking_00",
        "poses": [rng.normal(0, 0.2, (T, 72)), rng.normal(0, 0.2, (T, 72))],
        "betas": [rng.normal(0, 1, 10), rng.normal(0, 1, (T, 10))],
        "trans": [rng.normal(0, 1, (T, 3)), rng.normal(0, 1, (T, 3))],
        "cam_poses": cam_poses,
        "cam_intrinsics": np.array([[1961.9, 0, 540.0], [0, 1969.2, 960.0], [0, 0, 1]]),
        "poses2d": [rng.uniform(0, 1000, (T, 3, 18)), rng.uniform(0, 1000, (T, 3, 18))],
        "campose_valid": [valid0, np.ones(T, dtype=bool)],
        "img_frame_ids": np.arange(T) * 2,
        "genders": ["m", "f"],
        "jointPositions": [rng.normal(0, 1, (T, 72)), rng.normal(0, 1, (T, 72))],
    }
    data.pop(drop_key, None)
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)
    return data


def test_3dpw_fields_valid_frames_and_camera(tmp_path):
    data = write_3dpw(tmp_path / "downtown_walking_00.pkl")
    fr = read_3dpw(tmp_path / "downtown_walking_00.pkl", image_dir=tmp_path / "3DPW")
    keep = [0, 1, 3, 4]
    assert len(fr) == 4 and list(fr.meta["frame_index"]) == keep
    assert fr.meta["campose_valid"].tolist() == [True, True, False, True, True]
    pose = data["poses"][0][keep]
    assert torch.allclose(fr.global_orient, torch.tensor(pose[:, :3], dtype=torch.float32))
    assert torch.allclose(fr.body_pose, torch.tensor(pose[:, 3:], dtype=torch.float32))
    assert fr.betas.shape == (4, 10)
    assert torch.allclose(fr.betas[3], torch.tensor(data["betas"][0], dtype=torch.float32))
    assert torch.allclose(fr.transl, torch.tensor(data["trans"][0][keep], dtype=torch.float32))
    assert fr.gender == "male" and fr.name == "downtown_walking_00"
    assert fr.images[2] == str(tmp_path / "3DPW" / "imageFiles" / "downtown_walking_00" / "image_00003.jpg")
    # COCO-18 detections [T,3,18] -> [T,18,3]
    assert fr.keypoints2d.shape == (4, 18, 3)
    assert np.allclose(fr.keypoints2d[2].numpy(), data["poses2d"][0][3].T, atol=1e-3)
    assert fr.meta["jointPositions"].shape == (4, 24, 3)
    assert list(fr.meta["img_frame_ids"]) == [0, 2, 6, 8]
    # camera: portrait 1080x1920 from the principal point; projection equals K [R|t] X by hand
    cam = fr.camera
    assert (cam.width, cam.height) == (1080, 1920) and cam.batch_size == 4
    X = np.array([0.3, -0.5, 1.0])
    K = data["cam_intrinsics"]
    for i, f in enumerate(keep):
        R, t = data["cam_poses"][f, :3, :3], data["cam_poses"][f, :3, 3]
        got = cam.index(i).project(torch.tensor(X[None, None], dtype=torch.float32))[0, 0].numpy()
        assert np.allclose(got, project_by_hand(K, R, t, X), atol=1e-2)


def test_3dpw_all_frames_second_actor_and_image_size(tmp_path):
    data = write_3dpw(tmp_path / "s.pkl")
    fr = read_3dpw(tmp_path / "s.pkl", person=1, valid_only=False, image_size=(1920, 1080))
    assert len(fr) == 5 and fr.gender == "female"
    assert torch.allclose(fr.betas, torch.tensor(data["betas"][1], dtype=torch.float32))  # per-frame betas [T,10]
    assert (fr.camera.width, fr.camera.height) == (1920, 1080)
    assert fr.images[0] == str(Path("imageFiles") / "downtown_walking_00" / "image_00000.jpg")
    fr0 = read_3dpw(tmp_path / "s.pkl", valid_only=False)
    assert len(fr0) == 5 and not fr0.meta["campose_valid"][2]


def test_3dpw_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pkl") as e:
        read_3dpw(tmp_path / "nothere.pkl")
    assert "virtualhumans.mpi-inf.mpg.de/3DPW" in str(e.value)
    write_3dpw(tmp_path / "s.pkl", drop_key="cam_poses")
    with pytest.raises(ValueError, match="'cam_poses'"):
        read_3dpw(tmp_path / "s.pkl")
    write_3dpw(tmp_path / "s.pkl")
    with pytest.raises(ValueError, match="person 2"):
        read_3dpw(tmp_path / "s.pkl", person=2)


def test_3dpw_frame_runs_through_the_open_body_model(tmp_path, body):
    write_3dpw(tmp_path / "s.pkl")
    fr = read_3dpw(tmp_path / "s.pkl")
    params = fr.params(0)
    assert all(v.dtype == torch.float32 and v.shape[0] == 1 for v in params.values())
    out = body(**params)
    assert out.vertices.ndim == 3 and out.vertices.shape[0] == 1 and out.vertices.shape[2] == 3
    assert bool(torch.isfinite(out.vertices).all())
    assert fr.params()["body_pose"].shape == (4, 69)


# ---------------------------------------------------------------------------------------------------- RICH
def opencv_matrix(name, a, dt="f"):
    rows, cols = a.shape
    data = " ".join(f"{v:.8e}" for v in a.reshape(-1))
    return (f'<{name} type_id="opencv-matrix">\n  <rows>{rows}</rows>\n  <cols>{cols}</cols>\n  <dt>{dt}</dt>\n'
            f"  <data>\n    {data}</data></{name}>\n")


def write_rich_calibration(path, K, Rt, skip=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = {"CameraMatrix": opencv_matrix("CameraMatrix", Rt), "Intrinsics": opencv_matrix("Intrinsics", K),
             "Distortion": opencv_matrix("Distortion", np.array([[-0.08, 0.11, 0.0, 0.0, 0.0]]), dt="d")}
    body = "".join(v for k, v in parts.items() if k != skip)
    path.write_text(f'<?xml version="1.0"?>\n<opencv_storage>\n{body}</opencv_storage>\n')


def write_rich_bodies(seq_dir, frames=(10, 11, 12), subject="003", drop_key=None):
    rng = np.random.default_rng(1)
    stored = []
    for f in frames:
        d = {"global_orient": rng.normal(0, 0.3, (1, 3)).astype(np.float32),
             "body_pose": rng.normal(0, 0.3, (1, 63)).astype(np.float32),
             "betas": rng.normal(0, 1, (1, 10)).astype(np.float32),
             "transl": rng.normal(0, 1, (1, 3)).astype(np.float32),
             "left_hand_pose": np.zeros((1, 12), np.float32), "right_hand_pose": np.zeros((1, 12), np.float32),
             "jaw_pose": np.zeros((1, 3), np.float32), "leye_pose": np.zeros((1, 3), np.float32),
             "reye_pose": np.zeros((1, 3), np.float32), "expression": np.zeros((1, 10), np.float32)}
        d.pop(drop_key, None)
        (seq_dir / f"{f:05d}").mkdir(parents=True, exist_ok=True)
        with open(seq_dir / f"{f:05d}" / f"{subject}.pkl", "wb") as fh:
            pickle.dump(d, fh)
        stored.append(d)
    return stored


def rich_fixture(tmp_path):
    seq_dir = tmp_path / "bodies" / "train" / "LectureHall_003_wipingchairs1"
    stored = write_rich_bodies(seq_dir)
    write_rich_bodies(seq_dir, frames=(10,), subject="004")  # another subject in the same frame
    K = np.array([[4300.0, 0, 2056.0], [0, 4310.0, 1504.0], [0, 0, 1]])
    Rt = np.concatenate([rotation(7), np.array([[0.2], [-0.1], [5.0]])], 1)
    xml = tmp_path / "scan_calibration" / "LectureHall" / "calibration" / "003.xml"
    write_rich_calibration(xml, K, Rt)
    return seq_dir, xml, stored, K, Rt


def test_rich_smplx_bodies_padded_to_smpl_and_camera(tmp_path):
    seq_dir, xml, stored, K, Rt = rich_fixture(tmp_path)
    fr = read_rich(seq_dir, xml, subject_id=3, image_dir=tmp_path / "images" / "train" / seq_dir.name)
    assert len(fr) == 3 and list(fr.meta["frame_ids"]) == [10, 11, 12]
    assert fr.meta["model_type"] == "smplx" and "left_hand_pose" in fr.meta["ignored_keys"]
    assert fr.body_pose.shape == (3, 69)
    for i, d in enumerate(stored):
        assert np.allclose(fr.body_pose[i, :63].numpy(), d["body_pose"][0])  # SMPL-X's 21 body joints
        assert np.allclose(fr.global_orient[i].numpy(), d["global_orient"][0])
        assert np.allclose(fr.betas[i].numpy(), d["betas"][0]) and np.allclose(fr.transl[i].numpy(), d["transl"][0])
    assert bool((fr.body_pose[:, 63:] == 0).all())  # SMPL's two hand joints: zero
    assert fr.images[1] == str(tmp_path / "images" / "train" / seq_dir.name / "cam_03" / "00011_03.png")
    cam = fr.camera
    assert (cam.width, cam.height) == (4112, 3008)
    X = np.array([0.4, 0.9, -0.3])
    got = cam.project(torch.tensor(np.tile(X, (3, 1, 1)), dtype=torch.float32))[:, 0].numpy()
    assert np.allclose(got, project_by_hand(K, Rt[:, :3], Rt[:, 3], X)[None], atol=0.05)
    assert np.allclose(fr.meta["distortion"].reshape(-1)[:2], [-0.08, 0.11])
    # "003" names the same subject; frames= picks frames
    assert len(read_rich(seq_dir, xml, subject_id="003", frames=[12])) == 1


def test_rich_errors(tmp_path):
    seq_dir, xml, *_ = rich_fixture(tmp_path)
    with pytest.raises(FileNotFoundError, match="005.pkl"):
        read_rich(seq_dir, xml, subject_id=5)
    with pytest.raises(FileNotFoundError, match="00099"):
        read_rich(seq_dir, xml, subject_id=3, frames=[99])
    with pytest.raises(FileNotFoundError, match="missing.xml"):
        read_rich(seq_dir, tmp_path / "missing.xml", subject_id=3)
    bad_xml = tmp_path / "bad" / "calibration" / "000.xml"
    write_rich_calibration(bad_xml, np.eye(3), np.eye(3, 4), skip="Intrinsics")
    with pytest.raises(ValueError, match="'Intrinsics'"):
        read_rich(seq_dir, bad_xml, subject_id=3)
    bad_seq = tmp_path / "bodies2"
    write_rich_bodies(bad_seq, drop_key="transl")
    with pytest.raises(ValueError, match="'transl'"):
        read_rich(bad_seq, xml, subject_id=3)


def test_opencv_xml_layout(tmp_path):
    K = np.arange(9.0).reshape(3, 3)
    write_rich_calibration(tmp_path / "c.xml", K, np.arange(12.0).reshape(3, 4))
    m = read_opencv_xml(tmp_path / "c.xml")
    assert m["Intrinsics"].shape == (3, 3) and np.array_equal(m["Intrinsics"], K)
    assert m["CameraMatrix"].shape == (3, 4) and m["CameraMatrix"][2, 3] == 11
    assert m["Distortion"].shape == (1, 5)


# ---------------------------------------------------------------------------------------------------- H36M (SPIN)
def write_spin_npz(path, N=4, with_smpl=False, drop_key=None):
    rng = np.random.default_rng(2)
    data = {"imgname": np.array([f"images/S9_Directions_1.54138969_{i * 5 + 1:06d}.jpg" for i in range(N)]),
            "center": rng.uniform(300, 700, (N, 2)), "scale": rng.uniform(1.5, 3.0, N),
            "S": rng.normal(0, 0.3, (N, 24, 4)), "part": rng.uniform(0, 1000, (N, 24, 3))}
    if with_smpl:
        data.update(pose=rng.normal(0, 0.2, (N, 72)), shape=rng.normal(0, 1, (N, 10)), gender=np.array(["m"] * N))
    data.pop(drop_key, None)
    np.savez(path, **data)
    return data


def test_h36m_spin_boxes_keypoints_and_no_smpl(tmp_path):
    data = write_spin_npz(tmp_path / "h36m_valid_protocol1.npz")
    fr = read_h36m_spin(tmp_path / "h36m_valid_protocol1.npz", image_dir=tmp_path / "h36m")
    assert len(fr) == 4 and fr.camera is None
    side = (fr.boxes[:, 2:] - fr.boxes[:, :2]).numpy()
    assert np.allclose(side, 200 * data["scale"][:, None], rtol=1e-5)  # square box of side 200 * scale
    assert np.allclose(((fr.boxes[:, :2] + fr.boxes[:, 2:]) / 2).numpy(), data["center"], atol=1e-3)
    assert fr.images[1] == str(tmp_path / "h36m" / "images" / "S9_Directions_1.54138969_000006.jpg")
    assert np.allclose(fr.keypoints2d.numpy(), data["part"], atol=1e-3)
    assert np.allclose(fr.meta["S"], data["S"], atol=1e-6)
    assert not fr.meta["has_smpl"] and bool(torch.isnan(fr.body_pose).all())
    with pytest.raises(ValueError, match="'pose'"):
        fr.params()


def test_h36m_spin_with_smpl_and_errors(tmp_path):
    data = write_spin_npz(tmp_path / "with_smpl.npz", with_smpl=True)
    fr = read_h36m_spin(tmp_path / "with_smpl.npz")
    assert fr.gender == "male"
    assert np.allclose(fr.params(2)["body_pose"].numpy(), data["pose"][2:3, 3:], atol=1e-6)
    assert bool((fr.transl == 0).all())  # SPIN's npz is root-relative
    write_spin_npz(tmp_path / "bad.npz", drop_key="center")
    with pytest.raises(ValueError, match="'center'"):
        read_h36m_spin(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match="h36m_valid_protocol2.npz"):
        read_h36m_spin(tmp_path / "h36m_valid_protocol2.npz")


# ---------------------------------------------------------------------------------------------------- SURREAL
# SURREAL's own worked example (gulvarol/surreal, datageneration/misc/3Dto2D/main.m): this camera location,
# 3D joint and 2D joint, with its printed extrinsic matrix.
SURREAL_CAMLOC = np.array([[6.7456], [-0.9839], [-1.9293]])
SURREAL_J3D = np.array([-0.8645, -1.0915, -1.0260])
SURREAL_J2D = np.array([89.0, 112.0])
SURREAL_RT = np.array([[0, 0, -1.0, -1.9293], [0, 1.0, 0, 0.9839], [-1.0, 0, 0, 6.7456]])


def write_surreal(path, T=3, drop_key=None):
    rng = np.random.default_rng(3)
    pose = rng.normal(0, 0.2, (72, T)).astype(np.float32)
    joints3d = rng.normal(0, 0.4, (3, 24, T)).astype(np.float32)
    joints3d[:, 5, :] = SURREAL_J3D[:, None]
    K = np.array([[600.0, 0, 160], [0, 600, 120], [0, 0, 1]])
    joints2d = np.stack([[project_by_hand(K, SURREAL_RT[:, :3], SURREAL_RT[:, 3], joints3d[:, j, t])
                          for j in range(24)] for t in range(T)]).transpose(2, 1, 0).round()
    data = {"pose": pose, "shape": np.tile(rng.normal(0, 1, (10, 1)), (1, T)).astype(np.float32),
            "joints2D": joints2d.astype(np.float32), "joints3D": joints3d, "camLoc": SURREAL_CAMLOC,
            "zrot": np.full(T, 1.3, np.float32), "gender": np.zeros(T, np.uint8), "sequence": "01_01_c0001",
            "camDist": 7.1, "clipNo": 1, "stride": 50, "source": "cmu", "light": rng.normal(0, 1, (9, T)),
            "bg": np.array([f"bg/{i}.jpg" for i in range(T)], dtype=object),
            "cloth": np.array([f"cloth/{i}.jpg" for i in range(T)], dtype=object)}
    data.pop(drop_key, None)
    savemat(path, data)
    return data


def test_surreal_camera_reproduces_surreal_worked_example(tmp_path):
    write_surreal(tmp_path / "01_01_c0001_info.mat")
    fr = read_surreal_info(tmp_path / "01_01_c0001_info.mat")
    cam = fr.camera
    assert (cam.width, cam.height) == (320, 240) and cam.batch_size == 3
    assert np.allclose(cam.K[0].numpy(), [[600, 0, 160], [0, 600, 120], [0, 0, 1]])
    assert np.allclose(cam.R[0].numpy(), SURREAL_RT[:, :3]) and np.allclose(cam.t[0].numpy(), SURREAL_RT[:, 3])
    uv = cam.index(0).project(torch.tensor(SURREAL_J3D[None, None], dtype=torch.float32))[0, 0].numpy()
    assert np.array_equal(np.round(uv), SURREAL_J2D)  # SURREAL's joints2D = round(K [R|t] joints3D)
    assert np.allclose(fr.keypoints2d[0, 5, :2].numpy(), SURREAL_J2D) and bool((fr.keypoints2d[..., 2] == 1).all())
    assert fr.images == [str(tmp_path / "01_01_c0001.mp4")] * 3 and list(fr.meta["frame_index"]) == [0, 1, 2]


def test_surreal_fields_global_orient_and_transl(tmp_path, body):
    data = write_surreal(tmp_path / "01_01_c0001_info.mat")
    fr = read_surreal_info(tmp_path / "01_01_c0001_info.mat")
    assert fr.name == "01_01_c0001" and fr.gender == "female" and fr.meta["camDist"] == pytest.approx(7.1)
    assert np.allclose(fr.body_pose.numpy(), data["pose"][3:].T)
    assert np.allclose(fr.betas.numpy(), data["shape"].T)
    assert np.allclose(fr.meta["pose"], data["pose"].T)
    assert np.allclose(fr.meta["joints3D"], data["joints3D"].transpose(2, 1, 0))
    # world rotation = Rx(90°) · Rz(zrot) · R(pose[:3])
    expected = (Rotation.from_euler("x", math.pi / 2) * Rotation.from_euler("z", 1.3)
                * Rotation.from_rotvec(data["pose"][:3].T)).as_matrix()
    got = Rotation.from_rotvec(fr.global_orient.numpy()).as_matrix()
    assert np.allclose(got, expected, atol=1e-5)
    # without a body model: transl = root joint (the open model's rest pelvis is the origin)
    assert np.allclose(fr.transl.numpy(), data["joints3D"][:, 0].T)
    # with a body model: its posed root joint lands on joints3D[:, 0]
    fr2 = read_surreal_info(tmp_path / "01_01_c0001_info.mat", body=body)
    out = body(**fr2.params())
    assert torch.allclose(out.joints[:, 0], torch.tensor(data["joints3D"][:, 0].T), atol=1e-5)


def test_surreal_errors(tmp_path):
    write_surreal(tmp_path / "x_info.mat", drop_key="zrot")
    with pytest.raises(ValueError, match="'zrot'"):
        read_surreal_info(tmp_path / "x_info.mat")
    with pytest.raises(FileNotFoundError, match="y_info.mat") as e:
        read_surreal_info(tmp_path / "y_info.mat")
    assert "surreal" in str(e.value).lower()


# ---------------------------------------------------------------------------------------------------- DensePose
@dataclass
class FakeChartResult:
    """Pickles as densepose.structures.chart_result.DensePoseChartResultWithConfidences."""

    labels: torch.Tensor
    uv: torch.Tensor
    sigma_1: torch.Tensor | None = None


FakeChartResult.__module__ = "densepose.structures.chart_result"
FakeChartResult.__qualname__ = FakeChartResult.__name__ = "DensePoseChartResultWithConfidences"


def write_densepose_dump(path, monkeypatch):
    labels = torch.zeros(16, 8, dtype=torch.long)   # box (10.3, 20.7, 18.3, 36.7): int w = 8, h = 16
    labels[3, 5] = 7
    labels[10, 2] = 24
    uv = torch.zeros(2, 16, 8)
    uv[:, 3, 5] = torch.tensor([0.25, 0.75])
    uv[:, 10, 2] = torch.tensor([0.5, 0.125])
    small = np.zeros((4, 5), np.uint8)             # box (0, 0, 20, 40) sampled 4x5: 4 px per column, 10 per row
    small[1, 2] = 3
    dump = [
        {"file_name": "frames/000001.jpg", "scores": torch.tensor([0.98, 0.61]),
         "pred_boxes_XYXY": torch.tensor([[10.3, 20.7, 18.3, 36.7], [0.0, 0.0, 20.0, 40.0]]),
         "pred_densepose": [FakeChartResult(labels, uv, sigma_1=torch.ones(16, 8)),
                            {"labels": small, "uv": np.full((2, 4, 5), 0.5, np.float32)}]},
        {"file_name": "frames/000002.jpg", "frame_idx": 1, "scores": torch.zeros(0),
         "pred_boxes_XYXY": torch.zeros(0, 4), "pred_densepose": []},
    ]
    with monkeypatch.context() as m:  # the class's module exists only while pickling
        for name in ("densepose", "densepose.structures", "densepose.structures.chart_result"):
            m.setitem(sys.modules, name, types.ModuleType(name))
        sys.modules["densepose.structures.chart_result"].DensePoseChartResultWithConfidences = FakeChartResult
        with open(path, "wb") as f:
            pickle.dump(dump, f)
    assert "densepose" not in sys.modules


def test_densepose_dump_without_detectron2(tmp_path, monkeypatch):
    write_densepose_dump(tmp_path / "results.pkl", monkeypatch)
    assert b"densepose.structures.chart_result" in (tmp_path / "results.pkl").read_bytes()
    with pytest.raises(ModuleNotFoundError):  # plain unpickling needs the DensePose package
        pickle.loads((tmp_path / "results.pkl").read_bytes())
    images = read_densepose(tmp_path / "results.pkl")
    assert [im.file_name for im in images] == ["frames/000001.jpg", "frames/000002.jpg"]
    assert images[1].instances == [] and images[1].meta["frame_idx"] == 1
    a, b = images[0].instances
    assert a.score == pytest.approx(0.98) and np.allclose(a.box, [10.3, 20.7, 18.3, 36.7])
    assert a.labels.dtype == np.uint8 and a.labels.shape == (16, 8) and a.uv.shape == (2, 16, 8)

    # cell (r, c) of the [h,w] grid -> x = x0 + (c + 0.5)(x1 - x0)/w, y = y0 + (r + 0.5)(y1 - y0)/h
    pixels, parts, uv = densepose_to_pixels(a)
    assert parts.tolist() == [7, 24]
    assert np.allclose(pixels, [[10.3 + 5.5, 20.7 + 3.5], [10.3 + 2.5, 20.7 + 10.5]], atol=1e-4)
    assert np.allclose(uv, [[0.25, 0.75], [0.5, 0.125]])
    pixels, parts, _ = densepose_to_pixels(b)
    assert parts.tolist() == [3] and np.allclose(pixels, [[(2 + 0.5) * 4, (1 + 0.5) * 10]])
    # detectron2's visualisers paste at the integer box instead
    pixels, _, _ = densepose_to_pixels(a, convention="paste")
    assert np.allclose(pixels[0], [10 + 5.5, 20 + 3.5])


def test_densepose_errors(tmp_path):
    with open(tmp_path / "bad.pkl", "wb") as f:
        pickle.dump([{"file_name": "a.jpg", "scores": np.ones(1), "pred_boxes_XYXY": np.zeros((1, 4)),
                      "pred_densepose": [{"coarse_segm": np.zeros((2, 3))}]}], f)
    with pytest.raises(ValueError, match="'labels' and 'uv'"):
        read_densepose(tmp_path / "bad.pkl")
    with open(tmp_path / "nofile.pkl", "wb") as f:
        pickle.dump([{"scores": np.ones(1)}], f)
    with pytest.raises(ValueError, match="'file_name'"):
        read_densepose(tmp_path / "nofile.pkl")
    with pytest.raises(FileNotFoundError, match="none.pkl"):
        read_densepose(tmp_path / "none.pkl")


# ---------------------------------------------------------------------------------------------------- OpenPose
def openpose_person(x0, size, conf=0.9):
    kp = np.zeros((25, 3))
    kp[:, 0] = x0 + np.linspace(0, size, 25)
    kp[:, 1] = 100 + np.linspace(0, 2 * size, 25)
    kp[:, 2] = conf
    return {"person_id": [-1], "pose_keypoints_2d": kp.reshape(-1).tolist(), "face_keypoints_2d": [],
            "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": []}


def test_openpose_sequence(tmp_path):
    folder = tmp_path / "json"
    folder.mkdir()
    for t in (2, 0, 1):  # written out of order: files are read sorted
        people = [openpose_person(10 * t, 50), openpose_person(500, 200)] if t == 1 else [openpose_person(10 * t, 50)]
        (folder / f"video_{t:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    kp = read_openpose_sequence(folder)
    assert kp.shape == (3, 25, 3) and kp.dtype == torch.float32
    assert kp[:, 0, 0].tolist() == [0.0, 500.0, 20.0]  # frame 1: the largest person
    assert torch.allclose(kp[..., 2], torch.full((3, 25), 0.9))
    assert torch.equal(read_openpose_sequence(str(folder / "video_*_keypoints.json")), kp)
    assert read_openpose_sequence(folder, person=0)[1, 0, 0] == 10.0
    with pytest.raises(FileNotFoundError, match="empty"):
        read_openpose_sequence(tmp_path / "empty")


# ---------------------------------------------------------------------------------------------------- registry
def test_licensed_assets_registry(tmp_path):
    assert set(LICENSED_ASSETS) == {"smpl", "gmm_08", "vposer", "prohmr", "3dpw", "rich", "h36m", "h36m_regressor",
                                    "surreal"}
    assert all(a.url.startswith("http") and a.files for a in LICENSED_ASSETS.values())
    assert all(missing for _, missing in asset_status(tmp_path))
    (tmp_path / "priors").mkdir()
    (tmp_path / "priors" / "gmm_08.pkl").write_bytes(b"")
    status = {a.key: missing for a, missing in asset_status(tmp_path)}
    assert status["gmm_08"] == [] and status["smpl"]


def test_licensed_assets_script_check_on_empty_root(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "data_scripts" / "licensed_assets.py"), "--check",
                          "--root", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    table = res.stdout.split("Data root:")[-1]
    for key in LICENSED_ASSETS:
        assert any(line.split()[:2] == [key, "missing"] for line in table.splitlines()), key
    assert f"0/{len(LICENSED_ASSETS)} in place" in table
    assert "https://rich.is.tue.mpg.de" in res.stdout


def test_write_3dpw_round_trips_through_read_3dpw(tmp_path):
    from scipy.spatial.transform import Rotation

    from dispkit.camera import Camera
    from dispkit.data.threedpw import read_3dpw, write_3dpw

    g = torch.Generator().manual_seed(0)
    T = 3
    params = {"global_orient": torch.randn(T, 3, generator=g), "body_pose": 0.2 * torch.randn(T, 69, generator=g),
              "betas": torch.randn(1, 10, generator=g).repeat(T, 1), "transl": torch.randn(T, 3, generator=g)}
    R = torch.as_tensor(Rotation.random(T, random_state=1).as_matrix(), dtype=torch.float32)
    cam = Camera(torch.tensor([[1500.0, 1490.0]]).repeat(T, 1), torch.tensor([[540.0, 960.0]]).repeat(T, 1), R,
                 torch.randn(T, 3, generator=g), 1080, 1920)
    path = write_3dpw(tmp_path / "seq.pkl", params, cam, "seq", gender="f")
    frames = read_3dpw(path)
    for k, v in params.items():
        assert torch.allclose(getattr(frames, k), v, atol=1e-6), k
    assert torch.allclose(frames.camera.R, R, atol=1e-6) and torch.allclose(frames.camera.t, cam.t, atol=1e-6)
    assert torch.allclose(frames.camera.K, cam.K) and (frames.camera.width, frames.camera.height) == (1080, 1920)
    assert frames.gender == "female" and len(frames) == T


def test_densepose_surface_maps_chart_coordinates_onto_smpl_faces(tmp_path):
    """A UV_Processed.mat in DensePose's format over a 2-triangle mesh: points inside a chart triangle land on
    the same surface point of the SMPL face (whose corner order differs), outside ones on the nearest triangle,
    background and unknown parts are invalid."""
    from scipy.io import savemat

    from dispkit.data.densepose import densepose_surface

    faces = np.array([[1, 2, 0], [0, 2, 3]])                      # "SMPL" faces
    V = np.random.default_rng(0).normal(size=(4, 3))
    chart_to_smpl = np.array([0, 1, 2, 0, 2, 3])                   # chart vertices duplicate SMPL's on the seam
    path = tmp_path / "UV_Processed.mat"
    savemat(path, {"All_FaceIndices": np.array([[1], [2]]), "All_Faces": np.array([[1, 2, 3], [4, 5, 6]]),
                   "All_U_norm": np.array([[0, 1, 0, 0, 1, 0]], float).T,
                   "All_V_norm": np.array([[0, 0, 1, 0, 0, 1]], float).T,
                   "All_vertices": (chart_to_smpl + 1)[None]})
    parts = np.array([1, 2, 1, 0, 7])
    uv = np.array([[0.25, 0.25], [0.2, 0.3], [0.9, 0.9], [0.5, 0.5], [0.1, 0.1]])
    f, b, ok = densepose_surface(parts, uv, path, faces)
    assert ok.tolist() == [True, True, True, False, False]
    assert f[:3].tolist() == [0, 1, 0]
    point = (b[:3, :, None].numpy() * V[faces[f[:3]]]).sum(1)
    chart = np.array([[0, 1, 2], [3, 4, 5]])
    for k, (u, v, tri) in enumerate([(0.25, 0.25, 0), (0.2, 0.3, 1)]):
        expected = (1 - u - v) * V[chart_to_smpl[chart[tri, 0]]] + u * V[chart_to_smpl[chart[tri, 1]]] \
            + v * V[chart_to_smpl[chart[tri, 2]]]
        assert np.allclose(point[k], expected, atol=1e-6)
    assert (b[2] >= 0).all() and torch.isclose(b[2].sum(), torch.tensor(1.0))
    with pytest.raises(ValueError, match="All_FaceIndices"):
        savemat(tmp_path / "bad.mat", {"x": np.zeros(1)})
        densepose_surface(parts, uv, tmp_path / "bad.mat", faces)


def test_convert_estimates_script_turns_regressor_outputs_into_estimates(tmp_path):
    """SPIN/PARE-style outputs (rotation matrices, weak-perspective crop camera, SPIN's centre/scale) ->
    the estimates npz of notebook 09: the same pose, and a translation that puts the body where the crop said."""
    from scipy.spatial.transform import Rotation

    T, W, H = 3, 640, 480
    rng = np.random.default_rng(0)
    aa = rng.normal(0, 0.3, (T, 72))
    src = {"pred_rotmat": Rotation.from_rotvec(aa.reshape(-1, 3)).as_matrix().reshape(T, 24, 3, 3),
           "pred_betas": rng.normal(size=(T, 10)), "pred_cam": np.array([[0.8, 0.1, 0.0]] * T),
           "center": np.array([[320.0, 240.0]] * T), "scale": np.array([2.0] * T), "frame_ids": np.arange(5, 8)}
    np.savez(tmp_path / "pare.npz", **src)
    script = Path(__file__).resolve().parents[1] / "data_scripts" / "convert_estimates.py"
    out = tmp_path / "est.npz"
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "pare.npz"), str(out), "--width", str(W),
                           "--height", str(H)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    e = np.load(out)
    assert np.allclose(np.concatenate([e["global_orient"], e["body_pose"]], 1), aa, atol=1e-5)
    f = (W ** 2 + H ** 2) ** 0.5
    assert np.allclose(e["transl"], [[0.1, 0.0, 2 * f / (400 * 0.8)]] * T, atol=1e-5)  # box centred: no shift
    assert e["frame_index"].tolist() == [5, 6, 7] and e["betas"].shape == (T, 10)
    bad = subprocess.run([sys.executable, str(script), str(out), str(tmp_path / "x.npz"), "--width", "1",
                          "--height", "1"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "pred_pose" in bad.stderr and "Traceback" not in bad.stderr
