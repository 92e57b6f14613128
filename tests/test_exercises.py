"""The notebooks' exercises: every check in dispkit.exercises has a question in a notebook with a collapsed solution,
the solutions pass their checks, unanswered and wrong answers say why (the notebook runs in test_notebooks.py run
the solutions in context as well)."""
import json
import math
import re

import numpy as np
import pytest
import torch

from dispkit.exercises import EXERCISES, check, reset, summary
from dispkit.notebooks import list_notebooks
from dispkit.terms import DATA_WEIGHTS


def _cells():
    """(notebook, cell) for every code cell that calls check("KEY", ...)."""
    for nb in list_notebooks():
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code":
                src = "".join(cell["source"])
                for key in re.findall(r'check\("([0-9]{2}\.[a-z0-9_]+)"', src):
                    yield nb, cell, key, src


def _solutions() -> dict:
    return {key: src for _, cell, key, src in _cells() if "solution" in cell["metadata"].get("tags", [])}


def test_every_exercise_has_a_question_and_a_collapsed_solution_in_its_notebook():
    asked, solved = {}, {}
    for nb, cell, key, _ in _cells():
        assert nb.name.startswith(key[:2]), f"{key} is checked in {nb.name}"
        if "solution" in cell["metadata"].get("tags", []):
            assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, f"{key}: solution not collapsed"
            solved[key] = nb.name
        else:
            asked[key] = nb.name
    assert set(asked) == set(EXERCISES) == set(solved), (set(EXERCISES) ^ set(asked), set(EXERCISES) ^ set(solved))
    for prefix in ("00", "01", "02", "03", "04", "05", "06", "07", "08"):  # two or three per notebook
        assert 2 <= sum(k.startswith(prefix + ".") for k in EXERCISES) <= 3, prefix


# the solutions that need nothing from their notebook but these names
STANDALONE = ["00.focal", "00.project", "02.barycentric", "02.normal_sign", "02.crop_focal", "04.eq2_pixel",
              "04.resolution", "06.eq5_vertex", "06.noise", "09.depth", "09.texture_meshes", "08.crop_to_full",
              "08.paper_gain", "08.dense_weight", "05.eq3_loss", "05.zero_field", "07.gmof", "07.balance",
              "03.median"]


@pytest.mark.parametrize("key", STANDALONE)
def test_the_notebook_solution_passes_its_check(key, capsys):
    reset()
    exec(_solutions()[key], {"np": np, "torch": torch, "math": math, "check": check, "DATA_WEIGHTS": DATA_WEIGHTS})
    assert summary()[key] is True, capsys.readouterr().out
    assert f"[{key}] right:" in capsys.readouterr().out


def test_solutions_that_need_the_notebook_state():
    from dispkit.body import SMPL_JOINT_NAMES, default_body
    from dispkit.data.synthetic import make_scene
    from dispkit.displacement import vertex_displacements

    body = default_body()

    def pose_from(**joints):
        bp = torch.zeros(1, 23, 3)
        for name, aa in joints.items():
            bp[0, SMPL_JOINT_NAMES.index(name) - 1] = torch.as_tensor(aa, dtype=torch.float32)
        return bp.reshape(1, 69)

    reset()
    exec(_solutions()["00.lever"], {"torch": torch, "check": check, "body": body, "pose_from": pose_from})
    scene = make_scene(3, "pare-like", body=body)
    with torch.no_grad():
        gt, init = body(**scene.gt), body(**scene.init)
    exec(_solutions()["04.largest_joint"], {"check": check, "body": body, "scene": scene, "gt": gt, "init": init,
                                            "SMPL_JOINT_NAMES": SMPL_JOINT_NAMES,
                                            "vertex_displacements": vertex_displacements})
    table = {"epe_px": {"full (estimated texture)": 2.0, "+ noise N(0,30)": 2.1, "wrong texture": 2.4,
                        "no texture": 9.0}}
    exec(_solutions()["05.worst_variant"], {"check": check, "table": table})
    assert summary() == {"00.lever": True, "04.largest_joint": True, "05.worst_variant": True}
    assert not check("05.worst_variant", "+ noise N(0,30)", table=table)
    assert not check("05.worst_variant", "wrong texture")          # no table passed: says how
    assert not check("04.largest_joint", "pelvis", scene=scene, body=body)


def test_unanswered_exercises_print_the_hint(capsys):
    for key, ex in EXERCISES.items():
        v = check(key, None)
        assert not v and not v.answered and ex.hint in v.message
    assert "not answered yet" in capsys.readouterr().out


def test_a_stub_function_is_unanswered_not_wrong():
    def stub(*args):
        ...

    for key in ("00.project", "02.barycentric", "04.eq2_pixel", "06.eq5_vertex"):
        v = check(key, stub, verbose=False)
        assert not v and not v.answered and "returns None" in v.message


@pytest.mark.parametrize("key, answer, why", [
    ("00.focal", 1920 + 1080, "w + h"),
    ("00.project", lambda p, w, h: (w * w + h * h) ** 0.5 * p[:, :2] / p[:, 2:], "principal point"),
    ("00.project", lambda p, w, h: p[:, :2] * (w * w + h * h) ** 0.5 + torch.tensor([w / 2, h / 2]), "depth"),
    ("02.crop_focal", math.hypot(256, 256) * 2, "scaled up"),
    ("04.resolution", 4, "number of pixels"),
    ("06.noise", 0.25, "variance"),
    ("09.depth", math.hypot(1920, 1080) / (300 * 0.9), "off by 2"),
    ("09.texture_meshes", "gt", "no ground truth"),
    ("08.crop_to_full", 64 / 160, "inverted"),
    ("08.dense_weight", 0.04, "cNF"),
    ("00.project", lambda p, w, h: 1 / 0, "ZeroDivisionError"),
])
def test_wrong_answers_say_why(key, answer, why):
    v = check(key, answer, verbose=False)
    assert not v and v.answered and why in v.message, v.message


def test_eq5_plain_mean_is_recognised():
    def plain(field, face_index, bary, faces, i):
        fg = face_index >= 0
        hit = (faces[face_index[fg]] == i).any(-1)
        return field[fg][hit].mean(0) if hit.any() else None

    v = check("06.eq5_vertex", plain, verbose=False)
    assert not v and "plain mean" in v.message


def test_unknown_exercise_is_an_error():
    with pytest.raises(KeyError):
        check("99.nothing", 1)
