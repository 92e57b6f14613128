"""What the notebooks' prose may state: no figure with a unit that is neither the paper's nor an illustration.

A result in a notebook comes from ``benchmarks/results/`` when the notebook runs and appears in a cell's output;
the prose says "the table above". Typed-in results drift from the committed ones, so this scan fails on them.
"""
import json

import pytest

from dispkit.notebooks import NOTEBOOK_DIR, list_notebooks, unsourced_figures


@pytest.mark.parametrize("nb", list_notebooks(), ids=lambda p: p.stem)
def test_no_hand_copied_figures_in_the_prose(nb):
    found = unsourced_figures(nb)
    assert not found, "figures in the prose that are neither the paper's nor marked as illustrations:\n" + "\n".join(
        f"  cell {i}: {fig!r} in '...{ctx}...'" for i, fig, ctx in found)


def _write(tmp_path, *markdown):
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": [m]} for m in markdown],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_the_scan_finds_typed_results_and_spares_the_paper_and_illustrations(tmp_path):
    nb = _write(tmp_path,
                "the shipped network reaches 0.46× of the zero field (2.96 vs 6.50 px)",   # typed results: flagged
                "PARE's 74.5 mm on 3DPW drop to 65.5 mm (Table 1)",                        # the paper's: fine
                'a <span class="illustration">3-pixel miss on a 75-pixel-tall person</span> counts like ...',
                "a 1920 × 1080 frame, a 64 × 64 crop, 12%")
    found = unsourced_figures(nb)
    assert [(i, f) for i, f, _ in found] == [(0, "0.46×"), (0, "6.50 px"), (3, "12%")]


def test_the_notebook_folder_is_the_one_scanned():
    assert list_notebooks() and all(p.parent == NOTEBOOK_DIR for p in list_notebooks())
