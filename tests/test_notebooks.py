"""Every notebook runs under papermill with fast parameters; its JSON is checked.

A notebook without an entry in CHECKS fails: each new notebook must say what it
asserts. Executed notebooks land in a temporary folder, never in git.
"""
import json
import re
import sys
import time

import pytest

from dispkit.notebooks import NOTEBOOK_DIR, execute, list_notebooks, report, to_html


def check_00_quickstart(r):
    assert r["vertices"] > 6000 and r["faces"] > 10000
    h = r["heights_m"]
    assert h["-2"] < h["0"] < h["+2"] and 1.5 < h["0"] < 1.85
    assert r["keypoints_inside_image"] and r["nose_above_midhip"]
    assert r["focal_px"] == pytest.approx((r["image_size"][0] ** 2 + r["image_size"][1] ** 2) ** 0.5, rel=1e-5)
    assert len(r["keypoints_2d"]) == 25


def check_02_rendering_modalities(r):
    assert 0.03 < r["coverage"] < 0.8
    assert r["raycast_agreement"] >= 0.995 and r["raycast_depth_error_m"] < 1e-4
    lo, hi = r["depth_range_m"]
    assert 0 < lo < hi < 10
    assert r["normals_facing_camera"] > 0.95
    assert r["crop_coverage"] > r["coverage"]  # the crop zooms in on the person
    assert r["triangles_in_patch"] > 5 and r["ms_per_frame"] > 0
    assert "cpu" in r["backends_available"]
    if "nvdiffrast" in r["backends_available"]:
        assert r["backend_agreement"] >= 0.99
    else:
        assert r["backend_agreement"] is None


def check_04_gt_displacements(r):
    assert r["regressor"] == "pare-like" and r["rendered_pixels"] > 500
    assert 20 < r["init_errors_mm"]["MPJPE"] < 300  # a regressor-like estimate, not the GT
    assert r["mean_pixel_displacement_px"] > 1.0 and r["max_vertex_displacement_px"] > r["mean_vertex_displacement_px"]
    assert r["field_zero_on_background"]
    # moving the rendered pixels by the GT field puts (almost) all of them on the person
    assert r["on_person_after"] > 0.9 and r["on_person_after"] > r["on_person_before"]
    assert 0.2 < r["mask_iou_init_gt"] < 1.0


def check_06_pixel_to_vertex(r):
    assert 0.05 < r["visible_fraction"] < 0.6 and r["invisible_values_zero"]
    assert r["round_trip_mean_px"] < 0.05 * r["mean_vertex_displacement_px"]
    assert r["targets_to_gt_px"] < 0.1 * r["init_to_gt_px"]  # Eq. 6 lands on the GT projection
    assert r["noisy_targets_to_gt_px"] < r["noisy_pixel_epe_px"] and r["pixels_per_visible_vertex"] > 0.5


def check_05_network_training(r):
    assert r["train_steps"] == 12 and r["train_samples_per_s"] > 0
    assert 0 < r["last_loss"] < 10 and 0 < r["first_loss"] < 10
    assert r["zero_field_epe_px"] > 0.5 and r["ood_zero_field_epe_px"] > 0.5 and r["n_eval"] == 3
    assert set(r["epe_px"]) == set(r["shipped"]) == set(r["ood_epe_px"])
    if "cpu_full" in r["shipped"]:  # the shipped network beats predicting no displacement in distribution
        assert r["ratio_to_zero_field"]["cpu_full"] < 1.0
    assert r["params_cpu"] < 1_000_000
    assert "cpu_full_kit" in r["shipped"] and set(r["exercises"]) == {"05.eq3_loss", "05.zero_field"}


def check_07_smplify_priors(r):
    m = r["metrics_mm"]
    assert all(r["fitted"].values())
    # GT dense displacements constrain the body better than GT keypoints, and both beat the initial estimate
    assert m["+GMM (Ours GT)"]["MPJPE"] < m["+GMM (OP GT)"]["MPJPE"] < m["init"]["MPJPE"]
    assert m["+GMM (Ours GT)"]["PVE"] < 0.6 * m["init"]["PVE"]
    assert r["visible_vertices"]["Ours"] > 300 and r["visible_vertices"]["Ours GT"] > 1000
    rows = r["table_rows"]["pare-like"]
    assert {"init", "+GMM (OP GT)", "+GMM (Ours GT)", "+GMM (OP)", "+GMM (DP)", "+GMM (Ours)"} <= set(rows)
    assert r["table_n_scenes"] == 1
    # the interactive fit drew once headless (the default evidence, prior and weight), with a real result
    assert list(r["tried"]) == ["Ours / gmm / 1.0"] and 0 < r["tried"]["Ours / gmm / 1.0"]["MPJPE"] < 300
    assert set(r["exercises"]) == {"07.gmof", "07.balance"}


def check_03_textures(r):
    assert 0.2 < r["coverage"] < 1.0
    # the back-projected texture is closer to the person's own texture than another person's is
    assert r["seen_error_255"] < r["wrong_texture_error_255"]
    assert len(r["table_variants"]) == 8 and r["table_n_scenes"] == 1
    assert all(0 < e < 50 for e in r["table_epe_px"].values())
    assert list(r["interactive_epe_px"]) == ["noise 30"] and 0 < r["interactive_epe_px"]["noise 30"] < 50
    assert set(r["exercises"]) == {"03.median", "05.worst_variant"}


def check_09_real_data(r):
    # no dataset given (the harness's run): it explains where to get one and stops cleanly
    assert r["skipped"] is True and r["missing"] == ["sequence", "estimates"]
    assert {"smpl", "3dpw", "rich", "h36m", "surreal", "gmm_08", "vposer", "prohmr"} <= set(r["assets"])


def check_08_whole_method(r):
    # the whole method on one image: the step-by-step calls and dispkit.refine give the same targets and fit
    assert r["fitted"] and r["crop"] == 64 and r["visible_vertices"] > 300
    assert r["targets_by_hand_vs_pipeline_px"] < 1e-3 and r["refine_vs_steps_mm"] < 1e-2
    assert r["epe_crop_px"] < r["zero_field_epe_crop_px"]  # the shipped network beats predicting no displacement
    assert r["targets_to_gt_px"] < r["init_to_gt_px"]
    assert r["refine_mm"]["PVE"] < r["initial_mm"]["PVE"]
    assert set(r["exercises"]) == {"08.crop_to_full", "08.paper_gain", "08.dense_weight"}


CHECKS = {"00_quickstart": check_00_quickstart, "02_rendering_modalities": check_02_rendering_modalities,
          "04_gt_displacements": check_04_gt_displacements, "06_pixel_to_vertex": check_06_pixel_to_vertex,
          "05_network_training": check_05_network_training, "07_smplify_priors": check_07_smplify_priors,
          "03_textures": check_03_textures, "09_real_data": check_09_real_data,
          "08_whole_method": check_08_whole_method}

NOTEBOOKS = list_notebooks()


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_parses(nb):
    """papermill reads every parameter of the tagged cell (an '=' in a comment would hide one)."""
    import papermill

    params = papermill.inspect_notebook(str(nb))
    assert {"seed", "fast", "out_path"} <= set(params)
    assert params["fast"]["default"] == "False"  # stored notebooks run full size unless told otherwise


def _assert_plotly_offline(page: str) -> None:
    """The page draws its plotly figures without the network: plotly.js inline, nothing loaded from plotly's CDN
    (the library's own text names cdn.plot.ly once, as the default topojson URL of geo maps; no script loads it)."""
    assert "plotly-graph-div" in page and "plotly.js v" in page  # a figure, and the library inline
    assert page.count("plotly.js v") == 1  # once per page
    assert "cdn.plot.ly/plotly" not in page and not re.search(r"src=[\"'][^\"']*cdn\.plot\.ly", page)
    assert page.replace('dflt:"https://cdn.plot.ly/un/"', "").count("cdn.plot.ly") == 0


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_fast_mode(nb, tmp_path):
    assert nb.stem in CHECKS, f"add a CHECKS entry asserting on what {nb.name} writes"
    executed, result = execute(nb, tmp_path, {"fast": True, "seed": 0}, timeout=1200)
    assert executed.is_file()
    assert result["fast"] is True and result["seed"] == 0
    # the kernel ran this interpreter's environment (the venv), not some other python
    assert result["sys_prefix"] == sys.prefix
    CHECKS[nb.stem](result)
    # the notebook's exercise solutions (collapsed cells) ran through dispkit.exercises.check and passed
    if "exercises" in result:
        assert result["exercises"] and all(result["exercises"].values()), result["exercises"]
    # papermill recorded the injected parameters in the executed notebook
    meta = json.loads(executed.read_text())["metadata"]["papermill"]["parameters"]
    assert meta["fast"] is True
    if nb.stem == "00_quickstart":  # its plotly figure: the exported page and the report embed plotly.js
        for page in (to_html(executed), report(tmp_path, [{"name": nb.stem, "ok": True, "seconds": 1.0}])):
            _assert_plotly_offline(page.read_text())


def test_real_data_notebook_refines_a_sequence_in_3dpw_format(tmp_path):
    """The real-data path end to end on a synthetic person written in 3DPW's format (sequence pickle, JPEG
    images, a regressor's estimates as npz): refinement lowers the 3D error; the report collects its table and
    figure."""
    nb = NOTEBOOK_DIR / "09_real_data.ipynb"
    t0 = time.time()
    executed, r = execute(nb, tmp_path, {"fast": True, "seed": 0, "synthetic": True}, timeout=1200)
    assert r["skipped"] is False and r["n_frames"] == 4 and r["fitted"] == 4
    assert r["refined"]["MPJPE"] < r["initial"]["MPJPE"] and r["refined"]["PVE"] < r["initial"]["PVE"]
    assert 0.2 < r["texture_coverage"] < 1
    page = report(tmp_path, [{"name": "09_real_data", "ok": True, "seconds": time.time() - t0}])
    text = page.read_text()
    assert "<table>" in text and "MPJPE" in text and "data:image/png;base64," in text
    assert "Refinement on real data" in text


def _numbers(x):
    """A notebook's JSON without what legitimately varies between runs (timings, paths)."""
    if isinstance(x, dict):
        return {k: _numbers(v) for k, v in x.items()
                if not re.search(r"second|_s$|_ms|ms_per|per_frame|time|wall|samples_per|prefix|path", k)}
    if isinstance(x, list):
        return [_numbers(v) for v in x]
    return x


def _close(a, b, path="") -> None:
    """Same structure, same strings, numbers equal to 1e-6 relative (two kernel processes; not bit-exactness,
    which float summation order does not promise across processes)."""
    assert type(a) is type(b) or {type(a), type(b)} <= {int, float}, path
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9), path
    else:
        assert a == b, path


def test_reruns_with_the_same_seed_give_the_same_numbers(tmp_path):
    """Notebook 05 (a scene, six SMPLify fits, a small table) twice with the same seed, in two kernels: the
    same numbers to 1e-6."""
    nb = NOTEBOOK_DIR / "07_smplify_priors.ipynb"
    runs = [execute(nb, tmp_path / str(k), {"fast": True, "seed": 900000})[1] for k in range(2)]
    a, b = (_numbers(r) for r in runs)
    _close(a, b)
    assert a["metrics_mm"]["init"]["MPJPE"] > 0  # the comparison covered real results
