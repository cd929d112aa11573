"""Fault injection: every verb against real faults, in real processes (issue 24, 2).

For each verb that writes (train, occlude, explore, probe, transfer, ablate,
visualize, export, report, mine)
and each fault (its output folder is a run / a file / read-only / on a full
disk, its input is unreadable / truncated / a FIFO, the process is killed
with SIGKILL at several moments, two commands write the same output at
once) this runs ``python -m zfkeras VERB`` and checks:

* no file that was there before is lost or changed (SHA-256 of every one);
* a user's mistake or the machine's refusal is one ``zfkeras VERB: error:``
  line with exit status 2, and nothing prints a traceback;
* nothing half-written is visible: the output is absent or complete.

How each fault is made (we run as root; docs/RELIABILITY.md): read-only
and unreadable run the command as ``nobody`` (``setpriv``); a full disk is
a filled tmpfs of 64 KiB (the run's own folder for the report: a tmpfs
just larger than the run); a FIFO is ``os.mkfifo``; a truncated file is
the first third of a good one. ablate's input is the run's
``config.json`` (it reads no model), and its cases run ``--table-only``
over a finished variant so that none trains. The suite prints one line per case and the
count of each outcome at the end (docs/RELIABILITY.md records them).
"""

import dataclasses
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from tests.fault_helpers import NOBODY, open_to_all, tree_digests
from tests.subprocess_helpers import quiet_env
from tests.train_helpers import write_learnable_fashion_mnist

REFUSED, KEPT, KILLED, RACE = "refused (exit 2, one line)", "kept the old output (exit 1)", "killed", "ran together"
TRAIN = ["--epochs", "1", "--max-train-examples", "128", "--batch-size", "32", "--validation-size", "64",
         "--evolution-sample", "16", "--evolution-maps", "1", "--seed", "3"]
PROBE = ["--per-class", "2", "--test-per-class", "2", "--folds", "2", "--layers", "conv1", "--batch-size", "16"]
TRANSFER = ["--per-class", "1", "--test-per-class", "1", "--folds", "2", "--scratch-steps", "0"]
VISUALIZE = ["--steps", "2", "--channels", "0", "--max-images", "8", "--verbose", "0"]
RESULTS = []


# -- the world every case starts from ----------------------------------------------

@pytest.fixture(scope="module")
def world(trained_run, tmp_path_factory):
    """A folder ``nobody`` may read: a run (with a two-section report), images, Fashion-MNIST stand-in data."""
    import tempfile

    root = pathlib.Path(tempfile.mkdtemp(prefix="zfkeras-faults-", dir="/tmp"))
    shutil.copytree(trained_run.path, root / "run", ignore=shutil.ignore_patterns("report", "checkpoints", "logs"))
    from zfkeras.analysis.cli import report as report_cli

    assert report_cli.main([str(root / "run"), "--sections", "fig4_evolution", "fig2_top9", "--quiet"]) == 0
    rng = np.random.RandomState(0)
    (root / "images").mkdir()
    for i in range(9):
        Image.fromarray(rng.randint(0, 256, (32, 40), np.uint8)).save(root / "images" / f"im{i}.png")
    write_learnable_fashion_mnist(root / "data", n_train=256, n_test=64, seed=1)
    # a finished Table 2 variant, so that `zfkeras ablate --table-only` has a row and trains nothing
    shutil.copytree(trained_run.path, root / "ablations" / "zf",
                    ignore=shutil.ignore_patterns("report", "checkpoints", "logs"))
    open_to_all(root)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def summary(request, world):
    """Prints every case's outcome, the count of each and the shared inputs lost (docs/RELIABILITY.md)."""
    before = tree_digests(world)
    yield
    # The inputs the cases read (the run, its report, images, data, the finished variant): none lost or changed.
    after = tree_digests(world)
    lost = sorted(name for name, digest in before.items() if after.get(name) != digest)
    lines = ["", f"fault injection: {len(RESULTS)} cases"]
    lines += [f"  {verb:9} {fault:28} {outcome} ({seconds:.1f} s)" for verb, fault, outcome, seconds in RESULTS]
    counts = {}
    for _, _, outcome, _ in RESULTS:
        counts[outcome] = counts.get(outcome, 0) + 1
    lines.append("fault injection outcomes: " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())))
    lines.append(f"files lost: {len(lost)} of the {len(before)} shared input files (SHA-256 after the last case; "
                 "each case also checks the files it set up)")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # shown even when pytest captures the output
        print("\n".join(lines), flush=True)
    assert not lost, lost


@dataclasses.dataclass
class Sandbox:
    """One case's private folder (``nobody`` may read it; `writable` lets it write there)."""

    path: pathlib.Path
    world: pathlib.Path

    def copy(self, name):
        shutil.copytree(self.world / name, self.path / name) if (self.world / name).is_dir() \
            else shutil.copy(self.world / name, self.path / name)
        open_to_all(self.path / name)
        return self.path / name

    def writable(self, *paths):
        for path in paths or (self.path,):
            for folder, _, names in os.walk(path):
                os.chown(folder, NOBODY, NOBODY)
                for name in names:
                    os.chown(os.path.join(folder, name), NOBODY, NOBODY)


@pytest.fixture
def sandbox(world):
    import tempfile

    path = pathlib.Path(tempfile.mkdtemp(prefix="zfkeras-case-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield Sandbox(path, world)
    mounts = [line.split()[1] for line in open("/proc/mounts") if line.split()[1].startswith(str(path))]
    for mount in sorted(mounts, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False)
    shutil.rmtree(path, ignore_errors=True)


def _command(verb, args, user=None):
    command = [sys.executable, "-m", "zfkeras", verb, *map(str, args)]
    if user == "nobody":
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    return command


def _env(sandbox):
    home = sandbox.path / ".home"
    home.mkdir(exist_ok=True)
    os.chown(home, NOBODY, NOBODY)
    return dict(quiet_env(), HOME=str(home), MPLCONFIGDIR=str(home))


def run_verb(sandbox, verb, args, user=None, timeout=180):
    return subprocess.run(_command(verb, args, user), capture_output=True, text=True, env=_env(sandbox),
                          timeout=timeout, cwd=sandbox.path)


def _record(verb, fault, outcome, started):
    RESULTS.append((verb, fault, outcome, time.monotonic() - started))


def assert_refused(result, verb, *words):
    assert result.returncode == 2, (result.returncode, result.stdout[-1500:], result.stderr[-3000:])
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith(f"zfkeras {verb}: error:")]
    assert len(lines) == 1, result.stderr[-3000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# -- what complete output looks like ---------------------------------------------------

def _visible(folder):
    return sorted(name for name in os.listdir(folder) if not name.startswith("."))


def _complete_zip(path):
    return zipfile.is_zipfile(path) and zipfile.ZipFile(path).testzip() is None


def complete_output(verb, path):
    """Whether the verb's output at `path` is absent or whole (nothing half-written visible)."""
    path = pathlib.Path(path)
    if not path.exists():
        return True
    if verb == "occlude":
        names = _visible(path)
        return "occlusion.csv" in names and all(Image.open(path / n).verify() is None for n in names if n.endswith(".png"))
    if verb == "explore":
        names = _visible(path)
        if names != ["explore.json", "images.npz", "model.keras"]:
            return False
        json.loads((path / "explore.json").read_text())
        return _complete_zip(path / "model.keras") and _complete_zip(path / "images.npz")
    if verb == "export":
        return all((path / name / "saved_model.pb").is_file() for name in _visible(path))
    if verb == "report":
        summary = json.loads((path / "report.json").read_text())
        return (path / "index.html").is_file() and all((path / f).exists() for s in summary["sections"]
                                                           for f in s["files"])
    if verb in ("probe", "transfer", "ablate"):
        return all((path / n).stat().st_size > 0 for n in _visible(path))
    if verb == "visualize":
        names = _visible(path)
        if "feature_visualization.npz" not in names or not set(names) <= {
                "feature_visualization.npz", "pixels.png", "transparency.png"}:
            return False
        return _complete_zip(path / "feature_visualization.npz") and all(
            Image.open(path / n).verify() is None for n in names if n.endswith(".png"))
    if verb == "mine":
        return all(_complete_zip(os.path.join(folder, name)) for folder, _, names in os.walk(path)
                   for name in names if not name.startswith("."))
    if verb == "train":
        for name in _visible(path):
            if name.endswith(".json"):
                json.loads((path / name).read_text())
            elif name.endswith((".keras", ".npz")):
                assert _complete_zip(path / name), name
        return True
    raise AssertionError(verb)


# -- each verb's command, its output and its inputs -----------------------------------

def occlude_args(box, out, run=None, image=None):
    return [run or box.world / "run", image or box.world / "images" / "im0.png", "--out", out]


def explore_args(box, out, model=None):
    return [model or box.world / "run" / "model.keras", "--images", box.world / "images", "--logdir", out.parent,
            "--name", out.name]


def probe_args(box, out, run=None):
    return [run or box.world / "run", "--out", out, *PROBE]


def transfer_args(box, out, run=None):
    return [run or box.world / "run", "--out", out, *TRANSFER]


def ablate_args(box, out, run=None):
    return [run or box.world / "run", "--out", out, "--ablation-dir", box.world / "ablations", "--variants", "zf",
            "--table-only"]


def visualize_args(box, out, run=None):
    return [run or box.world / "run", "--out", out, *VISUALIZE]


def export_args(box, out, run=None):
    # no explain_* signatures: a third of the export's work, the same writes (SLOWER adds them for the late kill)
    return [run or box.world / "run", out, "--explain", "none"]


def train_args(box, out, data=None):
    return ["--data-dir", data or box.world / "data", "--run-dir", out, *TRAIN]


ARGS = {"occlude": occlude_args, "explore": explore_args, "probe": probe_args, "export": export_args,
        "train": train_args, "transfer": transfer_args, "ablate": ablate_args, "visualize": visualize_args}
WRITERS = sorted(ARGS)
# Verbs that write into the run folder itself: (their folder there, their arguments after RUN).
IN_RUN = {"report": ("report", ["--sections", "fig4_evolution", "fig2_top9", "--no-cache", "--quiet"]),
          "mine": ("mined", ["--layers", "conv1", "--max-images", "64", "--k", "4", "--verbose", "0"])}
VERBS = WRITERS + sorted(IN_RUN)


# -- the output folder -------------------------------------------------------------

@pytest.mark.parametrize("verb", [v for v in WRITERS if v != "train"])
def test_output_is_a_run_folder(sandbox, verb):
    started = time.monotonic()
    run = sandbox.copy("run")
    before = tree_digests(run)
    out = run if verb != "explore" else run
    args = ARGS[verb](sandbox, out) + (["--overwrite"] if verb in ("occlude", "explore", "visualize") else [])
    result = run_verb(sandbox, verb, args)
    assert_refused(result, verb, "run folder")
    assert tree_digests(run) == before
    assert _visible(sandbox.path) == ["run"]
    _record(verb, "output is a run", REFUSED, started)


def test_train_over_a_different_run(sandbox):
    started = time.monotonic()
    run = sandbox.copy("run")
    before = tree_digests(run)
    result = run_verb(sandbox, "train", train_args(sandbox, run) + ["--learning-rate", "0.5"])
    assert_refused(result, "train", "different configuration")
    assert tree_digests(run) == before
    _record("train", "output is another run", REFUSED, started)


@pytest.mark.parametrize("verb", VERBS)
def test_output_is_a_file(sandbox, verb):
    started = time.monotonic()
    if verb in IN_RUN:
        run = sandbox.copy("run")
        folder, extra = IN_RUN[verb]
        shutil.rmtree(run / folder, ignore_errors=True)
        (run / folder).write_text("a file where the command's folder goes")
        before = tree_digests(sandbox.path)
        result = run_verb(sandbox, verb, [run, *extra])
    else:
        target = sandbox.path / "taken"
        target.write_text("mine")
        before = tree_digests(sandbox.path)
        out = target if verb != "explore" else target / "entry"
        result = run_verb(sandbox, verb, ARGS[verb](sandbox, out))
    assert_refused(result, verb)
    assert tree_digests(sandbox.path) == before
    _record(verb, "output is a file", REFUSED, started)


@pytest.mark.parametrize("verb", VERBS)
def test_output_is_read_only(sandbox, verb):
    started = time.monotonic()
    if verb in IN_RUN:
        run = sandbox.copy("run")  # owned by root: read-only for nobody, report/ included
        before = tree_digests(run)
        result = run_verb(sandbox, verb, [run, *IN_RUN[verb][1]], user="nobody")
        assert tree_digests(run) == before
    else:
        result = run_verb(sandbox, verb, ARGS[verb](sandbox, sandbox.path / "out"), user="nobody")
        assert not (sandbox.path / "out").exists()
    assert_refused(result, verb, "cannot be written")
    _record(verb, "output is read-only", REFUSED, started)


def _fill(folder):
    """Fills the file system of `folder` to the last byte."""
    fd = os.open(os.path.join(folder, "filler"), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):  # large blocks, then the last bytes
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                pass
    finally:
        os.close(fd)


def _tmpfs(path, size):
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], check=True)
    return path


@pytest.mark.parametrize("verb", VERBS)
def test_output_on_a_full_disk(sandbox, verb):
    started = time.monotonic()
    if verb in IN_RUN:
        disk = _tmpfs(sandbox.path / "disk", "16m")
        shutil.copytree(sandbox.world / "run", disk / "run")
        folder, extra = IN_RUN[verb]
        shutil.rmtree(disk / "run" / "mined", ignore_errors=True)  # mine has all to write
        _fill(disk)
        before = tree_digests(disk / "run")
        result = run_verb(sandbox, verb, [disk / "run", *extra])
        assert tree_digests(disk / "run") == before  # the old report stays, nothing half-written
        assert complete_output(verb, disk / "run" / folder)
    else:
        disk = _tmpfs(sandbox.path / "disk", "64k")
        _fill(disk)
        result = run_verb(sandbox, verb, ARGS[verb](sandbox, disk / "out"))
        assert complete_output(verb, disk / "out")
        if verb in ("occlude", "explore", "train", "visualize"):
            assert not (disk / "out").exists() or not _visible(disk / "out")
        assert _visible(disk) == ["filler"] or verb in ("export", "probe", "transfer", "ablate")
    assert_refused(result, verb, "no space left")
    _record(verb, "output on a full disk", REFUSED, started)


# -- the input -----------------------------------------------------------------------

def _inputs(box, verb, kind):
    """``(args, protected folder)`` with the verb's main input made `kind`."""
    out = box.path / "out"
    if verb == "train":
        data = box.copy("data")
        if kind == "unreadable":
            os.chmod(data, 0o000)
        elif kind == "truncated":
            for name in os.listdir(data):
                blob = (data / name).read_bytes()
                (data / name).write_bytes(blob[: len(blob) // 3])
        else:
            shutil.rmtree(data)
            os.mkfifo(data)
        return train_args(box, out, data), box.path
    run = box.copy("run")
    target = run / ("config.json" if verb == "ablate" else "model.keras")
    if verb == "occlude":
        target = box.copy("images") / "im0.png"
    if kind == "unreadable":
        os.chmod(target, 0o000)
    elif kind == "truncated":
        blob = target.read_bytes()
        target.write_bytes(blob[: len(blob) // 3])
    else:
        target.unlink()
        os.mkfifo(target)
    if verb in IN_RUN:
        return [run, *IN_RUN[verb][1]], box.path
    if verb == "occlude":
        return occlude_args(box, out, image=target), box.path
    if verb == "explore":
        return explore_args(box, out, model=target), box.path
    return ARGS[verb](box, out, run), box.path


@pytest.mark.parametrize("kind", ["unreadable", "truncated", "fifo"])
@pytest.mark.parametrize("verb", VERBS)
def test_input_is_broken(sandbox, verb, kind):
    started = time.monotonic()
    args, protected = _inputs(sandbox, verb, kind)
    if kind == "unreadable":
        os.chmod(sandbox.path, 0o777)  # the output may be written; the input may not be read
    before = tree_digests(protected)  # root reads the mode-000 input
    result = run_verb(sandbox, verb, args, user="nobody" if kind == "unreadable" else None, timeout=120)
    if verb == "report" and kind == "truncated":
        # the damaged model spoils fig2_top9: the old two-section page stays, the new one goes beside it
        assert result.returncode == 1 and "made fewer sections" in result.stderr, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        outcome = KEPT
    else:
        line = assert_refused(result, verb)
        if kind == "unreadable":
            assert "permission denied" in line and "corrupt" not in line
        outcome = REFUSED
    if before is not None:
        after = tree_digests(protected)
        assert {k: v for k, v in after.items() if k in before} == before
    assert complete_output(verb, sandbox.path / "out" if verb not in IN_RUN else
                           sandbox.path / "run" / IN_RUN[verb][0])
    _record(verb, f"input {kind}", outcome, started)


# -- SIGKILL ---------------------------------------------------------------------------

def _kill_when(proc, moment, watched, deadline=120):
    """Kills `proc` with SIGKILL at `moment`: ``"start"`` (0.5 s), ``"writing"`` (a temporary appears in
    `watched`) or ``"late"`` (8 s). Returns whether it was still running when killed."""
    start = time.monotonic()
    while proc.poll() is None and time.monotonic() - start < deadline:
        elapsed = time.monotonic() - start
        if moment == "start" and elapsed > 0.5 or moment == "late" and elapsed > 8:
            break
        if moment == "writing" and watched.is_dir() and any(
                name.startswith(".tmp-") and not name.startswith(".tmp-write-check-")  # the early permission probe
                for folder, dirs, names in os.walk(watched) for name in dirs + names):
            break
        time.sleep(0.01)
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive


# Longer work for the "late" kill, so that 8 s comes before the end (the last value of an option counts).
# "start" and "writing" take the usual small work: what is written, and so the moment of writing, is the same.
SLOWER = {"visualize": ["--steps", "400"], "transfer": ["--folds", "5", "--scratch-steps", "150"],
          "export": ["--explain", "all"]}


@pytest.mark.parametrize("moment", ["start", "writing", "late"])
@pytest.mark.parametrize("verb", VERBS)
def test_sigkill(sandbox, verb, moment):
    started = time.monotonic()
    if verb in IN_RUN:
        run = sandbox.copy("run")
        shutil.rmtree(run / "mined", ignore_errors=True)  # mine has all to write
        before = tree_digests(run / "report")
        args, out, watched = [run, *IN_RUN[verb][1]], run / IN_RUN[verb][0], run
    else:
        out = sandbox.path / "logs" / "out" if verb == "explore" else sandbox.path / "out"
        args, watched = ARGS[verb](sandbox, out) + (SLOWER.get(verb, []) if moment == "late" else []), out.parent
        before = None
    proc = subprocess.Popen(_command(verb, args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=_env(sandbox), cwd=sandbox.path, start_new_session=True)
    alive = _kill_when(proc, moment, watched)
    err = proc.stderr.read()
    proc.stderr.close()
    assert "Traceback" not in err, err[-3000:]
    assert complete_output(verb, out)
    if before is not None:
        after = tree_digests(run / "report")
        assert after == before or complete_output("report", run / "report")
    _record(verb, f"SIGKILL at {moment}", KILLED if alive else "finished before the kill", started)


# -- two at once -----------------------------------------------------------------------

@pytest.mark.parametrize("verb", VERBS)
def test_two_commands_write_the_same_output(sandbox, verb):
    started = time.monotonic()
    if verb in IN_RUN:
        run = sandbox.copy("run")
        shutil.rmtree(run / "mined", ignore_errors=True)
        args, out = ([run, "--sections", "fig4_evolution", "--quiet"] if verb == "report"
                     else [run, *IN_RUN[verb][1]]), run / IN_RUN[verb][0]
    else:
        out = sandbox.path / "logs" / "out" if verb == "explore" else sandbox.path / "out"
        args = ARGS[verb](sandbox, out)
    procs = [subprocess.Popen(_command(verb, args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env=_env(sandbox), cwd=sandbox.path) for _ in range(2)]
    errors = [proc.communicate(timeout=300)[1] for proc in procs]
    codes = sorted(proc.returncode for proc in procs)
    for err in errors:
        assert "Traceback" not in err, err[-3000:]
    assert codes[0] == 0 and codes[1] in (0, 2), (codes, [e[-2000:] for e in errors])
    if codes[1] == 2:
        assert any(f"zfkeras {verb}: error:" in err for err in errors)
    assert complete_output(verb, out)
    assert not [name for name in os.listdir(out.parent) if ".old-" in name]  # nobody's content moved aside
    _record(verb, "two at once", RACE + f" (exit {codes[0]} and {codes[1]})", started)
