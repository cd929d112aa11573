"""The report's section cache: what a section's key is made of.

A section is reused while its key is unchanged (and its files exist). The
key covers everything that makes the section:

- **inputs**: the files and folders of the run folder the section declares
  in its module's ``INPUTS`` (names relative to the run folder, e.g.
  ``model.keras``, ``evolution``, ``ablations``). A file counts with its
  size, modification time and, up to `HASHED_BYTES`, a hash of its
  contents; a folder with the relative path, size and modification time of
  every file under it, so a file added, removed or rewritten anywhere
  inside changes the key. A module that declares no ``INPUTS`` is taken to
  read the whole run folder (but its ``report/``).
- **parameters**: the keyword arguments of ``report_section`` with their
  defaults (`section_parameters`), overridden by the caller's.
- **code**: the zfkeras version and a hash of the sources of the section's
  module and of every zfkeras module it imports, followed transitively
  through ``import`` statements (also those inside functions) and through
  the lazy exports of zfkeras packages (``from zfkeras import Deconvnet``
  counts ``zfkeras/deconv``). A change to mining or the deconvnet
  recomputes the sections that use them, and only those.
- **extra**: what a module's optional ``cache_extra()`` returns (JSON-able),
  for what a section reads besides files and code (the methods comparison:
  the registered explanation methods).

Needs only the standard library (no TensorFlow: a rerun that reuses every
section never imports it).
"""

import ast
import functools
import hashlib
import importlib.util
import inspect
import json
import os
import pathlib

from zfkeras.runs.layout import REPORT
from zfkeras.utils.atomic import is_temporary

HASHED_BYTES = 16 * 2**20  # files up to this size are hashed, larger ones count by size and mtime
EXCLUDED = ("report",)  # never an input: what the report itself writes
# Arguments of report_section that are not parameters of what it computes.
NOT_PARAMETERS = ("run", "out_dir", "verbose")
# Code every section runs through its `RunFolder` argument.
ALWAYS = ("zfkeras.runs.folder",)


def section_parameters(report_section):
    """The parameters of a ``report_section`` and their defaults.

    Its keyword arguments with defaults, but `NOT_PARAMETERS`.

    Returns:
        dict name -> default.
    """
    return {name: p.default for name, p in inspect.signature(report_section).parameters.items()
            if name not in NOT_PARAMETERS and p.default is not inspect.Parameter.empty}


def resolve_parameters(report_section, overrides, name):
    """The defaults of `report_section` updated with `overrides`.

    Raises:
        TypeError: an override names no parameter of the section.
    """
    params = section_parameters(report_section)
    unknown = sorted(set(overrides or {}) - set(params))
    if unknown:
        raise TypeError(f"section {name!r} has no parameter {unknown[0]!r}; its parameters: {sorted(params)}")
    params.update(overrides or {})
    return params


def _file_stamp(path):
    stat = path.stat()
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if stat.st_size <= HASHED_BYTES:
        stamp["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return stamp


def input_stamp(run_dir, inputs):
    """What the declared inputs of a run folder hold now (JSON-able).

    Args:
        run_dir: the run folder.
        inputs: names relative to it (files or folders); None for the
            whole folder but `EXCLUDED`.

    Returns:
        dict name -> stamp: None if absent, a file's size/mtime(/hash), or
        for a folder a sorted list of ``[relative path, size, mtime_ns]``.
    """
    root = pathlib.Path(run_dir)
    if inputs is None:
        # the report's own staging copy and kept reports are outputs, not inputs
        inputs = sorted(p.name for p in root.iterdir() if p.name not in EXCLUDED and not is_temporary(p.name)
                        and not p.name.startswith(f"{REPORT}.incomplete-"))
    stamps = {}
    for name in inputs:
        path = root / name
        if path.is_file():
            stamps[name] = _file_stamp(path)
        elif path.is_dir():
            files = []
            for sub in sorted(p for p in path.rglob("*") if p.is_file()):
                stat = sub.stat()
                files.append([sub.relative_to(path).as_posix(), stat.st_size, stat.st_mtime_ns])
            stamps[name] = files
        else:
            stamps[name] = None
    return stamps


# -- the code a section runs ------------------------------------------------

def _package_dirs():
    """Where the zfkeras packages' sources are, found without importing them."""
    dirs = {}
    for name in ("zfkeras", "zfkeras.analysis", "zfkeras.train", "zfkeras.export"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs[name] = pathlib.Path(list(spec.submodule_search_locations)[0])
    return dirs


def _module_file(name, roots):
    """The source file of zfkeras module `name`, or None (found on disk, never imported)."""
    base = max((root for root in roots if name == root or name.startswith(root + ".")), key=len, default=None)
    if base is None:
        return None
    path = roots[base].joinpath(*name[len(base) + 1:].split(".")) if name != base else roots[base]
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=None)
def _parse(path, mtime_ns):
    """(sha256 of the source, tuple of (module, names, level) imports, lazy exports) of one file."""
    source = pathlib.Path(path).read_bytes()
    tree = ast.parse(source)
    imports, exports = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports += [(alias.name, (), 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imports.append((node.module or "", tuple(a.name for a in node.names), node.level))
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and getattr(node.targets[0], "id", None) == "_EXPORTS"):
            try:
                exports = dict(ast.literal_eval(node.value))
            except ValueError:
                pass
    return hashlib.sha256(source).hexdigest(), tuple(imports), exports


def _imported(name, path, imports, roots):
    """The zfkeras modules one module's import statements load."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for module, names, level in imports:
        if level:
            parts = package.split(".")
            module = ".".join(parts[:len(parts) - level + 1] + ([module] if module else []))
        if not module.startswith("zfkeras"):
            continue
        found.append(module)
        parts = module.split(".")
        found += [".".join(parts[:i]) for i in range(1, len(parts))]  # parents run first
        found += [f"{module}.{n}" for n in names]
        init = _module_file(module, roots)
        if init is not None and init.name == "__init__.py":
            exports = _parse(str(init), init.stat().st_mtime_ns)[2]
            found += [exports[n] for n in names if n in exports]
    return found


def code_digest(module_name):
    """A hash of the sources of `module_name` and every zfkeras module it imports.

    Returns:
        (hex digest, sorted list of the module names it covers).
    """
    roots = _package_dirs()
    seen, todo, digests = set(), [module_name, *ALWAYS], {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name, roots)
        if path is None:
            continue
        digest, imports, exports = _parse(str(path), path.stat().st_mtime_ns)
        digests[name] = digest
        todo += _imported(name, path, imports, roots)
    text = json.dumps(sorted(digests.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:20], sorted(digests)


def _source_digest(module):
    """Hash of a module's own source (a module made in memory has its name only)."""
    source = getattr(module, "__file__", None)
    if source and os.path.isfile(source):
        return hashlib.sha256(pathlib.Path(source).read_bytes()).hexdigest()[:20]
    return None


def section_key(run_dir, module, params):
    """The cache key of one section (a JSON-able dict).

    Args:
        run_dir: the run folder.
        module: the section's module (``INPUTS``, ``report_section``).
        params: its resolved parameters (`resolve_parameters`).
    """
    import zfkeras

    code, _ = code_digest(module.__name__)
    key = {
        "inputs": input_stamp(run_dir, getattr(module, "INPUTS", None)),
        "params": params,
        "code": {"zfkeras": zfkeras.__version__, "module": _source_digest(module), "modules": code},
    }
    extra = getattr(module, "cache_extra", None)
    if extra is not None:  # what else the section reads (e.g. the method registry)
        key["extra"] = extra()
    return json.loads(json.dumps(key, default=str))
