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
STANDALONE = ["00.focal", "00.project", "02.barycentric", "02.crop_focal", "04.eq2_pixel",
              "04.resolution", "06.eq5_vertex", "06.eq5_scatter", "09.depth", "08.crop_to_full",
              "05.eq3_loss", "05.ood_zero_field", "07.gmof",
              "03.median", "01.procrustes"]


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
    exec(_solutions()["04.largest_joint"], {"check": check, "body": body, "scene": scene, "gt_out": gt,
                                            "init_out": init, "SMPL_JOINT_NAMES": SMPL_JOINT_NAMES,
                                            "vertex_displacements": vertex_displacements})
    from dispkit.render import render

    views = render(init.vertices, body, scene.camera, modalities=("mask", "face_index", "bary"))
    exec(_solutions()["06.correlated_noise"], {"check": check, "torch": torch, "body": body, "views": views,
                                               "blur_px": 2.0})
    assert summary() == {"00.lever": True, "04.largest_joint": True, "06.correlated_noise": True}
    assert not check("06.correlated_noise", (1.3, 1.3), views=views, body=body)  # same R: averaging is ignored
    # "no reduction for either": R_independent within a few % of R but far from its reduction R - 1
    v = check("06.correlated_noise", (1.01, 1.0), views=views, body=body, verbose=False)
    assert not v and v.answered and "R_independent = 1.01 is off" in v.message, v.message
    assert not check("05.worst_variant", ("full (estimated texture)", "same"))  # a perturbation, not the estimate
    # 05.worst_variant runs the trio's full network on the notebook's scenes (fast mode: one, the next as wrong)
    live = [make_scene(900_000 + k, "pare-like", body=body) for k in range(2)]
    reset()
    exec(_solutions()["05.worst_variant"], {"check": check, "body": body, "person_texture": None,
                                            "live_scenes": live[:1], "live_next": live[1:]})
    assert summary() == {"05.worst_variant": True}
    assert not check("04.largest_joint", "pelvis", scene=scene, body=body)


def test_the_edge_normals_experiment_measures_the_render_it_is_given(capsys):
    """02.edge_normals: the notebook's solution (a measurement on its wide-angle render) passes on any render; the
    orthographic answer 0, a share out of [0, 1] and a missing render say why."""
    import math

    from scipy.spatial.transform import Rotation

    from dispkit.body import default_body
    from dispkit.camera import Camera
    from dispkit.render import render

    body = default_body()
    turn = torch.tensor(Rotation.from_euler("XY", [math.pi, 0.5]).as_rotvec()[None], dtype=torch.float32)
    with torch.no_grad():
        verts = body(global_orient=turn, transl=torch.tensor([[-1.2, -0.25, 1.1]])).vertices
    wide = Camera(focal=torch.full((1, 2), 32.0), center=torch.full((1, 2), 64.0), width=128, height=128)
    edge_views = render(verts, body, wide, modalities=["normal", "mask"])
    reset()
    exec(_solutions()["02.edge_normals"], {"check": check, "edge_views": edge_views, "torch": torch})
    assert summary()["02.edge_normals"] is True, capsys.readouterr().out
    share = float((edge_views["normal"][0][..., 2] > 0)[edge_views["mask"][0]].float().mean())
    assert share > 0.06  # a wide-angle render near the edge: the orthographic rule fails
    assert "orthographic" in check("02.edge_normals", 0.0, verbose=False, views=edge_views).message
    assert "between 0 and 1" in check("02.edge_normals", 15, verbose=False, views=edge_views).message
    assert "pass views" in check("02.edge_normals", 0.1, verbose=False).message


def test_unanswered_exercises_print_the_hint(capsys):
    for key, ex in EXERCISES.items():
        v = check(key, None)
        assert not v and not v.answered and ex.hint in v.message
    assert "not answered yet" in capsys.readouterr().out


def test_a_stub_function_is_unanswered_not_wrong():
    def stub(*args):
        ...

    for key in ("00.project", "02.barycentric", "04.eq2_pixel", "06.eq5_vertex", "06.eq5_scatter"):
        v = check(key, stub, verbose=False)
        assert not v and not v.answered and "returns None" in v.message


@pytest.mark.parametrize("key, answer, why", [
    ("00.focal", 1920 + 1080, "w + h"),
    ("00.project", lambda p, w, h: (w * w + h * h) ** 0.5 * p[:, :2] / p[:, 2:], "principal point"),
    ("00.project", lambda p, w, h: p[:, :2] * (w * w + h * h) ** 0.5 + torch.tensor([w / 2, h / 2]), "depth"),
    ("02.crop_focal", math.hypot(256, 256) * 2, "scaled up"),
    ("04.resolution", 4, "number of pixels"),
    ("06.correlated_noise", 1.3, "two numbers"),
    ("09.depth", math.hypot(1920, 1080) / (300 * 0.9), "off by 2"),
    ("09.texture_meshes", "gt", "a pair"),
    ("09.texture_meshes", ("gt", "refined"), "'gt' or 'initial'"),
    ("08.crop_to_full", 64 / 160, "inverted"),
    ("08.drop_modality", "higher", "benchmark says 'same'"),
    ("08.depth_offset", "higher", "pass the experiment's results"),
    ("00.project", lambda p, w, h: 1 / 0, "ZeroDivisionError"),
    ("05.ood_zero_field", ("better", "better"), "not what was measured"),
    ("05.worst_variant", ("no texture", "same"), "another network"),
    ("05.worst_variant", "wrong texture", "a pair"),
    ("03.init_meshes", "smaller", "not on this scene"),
    ("07.gmof", lambda r, s: s * r ** 2 / (s + r ** 2), "squared in both places"),
    ("07.gmof", lambda r, s: r ** 2 / (s ** 2 + r ** 2), "factor σ² in front"),
    ("07.gmof", lambda r, s: (s ** 2 * r ** 2 / (s ** 2 + r ** 2)).sum(-1), "elementwise"),
    ("07.sigma", "maybe", "'better' or 'worse'"),
    ("07.sigma", "worse", "pass the two fits"),
    ("07.invisible", "the same", "'higher' or 'lower'"),
    ("01.procrustes", lambda P, G: P, "differ from dispkit.metrics.procrustes_align"),
    ("01.procrustes", lambda P, G: (lambda U, S, Vh: S.sum() / ((P - P.mean(0)) ** 2).sum() * (P - P.mean(0))
                                    @ (U @ Vh).T + G.mean(0))(*torch.linalg.svd((G - G.mean(0)).T @ (P - P.mean(0)))),
     "det R = -1"),
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


def test_none_for_background_or_a_seen_vertex_is_wrong_not_a_stub():
    def eq2_none_on_background(v_hat, faces, face_index, bary, row, col):
        t = int(face_index[row, col])
        return None if t < 0 else (bary[row, col, :, None] * v_hat[faces[t]]).sum(0)

    def eq5_high_threshold(field, face_index, bary, faces, i):
        fg = face_index >= 0
        w = (bary[fg] * (faces[face_index[fg]] == i)).sum(-1)
        return None if float(w.sum()) <= 0.5 else (w[:, None] * field[fg]).sum(0) / w.sum()

    v = check("04.eq2_pixel", eq2_none_on_background, verbose=False)
    assert not v and v.answered and "(0, 0)" in v.message, v.message
    v = check("06.eq5_vertex", eq5_high_threshold, verbose=False)
    assert not v and v.answered and "1e-6" in v.message, v.message


def test_unknown_exercise_is_an_error():
    with pytest.raises(KeyError):
        check("99.nothing", 1)
