"""Real multi-worker clusters on this machine for tests (a helper module).

`free_ports` picks loopback ports by binding port 0 on 127.0.0.1, `tf_config`
writes the ``TF_CONFIG`` of one worker, and `run_workers` starts one process
per worker, waits for all of them under one deadline and kills every one
still running when the deadline passes or the test fails.
"""

import json
import socket
import subprocess
import tempfile
import time

from tests.subprocess_helpers import quiet_env


def free_ports(count):
    """``count`` distinct free TCP ports on 127.0.0.1 (all bound at once, then released)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports, index):
    """The ``TF_CONFIG`` JSON of worker ``index`` of a cluster on ``ports`` (127.0.0.1)."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def run_workers(commands, timeout, env=None):
    """Runs one command per worker of a fresh loopback cluster.

    Waits until every worker has exited, one has failed (the others are
    then killed: they would wait for it) or ``timeout`` has passed (all
    are killed).

    Args:
        commands: one argv list per worker (worker ``i`` gets index ``i``).
        timeout: seconds for all of them together.
        env: base environment (default: `quiet_env`, no inherited TF_CONFIG).

    Returns:
        list of ``(returncode, stdout, stderr)``, one per worker; a killed
        worker has a negative return code.
    """
    ports = free_ports(len(commands))
    base = quiet_env() if env is None else env
    logs = [(tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")) for _ in commands]
    procs = []
    try:
        for i, (command, (out, err)) in enumerate(zip(commands, logs)):
            procs.append(subprocess.Popen(command, env=dict(base, TF_CONFIG=tf_config(ports, i)), stdout=out,
                                          stderr=err, text=True))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            codes = [proc.poll() for proc in procs]
            if all(code is not None for code in codes) or any(code not in (None, 0) for code in codes):
                break
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    results = []
    for proc, (out, err) in zip(procs, logs):
        out.seek(0)
        err.seek(0)
        results.append((proc.returncode, out.read(), err.read()))
        out.close()
        err.close()
    return results
