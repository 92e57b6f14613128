"""dispkit.train: Eq. 3, checkpoints (atomic, exact resume, clear errors), DDP replicas."""
import csv
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from dispkit import checkpoints, net, train


class FakeData(torch.utils.data.Dataset):
    """Deterministic per index: an image whose content is shifted by a known constant field."""

    def __init__(self, crop=32):
        self.crop = crop

    def __len__(self):
        return 10 ** 6

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(int(i))
        S = self.crop
        mask = torch.zeros(S, S, dtype=torch.bool)
        mask[4:-4, 6:-6] = True
        d = torch.randn(2, generator=g)
        item = {"image": torch.rand(3, S, S, generator=g), "mask": mask,
                "field": d.expand(S, S, 2) * mask[..., None]}
        for k, c in (("rgb", 3), ("normal", 3), ("vertex_color", 3)):
            item[k] = torch.rand(S, S, c, generator=g)
        item["depth"] = torch.rand(S, S, generator=g)
        return item


class Killed(FakeData):
    """The same data, but the process 'dies' when it reaches sample ``after``."""

    def __init__(self, after):
        super().__init__()
        self.after = after

    def __getitem__(self, i):
        if i >= self.after:
            raise RuntimeError("killed")
        return super().__getitem__(i)


def test_eq3_loss_by_hand():
    target = torch.zeros(1, 2, 2, 2)
    out = torch.zeros(1, 2, 2, 2)
    out[0, :, 0, 0] = torch.tensor([1.0, -2.0])   # |1| + |-2| = 3 at a rendered pixel
    out[0, :, 1, 1] = torch.tensor([5.0, 5.0])    # background: ignored
    mask = torch.tensor([[[True, False], [True, False]]])
    loss, per = train.eq3_loss([out, out * 2], target, mask)
    assert per == pytest.approx([3 / 4, 6 / 4])
    assert float(loss) == pytest.approx(9 / 4)


def _cfg(tmp_path, **kw):
    base = dict(config="cpu", inputs="full", steps=6, batch_size=2, lr=1e-3, warmup=2, workers=0,
                checkpoint_every=3, log_every=1, out=str(tmp_path / "run"), crop=32)
    base.update(kw)
    return train.TrainConfig(**base)


def test_training_checkpoints_and_resumes_exactly(tmp_path):
    data = FakeData()
    straight = _cfg(tmp_path, out=str(tmp_path / "straight"))
    s = train.train(straight, dataset=data, progress=False)
    assert s["step"] == 6 and not (tmp_path / "straight" / "last.pt.tmp").exists()
    ref = checkpoints.load_checkpoint(tmp_path / "straight" / "last.pt")["model"]

    # the same run killed during step 5 (its last checkpoint: step 3; its log already has step 4), then resumed
    part = _cfg(tmp_path, out=str(tmp_path / "resumed"))
    with pytest.raises(RuntimeError, match="killed"):
        train.train(part, dataset=Killed(after=8), progress=False)
    assert checkpoints.load_checkpoint(tmp_path / "resumed" / "last.pt")["step"] == 3
    assert len(list(csv.DictReader(open(tmp_path / "resumed" / "log.csv")))) == 4
    r = train.train(part, resume=True, dataset=data, progress=False)
    assert r["resumed"] and r["step"] == 6
    got = checkpoints.load_checkpoint(tmp_path / "resumed" / "last.pt")["model"]
    for k in ref:
        assert torch.equal(ref[k], got[k]), k  # bit-for-bit identical to the uninterrupted run
    rows = list(csv.DictReader(open(tmp_path / "resumed" / "log.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    cfg = json.loads((tmp_path / "resumed" / "config.json").read_text())
    assert cfg["net"]["name"] == "cpu" and cfg["train"]["steps"] == 6


def test_bad_checkpoints_give_clear_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt or truncated"):
        checkpoints.load_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "missing.pt")
    m = net.build("cpu", inputs="no_texture")
    checkpoints.save_checkpoint(tmp_path / "nt.pt", m)
    with pytest.raises(ValueError, match=r"expected 'cpu'/'full'.*inputs"):
        checkpoints.load_checkpoint(tmp_path / "nt.pt", expect=net.build("cpu").config)
    # resuming a run with another input set is refused, naming what the checkpoint holds
    data = FakeData()
    train.train(_cfg(tmp_path, steps=3, inputs="no_texture"), dataset=data, progress=False)
    with pytest.raises(ValueError, match="expected 'cpu'/'full'"):
        train.train(_cfg(tmp_path, steps=4), resume=True, dataset=data, progress=False)
    with pytest.raises(ValueError, match="texture=backprojected"):  # another data stream: refused too
        train.train(_cfg(tmp_path, steps=4, inputs="no_texture", texture="simulated"), resume=True, dataset=data,
                    progress=False)
    with pytest.raises(FileExistsError, match="--resume"):  # never overwrite a run by accident
        train.train(_cfg(tmp_path, steps=3, inputs="no_texture"), dataset=data, progress=False)
    model = checkpoints.model_from_checkpoint(tmp_path / "run" / "last.pt")
    assert model.config.inputs == "no_texture" and not model.training


def test_fine_tuning_starts_from_the_given_weights_and_records_its_crop(tmp_path):
    train.train(_cfg(tmp_path, steps=3, out=str(tmp_path / "src")), dataset=FakeData(), progress=False)
    src = checkpoints.load_checkpoint(tmp_path / "src" / "last.pt")
    assert src["net_config"]["crop"] == 32  # --crop overrides the config's 64, and the checkpoint says so
    # lr 0: one step leaves the parameters where --init put them (BatchNorm statistics still move)
    ft = _cfg(tmp_path, steps=1, lr=0.0, crop=48, init=str(tmp_path / "src" / "last.pt"), out=str(tmp_path / "ft"))
    train.train(ft, dataset=FakeData(crop=48), progress=False)
    model = checkpoints.model_from_checkpoint(tmp_path / "ft" / "last.pt")
    assert model.config.crop == 48
    for name, p in model.named_parameters():
        assert torch.equal(p, src["model"][name]), name
    torch.manual_seed(0)  # what the fine-tuning run would have started from without --init
    fresh = net.build("cpu")
    assert any(not torch.equal(p, src["model"][n]) for n, p in fresh.named_parameters())
    with pytest.raises(ValueError, match="layers differ"):  # another input set has another first layer
        train.train(_cfg(tmp_path, steps=1, inputs="no_texture", init=str(tmp_path / "src" / "last.pt"),
                         out=str(tmp_path / "bad")), dataset=FakeData(), progress=False)


@pytest.mark.slow
def test_ddp_two_cpu_processes_keep_identical_replicas(tmp_path):
    """torchrun with 2 processes (gloo): a few synthetic steps, then both replicas hash to the same parameters."""
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "dispkit.train", "--config", "cpu", "--steps", "3", "--batch-size", "2", "--crop", "32",
           "--workers", "0", "--threads", "1", "--warmup", "1", "--out", str(out), "--no-progress",
           "--texture-pool", "2"]
    # rank 0 builds the (tiny) back-projected texture pool, rank 1 waits at the barrier and reuses it
    env = dict(os.environ, OMP_NUM_THREADS="1", DISPKIT_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    h0, h1 = ((out / f"replica_{r}.sha256").read_text() for r in (0, 1))
    assert h0 == h1
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["world_size"] == 2
    assert checkpoints.load_checkpoint(out / "last.pt")["step"] == 3
    assert cfg["train"]["texture"] == "backprojected"
    assert (tmp_path / "cache" / "texture_pool" / "n2_seed0_tex128_f4_v1" / "info.json").is_file()
    # the replicas moved away from the run's own initialisation (seed 0, crop 32), so training happened
    torch.manual_seed(0)
    init = net.DisplacementNet(replace(net.build("cpu").config, crop=32)).state_dict()
    trained = checkpoints.load_checkpoint(out / "last.pt")["model"]
    assert any(not torch.equal(init[k], trained[k]) for k in init if init[k].is_floating_point())
