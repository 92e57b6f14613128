"""Every notebook runs under papermill with fast parameters; its JSON is checked.

A notebook without an entry in CHECKS fails: each new notebook must say what it
asserts. Executed notebooks land in a temporary folder, never in git.
"""
import json
import math
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
    assert not r["nose_above_midhip_unturned"]  # SMPL's template is y-up: upright only with the 180° about x
    # the lesson's own SMPL forward pass (blend shapes, chain, rest-pose inverse, skinning) is smplx's
    assert r["lbs_max_error_m"] < 1e-5 and r["joints_max_error_m"] < 1e-5
    assert r["posed_mesh_joint_gap_mm"] > 1.0  # J_regressor on the posed mesh is not the posed skeleton
    assert r["openpose_from_skeleton"] == 14  # BODY_25: 14 skeleton joints, 11 mesh vertices
    if r["model"] == "open":  # the open model has no pose-corrective blend shapes
        assert r["posedirs_max_abs"] == 0.0 and r["pose_blend_max_mm"] == 0.0


def check_01_metrics(r):
    # the lesson's MPJPE, s* and N-MPJPE by hand and its Procrustes (the exercise's solution) are dispkit.metrics'
    assert max(r["by_hand_vs_package_mm"].values()) < 1e-3 and r["procrustes_vs_package_mm"] < 1e-3
    assert r["s_star"] == pytest.approx(r["s_star_package"], rel=1e-9) and r["procrustes"]["det"] == pytest.approx(1)
    assert r["s_least_mean_distance"] != r["s_star"] and abs(r["s_least_mean_distance"] - r["s_star"]) < 0.1
    # the means keep the usual order; without root alignment the estimate's depth error dominates
    for m in r["averages_mm"].values():
        assert m["PA-MPJPE"] < m["N-MPJPE"] <= m["MPJPE"] and m["PA-PVE"] < m["N-PVE"] <= m["PVE"]
    assert r["averages_mm"]["pare-like"]["MPJPE"] < r["averages_mm"]["prohmr-like"]["MPJPE"]
    assert r["mpjpe_no_root_mm"] > r["this_scene_mm"]["MPJPE"]
    g, e = r["distort_gt_mm"], r["distort_init_mm"]
    # what each alignment hides, on the GT: a rotation (PA), a scale (N and PA), a translation (all aligned metrics)
    assert g["turned 20°"]["PA-MPJPE"] < 1e-6 and g["turned 20°"]["MPJPE"] > 20
    sc = g["scaled by 1.1"]
    assert max(sc["N-MPJPE"], sc["PA-MPJPE"], sc["N-PVE"], sc["PA-PVE"]) < 1e-6 and sc["MPJPE"] > 5
    assert max(v for k, v in g["0.3 m deeper"].items() if k != "no alignment") < 1e-6
    assert g["0.3 m deeper"]["no alignment"] == pytest.approx(300.0)
    # a bent elbow survives Procrustes, which lowers the squared error (not necessarily the mean distance)
    assert g["left elbow bent"]["PA-MPJPE"] > 5 and r["bent_rms_mm"]["Procrustes"] < r["bent_rms_mm"]["root-aligned"]
    # the same on the regressor's estimate: PA-MPJPE unchanged by the rotation while MPJPE grows, N- and PA- by the
    # scale, every aligned metric by the depth shift
    base = e["the estimate"]
    for name, same in (("estimate turned 20°", ("PA-MPJPE", "PA-PVE")),
                       ("estimate scaled by 1.1", ("N-MPJPE", "PA-MPJPE", "N-PVE", "PA-PVE")),
                       ("estimate 0.3 m deeper", ("MPJPE", "N-MPJPE", "PA-MPJPE", "PVE", "N-PVE", "PA-PVE"))):
        assert all(abs(e[name][k] - base[k]) < 1e-6 for k in same), name
    assert e["estimate turned 20°"]["MPJPE"] > base["MPJPE"] and e["estimate scaled by 1.1"]["MPJPE"] > base["MPJPE"]
    # 24 joints vs the LSP-like subset; the errors grow along the chains
    assert len(r["joint_sets_mm"]) == 3 and all(v["MPJPE"] > 0 for v in r["joint_sets_mm"].values())
    pj = r["per_joint_mm"]
    assert pj["pelvis"] < 1e-6 and min(pj["left_hand"], pj["right_hand"]) > max(pj["left_hip"], pj["right_hip"])
    # the root's zero dilutes the 24-joint mean by 23/24; the subset drops the pelvis, spine, collars, feet, hands
    assert r["mean_23_mm"] == pytest.approx(sum(pj.values()) / 23, rel=1e-9)
    assert len(r["dropped_joints_mm"]) == 10 and {"pelvis", "spine1", "left_hand"} <= set(r["dropped_joints_mm"])
    # PVE of meshes posed with zero transl (VIBE's / PARE's code) is the kit's pelvis-centred PVE up to the pelvis
    # offset J_0(β) - J_0(β̂) (triangle inequality)
    for reg, pve0 in r["pve_zero_transl_mm"].items():
        assert r["pelvis_offset_mm"][reg] > 0
        assert abs(pve0 - r["averages_mm"][reg]["PVE"]) <= r["pelvis_offset_mm"][reg] + 1e-3
    assert r["num_vertices"] > 6000 and set(r["exercises"]) == {"01.procrustes", "01.rotation", "01.depth_shift"}


def check_02_rendering_modalities(r):
    assert 0.03 < r["coverage"] < 0.8
    assert r["raycast_agreement"] >= 0.995 and r["raycast_depth_error_m"] < 1e-4
    lo, hi = r["depth_range_m"]
    assert 0 < lo < hi < 10
    assert r["normals_facing_camera"] > 0.95
    # clip space: back to pixels exactly, y_ndc = -1 at the top edge, z_ndc -1/+1 at near/far, rast's row 0 on top
    assert r["clip_roundtrip_px"] < 1e-3 and r["clip_top_ndc"] == pytest.approx(-1.0, abs=1e-5)
    assert r["clip_near_far_ndc"] == pytest.approx([-1.0, 1.0], abs=1e-5)
    assert abs(r["first_row"] + 0.5 - r["top_v_px"]) <= 1.0
    # perspective-correct barycentrics: the 3D point lies on the pixel's ray; the screen-space weights miss it
    assert r["perspective_correct_px"] < 1e-3 < r["screen_space_px"]
    # near the edge of a wide-angle camera visible surfaces often have n_z > 0, but (almost) never n · d > 0
    assert r["edge_nz_positive"] > r["centre_nz_positive"] + 0.05 and r["edge_nd_positive"] < 0.01
    assert r["edge_face_nd_positive"] < 1e-3
    assert r["exercises"] == {"02.barycentric": True, "02.crop_focal": True, "02.edge_normals": True}
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
    assert r["miss_max_dist_px"] < 2.0  # the misses are silhouette discretisation: next to the GT mask
    assert 0.2 < r["mask_iou_init_gt"] < 1.0
    assert r["eq1_sign_err_px"] < 1e-3  # Eq. 1 is GT minus initial: initial + v̂ = GT projection
    # perspective-correct barycentrics: the point they name is on the pixel's ray; Eq. 2 misses the exact
    # displacement of that body point by far less than the field itself
    assert r["bary_on_ray_max_px"] < 1e-3
    assert r["eq2_vs_exact_max_px"] < min(0.05, 0.01 * r["mean_pixel_displacement_px"])
    assert r["epe_table_rows"] in (2, 4) and (r["net_ratio_to_zero_field"] is None or r["net_ratio_to_zero_field"] < 1)
    assert set(r["exercises"]) == {"04.eq2_pixel", "04.largest_joint", "04.resolution"}


def check_06_pixel_to_vertex(r):
    assert 0.05 < r["visible_fraction"] < 0.6 and r["invisible_values_zero"]
    assert r["visible_fraction_4x"] > r["visible_fraction"] + 0.1  # "visible" depends on the resolution
    assert 0.1 < r["neighbour_noise_corr"] < 0.8  # Eq. 5 correlates mesh neighbours (they share pixels)
    assert r["round_trip_mean_px"] < 0.05 * r["mean_vertex_displacement_px"]
    assert r["targets_to_gt_px"] < 0.1 * r["init_to_gt_px"]  # Eq. 6 lands on the GT projection
    assert r["noisy_targets_to_gt_px"] < r["noisy_pixel_epe_px"] and r["pixels_per_visible_vertex"] > 0.5
    assert r["scatter_vs_package_px"] is not None and r["scatter_vs_package_px"] < 1e-4  # the solution's scatter
    # Eq. 5 averages independent noise down, and keeps (almost) all of the spatially correlated noise
    red = r["noise_reduction"]
    assert red["independent"] > 1.1 and red["correlated"] < 1.15 and red["independent"] > red["correlated"] + 0.1
    assert set(r["exercises"]) == {"06.eq5_vertex", "06.eq5_scatter", "06.correlated_noise"}


def check_05_network_training(r):
    assert r["train_steps"] == 12 and r["train_samples_per_s"] > 0
    assert 0 < r["last_loss"] < 10 and 0 < r["first_loss"] < 10
    assert r["zero_field_epe_px"] > 0.5 and r["ood_zero_field_epe_px"] > 0.5 and r["n_eval"] == 3
    assert set(r["epe_px"]) == set(r["shipped"]) == set(r["ood_epe_px"])
    if "cpu_full" in r["shipped"]:  # the shipped network beats predicting no displacement in distribution
        assert r["ratio_to_zero_field"]["cpu_full"] < 1.0
    assert r["params_cpu"] < 1_000_000
    # the loop by hand: Eq. 3 summed over the stacks is dispkit.train.eq3_loss, and its three losses are the first
    # three of the package's training log (same seed, samples, optimiser, warm-up; one thread both)
    assert len(r["hand_losses"]) == 3 and r["hand_vs_eq3_loss"] < 1e-5 and r["your_eq3_vs_loop"] < 1e-5
    assert r["hand_vs_package_log"] < 1e-3 and r["hand_losses"][2] < r["hand_losses"][0]
    # Table 3: the committed tables are read; this run's scene gives every variant, the wrong texture is another
    # person's (not the scene's own, as one scene would give if the next person wrapped round)
    assert r["table3_committed_splits"] == ["OOD", "held-out"] and r["table3_live_n_scenes"] == 1
    live = r["table3_live_epe_px"]
    assert len(live) == 8 and all(0 < e < 50 for e in live.values())
    assert live["wrong texture"] != live["full (estimated texture)"]
    assert list(r["interactive_epe_px"]) == ["noise 30"] and 0 < r["interactive_epe_px"]["noise 30"] < 50
    assert "cpu_full_kit" in r["committed_worse_than_zero_field"]["ood"]
    assert "cpu_full_kit" in r["shipped"]
    assert set(r["exercises"]) == {"05.eq3_loss", "05.ood_zero_field", "05.worst_variant"}


def check_07_smplify_priors(r):
    m = r["metrics_mm"]
    assert all(r["fitted"].values())
    # GT dense displacements constrain the body better than GT keypoints, and both beat the initial estimate
    assert m["+GMM (Ours GT)"]["MPJPE"] < m["+GMM (OP GT)"]["MPJPE"] < m["init"]["MPJPE"]
    assert m["+GMM (Ours GT)"]["PVE"] < 0.6 * m["init"]["PVE"]
    v = r["visible_vertices"]
    assert 300 < v["Ours"] < v["Ours GT"] < v["mesh"] and v["Ours GT"] > 1000
    # Geman-McClure's pull, computed: its peak at σ/√3 and ρ′(50) / ρ′(20) for σ = 100
    assert abs(r["gmof"]["peak_r"] - 100 / 3 ** 0.5) < 0.2 and abs(r["gmof"]["pull_50_over_20"] - 1.7306) < 0.01
    # the SMPLify the student builds equals dispkit.fit.smplify within the notebook's stated tolerance
    b = r["build"]
    assert b["max_vertex_diff_mm"] < b["tolerance_mm"] <= 0.1
    assert abs(b["mpjpe_mm"] - m["+GMM (Ours GT)"]["MPJPE"]) < 0.1  # the library's Ours GT row is the same fit
    # the convergence frames: every 5 of the 10 + 40 iterations and the end; the loss falls, the fit ends better
    c = r["convergence"]
    assert c["iterations"] == 50 and c["frames"] == c["iterations"] // c["every"] + 1 == len(c["mpjpe_mm"]) == 11
    assert c["last_loss"] < 0.1 * c["first_loss"] and c["mpjpe_mm"][-1] < c["mpjpe_mm"][0]
    # keypoints vs vertices: every condition ran once (fast: one scene, one draw); every visible vertex beats the
    # 25 GT keypoints, which beat the initial estimate
    e = r["experiment"]
    assert r["experiment_scenes"] == 1 and set(e) == {
        "initial estimate", "25 GT keypoints", "25 random vertices, weight 5.0 each",
        "25 random vertices, dense total weight", "every visible vertex"} and all(x["fits"] == 1 for x in e.values())
    assert e["every visible vertex"]["MPJPE"] < e["25 GT keypoints"]["MPJPE"] < e["initial estimate"]["MPJPE"]
    assert abs(e["every visible vertex"]["MPJPE"] - b["mpjpe_mm"]) < 1e-6  # the same fit, reused
    # a real photograph: BlazePose finds the person and the keypoint fit runs to the end and lowers its loss
    if r["photo"] is not None:
        assert r["photo"]["detected"] >= 12 and r["photo"]["fitted"]
        assert r["photo"]["final_loss"] < r["photo"]["start_loss"]
    # SPIN's camera-stage fallback (OP*) counted on the notebook's scenes (fast: the one scene)
    assert r["op_star_fallback"][1] == 1 and r["op_star_fallback"][0] in (0, 1)
    rows = r["table_rows"]["id pare-like"]  # keyed "split estimator"
    assert {"init", "+GMM (OP GT)", "+GMM (Ours GT)", "+GMM (OP)", "+GMM (DP)", "+GMM (Ours)"} <= set(rows)
    assert r["table_n_scenes"] >= 1
    # the interactive fit drew once headless (the default evidence, prior and weight), with a real result
    assert list(r["tried"]) == ["Ours / gmm / 1.0"] and 0 < r["tried"]["Ours / gmm / 1.0"]["MPJPE"] < 300
    assert set(r["exercises"]) == {"07.gmof", "07.sigma", "07.invisible"}


def check_03_textures(r):
    assert 0.2 < r["coverage"] < 1.0
    # the back-projected texture is closer to the person's own texture than another person's is
    assert r["seen_error_255"] < r["wrong_texture_error_255"]
    # the median by hand is the package's; the initial meshes (refine_sequence's protocol) give a worse texture
    assert r["median_by_hand_vs_package"] < 1e-6 and 0 < r["median_error_255"] < 80 and 0 < r["mean_error_255"] < 80
    assert r["init_mesh_seen_error_255"] > r["seen_error_255"] and 0.2 < r["init_mesh_coverage"] < 1.0
    c = r["variant_change_255"]
    assert c["estimated"] == 0 and 0 < c["noise N(0,10)"] < c["noise N(0,30)"] and c["wrong person"] > 5
    assert list(r["interactive_drawn"]) == ["noise 30"]
    assert set(r["exercises"]) == {"03.median", "03.init_meshes"}


def check_09_real_data(r):
    # the default: a synthetic person in 3DPW's format, every frame refined
    assert r["synthetic"] is True and r["skipped"] is False and r["n_frames"] == 4 and r["fitted"] == 4
    assert r["joints"] == "the open model's 24 joints"
    assert all(math.isfinite(v) and v > 0 for m in (r["initial"], r["refined"]) for v in m.values())
    assert r["refined"]["MPJPE"] < r["initial"]["MPJPE"] and r["refined"]["PVE"] < r["initial"]["PVE"]
    assert 0.2 < r["texture_coverage"] < 1
    # the two texture protocols: the GT meshes give the texture closer to the truth; both fields beat the zero field
    t = r["texture_protocols"]
    assert t["gt"]["texture_error_255"] < t["initial"]["texture_error_255"]
    assert all(0 < p["epe_crop_px"] < p["zero_field_epe_crop_px"] for p in t.values())
    assert set(r["exercises"]) == {"09.depth", "09.texture_meshes"}


def check_08_whole_method(r):
    # the whole method on one image: the step-by-step calls and dispkit.refine give the same targets and fit
    assert r["fitted"] and r["crop"] == 64 and r["visible_vertices"] > 300
    assert r["targets_by_hand_vs_pipeline_px"] < 1e-3 and r["refine_vs_steps_mm"] < 1e-2
    assert r["epe_crop_px"] < r["zero_field_epe_crop_px"]  # the shipped network beats predicting no displacement
    assert r["targets_to_gt_px"] < r["init_to_gt_px"]
    assert r["refine_mm"]["PVE"] < r["initial_mm"]["PVE"]
    assert set(r["exercises"]) == {"08.crop_to_full", "08.drop_modality", "08.depth_offset"}
    # drop a modality: both networks ran on the scene's crop and beat the zero field
    e = r["drop_modality_epe_crop_px"]
    assert set(e) == {"cpu_full_mixed", "cpu_texture_only_mixed"} and all(0 < x < r["zero_field_epe_crop_px"] for x in
                                                                            e.values())
    # move the camera: the starts differ from the estimate in depth only (same MPJPE), the fit pulls the far one back
    runs = r["depth_runs"]
    assert {k: v["start_depth_ratio"] for k, v in runs.items()} == pytest.approx({"right depth": 1.0,
                                                                                 "20 % too far": 1.2}, rel=1e-4)
    assert all(v["initial_mm"] == pytest.approx(r["initial_mm"]["MPJPE"], rel=1e-3) for v in runs.values())
    assert 1.0 < runs["20 % too far"]["refined_depth_ratio"] < 1.2


CHECKS = {"00_quickstart": check_00_quickstart, "01_metrics": check_01_metrics,
          "02_rendering_modalities": check_02_rendering_modalities,
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
    assert params["out_path"]["default"].strip("'\"") == f"outputs/{nb.stem}.json"  # where make demo collects it


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


def test_real_data_notebook_without_data_says_where_to_get_it(tmp_path):
    """The real-data path with synthetic=False and no dataset: the notebook explains where to get 3DPW, lists the
    licensed assets in place, stops cleanly, and the report shows the explanation. (The default run, on a synthetic
    person in 3DPW's format, is test_notebook_runs_in_fast_mode's.)"""
    nb = NOTEBOOK_DIR / "09_real_data.ipynb"
    t0 = time.time()
    executed, r = execute(nb, tmp_path, {"fast": True, "seed": 0, "synthetic": False}, timeout=1200)
    assert r["synthetic"] is False and r["skipped"] is True and r["missing"] == ["sequence", "estimates"]
    assert {"smpl", "3dpw", "rich", "h36m", "surreal", "gmm_08", "vposer", "prohmr"} <= set(r["assets"])
    assert r["exercises"]["09.depth"] is True and r["texture_protocols"] is None
    page = report(tmp_path, [{"name": "09_real_data", "ok": True, "seconds": time.time() - t0}])
    text = page.read_text()
    assert "Refinement on real data" in text and "Nothing to evaluate" in text and "3DPW" in text
    assert "data:image/png;base64," not in text  # no sequence, no figure


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
