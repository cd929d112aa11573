"""zfkeras.utils.atomic: files and folders appear whole or not at all."""

import json
import os
import signal
import subprocess
import sys

import pytest

from zfkeras.utils.atomic import (
    atomic_directory,
    atomic_path,
    is_temporary,
    remove_temporaries,
    write_json_atomic,
)


class Boom(Exception):
    pass


def test_success_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "data.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path) and is_temporary(tmp)
        assert tmp.endswith("data.txt") and not os.path.exists(tmp)
        with open(tmp, "w") as f:
            f.write("new")
        assert target.read_text() == "old"  # not visible before the block ends
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["data.txt"]


def test_an_error_in_the_block_leaves_no_file_and_no_temporary(tmp_path):
    target = tmp_path / "model.keras"
    with pytest.raises(Boom):
        with atomic_path(target) as tmp:
            with open(tmp, "w") as f:
                f.write("half")
            raise Boom()
    assert os.listdir(tmp_path) == []
    # an existing file is kept as it was
    target.write_text("old")
    with pytest.raises(Boom):
        with atomic_path(target) as tmp:
            open(tmp, "w").close()
            raise Boom()
    assert os.listdir(tmp_path) == ["model.keras"] and target.read_text() == "old"


def test_a_block_that_writes_nothing_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with atomic_path(tmp_path / "x.npz"):
            pass
    assert os.listdir(tmp_path) == []


def test_write_json_atomic_round_trips_and_creates_the_folder(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    write_json_atomic(path, {"b": 1, "a": [1.5, None]})
    assert json.loads(path.read_text()) == {"a": [1.5, None], "b": 1}
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"a": [1.5, None], "b": 1}
    assert os.listdir(path.parent) == ["metrics.json"]


def test_atomic_directory_renames_on_success_and_removes_on_failure(tmp_path):
    target = tmp_path / "epoch_0001"
    with pytest.raises(Boom):
        with atomic_directory(target) as tmp:
            (open(os.path.join(tmp, "a"), "w")).close()
            raise Boom()
    assert os.listdir(tmp_path) == []
    with atomic_directory(target) as tmp:
        assert not target.exists()
        with open(os.path.join(tmp, "a"), "w") as f:
            f.write("1")
    assert sorted(os.listdir(tmp_path)) == ["epoch_0001"] and (target / "a").read_text() == "1"


def test_atomic_directory_refuses_a_non_empty_folder_unless_replace(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep").write_text("old")
    with pytest.raises(ValueError, match="not empty; pass replace=True"):
        with atomic_directory(target):
            raise AssertionError("the block must not run")
    assert (target / "keep").read_text() == "old"
    with atomic_directory(target, replace=True) as tmp:
        with open(os.path.join(tmp, "new"), "w") as f:
            f.write("x")
    assert sorted(os.listdir(target)) == ["new"]
    assert sorted(os.listdir(tmp_path)) == ["out"]
    # an empty folder is simply filled
    (tmp_path / "empty").mkdir()
    with atomic_directory(tmp_path / "empty") as tmp:
        open(os.path.join(tmp, "f"), "w").close()
    assert os.listdir(tmp_path / "empty") == ["f"]
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is not a folder"):
        with atomic_directory(tmp_path / "file"):
            pass


_KILLED_WRITER = """
import sys, time
from zfkeras.utils.atomic import atomic_path
target, marker = sys.argv[1], sys.argv[2]
with atomic_path(target) as tmp:
    with open(tmp, "w") as f:
        f.write("half of the new")
        f.flush()
    open(marker, "w").close()
    sys.stdin.read()  # blocks until killed
"""


def test_a_killed_writer_leaves_only_a_temporary_never_the_real_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text('{"old": true}')
    marker = tmp_path.parent / f"{tmp_path.name}-marker"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target), str(marker)],
                            stdin=subprocess.PIPE)
    try:
        # Wait for the marker, not for a time: the writer is mid-write then.
        while not marker.exists():
            assert proc.poll() is None, "the writer died before writing"
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 2 and "metrics.json" in names
    leftover = next(n for n in names if n != "metrics.json")
    assert is_temporary(leftover) and (tmp_path / leftover).read_text() == "half of the new"
    assert json.loads(target.read_text()) == {"old": True}
    assert remove_temporaries(tmp_path) == [leftover]
    assert os.listdir(tmp_path) == ["metrics.json"]
    assert remove_temporaries(tmp_path / "missing") == []


def _folder_state(path):
    """What a reader finds at `path`: None (nothing) or the sorted (name, text) pairs."""
    try:
        return tuple(sorted((name, (path / name).read_text()) for name in os.listdir(path)))
    except FileNotFoundError:
        return None


def _fill(tmp, label, files=3):
    for i in range(files):
        with open(os.path.join(tmp, f"part{i}"), "w") as f:
            f.write(label)


def test_a_replaced_folder_is_at_its_path_at_every_step(tmp_path, monkeypatch):
    import shutil

    from zfkeras.utils import atomic

    if not atomic.exchange_supported(tmp_path):
        pytest.skip("this file system cannot exchange two names in one step (see zfkeras.utils.atomic)")
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        _fill(tmp, "old")
    complete = {tuple((f"part{i}", label) for i in range(3)) for label in ("old", "new")}
    seen = []

    def watch(function):
        def watched(*args, **kwargs):
            result = function(*args, **kwargs)
            seen.append(_folder_state(target))
            return result
        return watched

    # Every rename and removal the replacement does is followed by a look at the target.
    monkeypatch.setattr(os, "replace", watch(os.replace))
    monkeypatch.setattr(os, "rename", watch(os.rename))
    monkeypatch.setattr(shutil, "rmtree", watch(shutil.rmtree))
    monkeypatch.setattr(atomic, "_exchange", watch(atomic._exchange))
    with atomic_directory(target, replace=True) as tmp:
        _fill(tmp, "new")
    assert seen and set(seen) <= complete, seen
    assert _folder_state(target) == tuple((f"part{i}", "new") for i in range(3))
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_reader_polling_a_replaced_folder_always_finds_it_whole(tmp_path):
    import threading

    from zfkeras.utils import atomic

    if not atomic.exchange_supported(tmp_path):
        pytest.skip("this file system cannot exchange two names in one step (see zfkeras.utils.atomic)")
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        _fill(tmp, "0")
    states, done = [], threading.Event()

    def read():
        # Whether the path names a folder at each moment. (A listing can come
        # out short: a reader inside the old folder sees it deleted after the
        # swap, as the module docstring says.)
        while not done.is_set():
            states.append(os.path.isdir(target))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(1, 201):
            with atomic_directory(target, replace=True) as tmp:
                _fill(tmp, str(n))
    finally:
        done.set()
        reader.join()
    assert len(states) > 200
    assert set(states) == {True}, f"{states.count(False)} of {len(states)} looks found no folder"
    assert _folder_state(target) == tuple((f"part{i}", "200") for i in range(3))


def test_exchange_swaps_two_folders_or_changes_nothing(tmp_path):
    from zfkeras.utils import atomic

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x").write_text("b")
    swapped = atomic._exchange(tmp_path / "a", tmp_path / "b")
    assert swapped == atomic.exchange_supported(tmp_path)
    expected = ("b", "a") if swapped else ("a", "b")
    assert ((tmp_path / "a" / "x").read_text(), (tmp_path / "b" / "x").read_text()) == expected
    with pytest.raises(FileNotFoundError):
        atomic._exchange(tmp_path / "a", tmp_path / "missing")
