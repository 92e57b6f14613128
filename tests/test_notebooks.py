"""Every notebook runs under papermill with fast parameters; its JSON is checked.

A notebook without an entry in CHECKS fails: each new notebook must say what it
asserts. Executed notebooks land in a temporary folder, never in git.
"""
import json
import sys

import pytest

from dispkit.notebooks import execute, list_notebooks


def check_00_quickstart(r):
    assert r["vertices"] > 6000 and r["faces"] > 10000
    h = r["heights_m"]
    assert h["-2"] < h["0"] < h["+2"] and 1.5 < h["0"] < 1.85
    assert r["keypoints_inside_image"] and r["nose_above_midhip"]
    assert r["focal_px"] == pytest.approx((r["image_size"][0] ** 2 + r["image_size"][1] ** 2) ** 0.5, rel=1e-5)
    assert len(r["keypoints_2d"]) == 25


def check_01_rendering_modalities(r):
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


CHECKS = {"00_quickstart": check_00_quickstart, "01_rendering_modalities": check_01_rendering_modalities}

NOTEBOOKS = list_notebooks()


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_fast_mode(nb, tmp_path):
    assert nb.stem in CHECKS, f"add a CHECKS entry asserting on what {nb.name} writes"
    executed, result = execute(nb, tmp_path, {"fast": True, "seed": 0}, timeout=1200)
    assert executed.is_file()
    assert result["fast"] is True and result["seed"] == 0
    # the kernel ran this interpreter's environment (the venv), not some other python
    assert result["sys_prefix"] == sys.prefix
    CHECKS[nb.stem](result)
    # papermill recorded the injected parameters in the executed notebook
    meta = json.loads(executed.read_text())["metadata"]["papermill"]["parameters"]
    assert meta["fast"] is True
