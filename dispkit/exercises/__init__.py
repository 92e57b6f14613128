"""The notebooks' exercises and the checks that say right or wrong, and why.

    from dispkit.exercises import check
    check("00.focal", 2202.9)          # prints "right: ..." or "not yet: <why>"; returns a Verdict

Each notebook ends with a few exercises, each with a key ``"NN.name"`` (NN: the notebook's number). Most are
experiments: predict, then run and compare; some ask for a function the student writes, which the check calls on
cases it makes itself and compares with the package's own implementation of the same equation. ``None`` (or
``...``) means "not answered yet" and prints the hint. Checks never raise: an answer that fails to run is
reported as wrong, with the error. :func:`summary` gives the last verdict of every key checked in this process
(the notebooks write it to their JSON, so the tests know the solutions pass).

The checks of notebook NN live in one module each (``quickstart``, ``metrics``, ``rendering``, ``textures``,
``gt_displacements``, ``network``, ``pixel_to_vertex``, ``smplify``, ``whole_method``, ``real_data``); importing
this package registers them all.
"""
from dispkit.exercises import (  # noqa: F401
                               gt_displacements,
                               metrics,
                               network,
                               pixel_to_vertex,
                               quickstart,
                               real_data,
                               rendering,
                               smplify,
                               textures,
                               whole_method,
)
from dispkit.exercises._core import EXERCISES, Exercise, Verdict, check, hint, reset, summary

__all__ = ["EXERCISES", "Exercise", "Verdict", "check", "hint", "reset", "summary"]
