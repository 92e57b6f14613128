"""Bad inputs at the kit's front doors (issue 19): a clear error of a documented type, or a finite, flagged result.

Property-based tests (hypothesis, derandomized so that CI is reproducible) over the public entry points: random
shapes, dtypes, value ranges, NaN/inf placements, missing and extra keys, batch mismatches, empty batches, files
that exist but hold something else. The property everywhere: an error of :mod:`dispkit.inputs` (``FileNotFoundError``
where a file is missing), or a finite result with correct flags -- never a crash deep inside, a NaN, or a silent
success on garbage. Then the issue's three cases as plain tests, and the command lines.
"""
from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import dispkit
from dispkit import fit, inputs, net, pipeline, priors, terms
from dispkit.camera import Camera
from dispkit.inputs import (
    BatchMismatchError,
    EmptyBatchError,
    FileContentError,
    InputDtypeError,
    InputError,
    InputRangeError,
    InputShapeError,
    InputTypeError,
    MissingKeyError,
    NonFiniteInputError,
    UnexpectedKeyError,
    UnknownNameError,
)
from dispkit.raster import rasterize
from dispkit.render import render
from dispkit.texture import estimate_texture

ROOT = Path(__file__).resolve().parents[1]
W, H = 32, 24  # small full images keep every example cheap
OK = "ok"


def cheap(n: int):
    """Hypothesis settings of these tests: n examples, no deadline (a loaded CI machine), reproducible."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def covering(cases, name="case"):
    """Every case once as an explicit example (so that each kind of mistake is tried at every run), before the
    randomly drawn ones of ``@given``."""
    def deco(f):
        for c in reversed(cases):
            f = example(**{name: c, "seed": 0})(f)
        return f
    return deco


def outcome(call):
    """``(result, None)``, or ``(None, error)`` for a refused input (an :class:`InputError`, whose message must be
    one readable line); anything else -- a crash deep inside -- propagates and fails the test."""
    try:
        return call(), None
    except InputError as e:
        assert str(e) and "\n" not in str(e) and len(str(e)) < 3000, repr(e)
        return None, e


def expect(call, expected, case):
    """Run ``call``; ``expected`` is OK or an error type of dispkit.inputs. Returns the result when OK."""
    result, err = outcome(call)
    if expected is OK:
        assert err is None, f"{case}: refused a valid input: {err!r}"
        return result
    assert isinstance(err, expected), f"{case}: expected {expected.__name__}, got {err!r} (result {type(result)})"
    return None


@pytest.fixture(scope="module")
def tiny_net():
    """An untrained network small enough for many examples (these tests check plumbing, not accuracy)."""
    torch.manual_seed(0)
    return net.build(net.NetConfig(name="tiny", stem_width=4, block_width=4, blocks=1, features=8, stacks=1,
                                   depth=1, crop=16, field_scale=1.0))


@pytest.fixture(scope="module")
def problem(body):
    """A valid call of the whole method on a 32x24 image: a person ~3 m in front of the camera."""
    g = torch.Generator().manual_seed(0)
    init = body.zero_params(1)
    init["global_orient"][:, 0] = math.pi
    init["body_pose"] = 0.1 * torch.randn(1, 69, generator=g)
    init["transl"] = torch.tensor([[0.0, 0.1, 3.0]])
    cam = Camera.full_image(W, H)
    image = torch.rand(1, H, W, 3, generator=g)
    texture = torch.rand(8, 8, 3, generator=g)
    return {"init": init, "cam": cam, "image": image, "texture": texture}


NO_ITERS = fit.FitConfig(camera_iters=0, body_iters=0)  # the checks and flags, not the optimisation (test_fit's)
ONE_ITER = fit.FitConfig(camera_iters=0, body_iters=1)


def check_fit(r, B: int, init: dict | None = None, flagged=None):
    """A FitResult's flags are consistent and its numbers finite: ``fitted[b]`` exactly when ``messages[b]`` is
    empty; frames ``flagged`` {b: word} are not fitted, say ``word`` and come back unchanged."""
    assert r.fitted.dtype == torch.bool and r.fitted.shape == (B,) and len(r.messages) == B
    assert all(torch.isfinite(v).all() for v in r.params.values()) and torch.isfinite(r.vertices).all()
    for b in range(B):
        assert bool(r.fitted[b]) == (r.messages[b] == ""), (b, r.fitted, r.messages)
    for b, word in (flagged or {}).items():
        assert not bool(r.fitted[b]) and word in r.messages[b], (b, r.messages[b])
        for k in fit.PARAM_NAMES:
            torch.testing.assert_close(r.params[k][b], torch.as_tensor(init[k][b]).float())


# =========================================================================== mutations of the inputs
def _nan_at(x: torch.Tensor, seed: int, value=float("nan")) -> torch.Tensor:
    x = x.clone().float()
    x.view(-1)[seed % x.numel()] = value
    return x


def image_case(kind: str, image: torch.Tensor, seed: int):
    """(image, expected) for a mutation of a valid float image [1,H,W,3]."""
    cases = {
        "float32": (image, OK), "float64": (image.double(), OK), "float16": (image.half(), OK),
        "uint8": ((image * 255).round().to(torch.uint8), OK), "single [H,W,3]": (image[0], OK),
        "numpy": (image.numpy(), OK),
        "int16": ((image * 255).to(torch.int16), InputDtypeError), "int64": (image.long(), InputDtypeError),
        "bool": (image > 0.5, InputDtypeError), "complex": (image.to(torch.complex64), InputDtypeError),
        "[B,3,H,W]": (image.permute(0, 3, 1, 2), InputShapeError), "RGBA": (torch.cat([image, image[..., :1]], -1),
                                                                            InputShapeError),
        "grey [B,H,W]": (image[..., 0], InputShapeError), "5-d": (image[None], InputShapeError),
        "0-255 floats": (image * 255, InputRangeError), "negative": (image - 0.5, InputRangeError),
        "NaN": (_nan_at(image, seed), NonFiniteInputError), "inf": (_nan_at(image, seed, float("inf")),
                                                                    NonFiniteInputError),
        "empty batch": (image[:0], EmptyBatchError), "other size": (torch.rand(1, H, W + 1, 3), InputShapeError),
        "two images": (image.repeat(2, 1, 1, 1), BatchMismatchError), "string": ("image.png", InputTypeError),
        "None": (None, InputTypeError),
    }
    return cases[kind]


IMAGE_KINDS = ["float32", "float64", "float16", "uint8", "single [H,W,3]", "numpy", "int16", "int64", "bool",
               "complex", "[B,3,H,W]", "RGBA", "grey [B,H,W]", "5-d", "0-255 floats", "negative", "NaN", "inf",
               "empty batch", "other size", "two images", "string", "None"]


def init_case(kind: str, init: dict, seed: int):
    """(init, expected, flagged word or None) for a mutation of valid parameters (batch 1)."""
    key = fit.PARAM_NAMES[seed % 4]
    d = {k: v.clone() for k, v in init.items()}
    if kind == "missing key":
        return {k: v for k, v in d.items() if k != key}, MissingKeyError, None
    if kind == "extra key":
        return dict(d, latent=torch.zeros(1, 32)), UnexpectedKeyError, None
    if kind == "wrong width":
        d[key] = torch.zeros(1, d[key].shape[1] + 1 + seed % 3)
        return d, InputShapeError, None
    if kind == "no batch dim":
        d[key] = d[key][0]
        return d, InputShapeError, None
    if kind == "rotation matrices":
        d["global_orient"] = torch.eye(3)[None]
        return d, InputShapeError, None
    if kind == "NaN":
        d[key] = _nan_at(d[key], seed)
        return d, NonFiniteInputError, None
    if kind == "inf":
        d[key] = _nan_at(d[key], seed, -float("inf"))
        return d, NonFiniteInputError, None
    if kind == "batch mismatch":
        d[key] = d[key].repeat(2, 1)
        return d, BatchMismatchError, None
    if kind == "empty batch":
        return {k: v[:0] for k, v in d.items()}, EmptyBatchError, None
    if kind == "huge":
        d[key] = d[key] + 1e6
        return d, InputRangeError, None
    if kind == "bool":
        d[key] = d[key] > 0
        return d, InputDtypeError, None
    if kind == "string":
        d[key] = "zeros"
        return d, InputTypeError, None
    if kind == "not a dict":
        return list(d.values()), InputTypeError, None
    if kind == "numpy and lists":
        return {k: (v.numpy() if i % 2 else v.tolist()) for i, (k, v) in enumerate(d.items())}, OK, None
    if kind == "float64":
        return {k: v.double() for k, v in d.items()}, OK, None
    if kind == "50 m aside":
        d["transl"] = d["transl"] + torch.tensor([50.0 + seed % 7, 0.0, 0.0])
        return d, OK, "outside the image"
    if kind == "behind the camera":
        d["transl"] = d["transl"] * torch.tensor([1.0, 1.0, -1.0])
        return d, OK, "behind"
    if kind == "at the camera":
        d["transl"] = d["transl"] * torch.tensor([1.0, 1.0, 0.0])
        return d, OK, "behind or too close"
    if kind == "1 km away":
        d["transl"] = d["transl"] + torch.tensor([0.0, 0.0, 1000.0])
        return d, OK, "too small"
    return d, OK, None


INIT_KINDS = ["valid", "missing key", "extra key", "wrong width", "no batch dim", "rotation matrices", "NaN", "inf",
              "batch mismatch", "empty batch", "huge", "bool", "string", "not a dict", "numpy and lists", "float64",
              "50 m aside", "behind the camera", "at the camera", "1 km away"]


def texture_case(kind: str, texture: torch.Tensor, seed: int):
    cases = {
        "valid": (texture, OK), "uint8": ((texture * 255).to(torch.uint8), OK), "1x1": (texture[:1, :1], OK),
        "3x7": (torch.rand(3, 7, 3), OK), "RGBA": (torch.cat([texture, texture[..., :1]], -1), OK),
        "batched": (texture[None], OK),
        "2 channels": (texture[..., :2], InputShapeError), "flat": (texture[..., 0], InputShapeError),
        "NaN": (_nan_at(texture, seed), NonFiniteInputError), "0-255 floats": (texture * 255, InputRangeError),
        "int32": ((texture * 255).int(), InputDtypeError), "3 textures": (texture[None].repeat(3, 1, 1, 1),
                                                                          BatchMismatchError),
        "no texels": (texture[:0], InputShapeError), "None": (None, InputTypeError),
    }
    return cases[kind]


TEXTURE_KINDS = ["valid", "uint8", "1x1", "3x7", "RGBA", "batched", "2 channels", "flat", "NaN", "0-255 floats",
                 "int32", "3 textures", "no texels", "None"]


def camera_case(kind: str, cam: Camera):
    return {"valid": (cam, OK), "not a Camera": ({"focal": 40.0}, InputTypeError),
            "3 cameras": (cam.expand(3), BatchMismatchError),
            "other image size": (Camera.full_image(2 * W, 2 * H), InputShapeError)}[kind]


CAMERA_KINDS = ["valid", "not a Camera", "3 cameras", "other image size"]

CASES = ([("image", k) for k in IMAGE_KINDS] + [("init", k) for k in INIT_KINDS]
         + [("texture", k) for k in TEXTURE_KINDS] + [("cam", k) for k in CAMERA_KINDS])
#: the valid variants of the image, texture and camera (each a full run of the pipeline): tried once through
#: predicted_dense_term, whose checks refine uses; refine tries every other case, and all of them at random
VALID_VARIANTS = [("image", k) for k in ("float32", "float64", "float16", "single [H,W,3]", "numpy")] + [
    ("texture", k) for k in ("valid", "1x1", "3x7", "RGBA", "batched")] + [("cam", "valid")]


# =========================================================================== refine and predicted_dense_term
@cheap(8)
@covering([c for c in CASES if c not in VALID_VARIANTS])
@given(case=st.sampled_from(CASES), seed=st.integers(0, 10_000))
def test_refine_answers_every_bad_input(body, tiny_net, problem, case, seed):
    what, kind = case
    event(f"{what}: {kind}")
    args = dict(problem)
    expected, flagged = OK, None
    if what == "image":
        args["image"], expected = image_case(kind, problem["image"], seed)
    elif what == "init":
        args["init"], expected, flagged = init_case(kind, problem["init"], seed)
    elif what == "texture":
        args["texture"], expected = texture_case(kind, problem["texture"], seed)
    else:
        args["cam"], expected = camera_case(kind, problem["cam"])
    r = expect(lambda: dispkit.refine(args["image"], args["init"], args["cam"], args["texture"], net=tiny_net,
                                      prior=None, body=body, config=NO_ITERS), expected, case)
    if r is not None:
        check_fit(r, 1, args["init"] if flagged else None, {0: flagged} if flagged else None)
        if not flagged:
            assert bool(r.fitted[0]), (case, r.messages)


@cheap(4)
@covering(VALID_VARIANTS)
@given(case=st.sampled_from([c for c in CASES if c[0] != "init"]), seed=st.integers(0, 10_000))
def test_predicted_dense_term_answers_every_bad_input(body, tiny_net, problem, case, seed):
    what, kind = case
    args = dict(problem)
    expected = OK
    if what == "image":
        args["image"], expected = image_case(kind, problem["image"], seed)
    elif what == "texture":
        args["texture"], expected = texture_case(kind, problem["texture"], seed)
    else:
        args["cam"], expected = camera_case(kind, problem["cam"])
    with torch.no_grad():
        verts = body(**problem["init"]).vertices
    out = expect(lambda: pipeline.predicted_dense_term(args["image"], verts, args["cam"], args["texture"], body,
                                                       tiny_net), expected, case)
    if out is not None:
        term, extras = out
        assert term.valid.shape == (1,) and bool(term.valid[0]) and extras["unusable"] == [""]
        assert torch.isfinite(term.targets).all() and torch.isfinite(extras["field"]).all()


def test_predicted_dense_term_refuses_bad_vertices_nets_and_boxes(body, tiny_net, problem):
    with torch.no_grad():
        verts = body(**problem["init"]).vertices
    call = lambda **kw: pipeline.predicted_dense_term(kw.get("image", problem["image"]), kw.get("v", verts),
                                                      problem["cam"], problem["texture"], body,
                                                      kw.get("net", tiny_net), box=kw.get("box"))
    expect(lambda: call(v=verts[..., :2]), InputShapeError, "vertices [B,V,2]")
    expect(lambda: call(v=verts[:, :100]), InputShapeError, "another body's vertices")
    expect(lambda: call(v=_nan_at(verts, 5)), NonFiniteInputError, "NaN vertices")
    expect(lambda: call(v=verts.repeat(2, 1, 1)), BatchMismatchError, "two meshes, one image")
    expect(lambda: call(net=object()), InputTypeError, "not a network")
    expect(lambda: call(box=torch.tensor([[5.0, 5.0, 2.0, 20.0]])), InputRangeError, "x1 < x0")
    expect(lambda: call(box=torch.tensor([[0.0, 0.0, float("nan"), 20.0]])), NonFiniteInputError, "NaN box")
    term, _ = expect(lambda: call(box=torch.tensor([0.0, 0.0, 24.0, 24.0])), OK, "a box [4]")
    assert torch.isfinite(term.targets).all()


def test_refine_sequence_answers_bad_inputs(body, tiny_net, problem):
    T = 3
    init = {k: v.repeat(T, 1) for k, v in problem["init"].items()}
    images = problem["image"].repeat(T, 1, 1, 1)
    seq = lambda images=images, init=init, cam=problem["cam"], **kw: pipeline.refine_sequence(
        images, init, cam, net=tiny_net, prior=None, body=body, config=NO_ITERS, progress=False,
        **{"texture_size": 8, **kw})
    expect(lambda: seq(images=images[0]), InputShapeError, "one image as a sequence")
    expect(lambda: seq(images=images[:0], init={k: v[:0] for k, v in init.items()}), EmptyBatchError, "no frames")
    expect(lambda: seq(images=(images * 255)), InputRangeError, "0-255 floats")
    expect(lambda: seq(init={k: v[:2] for k, v in init.items()}), BatchMismatchError, "2 estimates, 3 images")
    expect(lambda: seq(cam=problem["cam"].expand(2)), BatchMismatchError, "2 cameras, 3 images")
    expect(lambda: seq(batch=0), InputRangeError, "batch 0")
    expect(lambda: seq(texture_frames=1.5), InputTypeError, "texture_frames 1.5")
    expect(lambda: seq(texture_size=-4), InputRangeError, "texture_size -4")
    init_far = dict(init, transl=init["transl"] + torch.tensor([[0.0, 0.0, 0.0], [60.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    r = expect(lambda: seq(images=(images * 255).round().to(torch.uint8), init=init_far, batch=2), OK, "uint8")
    check_fit(r, T, init_far, {1: "outside the image"})
    assert r.fitted.tolist() == [True, False, True]
    assert torch.isfinite(r.inputs["texture"]).all() and r.inputs["texture"].shape == (8, 8, 3)


def test_refine_sequence_reads_frames_lazily(body, tiny_net, problem):
    """A sequence of frames read one at a time (what the evaluation protocol passes) gives the fit of the same
    frames as one tensor; a given texture is used as it is; a bad frame is named."""
    T = 3
    init = {k: v.repeat(T, 1) for k, v in problem["init"].items()}
    images = problem["image"].repeat(T, 1, 1, 1)
    read = []

    class Frames:
        def __len__(self):
            return T

        def __getitem__(self, t):
            read.append(t)
            return images[t]

    seq = lambda images, **kw: pipeline.refine_sequence(images, init, problem["cam"], net=tiny_net, prior=None,
                                                        body=body, config=NO_ITERS, progress=False,
                                                        **{"texture_size": 8, "batch": 2, **kw})
    whole = seq(images)
    lazy = seq(Frames())
    assert sorted(set(read)) == [0, 1, 2] and len(read) <= 2 * T  # the texture frames, then each frame once
    assert torch.allclose(lazy.inputs["texture"], whole.inputs["texture"], atol=1e-5)
    for k in whole.params:
        assert torch.allclose(lazy.params[k], whole.params[k], atol=1e-4), k
    given = torch.full((8, 8, 3), 0.25)
    again = seq(Frames(), texture=given)
    assert torch.equal(again.inputs["texture"], given) and again.inputs["texture_info"] == {"given": True}
    expect(lambda: seq(Frames(), texture=given.repeat(2, 1, 1, 1)), InputShapeError, "two textures")
    expect(lambda: seq(object()), InputTypeError, "not a sequence")
    expect(lambda: seq([]), EmptyBatchError, "an empty list")
    expect(lambda: seq([images[0], images[1], images[2, :, :, :2]]), InputShapeError, "a two-channel frame")
    expect(lambda: seq([images[0], images[1] * 255, images[2]]), InputRangeError, "a 0-255 float frame")


# =========================================================================== smplify
def _dense(body, init, cam, B=1, visible=True):
    with torch.no_grad():
        targets = cam.project(body(**init).vertices)
    vis = torch.full(targets.shape[:2], bool(visible))
    return terms.DenseTerm(targets[:B].expand(B, -1, -1), vis[:B].expand(B, -1), size=20.0)


SMPLIFY_CASES = ([("init", k) for k in INIT_KINDS if k not in ("50 m aside", "behind the camera", "at the camera",
                                                                 "1 km away")]
                 + [("cam", "not a Camera"), ("cam", "3 cameras"), ("data", "not a term"), ("data", "2 frames"),
                    ("data", "nothing visible"), ("prior", "unknown"), ("prior", "not callable"), ("prior", "gmm")])


@cheap(8)
@covering(SMPLIFY_CASES)
@given(case=st.sampled_from(SMPLIFY_CASES), seed=st.integers(0, 10_000))
def test_smplify_answers_every_bad_input(body, problem, case, seed):
    what, kind = case
    event(f"{what}: {kind}")
    init, cam = problem["init"], problem["cam"]
    data, prior, expected = _dense(body, init, cam), None, OK
    if what == "init":
        init, expected, _ = init_case(kind, init, seed)
    elif what == "cam":
        cam, expected = camera_case(kind, cam)
    elif kind == "not a term":
        data, expected = {"targets": data.targets}, InputTypeError
    elif kind == "2 frames":
        data, expected = _dense(body, init, cam, B=2), BatchMismatchError
    elif kind == "nothing visible":
        data = _dense(body, init, cam, visible=False)
    elif kind == "unknown":
        prior, expected = "gaussian", UnknownNameError
    elif kind == "not callable":
        prior, expected = 42, InputTypeError
    else:
        prior = "gmm"
    r = expect(lambda: fit.smplify(body, init, cam, data, prior=prior, config=ONE_ITER), expected, case)
    if r is not None:
        check_fit(r, 1, init, {0: "no usable data"} if kind == "nothing visible" else None)


# =========================================================================== render and rasterize
def vertices_case(kind: str, v: torch.Tensor, seed: int):
    return {"valid": (v, OK), "[V,3]": (v[0], OK), "float64": (v.double(), OK), "int": ((v * 100).long(), OK),
            "[B,V,2]": (v[..., :2], InputShapeError), "[B,V,3,1]": (v[..., None], InputShapeError),
            "NaN": (_nan_at(v, seed), NonFiniteInputError),
            "inf": (_nan_at(v, seed, float("inf")), NonFiniteInputError),
            "bool": (v > 0, InputDtypeError), "empty": (v[:0], EmptyBatchError),
            "other body": (v[:, :50], InputShapeError), "None": (None, InputTypeError),
            "aside": (v + torch.tensor([50.0, 0, 0]), OK), "behind": (v * torch.tensor([1.0, 1.0, -1.0]), OK)}[kind]


VERTEX_KINDS = ["valid", "[V,3]", "float64", "int", "[B,V,2]", "[B,V,3,1]", "NaN", "inf", "bool", "empty",
                "other body", "None", "aside", "behind"]
RENDER_CASES = ([("vertices", k) for k in VERTEX_KINDS] + [("texture", k) for k in TEXTURE_KINDS]
                + [("cam", "not a Camera"), ("cam", "3 cameras"), ("near", "0"), ("near", "NaN"), ("near", "far")])


@cheap(8)
@covering(RENDER_CASES)
@given(case=st.sampled_from(RENDER_CASES), seed=st.integers(0, 10_000))
def test_render_answers_every_bad_input(body, problem, case, seed):
    what, kind = case
    event(f"{what}: {kind}")
    with torch.no_grad():
        v = body(**problem["init"]).vertices
    cam, tex, kw, expected = problem["cam"], problem["texture"], {}, OK
    if what == "vertices":
        v, expected = vertices_case(kind, v, seed)
    elif what == "texture":
        tex, expected = texture_case(kind, tex, seed)
        if kind == "None":  # no texture: no rgb, not an error
            expected = OK
    elif what == "cam":
        cam, expected = camera_case(kind, cam)
    else:
        kw = {"0": {"near": 0.0}, "NaN": {"near": float("nan")}, "far": {"near": 2.0, "far": 1.0}}[kind]
        expected = NonFiniteInputError if kind == "NaN" else InputRangeError
    out = expect(lambda: render(v, body, cam, texture=tex, **kw), expected, case)
    if out is not None:
        B = 1
        for k in ("rgb", "depth", "normal", "vertex_color", "bary", "uv"):
            if k in out:
                assert out[k].shape[:3] == (B, H, W) and torch.isfinite(out[k]).all(), k
        assert ("rgb" in out) == (tex is not None)
        assert torch.equal(out["mask"], out["face_index"] >= 0)
        assert int(out["face_index"].max()) < body.faces.shape[0]
        if kind in ("aside", "behind"):
            assert not out["mask"].any()
        elif kind in ("valid", "[V,3]", "float64"):
            assert out["mask"].any()


QUAD = (torch.tensor([[-0.5, -0.5, 0.5, 1.0], [0.5, -0.5, 0.5, 1.0], [0.5, 0.5, 0.5, 1.0], [-0.5, 0.5, 0.5, 1.0]]),
        torch.tensor([[0, 1, 2], [0, 2, 3]], dtype=torch.int32))
RASTER_CASES = {
    "valid": {}, "[N,4]": {"pos": QUAD[0]}, "int pos": {"pos": (QUAD[0] * 2).long()},
    "float64": {"pos": QUAD[0].double()},
    "two meshes": {"pos": QUAD[0][None].repeat(2, 1, 1)}, "no faces": {"faces": QUAD[1][:0]},
    "torch backend": {"backend": "torch"}, "one int resolution": {"res": 8}, "float resolution 8.0": {"res": (8.0, 6)},
    "pos [B,N,3]": ({"pos": QUAD[0][None, :, :3]}, InputShapeError), "pos NaN": ({"pos": "nan"}, NonFiniteInputError),
    "pos inf": ({"pos": "inf"}, NonFiniteInputError), "pos bool": ({"pos": QUAD[0] > 0}, InputDtypeError),
    "pos empty batch": ({"pos": QUAD[0][None][:0]}, EmptyBatchError), "pos string": ({"pos": "abc"}, InputTypeError),
    "faces float": ({"faces": QUAD[1].float()}, InputDtypeError), "faces out of range": ({"faces": QUAD[1] + 2},
                                                                                          InputRangeError),
    "faces negative": ({"faces": QUAD[1] - 1}, InputRangeError), "faces [F,2]": ({"faces": QUAD[1][:, :2]},
                                                                                  InputShapeError),
    "faces None": ({"faces": None}, InputTypeError), "resolution 0": ({"res": (0, 6)}, InputRangeError),
    "resolution -3": ({"res": -3}, InputRangeError), "resolution 2.5": ({"res": (2.5, 6)}, InputRangeError),
    "resolution 3-d": ({"res": (8, 6, 2)}, InputShapeError), "resolution str": ({"res": "8x6"}, InputShapeError),
    "resolution bool": ({"res": (True, 6)}, InputRangeError), "backend opengl": ({"backend": "opengl"},
                                                                                  UnknownNameError),
}


@cheap(10)
@covering(sorted(RASTER_CASES), name="kind")
@given(kind=st.sampled_from(sorted(RASTER_CASES)), seed=st.integers(0, 10_000))
def test_rasterize_answers_every_bad_input(kind, seed):
    spec = RASTER_CASES[kind]
    spec, expected = spec if isinstance(spec, tuple) else (spec, OK)
    pos = spec.get("pos", QUAD[0][None])
    if isinstance(pos, str) and pos in ("nan", "inf"):
        pos = _nan_at(QUAD[0][None], seed, float(pos))
    faces, res = spec.get("faces", QUAD[1]), spec.get("res", (6, 8))
    rast = expect(lambda: rasterize(pos, faces, res, backend=spec.get("backend", "auto")), expected, kind)
    if rast is not None:
        Hr, Wr = (res, res) if isinstance(res, int) else (int(res[0]), int(res[1]))
        assert rast.shape[1:] == (Hr, Wr, 4) and rast.dtype == torch.float32 and torch.isfinite(rast).all()
        assert 0 <= int(rast[..., 3].max()) <= len(faces)
        assert bool((rast[..., 3] > 0).any()) == (len(faces) > 0)


# =========================================================================== estimate_texture
TEXTURE_EST_CASES = ([("images", k) for k in IMAGE_KINDS if k not in ("single [H,W,3]", "two images")]
                     + [("vertices", k) for k in ("[B,V,2]", "NaN", "empty", "other body", "aside", "behind")]
                     + [("size", s) for s in ("0", "-1", "1.5", "9000", "1", "'8'")] + [("cam", "not a Camera"),
                                                                                           ("cam", "3 cameras")])


@cheap(8)
@covering(TEXTURE_EST_CASES)
@given(case=st.sampled_from(TEXTURE_EST_CASES), seed=st.integers(0, 10_000))
def test_estimate_texture_answers_every_bad_input(body, problem, case, seed):
    what, kind = case
    with torch.no_grad():
        v = body(**problem["init"]).vertices
    images, cam, size, expected = problem["image"], problem["cam"], 8, OK
    if what == "images":
        images, expected = image_case(kind, images, seed)
        if kind == "other size":
            expected = InputShapeError
    elif what == "vertices":
        v, expected = vertices_case(kind, v, seed)
        if kind == "empty":
            expected = BatchMismatchError  # no mesh for the one image
    elif what == "size":
        size = {"0": 0, "-1": -1, "1.5": 1.5, "9000": 9000, "1": 1, "'8'": "8"}[kind]
        expected = {"0": InputRangeError, "-1": InputRangeError, "1.5": InputTypeError, "9000": InputRangeError,
                    "1": OK, "'8'": InputTypeError}[kind]
    else:
        cam, expected = camera_case(kind, cam)
    out = expect(lambda: estimate_texture(images, v, cam, body, size=size), expected, case)
    if out is not None:
        tex, info = out
        assert tex.shape == (size, size, 3) and torch.isfinite(tex).all()
        assert float(tex.min()) >= -1e-6 and float(tex.max()) <= 1 + 1e-6
        assert 0.0 <= info["coverage"] <= 1.0
        if kind in ("aside", "behind"):
            assert info["coverage"] == 0.0


# =========================================================================== files: readers, body models, priors, nets
def _array(shape, fill):
    return np.full(shape, fill, np.float32)


ARRAYS = st.builds(_array, st.lists(st.integers(0, 4), max_size=3).map(tuple), st.sampled_from([0.0, 1.0, -2.0,
                                                                                               float("nan")]))
VALUES = st.one_of(ARRAYS, st.lists(ARRAYS, max_size=2), st.text(max_size=4), st.integers(-2, 3), st.none())


def pickled_dicts(keys):
    return st.dictionaries(st.sampled_from(list(keys) + ["junk"]), VALUES, max_size=len(keys) + 1)


def write_content(path: Path, content, fmt: str) -> None:
    """Write ``content`` (bytes, or a dict) as ``fmt``: raw bytes, pickle, npz, mat, json or xml."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif fmt == "pickle":
        path.write_bytes(pickle.dumps(content, protocol=2))
    elif fmt == "npz":
        np.savez(path, **{k: np.asarray(v) if not isinstance(v, list) else np.zeros(0) for k, v in content.items()
                          if v is not None})
    elif fmt == "mat":
        from scipy.io import savemat
        savemat(str(path), {k: (v if isinstance(v, np.ndarray) else np.zeros(1)) for k, v in content.items()
                            if k.isidentifier()})
    elif fmt == "json":
        path.write_text(json.dumps(content, default=lambda a: np.asarray(a).tolist(), allow_nan=True))


def _truncated_pickle(d):
    raw = pickle.dumps(d, protocol=2)
    return raw[: max(1, len(raw) // 2)]


GARBAGE = st.one_of(st.binary(max_size=64), st.just(b""), st.just(b"PK\x03\x04garbage"), st.just(b"\x80\x02}q\x00."),
                    st.just(b"<?xml version='1.0'?><opencv_storage><a><rows>x</rows></a>"),
                    st.just(_truncated_pickle({"poses": [np.zeros((3, 72))]})))


def reader_call(name: str, path: Path):
    from dispkit.data import densepose, h36m, openpose, surreal, threedpw

    return {"3dpw": lambda: threedpw.read_3dpw(path), "h36m": lambda: h36m.read_h36m_spin(path),
            "surreal": lambda: surreal.read_surreal_info(path), "openpose": lambda: openpose.read_openpose_json(path),
            "densepose": lambda: densepose.read_densepose(path)}[name]


READER_FORMATS = {
    "3dpw": ("pickle", ".pkl", ("sequence", "poses", "trans", "betas", "cam_poses", "cam_intrinsics", "campose_valid",
                                "poses2d", "genders")),
    "h36m": ("npz", ".npz", ("imgname", "center", "scale", "pose", "shape", "part", "S", "gender")),
    "surreal": ("mat", "_info.mat", ("pose", "shape", "camLoc", "zrot", "joints3D", "joints2D", "gender")),
    "openpose": ("json", "_keypoints.json", ("people", "version")),
    "densepose": ("pickle", ".pkl", ("file_name", "scores", "pred_boxes_XYXY", "pred_densepose")),
}


@pytest.mark.parametrize("reader", sorted(READER_FORMATS))
@cheap(25)
@given(data=st.data())
def test_readers_refuse_files_that_hold_something_else(tmp_path, reader, data):
    fmt, suffix, keys = READER_FORMATS[reader]
    content = data.draw(st.one_of(GARBAGE, pickled_dicts(keys)), label="content")
    if reader == "densepose" and isinstance(content, dict) and data.draw(st.booleans()):
        content = [content]
    if reader == "openpose" and isinstance(content, dict) and "people" in content:
        content["people"] = data.draw(st.lists(st.dictionaries(st.sampled_from(["pose_keypoints_2d", "x"]),
                                                               st.lists(st.floats(-5, 5), max_size=80)), max_size=2))
    path = tmp_path / f"f{suffix}"
    write_content(path, content, fmt)
    out, err = outcome(reader_call(reader, path))
    if err is None:  # read: then it is what the reader promises
        if reader == "openpose":
            xy, conf = out
            assert xy.shape == (25, 2) and conf.shape == (25,)
        elif reader == "densepose":
            assert isinstance(out, list)
        else:
            assert len(out) == out.global_orient.shape[0] and out.body_pose.shape[1:] == (69,)


def test_readers_answer_missing_files_and_bad_arguments(tmp_path):
    from dispkit.data import openpose, rich, threedpw

    with pytest.raises(FileNotFoundError):
        threedpw.read_3dpw(tmp_path / "none.pkl")
    expect(lambda: threedpw.read_3dpw(None), InputTypeError, "a None path")
    with open(tmp_path / "seq.pkl", "wb") as f:
        pickle.dump({"sequence": "s", "poses": [np.zeros((2, 72))], "trans": [np.zeros((2, 3))],
                     "betas": [np.zeros(10)], "cam_poses": np.tile(np.eye(4), (2, 1, 1)),
                     "cam_intrinsics": np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])}, f)
    assert len(threedpw.read_3dpw(tmp_path / "seq.pkl")) == 2
    expect(lambda: threedpw.read_3dpw(tmp_path / "seq.pkl", person=1), InputRangeError, "person 1 of 1")
    expect(lambda: threedpw.read_3dpw(tmp_path / "seq.pkl", person="0"), InputTypeError, "person '0'")
    expect(lambda: threedpw.read_3dpw(tmp_path / "seq.pkl", image_size=(0, 10)), InputRangeError, "width 0")
    with open(tmp_path / "short.pkl", "wb") as f:  # 2 frames of poses, 3 of translations
        pickle.dump({"sequence": "s", "poses": [np.zeros((2, 72))], "trans": [np.zeros((3, 3))],
                     "betas": [np.zeros(10)], "cam_poses": np.tile(np.eye(4), (2, 1, 1)),
                     "cam_intrinsics": np.eye(3)}, f)
    expect(lambda: threedpw.read_3dpw(tmp_path / "short.pkl"), FileContentError, "frames disagree")
    (tmp_path / "k_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": [0.0] * 75}]}))
    expect(lambda: openpose.read_openpose_json(tmp_path / "k_keypoints.json", person=3), InputRangeError,
           "person 3 of 1")
    with pytest.raises(FileNotFoundError):
        openpose.read_openpose_json(tmp_path / "none.json")
    (tmp_path / "cam.xml").write_text("<?xml version='1.0'?><opencv_storage><Intrinsics type_id='opencv-matrix'>"
                                      "<rows>3</rows><cols>3</cols><dt>d</dt><data>1 0 0 0 1</data></Intrinsics>"
                                      "</opencv_storage>")
    expect(lambda: rich.read_opencv_xml(tmp_path / "cam.xml"), FileContentError, "5 values for 3 x 3")


BODY_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


@cheap(30)
@given(content=st.one_of(GARBAGE, pickled_dicts(BODY_KEYS)), fmt=st.sampled_from(["pickle", "npz"]))
def test_load_body_model_refuses_files_that_hold_something_else(tmp_path, content, fmt):
    from dispkit.body import load_body_model

    path = tmp_path / ("m.npz" if fmt == "npz" else "m.pkl")
    if isinstance(content, dict) and fmt == "npz":
        content = {k: v for k, v in content.items() if isinstance(v, np.ndarray)}
    write_content(path, content, fmt)
    out, err = outcome(lambda: load_body_model(path))
    if err is None:
        assert torch.isfinite(out().vertices).all()


def test_load_body_model_arguments(tmp_path):
    from dispkit.body import OPEN_MODEL_PATH, load_body_model

    expect(lambda: load_body_model(None), InputTypeError, "model None")
    expect(lambda: load_body_model("open", num_betas=0), InputRangeError, "num_betas 0")
    expect(lambda: load_body_model("open", num_betas=11), InputRangeError, "num_betas 11 > 10")
    expect(lambda: load_body_model("open", num_betas=2.5), InputTypeError, "num_betas 2.5")
    expect(lambda: load_body_model("open", dtype=torch.int32), InputDtypeError, "dtype int32")
    with pytest.raises(FileNotFoundError, match="smpl.is.tue.mpg.de"):
        load_body_model(tmp_path / "SMPL_NEUTRAL.pkl")
    d = dict(np.load(OPEN_MODEL_PATH))
    d["v_template"] = d["v_template"].copy()
    d["v_template"][3, 0] = np.nan
    np.savez(tmp_path / "nan.npz", **d)
    expect(lambda: load_body_model(tmp_path / "nan.npz"), FileContentError, "NaN in the template")
    del d["posedirs"]
    np.savez(tmp_path / "short.npz", **d)
    expect(lambda: load_body_model(tmp_path / "short.npz"), MissingKeyError, "no posedirs")


def _gmm_file(path, means, covars, weights):
    np.savez(path, means=means, covars=covars, weights=weights)
    return f"gmm:{path}"


@cheap(20)
@given(content=st.one_of(GARBAGE, pickled_dicts(("means", "covars", "weights"))), kind=st.sampled_from(
    ["gmm", "vposer", "cnf"]))
def test_load_prior_refuses_files_that_hold_something_else(tmp_path, content, kind):
    path = tmp_path / ("p.pkl" if kind == "gmm" else "p.pt")
    write_content(path, content, "pickle")
    out, err = outcome(lambda: priors.load_prior(f"{kind}:{path}"))
    if err is None and not hasattr(out, "latent_init"):
        assert torch.isfinite(out(torch.zeros(1, 69), torch.zeros(1, 10))).all()


def test_load_prior_names_objects_and_gmm_files(tmp_path):
    priors._load_named.cache_clear()
    eye = np.repeat(np.eye(69)[None], 2, 0)
    assert torch.isfinite(priors.load_prior(_gmm_file(tmp_path / "ok.npz", np.zeros((2, 69)), eye, [0.5, 0.5]))(
        torch.zeros(1, 69))).all()
    expect(lambda: priors.load_prior(_gmm_file(tmp_path / "neg.npz", np.zeros((2, 69)), -eye, [0.5, 0.5])),
           FileContentError, "negative covariances")
    expect(lambda: priors.load_prior(_gmm_file(tmp_path / "nan.npz", np.full((2, 69), np.nan), eye, [0.5, 0.5])),
           FileContentError, "NaN means")
    expect(lambda: priors.load_prior(_gmm_file(tmp_path / "d.npz", np.zeros((2, 60)), eye[:, :60, :60], [.5, .5])),
           FileContentError, "60-d mixture")
    expect(lambda: priors.load_prior("gaussian"), UnknownNameError, "unknown name")
    expect(lambda: priors.load_prior(3.0), InputTypeError, "a number")
    with pytest.raises(FileNotFoundError, match="smplify"):
        priors.load_prior(f"gmm:{tmp_path / 'gmm_08.pkl'}")
    assert priors.load_prior(None) is None  # smplify's "no pose prior"


@cheap(12)
@given(content=st.one_of(GARBAGE, pickled_dicts(("format", "net_config", "model"))),
       tamper=st.sampled_from(["none", "crop", "stacks", "nan", "weights", "inputs", "field_scale"]))
def test_load_pretrained_refuses_files_that_hold_something_else(tmp_path, tiny_net, content, tamper):
    from dispkit import checkpoints

    path = tmp_path / "c.pt"
    if tamper == "none":
        write_content(path, content, "pickle")
    else:  # a real checkpoint with one field broken
        state = {"format": "dispkit-displacement-net/1", "net_config": tiny_net.config.to_dict(),
                 "model": {k: v.clone() for k, v in tiny_net.state_dict().items()}}
        if tamper in ("crop", "stacks", "inputs", "field_scale"):
            state["net_config"][tamper] = {"crop": "16", "stacks": -1, "inputs": "albedo", "field_scale": 0.0}[tamper]
        elif tamper == "nan":
            next(iter(state["model"].values())).fill_(float("nan"))
        else:
            state["model"].popitem()
        torch.save(state, path)
    expect(lambda: checkpoints.load_pretrained(str(path)), FileContentError, tamper)


def test_load_pretrained_names_and_files(tmp_path, tiny_net):
    from dispkit import checkpoints

    with pytest.raises(FileNotFoundError, match="cpu_full"):
        checkpoints.load_pretrained("gpu_full")
    expect(lambda: checkpoints.load_pretrained(None), InputTypeError, "None")
    checkpoints.save_checkpoint(tmp_path / "ok.pt", tiny_net)
    assert checkpoints.load_pretrained(tmp_path / "ok.pt").config.crop == 16


# =========================================================================== the issue's three cases
def test_uint8_image_gives_the_float_images_fit(body, tiny_net, problem):
    image8 = (problem["image"] * 255).round().to(torch.uint8)
    cfg = fit.FitConfig(camera_iters=1, body_iters=1)
    args = (problem["init"], problem["cam"], problem["texture"])
    a = dispkit.refine(image8.float() / 255, *args, net=tiny_net, prior="gmm", body=body, config=cfg)
    b = dispkit.refine(image8, *args, net=tiny_net, prior="gmm", body=body, config=cfg)
    assert a.fitted.all() and b.fitted.all()
    torch.testing.assert_close(b.vertices, a.vertices)  # the documented conversion: uint8 / 255
    torch.testing.assert_close(b.inputs["crops"], a.inputs["crops"])
    with pytest.raises(InputRangeError, match=r"\[0, 1\].*0-255"):  # 0-255 floats are refused, not guessed
        dispkit.refine(image8.float(), *args, net=tiny_net, prior=None, body=body, config=cfg)


def test_an_estimate_50_m_to_the_side_is_flagged_not_fitted(body, tiny_net, problem):
    init = dict(problem["init"], transl=problem["init"]["transl"] + torch.tensor([50.0, 0.0, 0.0]))
    r = dispkit.refine(problem["image"], init, problem["cam"], problem["texture"], net=tiny_net, prior="gmm",
                       body=body, config=fit.FitConfig(camera_iters=1, body_iters=1))
    assert r.fitted.tolist() == [False]
    assert "outside the image" in r.messages[0] and "0%" in r.messages[0], r.messages
    check_fit(r, 1, init, {0: "left unchanged"})


def test_init_without_transl_names_it(body, tiny_net, problem):
    init = {k: v for k, v in problem["init"].items() if k != "transl"}
    with pytest.raises(MissingKeyError, match="'transl'") as e:
        dispkit.refine(problem["image"], init, problem["cam"], problem["texture"], net=tiny_net, body=body)
    assert isinstance(e.value, KeyError) and isinstance(e.value, ValueError)
    assert str(e.value).startswith("init is missing 'transl'")  # a sentence, not KeyError's quoted repr


def test_errors_keep_their_builtin_types():
    assert issubclass(InputShapeError, ValueError) and issubclass(InputRangeError, ValueError)
    assert issubclass(InputDtypeError, TypeError) and issubclass(InputTypeError, TypeError)
    assert issubclass(MissingKeyError, KeyError) and issubclass(UnexpectedKeyError, KeyError)
    for e in (NonFiniteInputError, BatchMismatchError, EmptyBatchError, FileContentError, UnknownNameError):
        assert issubclass(e, ValueError) and issubclass(e, InputError)
    assert inputs.check_image(torch.full((2, 2, 3), 255, dtype=torch.uint8)).max() == 1.0


# =========================================================================== command lines
def _script(name: str):
    """A benchmark or data script's namespace (its ``main``), loaded without running it."""
    import runpy

    return runpy.run_path(str(ROOT / name), run_name="dispkit_test_" + Path(name).stem)


def _refused(main, argv, says, capsys):
    """``main(argv)`` ends with a non-zero status and one line on stderr that says ``says``, no traceback."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.strip()
    if isinstance(code, str):  # SystemExit("message"): Python prints it and exits 1
        err, code = code, 1
    assert code not in (0, None), (argv, code, err)
    assert len(err.splitlines()) == 1 and says in err and "Traceback" not in err, (argv, err)


def test_command_lines_refuse_bad_arguments_in_one_line(tmp_path, capsys):
    from dispkit import notebooks, train

    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text("step\n")
    missing = str(tmp_path / "nowhere" / "x.pt")
    for argv, says in ((["--steps", "-5"], "--steps must be >= 1"), (["--batch-size", "0"], "--batch-size"),
                       (["--workers", "-1"], "--workers"), (["--steps", "ten"], "invalid int value"),
                       (["--out", str(run)], "--resume"), (["--init", missing], "no such checkpoint"),
                       (["--config", "huge"], "--config must be one of")):
        _refused(train.main, argv, says, capsys)
    _refused(notebooks.main, ["--only", "99"], "no notebook", capsys)
    _refused(notebooks.main, ["--out", str(run / "log.csv")], "is a file", capsys)
    tables, ablation, bench_net = (_script(f"benchmarks/{n}.py")["main"] for n in ("tables", "texture_ablation",
                                                                                  "bench_net"))
    _refused(tables, ["--n", "0"], "--n must be >= 1", capsys)
    _refused(tables, ["--batch", "-2"], "--batch", capsys)
    _refused(tables, ["--net", missing], "neither a shipped", capsys)
    _refused(tables, ["--out", str(tmp_path)], "--out", capsys)
    _refused(ablation, ["--priors", f"gmm:{missing}"], "does not exist", capsys)
    _refused(ablation, ["--body-iters", "-1"], "--body-iters", capsys)
    _refused(ablation, ["--split", "train"], "invalid choice", capsys)
    _refused(ablation, ["--trio", "paper"], "invalid choice", capsys)
    _refused(ablation, ["--full", missing], "neither a shipped", capsys)
    _refused(bench_net, ["--checkpoints", missing], "neither a shipped", capsys)
    capacity = _script("benchmarks/capacity_study.py")["main"]
    _refused(capacity, ["--variants", "base", "huge"], "--variants", capsys)
    _refused(capacity, ["--minutes", "0"], "--minutes must be > 0", capsys)
    licensed, convert = (_script(f"data_scripts/{n}.py")["main"] for n in ("licensed_assets", "convert_estimates"))
    _refused(licensed, ["--check", "--root", missing], "does not exist", capsys)
    _refused(licensed, ["--root", str(run / "log.csv")], "is a file", capsys)
    _refused(convert, [missing, str(tmp_path / "o.npz"), "--width", "10", "--height", "5"], "not found", capsys)
    _refused(convert, [str(run / "log.csv"), str(tmp_path / "o.npz"), "--width", "10", "--height", "5"],
             "not an .npz or a pickle", capsys)
    _refused(convert, [missing, str(tmp_path / "o.npz"), "--width", "-1", "--height", "5"], "--width", capsys)


def test_command_lines_as_processes_exit_nonzero_without_traceback(tmp_path):
    """The same from a shell (two processes started together): exit status, one line, no traceback."""
    cmds = [([sys.executable, "-m", "dispkit.train", "--steps", "-5"], "--steps must be >= 1"),
            ([sys.executable, str(ROOT / "benchmarks" / "tables.py"), "--net", str(tmp_path / "none.pt")],
             "neither a shipped")]
    procs = [(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path),
              argv, says) for argv, says in cmds]
    for p, argv, says in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode != 0, (argv, out, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and says in err, (argv, err)


def test_benchmark_mains_wrap_missing_data_in_one_line(monkeypatch):
    common = _script("benchmarks/_common.py")

    def main():
        raise FileNotFoundError("no split at splits/x.npz:\nwrite it first")

    monkeypatch.setattr(sys, "argv", ["bench_x.py"])
    with pytest.raises(SystemExit) as e:
        common["run"](main)
    assert e.value.code == "bench_x.py: error: no split at splits/x.npz: write it first"
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        common["run"](lambda: 1 / 0)
