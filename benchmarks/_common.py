"""Shared bits of the benchmark scripts."""
from __future__ import annotations

import json
from pathlib import Path


def write_result(result: dict, out) -> dict:
    """Write a benchmark's result dict as indented JSON to ``out`` (creating its folder) and say where."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result
