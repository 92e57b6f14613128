"""The exercise registry, :func:`check` and the helpers the per-notebook checks share."""
from __future__ import annotations

import math
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["EXERCISES", "Exercise", "Verdict", "check", "hint", "reset", "summary"]


@dataclass(frozen=True)
class Verdict:
    """The outcome of :func:`check`: ``ok`` and the reason; true when right. Already printed by :func:`check`,
    so a notebook cell ending in ``check(...)`` shows the message once."""

    key: str
    ok: bool
    message: str
    answered: bool = True

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self):  # printed by check(); nothing more to show
        pass


@dataclass(frozen=True)
class Exercise:
    key: str
    question: str
    hint: str
    run: Callable  # (answer, **context) -> (ok, why)


EXERCISES: dict[str, Exercise] = {}
_LAST: dict[str, bool] = {}


class _NoAnswer(Exception):
    """A student's function returned None: its body is still to be written."""


def _call(fn, *args):
    out = fn(*args)
    if out is None:
        raise _NoAnswer
    return out


def _exercise(key: str, question: str, hint: str):
    def register(fn):
        EXERCISES[key] = Exercise(key, question, hint, fn)
        return fn
    return register


def check(key: str, answer, verbose: bool = True, **context) -> Verdict:
    """Check ``answer`` to exercise ``key`` (``context``: what the exercise's question says to pass, e.g. the
    notebook's scene). Prints one line (unless ``verbose=False``) and returns a :class:`Verdict`."""
    if key not in EXERCISES:
        raise KeyError(f"no exercise {key!r}; there are {', '.join(sorted(EXERCISES))}")
    ex = EXERCISES[key]
    if answer is None or answer is Ellipsis:
        v = Verdict(key, False, f"not answered yet. Hint: {ex.hint}", answered=False)
    else:
        try:
            ok, why = ex.run(answer, **context)
        except _NoAnswer:
            ok, why = None, f"your function returns None: write its body. Hint: {ex.hint}"
        except Exception as exc:  # the student's function failed: say where
            tb = traceback.extract_tb(exc.__traceback__)
            where = f" (line {tb[-1].lineno} of {tb[-1].name})" if tb else ""
            ok, why = False, f"the answer raised {type(exc).__name__}: {exc}{where}"
        v = Verdict(key, bool(ok), why, answered=ok is not None)
    _LAST[key] = v.ok
    if verbose:
        print(f"[{key}] " + ("right: " if v.ok else ("not yet: " if v.answered else "")) + v.message)
    return v


def hint(key: str) -> str:
    """The hint of exercise ``key``."""
    return EXERCISES[key].hint


def summary(prefix: str = "") -> dict[str, bool]:
    """``{key: ok}`` of the last check of every exercise whose key starts with ``prefix``."""
    return {k: v for k, v in sorted(_LAST.items()) if k.startswith(prefix)}


def reset() -> None:
    """Forget the verdicts (tests)."""
    _LAST.clear()


# ------------------------------------------------------------------------------------------------ helpers

def _number(answer) -> float:
    if isinstance(answer, bool):
        raise TypeError("a number was expected, not True/False")
    if isinstance(answer, torch.Tensor):
        if answer.numel() != 1:
            raise TypeError(f"a single number was expected, got a tensor of shape {tuple(answer.shape)}")
        return float(answer)
    return float(answer)


def _close(a: float, b: float, rel: float = 1e-3, abs_: float = 1e-6) -> bool:
    return math.isfinite(a) and abs(a - b) <= max(abs_, rel * abs(b))


def _as_tensor(x, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(x).detach().to(dtype)


def _name(answer) -> str:
    return str(answer).strip().lower().replace(" ", "_").replace("-", "_")


def _random_maps(seed: int):
    """A small random mesh with random triangle-index and barycentric maps (some background pixels)."""
    g = torch.Generator().manual_seed(seed)
    V, F, H, W = 30, 40, 6, 7
    faces = torch.stack([torch.randperm(V, generator=g)[:3] for _ in range(F)])
    face_index = torch.randint(-1, F, (H, W), generator=g)
    b = torch.rand(H, W, 3, generator=g, dtype=torch.float64)
    bary = b / b.sum(-1, keepdim=True)
    return V, faces, face_index, bary, g
