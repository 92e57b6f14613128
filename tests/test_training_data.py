"""dispkit.data.training: on-the-fly samples (deterministic per index, worker-safe) and fixed splits."""
import numpy as np
import pytest
import torch

from dispkit.data.synthetic import make_scene
from dispkit.data.training import DisplacementDataset, load_split, scene_sample, write_split


@pytest.fixture(scope="module")
def ds(body):
    return DisplacementDataset(crop=48, seed=3, body=body)


def test_samples_are_deterministic_and_complete(ds):
    a, b, c = ds[7], ds[7], ds[8]
    for k in a:
        if torch.is_tensor(a[k]):
            assert torch.equal(a[k], b[k]), k
    assert not torch.equal(a["image"], c["image"])
    assert a["image"].shape == (3, 48, 48) and a["field"].shape == (48, 48, 2) and a["mask"].dtype == torch.bool
    for k, c_ in (("rgb", 3), ("normal", 3), ("vertex_color", 3)):
        assert a[k].shape == (48, 48, c_)
    m = a["mask"]
    assert 0.03 < m.float().mean() < 0.9
    assert (a["field"][~m] == 0).all() and a["field"][m].norm(dim=-1).mean() > 0.05
    assert 0 <= float(a["image"].min()) and float(a["image"].max()) <= 1
    assert a["scale"] > 0


def test_samples_are_bit_identical_across_processes_and_thread_settings(ds):
    """The documented claim: a sample is computed under one fixed thread setting (one torch and one renderer
    thread), so a spawned single-threaded worker and the main process under any thread count make the same
    bits, and the caller's settings are restored."""
    from dispkit import raster

    loader = torch.utils.data.DataLoader(ds, batch_size=2, sampler=[0, 1, 2, 3], num_workers=2,
                                         multiprocessing_context="spawn")
    batches = list(loader)
    old = torch.get_num_threads()
    try:
        for n in (2, 1):
            torch.set_num_threads(n)
            raster.set_num_threads(n)
            for i in range(4):
                here, there = ds[i], batches[i // 2]
                for k, v in here.items():
                    if torch.is_tensor(v):
                        assert torch.equal(there[k][i % 2], v), (n, i, k)
            assert torch.get_num_threads() == n and raster.set_num_threads(n) == n  # both restored
    finally:
        torch.set_num_threads(old)
        raster.set_num_threads(None)
    assert set(sum((b["source"] for b in batches), [])) <= {"gt_pose", "hmr-like", "pare-like", "perturbed",
                                                             "prohmr-like"}


def test_gt_field_moves_rendered_pixels_onto_the_person(body):
    """x + f(x) of every rendered pixel of the initial mesh lands on the GT person in the image."""
    inside = []
    for seed in range(3):
        scene = make_scene(seed, "prohmr-like", body=body)
        s = scene_sample(scene, 64, body)
        m = s["mask"]
        i, j = torch.nonzero(m, as_tuple=True)
        p = torch.stack([j + 0.5, i + 0.5], -1) + s["field"][m]                  # crop pixels
        full = s["box"][:2] + p / s["scale"]                                      # full-image pixels
        c = full.round().long()
        ok = (c[:, 0] >= 0) & (c[:, 0] < scene.width) & (c[:, 1] >= 0) & (c[:, 1] < scene.height)
        hit = torch.zeros(len(c), dtype=torch.bool)
        hit[ok] = scene.mask[c[ok, 1], c[ok, 0]]
        inside.append(hit.float().mean())
        # without the field, far fewer pixels of the initial mesh lie on the person
        c0 = (s["box"][:2] + torch.stack([j + 0.5, i + 0.5], -1) / s["scale"]).round().long().clamp(min=0)
        c0[:, 0] = c0[:, 0].clamp(max=scene.width - 1)
        c0[:, 1] = c0[:, 1].clamp(max=scene.height - 1)
        assert scene.mask[c0[:, 1], c0[:, 0]].float().mean() < hit.float().mean()
    assert min(inside) > 0.9, inside


def test_split_round_trip_and_drift_detection(tmp_path, body):
    path = write_split(tmp_path / "split.npz", seeds=[5, 9], body=body)
    scenes = list(load_split(path, body=body))
    assert [s.seed for s in scenes] == [5, 9]
    d = dict(np.load(path))
    d["init_betas"] = d["init_betas"] + 0.1
    np.savez(tmp_path / "drift.npz", **d)
    with pytest.raises(ValueError, match="no longer matches"):
        list(load_split(tmp_path / "drift.npz", body=body))


def test_bad_arguments():
    with pytest.raises(ValueError, match="crop"):
        DisplacementDataset(crop=4)
    with pytest.raises(ValueError, match="unknown init modes"):
        DisplacementDataset(mix={"magic": 1.0})


def test_texture_pool_builds_once_resumes_and_feeds_the_dataset(tmp_path, body, monkeypatch):
    from dispkit.data import training

    calls = []
    real_make_scene = training.make_scene

    def flaky(seed, *a, **kw):  # dies on the third person: the first chunk of 2 must survive
        calls.append(seed)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_make_scene(seed, *a, **kw)

    monkeypatch.setattr(training, "make_scene", flaky)
    with pytest.raises(KeyboardInterrupt):
        training.texture_pool(3, cache_dir=tmp_path, body=body, progress=False, chunk=2)
    monkeypatch.setattr(training, "make_scene", real_make_scene)
    counted = []
    monkeypatch.setattr(training, "make_scene", lambda s, *a, **kw: counted.append(s) or real_make_scene(s, *a, **kw))
    path = training.texture_pool(3, cache_dir=tmp_path, body=body, progress=False, chunk=2)
    assert counted == [training.POOL_SEED0 + 2]          # only the unfinished chunk was rebuilt
    pool = training.load_texture_pool(path)
    assert pool["true"].shape == pool["estimated"].shape == (3, 128, 128, 3) and pool["true"].dtype == np.uint8
    assert 0.2 < pool["info"]["mean_coverage"] < 1 and pool["info"]["mean_seen_error_255"] < 60
    # the back-projected texture (shading baked in, so compare by correlation) resembles its own person most
    from dispkit.texture import sample_at_vertices

    t, e = ([sample_at_vertices(torch.from_numpy(x / 255.0).float(), body).reshape(-1).numpy() for x in pool[k]]
            for k in ("true", "estimated"))
    corr = np.corrcoef(e, t)[:3, 3:]
    assert (np.diag(corr) > 0.5).all() and (corr.argmax(1) == np.arange(3)).all(), corr
    counted.clear()
    assert training.texture_pool(3, cache_dir=tmp_path, body=body, progress=False) == path and not counted

    ds = DisplacementDataset(crop=48, seed=3, body=body, texture="backprojected", pool=path)
    a, b = ds[5], ds[5]
    assert torch.equal(a["rgb"], b["rgb"]) and torch.equal(a["image"], b["image"])
    # wiring: the RGB rendering shows the pool's *estimated* texture (a flat green one here)
    fake = tmp_path / "fake_pool"
    fake.mkdir()
    np.save(fake / "true.npy", np.full((2, 128, 128, 3), 128, np.uint8))
    np.save(fake / "estimated.npy", np.broadcast_to(np.array([10, 200, 30], np.uint8), (2, 128, 128, 3)).copy())
    (fake / "info.json").write_text("{}")
    a = DisplacementDataset(crop=48, seed=3, body=body, texture="backprojected", pool=fake)[5]
    assert torch.allclose(a["rgb"][a["mask"]], torch.tensor([10, 200, 30]) / 255.0, atol=1e-5)
    with pytest.raises(ValueError, match="texture_size"):
        DisplacementDataset(crop=48, texture_size=64, texture="backprojected", pool=path)
    with pytest.raises(ValueError, match="pool"):
        DisplacementDataset(crop=48, texture="backprojected")
    with pytest.raises(ValueError, match="simulated"):
        DisplacementDataset(crop=48, texture="painted")
    with pytest.raises(FileNotFoundError, match="texture pool"):
        DisplacementDataset(crop=48, texture="backprojected", pool=tmp_path)
