"""dispkit.net: the two-branch encoder + stacked hourglass of §3.1."""
import pytest
import torch

from dispkit import net
from dispkit.camera import Camera
from dispkit.render import render


def test_configs_build_and_output_one_field_per_stack():
    for name, stacks in (("cpu", net.CONFIGS["cpu"].stacks), ("paper", 4)):
        for inputs, c in (("full", 10), ("no_texture", 7), ("texture_only", 3)):
            m = net.build(name, inputs=inputs)
            assert m.config.render_channels == c
            if name == "paper" and inputs != "full":
                continue  # the paper-size forward is slow on a CPU: once is enough
            outs = m(torch.rand(1, 3, 32, 32), torch.rand(1, c, 32, 32))
            assert len(outs) == stacks and all(o.shape == (1, 2, 32, 32) for o in outs)


def test_paper_config_has_resnet50_stage1_shapes():
    m = net.build("paper")
    enc = m.image_encoder
    convs = [mod for mod in enc.modules() if isinstance(mod, torch.nn.Conv2d)]
    assert convs[0].kernel_size == (7, 7) and convs[0].out_channels == 64
    assert all(c.stride == (1, 1) for c in convs)  # stride 1 everywhere
    assert not any(isinstance(mod, torch.nn.MaxPool2d) for mod in enc.modules())  # no max-pool
    assert enc.out_channels == 256 and len(m.hourglass.hgs) == 4
    n_bottlenecks = sum(isinstance(mod, net.Bottleneck) for mod in enc.modules())
    assert n_bottlenecks == 3  # ResNet-50's stage 1


def test_render_inputs_and_predict(body):
    from conftest import posed

    v = posed(body, B=2)
    cam = Camera.full_image(64, 64)
    views = render(v, body, cam, texture=torch.rand(32, 32, 3))
    x = net.render_inputs(views, "full")
    assert x.shape == (2, 10, 64, 64)
    m = views["mask"]
    assert (x.permute(0, 2, 3, 1)[~m] == 0).all()
    depth = x[:, 3][m]
    assert depth.abs().max() < 1.0 and abs(float(depth.mean())) < 0.2  # relative depth, metres
    assert torch.equal(net.render_inputs(views, "texture_only"), x[:, :3])
    assert torch.equal(net.render_inputs(views, "no_texture"), x[:, 3:])
    model = net.build("cpu")
    field = model.predict(torch.rand(2, 64, 64, 3), views)
    assert field.shape == (2, 64, 64, 2) and (field[~m] == 0).all() and field[m].abs().sum() > 0
    assert model.training  # predict restores the mode
    # predict = last stack * field_scale, masked
    model.eval()
    with torch.no_grad():
        raw = model(torch.rand(2, 3, 64, 64).mul(0).add(0.5), x)[-1]
    f2 = model.predict(torch.full((2, 3, 64, 64), 0.5), views)
    assert torch.allclose(f2[m], (raw.permute(0, 2, 3, 1) * model.config.field_scale)[m], atol=1e-5)


def test_bad_inputs():
    m = net.build("cpu")
    with pytest.raises(ValueError, match="unknown config"):
        net.build("huge")
    with pytest.raises(ValueError, match="unknown input set"):
        net.build("cpu", inputs="depth_only")
    with pytest.raises(ValueError, match=r"renderings must have shape \[B,10,H,W\]"):
        m(torch.rand(1, 3, 32, 32), torch.rand(1, 7, 32, 32))
    with pytest.raises(ValueError, match="multiples of 8"):
        m(torch.rand(1, 3, 36, 36), torch.rand(1, 10, 36, 36))
    with pytest.raises(ValueError, match="needs the 'rgb' rendering"):
        net.render_inputs({"mask": torch.ones(1, 8, 8, dtype=torch.bool), "depth": torch.ones(1, 8, 8)}, "full")


def test_every_shipped_network_loads_with_its_config_log_and_recorded_command():
    """Each name of PRETRAINED is a file in the package with its config.json and log.csv; its weights load into the
    config the file names; the steps it trained, its init and its input set are those of the recorded command."""
    import csv
    import json
    import shlex

    from dispkit.checkpoints import CHECKPOINT_DIR, PRETRAINED, load_checkpoint, load_pretrained

    names = [n for n in PRETRAINED if n != "cpu"]
    assert PRETRAINED["cpu"] in names
    for name in names:
        cfg = json.loads((CHECKPOINT_DIR / f"{name}.json").read_text())
        with open(CHECKPOINT_DIR / f"{name}.log.csv") as f:
            log = list(csv.DictReader(f))
        state = load_checkpoint(CHECKPOINT_DIR / f"{name}.pt")
        words = shlex.split(PRETRAINED[name].split("#")[0])
        flag = {a: b for a, b in zip(words, words[1:]) if a.startswith("--")}
        assert state["step"] == int(flag["--steps"]) == cfg["train"]["steps"] == int(log[-1]["step"]), name
        assert state["net_config"]["inputs"] == cfg["net"]["inputs"] == flag["--inputs"], name
        init = cfg["train"].get("init") or ""
        assert init == flag.get("--init", ""), name
        assert init == "" or init in PRETRAINED, name
        model = load_pretrained(name)
        want = {k: v for k, v in cfg["net"].items() if k != "extra"}
        assert not model.training and {k: v for k, v in model.config.to_dict().items() if k != "extra"} == want, name
