"""The broad training distribution (dispkit.data.broad) and the training run's precision choice (issue 16)."""
import numpy as np
import pytest
import torch

from dispkit import machine, train
from dispkit.data import broad, ood
from dispkit.data.poses import ANATOMICAL_LIMITS, KEY_POSES, mirror_euler
from dispkit.data.regressors import REGRESSOR_PRESETS
from dispkit.data.training import DisplacementDataset


def _nearest(e, families):
    return min(float(np.sqrt(((e - f) ** 2).sum(-1).mean())) for f in families)


def test_broad_poses_are_continuous_inside_the_limits_and_stay_away_from_the_ood_families():
    rng = np.random.default_rng(0)
    draws = [broad.sample_euler_pose_broad(rng) for _ in range(600)]
    poses = np.stack([e for e, _ in draws])
    assert (poses >= ANATOMICAL_LIMITS[..., 0] - 1e-9).all() and (poses <= ANATOMICAL_LIMITS[..., 1] + 1e-9).all()
    sources = [s for _, s in draws]
    assert set(sources) == set(broad.POSE_SOURCES)
    assert all(abs(sources.count(s) / len(sources) - p) < 0.07 for s, p in broad.POSE_SOURCES.items())
    # far from the 12 key poses: the continuous poses cover more than the kit's generator does
    keys = [e for v in KEY_POSES.values() for e in (v, mirror_euler(v))]
    cont = [e for e, s in draws if s == "continuous"]
    assert np.median([_nearest(e, keys) for e in cont]) > 0.35
    # and they rarely come as close to an OOD family as the OOD split's own poses do (its 90th percentile)
    fams = [e for v in ood.OOD_POSES.values() for e in (v, mirror_euler(v))]
    own = np.percentile([_nearest(ood.sample_euler_pose_ood(rng)[0], fams) for _ in range(200)], 90)
    near = np.mean([_nearest(e, fams) < own for e in poses])
    assert near < 0.05, f"{near:.1%} of broad poses lie within the OOD families' own spread"


def test_broad_scenes_vary_the_frame_the_camera_and_the_regressor():
    rng = np.random.default_rng(1)
    sizes, ks = set(), []
    for _ in range(40):
        gt, cam, meta = broad.sample_params_broad(rng)
        sizes.add(meta["image_size"])
        assert float(cam.center[0, 0]) == pytest.approx(meta["image_size"][0] / 2)
        init, desc = broad.simulate_regressor_broad(gt, rng)
        assert desc.split(":")[1].split("x")[0] in REGRESSOR_PRESETS
        ks.append(float(desc.rsplit("x", 1)[1]))
        assert init["body_pose"].shape == gt["body_pose"].shape and torch.isfinite(init["transl"]).all()
    assert sizes >= {(320, 240), (240, 320)} and sizes <= set(broad.BROAD_IMAGE_SIZES)
    assert min(ks) >= 0.3 and max(ks) <= 1.5 and max(ks) - min(ks) > 0.7


def test_the_broad_dataset_is_deterministic_per_index_and_checks_its_arguments(tmp_path):
    ds = DisplacementDataset(crop=32, seed=3, distribution="broad", texture_size=32)
    a, b = ds[5], ds[5]
    assert a["image"].shape == (3, 32, 32) and a["field"].shape == (32, 32, 2)
    assert all(torch.equal(a[k], b[k]) for k in ("image", "field", "rgb", "mask"))
    assert not torch.equal(ds[6]["image"], a["image"])
    with pytest.raises(ValueError, match="distribution"):
        DisplacementDataset(crop=32, distribution="ood")
    with pytest.raises(ValueError, match="not a folder"):
        DisplacementDataset(crop=32, background_dir=tmp_path / "missing")


def test_the_mixed_distribution_draws_the_kit_share_of_kit_scenes_and_the_rest_broad():
    from dispkit.data import training

    picks = [training._pick_distribution(np.random.default_rng([0, i, 31337]), "mixed") for i in range(2000)]
    share = picks.count("kit") / len(picks)
    assert set(picks) == {"kit", "broad"} and abs(share - training.KIT_SHARE) < 0.04
    assert training._pick_distribution(np.random.default_rng(0), "broad") == "broad"
    ds = DisplacementDataset(crop=32, seed=3, distribution="mixed", texture_size=32)
    a, b = ds[2], ds[2]
    assert all(torch.equal(a[k], b[k]) for k in ("image", "field", "mask")) and torch.isfinite(a["field"]).all()
    assert not train.check_config(train.TrainConfig(distribution="mixed"))


def test_precision_auto_follows_the_bf16_units_and_bf16_steps_train(monkeypatch):
    monkeypatch.setattr(machine, "cpu_has_bf16", lambda: False)
    assert train.resolve_precision("auto", "cpu") == "fp32"
    monkeypatch.setattr(machine, "cpu_has_bf16", lambda: True)
    assert train.resolve_precision("auto", "cpu") == "bf16"
    assert train.resolve_precision("fp32", "cpu") == "fp32"
    with pytest.raises(ValueError, match="precision"):
        train.resolve_precision("fp16", "cpu")
    cfg = train.TrainConfig(config="cpu", batch_size=2, warmup=1, steps=4)
    nc = train._net_config(cfg)
    g = torch.Generator().manual_seed(0)
    S, mask = 64, torch.zeros(2, 64, 64, dtype=torch.bool)
    mask[:, 8:-8, 12:-12] = True
    batch = {"image": torch.rand(2, 3, S, S, generator=g), "mask": mask, "depth": torch.rand(2, S, S, generator=g),
             "field": torch.randn(2, 1, 1, 2, generator=g).expand(2, S, S, 2) * mask[..., None],
             **{k: torch.rand(2, S, S, 3, generator=g) for k in ("rgb", "normal", "vertex_color")}}
    losses = {}
    for precision in ("fp32", "bf16"):
        model, opt, sched, _ = train._model_and_optimiser(cfg, nc, None, "cpu")
        if precision == "bf16":
            model = model.to(memory_format=torch.channels_last)
        before = [p.detach().clone() for p in model.parameters()]
        losses[precision] = train._train_step(model, opt, sched, batch, nc, "cpu", precision)
        assert all(np.isfinite(losses[precision]))
        assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), before))
    # same seeded weights and batch: bf16 rounds the forward pass, the loss stays close
    assert losses["bf16"][0] == pytest.approx(losses["fp32"][0], rel=0.05)


def test_train_command_line_refuses_unknown_distribution_precision_and_missing_backgrounds(tmp_path):
    base = train.TrainConfig(out=str(tmp_path / "run"))
    assert "distribution" in train.check_config(train.TrainConfig(**{**vars(base), "distribution": "ood"}))
    assert "precision" in train.check_config(train.TrainConfig(**{**vars(base), "precision": "fp16"}))
    assert "backgrounds" in train.check_config(train.TrainConfig(**{**vars(base), "backgrounds": str(tmp_path / "x")}))
    assert train.check_config(base) == ""


def test_crop_pixels_outside_the_full_frame_are_black_as_at_test_time():
    from dispkit.camera import crop_image
    from dispkit.data.training import _inside_frame

    box = torch.tensor([-20.0, 10.0, 60.0, 90.0])            # the left quarter of the crop is outside a 100 x 80 image
    m = _inside_frame(box, 16, 100, 80)
    ref = crop_image(torch.ones(1, 1, 80, 100), box[None], (16, 16))[0, 0]
    assert m[:, :4].sum() == 0 and m[:, 4:].sum() > 0
    assert ((ref > 0.5).float() == m).float().mean() > 0.95


def test_broad_backgrounds_draw_every_family_deterministically_and_a_users_folder(tmp_path):
    seen = []
    real_choice = np.random.Generator.choice

    for seed in range(60):
        bg = broad.make_background_broad(np.random.default_rng(seed), 24, 40)
        assert bg.shape == (24, 40, 3) and bg.dtype == torch.float32
        assert float(bg.min()) >= 0 and float(bg.max()) <= 1
        assert torch.equal(bg, broad.make_background_broad(np.random.default_rng(seed), 24, 40))
        rng = np.random.default_rng(seed)
        fams = list(broad.BACKGROUND_FAMILIES)
        seen.append(fams[int(real_choice(rng, len(fams), p=list(broad.BACKGROUND_FAMILIES.values())))])
    assert set(seen) == set(broad.BACKGROUND_FAMILIES)
    # the families differ: edges (clutter, checker, lines) give larger neighbour differences than the kit's scene
    def edginess(fam):
        vals = [float((b[:, 1:] - b[:, :-1]).abs().mean()) for s, f in enumerate(seen) if f == fam
                for b in [broad.make_background_broad(np.random.default_rng(s), 24, 40)]]
        return float(np.mean(vals))
    assert edginess("checker") > edginess("kit")
    from PIL import Image

    Image.fromarray(np.full((10, 10, 3), 200, np.uint8)).save(tmp_path / "a.png")
    user = broad.make_background_broad(0, 8, 8, tmp_path)
    assert torch.allclose(user, torch.full((8, 8, 3), 200 / 255), atol=1e-6)
