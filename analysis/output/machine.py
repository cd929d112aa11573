"""The machine and the moment a number was measured: for captions and benchmarks.

Standard library only.
"""

import datetime
import html
import os
import platform


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (falls back to `platform`)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    return f"{name}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def today():
    """UTC date and time, e.g. ``2026-11-23 09:30 UTC``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def measured_on():
    """One caption line: where and when the figure was computed."""
    return f"Computed on {html.escape(cpu_model())}, {today()}."
