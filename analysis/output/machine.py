"""The machine and the moment a number was measured: for captions and benchmarks.

Standard library only.
"""

import datetime
import html
import os
import platform


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (falls back to `platform`), its
    core count and whether it has AVX-512: e.g. ``AMD EPYC, 2 cores, AVX-512``.

    The same training took 9.5 to 17 minutes on three 2-core CPUs; AVX-512
    is the flag that most changes TensorFlow's CPU kernels, so every figure
    names it.
    """
    name = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    name = name or platform.processor() or platform.machine()
    flag = {True: "AVX-512", False: "no AVX-512", None: "AVX-512 unknown"}[avx512()]
    return f"{name}, {os.cpu_count()} cores, {flag}"


def avx512():
    """True when /proc/cpuinfo lists AVX-512 (avx512f), False when it does not, None if unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:
        return None


def today():
    """UTC date and time, e.g. ``2026-11-23 09:30 UTC``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def measured_on():
    """One caption line: where and when the figure was computed."""
    return f"Computed on {html.escape(cpu_model())}, {today()}."
