"""The wide appearance (dispkit.data.wide) and the shipped photographs (dispkit.data.photos): what trains stays apart
from what evaluates, every draw is a pure function of its seed, and the scenes change only their look."""
import numpy as np
import pytest
import torch

from dispkit.data import photos, wide
from dispkit.data.synthetic import make_scene, scene_params


def test_photographs_are_listed_with_licences_and_split_by_photograph():
    train, held = set(photos.photographs("train")), set(photos.photographs("heldout"))
    assert train and held and not train & held and train | held == set(photos.PHOTOGRAPHS)
    for name, (package, file, what, licence, split) in photos.PHOTOGRAPHS.items():
        assert licence and what and split in ("train", "heldout")
        img = photos.load_photograph(name)
        assert img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 150, name
        assert img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1 and img.std() > 0.05, name
    assert "grace_hopper" in held and "brick" in held           # the OOD split's brick walls are never trained on
    with pytest.raises(ValueError, match="split"):
        photos.photographs("test")
    with pytest.raises(KeyError, match="no photograph"):
        photos.load_photograph("lena")


def _record_photos(monkeypatch):
    seen = []
    real = photos.load_photograph
    monkeypatch.setattr(photos, "load_photograph", lambda name: seen.append(name) or real(name))
    return seen


def test_training_draws_never_touch_a_held_out_photograph(monkeypatch):
    seen = _record_photos(monkeypatch)
    for s in range(60):
        wide.background_wide(s, 24, 32, "train", photo_share=1.0)
        wide.make_texture_wide(s, 32, split="train")
    assert seen and set(seen) <= set(photos.photographs("train"))
    assert len(set(seen)) >= 6                                 # many photographs, not one
    seen.clear()
    for s in range(30):
        wide.background_wide(s, 24, 32, "heldout")
        wide.make_texture_wide(s, 32, split="heldout")
    assert seen and set(seen) <= set(photos.photographs("heldout"))


def test_photo_background_is_a_seeded_varied_view():
    a, b, c = (photos.photo_background(s, 40, 56) for s in (1, 1, 2))
    assert a.shape == (40, 56, 3) and a.dtype == torch.float32 and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b) and not torch.allclose(a, c)
    views = torch.stack([photos.photo_background(s, 16, 16, names=["astronaut"]) for s in range(20)])
    assert views.flatten(1).std(0).mean() > 0.1                # crops of one photograph differ from each other


def test_clothing_families_of_each_split():
    tr = [wide.make_texture_wide(s, 32, split="train")[1] for s in range(80)]
    he = [wide.make_texture_wide(s, 32, split="heldout")[1] for s in range(40)]
    fam_tr = {f for i in tr for f in i.values()}
    fam_he = {f for i in he for f in i.values()}
    assert fam_tr <= set(wide.TRAIN_FAMILIES) and len(fam_tr) >= 6
    assert fam_he <= set(wide.HELDOUT_FAMILIES) and {"camo", "tartan"} <= fam_he
    # only "photo" is shared by name, and it draws from the split's own photographs (checked above)
    assert set(wide.TRAIN_FAMILIES) & set(wide.HELDOUT_FAMILIES) == {"photo"}
    t1, i1 = wide.make_texture_wide(7, 32)
    t2, i2 = wide.make_texture_wide(7, 32)
    assert torch.equal(t1, t2) and i1 == i2 and t1.shape == (32, 32, 3) and 0 <= t1.min() and t1.max() <= 1
    assert any(i["upper"] != i["lower"] for i in tr)          # upper and lower garments differ
    with pytest.raises(ValueError, match="split"):
        wide.make_texture_wide(0, 32, split="test")


def test_shade_wide_lights_the_person_and_leaves_the_range(body):
    from dispkit.render import render

    scene = make_scene(3, texture_size=64)
    with torch.no_grad():
        r = render(body(**scene.gt).vertices, body, scene.camera, texture=scene.texture,
                   modalities=("rgb", "normal", "mask"))
    bg = torch.full((scene.height, scene.width, 3), 0.5)
    means = []
    for s in range(12):
        img, light, ambient, sd = wide.shade_wide(r["rgb"][0], r["normal"][0], r["mask"][0], bg, s)
        assert img.shape == bg.shape and 0 <= img.min() and img.max() <= 1
        assert abs(float(light.norm()) - 1) < 1e-5 and 0.05 <= ambient <= 0.7 and 0.002 <= sd <= 0.02
        means.append(float(img[r["mask"][0]].mean()))
    assert np.ptp(means) > 0.1                                 # strong and weak light both occur
    a, *_ = wide.shade_wide(r["rgb"][0], r["normal"][0], r["mask"][0], bg, 5)
    b, *_ = wide.shade_wide(r["rgb"][0], r["normal"][0], r["mask"][0], bg, 5)
    assert torch.equal(a, b)


@pytest.mark.parametrize("distribution,families", [("wide", wide.TRAIN_FAMILIES), ("photo", wide.HELDOUT_FAMILIES)])
def test_wide_scenes_change_only_the_look(body, distribution, families):
    kit = scene_params(11, "pare-like", body=body)
    other = scene_params(11, "pare-like", body=body, distribution=distribution)
    for a, b in zip(kit[:2], other[:2]):
        for k in a:
            assert torch.equal(a[k], b[k])                     # same person, pose, camera and estimate
    s = make_scene(11, body=body, texture_size=64, distribution=distribution)
    assert set(s.meta["clothing"].values()) <= set(families) and s.distribution == distribution
    assert not torch.allclose(s.image, make_scene(11, body=body, texture_size=64).image)


def test_wide_training_samples_and_pool(body, tmp_path):
    from dispkit.data.training import DisplacementDataset, load_texture_pool, texture_pool

    path = texture_pool(2, cache_dir=tmp_path, body=body, progress=False, distribution="wide")
    assert "wide" in path.name and load_texture_pool(path)["info"]["distribution"] == "wide"
    assert texture_pool(2, cache_dir=tmp_path, body=body, progress=False) != path   # the kit's pool is another
    with pytest.raises(ValueError, match="kit.*wide"):
        texture_pool(2, cache_dir=tmp_path, body=body, progress=False, distribution="photo")
    ds = DisplacementDataset(crop=32, seed=4, body=body, texture="backprojected", pool=path, distribution="wide")
    a, b = ds[3], ds[3]
    assert torch.equal(a["image"], b["image"]) and a["image"].shape == (3, 32, 32)
    assert a["field"].shape == (32, 32, 2) and torch.isfinite(a["field"]).all()


def test_train_cli_takes_the_wide_distribution():
    from dispkit.train import TrainConfig, check_config

    assert check_config(TrainConfig(distribution="wide")) == ""
    assert "distribution" in check_config(TrainConfig(distribution="photo"))
