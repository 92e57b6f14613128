"""What this machine is: CPU model, cores, bf16 units, torch and numba thread settings (``python -m dispkit.machine``).

Printed at the top of every CI log, so that a float difference seen on another machine can be read from it, and
used at run time to decide whether bf16 autocast can pay (:func:`cpu_has_bf16`).
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

__all__ = ["cpu_flags", "cpu_has_bf16", "describe"]


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux
        return ""


def cpu_flags() -> set[str]:
    """The CPU feature flags the kernel reports (empty where ``/proc/cpuinfo`` does not exist)."""
    for line in _cpuinfo().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_has_bf16() -> bool:
    """True when the CPU has bf16 matrix units (AMX-BF16 or AVX-512 BF16): bf16 autocast can then beat fp32."""
    return bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


def describe() -> dict:
    """CPU model, core count, bf16 units, and the thread settings of torch, numba and the environment."""
    model = next((line.split(":", 1)[1].strip() for line in _cpuinfo().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    info = {"cpu": model, "cores": os.cpu_count(), "machine": platform.machine(),
            "bf16_units": sorted(cpu_flags() & {"amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx_vnni"}),
            "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                                                   "OPENBLAS_CORETYPE")}}
    try:
        import torch

        info["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads(),
                         "interop_threads": torch.get_num_interop_threads(), "cuda": torch.cuda.is_available()}
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    try:
        import numba

        info["numba"] = {"version": numba.__version__, "threads": numba.config.NUMBA_NUM_THREADS,
                         "layer": numba.config.THREADING_LAYER}
    except ImportError:  # pragma: no cover - numba is a dependency
        pass
    return info


if __name__ == "__main__":
    print("machine:", json.dumps(describe(), indent=1))
