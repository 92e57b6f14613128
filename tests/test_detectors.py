"""The real keypoint detector (dispkit.detectors): BlazePose's 33 landmarks mapped to BODY_25, on the kit's
renderings; the mapping and the 'not installed' path are tested without MediaPipe."""
import numpy as np
import pytest
import torch

from dispkit import detectors
from dispkit.body import OPENPOSE_NAMES

needs_mediapipe = pytest.mark.skipif(not detectors.available(), reason=detectors.missing_message())


def test_the_mapping_reads_each_body25_keypoint_from_its_landmarks():
    lm = np.arange(33 * 2, dtype=float).reshape(33, 2)
    vis = np.linspace(0.1, 0.99, 33)
    kp, conf = detectors.to_body25(lm, vis)
    names = detectors.BLAZEPOSE_NAMES
    j = OPENPOSE_NAMES.index
    np.testing.assert_allclose(kp[j("RWrist")], lm[names.index("right_wrist")])
    shoulders = lm[names.index("left_shoulder")] + lm[names.index("right_shoulder")]
    np.testing.assert_allclose(kp[j("Neck")], shoulders / 2)
    assert conf[j("MidHip")] == pytest.approx(min(vis[names.index("left_hip")], vis[names.index("right_hip")]))
    assert conf[j("LSmallToe")] == 0 and conf[j("RSmallToe")] == 0 and (kp[j("LSmallToe")] == 0).all()
    assert set(detectors.BODY25_FROM_BLAZEPOSE) <= set(OPENPOSE_NAMES)
    # left is the person's left in both skeletons
    assert detectors.BODY25_FROM_BLAZEPOSE["LKnee"] == ("left_knee",)


def test_without_mediapipe_the_message_says_how_to_install(monkeypatch):
    monkeypatch.setattr(detectors, "available", lambda: False)
    with pytest.raises(ImportError, match="--no-deps mediapipe"):
        detectors.BlazePose()


@needs_mediapipe
def test_blazepose_finds_the_rendered_person_near_the_gt_keypoints(body, tmp_path, monkeypatch):
    from dispkit.data.synthetic import make_scene

    monkeypatch.setenv("DISPKIT_CACHE", str(tmp_path))
    scenes = [make_scene(800_000 + k, "pare-like", body=body) for k in range(3)]
    det = detectors.BlazePose()
    kp, conf = det(torch.stack([s.image for s in scenes]))
    assert kp.shape == (3, 25, 2) and conf.shape == (3, 25)
    with torch.no_grad():
        gt = torch.cat([s.camera.project(body(**s.gt).openpose) for s in scenes])
    limbs = [OPENPOSE_NAMES.index(n) for n in ("RShoulder", "LShoulder", "RElbow", "LElbow", "RKnee", "LKnee",
                                               "RAnkle", "LAnkle")]
    err = (kp - gt)[:, limbs].norm(dim=-1)
    height = gt[..., 1].amax(1) - gt[..., 1].amin(1)
    assert (conf[:, limbs] > 0.5).float().mean() > 0.8
    assert float((err.median(1).values / height).max()) < 0.06      # a few percent of the person's height
    # cached: the second call reads the files, with the same result
    assert len(list((tmp_path / "detections" / "blazepose").glob("*.npz"))) == 3
    kp2, conf2 = detectors.BlazePose()(torch.stack([s.image for s in scenes]))
    torch.testing.assert_close(kp2, kp)
    # an image without a person: every confidence 0
    _, c0 = det(torch.zeros(1, 240, 320, 3))
    assert float(c0.max()) == 0.0


@needs_mediapipe
def test_blazepose_rows_in_the_evaluation_layer(body):
    from dispkit import evaluation as ev
    from dispkit.data.synthetic import make_scene

    scenes = [make_scene(800_010 + k, "pare-like", body=body) for k in range(2)]
    batch = ev.Batch.from_scenes(scenes, body)
    terms = ev.detector_terms(batch, body, ["BlazePose"])
    assert terms["BlazePose"].valid.all() and ev.KIND["BlazePose"] == "keypoints"


def test_where_the_real_detector_falls_on_the_noise_sweep():
    from dispkit.tables import markdown_tables, sweep_position

    sw = {"factors": [0.0, 1.0, 2.0], "n_scenes": 2, "openpose_level": 1.0,
          "curves": {"gmm": [{"factor": 0.0, "MPJPE": 40.0, "PVE": 50.0}, {"factor": 1.0, "MPJPE": 60.0, "PVE": 70.0},
                             {"factor": 2.0, "MPJPE": 80.0, "PVE": 90.0}]},
          "reference": {"init": {"MPJPE": 70.0, "PVE": 80.0}, "gmm": {"BlazePose": {"MPJPE": 65.0, "PVE": 75.0}}}}
    assert sweep_position(sw, "gmm") == pytest.approx(1.25)
    sw["reference"]["gmm"]["BlazePose"]["MPJPE"] = 95.0
    assert sweep_position(sw, "gmm") is None                    # outside the sweep
    md = markdown_tables({"n_scenes": 2, "splits": {}, "noise_sweep": {"id pare-like": sw},
                          "real_detector": "not installed"})
    assert "BlazePose at" in md and "not installed" in md


def test_the_blazepose_structure_is_the_measured_one():
    """BLAZEPOSE_STRUCTURE holds what benchmarks/detector_study.py measured (a rerun that changes it fails here)."""
    import json
    from pathlib import Path

    from dispkit.data.observations import BLAZEPOSE_STRUCTURE, ErrorStructure

    study = json.loads((Path(__file__).parents[1] / "benchmarks/results/detector_study.json").read_text())
    assert ErrorStructure.from_study(study["BlazePose"]) == BLAZEPOSE_STRUCTURE


def test_a_structured_simulation_has_the_structures_confidences_and_misses(body):
    from dispkit import evaluation as ev
    from dispkit.data import observations as obs
    from dispkit.data.synthetic import make_scene

    scenes = [make_scene(800_000 + k, "pare-like", body=body) for k in range(4)]
    b = ev.Batch.from_scenes(scenes, body)
    st = obs.BLAZEPOSE_STRUCTURE
    kp, conf = obs.simulate_openpose(body, b.go.vertices, b.cam, b.size, 0, structure=st)
    detected = conf > 0
    assert float(conf[detected].min()) >= st.confidence[0]                 # confidence says nothing of the error
    small_toes = [OPENPOSE_NAMES.index(n) for n in ("LSmallToe", "RSmallToe")]
    assert not detected[:, small_toes].any()                              # BlazePose has no small toes
    # the kit's own structure is unchanged by the option (same seed, no structure: the same detections as before)
    a = obs.simulate_openpose(body, b.go.vertices, b.cam, b.size, 0)
    c = obs.simulate_openpose(body, b.go.vertices, b.cam, b.size, 0, structure=None)
    torch.testing.assert_close(a[0], c[0])
    # level 0: no jitter, no outliers, no swaps -- the detector's own keypoint definition exactly
    kp0, _ = obs.simulate_openpose(body, b.go.vertices, b.cam, b.size, 0, level=0.0, structure=st)
    exact = b.cam.project(obs.DetectorDefinition(body)(b.go.vertices.double()).float())
    torch.testing.assert_close(kp0, exact, atol=1e-3, rtol=0)


def test_a_photograph_of_a_person_and_an_upright_start_on_its_detections(body):
    from dispkit import fit
    from dispkit.camera import Camera

    im = detectors.photograph("cameraman")
    assert im.shape == (512, 512, 3) and 0.0 <= im.min() and im.max() <= 1.0
    with pytest.raises(KeyError, match="cameraman"):
        detectors.photograph("nobody")
    H, W = im.shape[:2]
    cam = Camera.full_image(W, H)
    kp = torch.zeros(1, 25, 2)
    conf = torch.zeros(1, 25)
    neck, hip = OPENPOSE_NAMES.index("Neck"), OPENPOSE_NAMES.index("MidHip")
    kp[0, neck], kp[0, hip] = torch.tensor([200.0, 150.0]), torch.tensor([210.0, 300.0])
    conf[0, [neck, hip]] = 1.0
    start = fit.upright_start(body, kp, conf, cam)
    with torch.no_grad():
        out = body(**start)
    px = cam.project(out.openpose)[0]
    torch.testing.assert_close(px[hip], kp[0, hip], atol=0.05, rtol=0)      # the mid-hip on its ray
    assert float((px[neck] - px[hip]).norm()) == pytest.approx(150.33, rel=0.05)   # the torso's length, roughly
    assert float(px[0, 1]) < float(px[hip, 1])                              # upright: the nose above the hip
    conf[0, neck] = 0
    with pytest.raises(ValueError, match="neck and the mid-hip"):
        fit.upright_start(body, kp, conf, cam)


@needs_mediapipe
def test_blazepose_on_the_photograph_finds_the_head_and_shoulders():
    im = detectors.photograph("cameraman")
    kp, conf = detectors.BlazePose()(im[None])
    for name in ("Nose", "Neck", "RShoulder", "LShoulder", "MidHip"):
        assert float(conf[0, OPENPOSE_NAMES.index(name)]) > 0.9
    nose, hip = kp[0, OPENPOSE_NAMES.index("Nose")], kp[0, OPENPOSE_NAMES.index("MidHip")]
    assert float(nose[1]) < float(hip[1])                                  # the head above the hips
