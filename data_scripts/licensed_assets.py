#!/usr/bin/env python
"""List the licensed models, weights and datasets dispkit can use, where to get them and where to put them.

Nothing here downloads anything: each asset needs a registration (or its own licence) on its project page.
The registry is :data:`dispkit.licensed.LICENSED_ASSETS`; files go under a data root, by default
``$DISPKIT_DATA`` or ``~/dispkit_data``.

    python data_scripts/licensed_assets.py                   # what to get, and the expected layout
    python data_scripts/licensed_assets.py --check           # ... and whether each is in place
    python data_scripts/licensed_assets.py --check --root /data/dispkit

The exit status is 0 either way (a missing dataset is not an error: the kit runs on its open stand-ins); a
``--root`` that is a file, or that does not exist with ``--check``, is a mistake (one line, exit status 2).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dispkit.inputs import one_line_errors
from dispkit.licensed import LICENSED_ASSETS, data_root


def describe(root: Path) -> str:
    lines = [f"Licensed assets (data root: {root})", ""]
    for a in LICENSED_ASSETS.values():
        lines += [f"[{a.key}] {a.title}", f"    get it at: {a.url}"]
        lines += [f"    expected:  {root / entry.split('|')[0].strip()}"
                  + (f"  (or {' or '.join(p.strip() for p in entry.split('|')[1:])})" if "|" in entry else "")
                  for entry in a.files]
        if a.notes:
            lines.append(f"    note:      {a.notes}")
        lines.append("")
    return "\n".join(lines)


def check(root: Path) -> str:
    rows = [(a.key, "found" if not (missing := a.missing(root)) else "missing",
             "" if not missing else "; ".join(m.split("|")[0].strip() for m in missing))
            for a in LICENSED_ASSETS.values()]
    width = max(len(k) for k, _, _ in rows)
    lines = [f"Data root: {root}", f"{'asset':<{width}}  status   missing"]
    lines += [f"{k:<{width}}  {s:<7}  {m}" for k, s, m in rows]
    found = sum(s == "found" for _, s, _ in rows)
    lines.append(f"{found}/{len(rows)} in place")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = one_line_errors(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--check", action="store_true", help="report whether each asset is in place")
    parser.add_argument("--root", default=None, help="data root (default: $DISPKIT_DATA or ~/dispkit_data)")
    args = parser.parse_args(argv)
    if args.root is not None:
        given = Path(args.root).expanduser()
        if given.exists() and not given.is_dir():
            parser.error(f"--root {given} is a file: give the folder that holds (or will hold) the licensed files")
        if args.check and not given.exists():
            parser.error(f"--root {given} does not exist: create it and put the files there (run without --check "
                         "for the layout), or point --root at your data root")
    root = data_root(args.root)
    print(describe(root))
    if args.check:
        print(check(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
