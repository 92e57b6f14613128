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


def test_dataloader_workers_give_the_same_samples(ds):
    loader = torch.utils.data.DataLoader(ds, batch_size=2, sampler=[0, 1, 2, 3], num_workers=2,
                                         multiprocessing_context="spawn")
    batches = list(loader)
    assert torch.equal(batches[1]["field"][1], ds[3]["field"])
    assert torch.equal(batches[0]["image"][0], ds[0]["image"])
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
