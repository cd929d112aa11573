"""The run report: ``RUN_DIR/report/index.html`` and everything it shows.

`write_report` asks each experiment module of `SECTIONS` for its section
(``report_section(run, out_dir, verbose, **parameters)``, see `section`), and
writes one self-contained folder: the HTML page, the PNGs, CSV/JSON files of
every number, a copy of the run's configuration and metrics. No external
URL is used, so the folder can be zipped, mailed or opened from file://.

A section that cannot run (its module is not installed, it raised
`SectionUnavailable`, or it failed) is listed under "Missing sections" with
the reason, and every other section is still written.

The report is built in a copy beside ``report/`` and swapped in (one
rename) only when it made at least as many of the asked-for sections as
the report in place; otherwise the old page stays and the new one is kept
beside it as ``report.incomplete-<time>``, so a damaged model or an
interrupted run never replaces a good page.

Rerunning reuses finished sections: each one is cached in
``report/.cache/<module>.json`` under a key made of the run-folder files it
declares in ``INPUTS``, its parameters (``report_section``'s keyword
arguments) and its code (`cache.section_key`), and reused while that key
matches and its files exist.
"""

import dataclasses
import importlib
import json
import os
import pathlib
import shutil
import sys
import time
import traceback

from zfkeras.analysis.output import machine
from zfkeras.analysis.report import cache
from zfkeras.analysis.report.pages import render
from zfkeras.analysis.report.section import Section, SectionUnavailable
from zfkeras.runs.layout import REPORT_SUMMARY
from zfkeras.utils.errors import InputError
from zfkeras.utils.atomic import aside_name, install_directory, is_temporary, temporary_name
from zfkeras.utils.paths import check_writable_folder

# (module in zfkeras.analysis.sections, title), in the order they appear.
SECTIONS = (
    ("fig2_top9", "Fig. 2: top-9 activations, projected and as image patches"),
    ("methods_comparison", "The explanation methods side by side: pictures and faithfulness"),
    ("feature_visualization", "What each unit wants: feature visualisation"),
    ("fig4_evolution", "Fig. 4: feature evolution during training"),
    ("fig6_architecture", "Fig. 6: architecture selection, with numbers"),
    ("fig7_occlusion", "Fig. 7: occlusion sensitivity"),
    ("fig5_invariance", "Fig. 5: invariance to translation, scale and rotation"),
    ("table1_correspondence", "Table 1: correspondence analysis"),
    ("table6_probes", "Table 6: what each layer knows (linear probes)"),
    ("table3_4_transfer", "Tables 3-4: transfer with few examples"),
    ("table2_ablations", "Table 2: ablations"),
)

CACHE_DIR = ".cache"
INDEX = "index.html"
# RUN/report.incomplete-<time>: a new report that made fewer sections than the one in place
INCOMPLETE_INFIX = ".incomplete-"


@dataclasses.dataclass
class Missing:
    """A section the report could not include, and why."""

    module: str
    title: str
    reason: str
    log: str = ""  # relative path of the traceback file, if any


def _say(verbose, message):
    if verbose:
        print(f"[report] {message}", flush=True)


def _normalize_sections(sections):
    if sections is None:
        return list(SECTIONS)
    if isinstance(sections, str):
        raise TypeError(f"sections must be a list of module names or (module, title) pairs, got the string {sections!r}")
    titles = dict(SECTIONS)
    out = []
    for entry in sections:
        if isinstance(entry, str):
            out.append((entry, titles.get(entry, entry)))
        elif isinstance(entry, (tuple, list)) and len(entry) == 2 and all(isinstance(e, str) for e in entry):
            out.append(tuple(entry))
        else:
            raise TypeError(f"each section must be a module name or a (module, title) pair, got {entry!r}")
    return out


def _cached(out_dir, name, key):
    path = out_dir / CACHE_DIR / f"{name}.json"
    try:
        with open(path) as f:
            saved = json.load(f)
        if saved.get("key") != key:
            return None
        section = Section(**saved["section"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not all((out_dir / name_).exists() for name_ in section.files):
        return None
    return section


def _store(out_dir, name, key, section):
    from zfkeras.utils.atomic import write_json_atomic

    write_json_atomic(out_dir / CACHE_DIR / f"{name}.json", {"key": key, "section": dataclasses.asdict(section)})


def _check_section(section, name):
    if not isinstance(section, Section):
        raise TypeError(f"zfkeras.analysis.sections.{name}.report_section returned {type(section).__name__}, not a Section")
    for file in section.files:
        if os.path.isabs(file) or file.startswith(".."):
            raise ValueError(f"section {name!r} lists file {file!r} outside the report folder")


def _build_section(run, out_dir, name, title, verbose, use_cache, overrides=None):
    """Returns (Section or None, Missing or None, reused)."""
    try:
        module = importlib.import_module(f"zfkeras.analysis.sections.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"zfkeras.analysis.sections.{name}":
            return None, Missing(name, title, f"module zfkeras.analysis.sections.{name} does not exist yet"), False
        return None, Missing(name, title, f"import failed: {e}"), False
    except Exception as e:  # a broken module must not take the report down
        return None, _failure(out_dir, name, title, "import failed", e), False
    if not hasattr(module, "report_section"):
        return None, Missing(name, title, f"zfkeras.analysis.sections.{name} has no report_section()"), False
    params = cache.resolve_parameters(module.report_section, overrides, name)
    key = cache.section_key(run.path, module, params)
    if use_cache:
        section = _cached(out_dir, name, key)
        if section is not None:
            return section, None, True
    try:
        section = module.report_section(run, out_dir, verbose=verbose, **params)
        _check_section(section, name)
    except SectionUnavailable as e:
        return None, Missing(name, title, str(e) or "unavailable"), False
    except Exception as e:
        return None, _failure(out_dir, name, title, "failed", e), False
    _store(out_dir, name, key, section)
    return section, None, False


def _failure(out_dir, name, title, what, error):
    log = f"errors/{name}.txt"
    path = out_dir / log
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    # A user's problem (InputError) is shown whole: its hint is the point.
    # A bug's first line is enough: the log holds the traceback.
    lines = str(error).splitlines() or [""]
    first_line = " ".join(line.strip() for line in lines) if isinstance(error, InputError) else lines[0]
    return Missing(name, title, f"{what}: {type(error).__name__}: {first_line}", log)


def write_report(run_dir, sections=None, verbose="auto", use_cache=True, params=None):
    """Writes ``RUN_DIR/report/index.html`` and the files it shows.

    Args:
        run_dir: a run folder written by ``zfkeras train``.
        sections: module names in ``zfkeras.analysis`` (or ``(module,
            title)`` pairs) to include, in order; None for `SECTIONS`.
        verbose: 0 (quiet), or 1 or "auto": print a line per step and pass
            it on to the sections (Keras' ``verbose``: their progress bars).
        use_cache: reuse sections computed by an earlier call while their
            inputs, parameters and code are unchanged (`cache`).
        params: ``{module: {parameter: value}}`` overriding the defaults
            of a section's ``report_section`` keyword arguments.

    Returns:
        pathlib.Path of the ``index.html`` written: in ``RUN_DIR/report``,
        or in ``RUN_DIR/report.incomplete-<time>`` when the report in place
        holds more of these sections (it is kept).

    Raises:
        ValueError: `run_dir` is not a run folder.
        TypeError: `params` names a section or parameter that is not there.
    """
    from zfkeras.runs.folder import RunFolder

    chosen = _normalize_sections(sections)
    params = dict(params or {})
    stray = sorted(set(params) - {name for name, _ in chosen})
    if stray:
        raise TypeError(f"params for {stray[0]!r}, which is not among the sections written")
    run = RunFolder(run_dir)
    final = pathlib.Path(run.report_dir)
    check_writable_folder(final, "the report folder")
    previous = _previous_summary(final)
    # Built in a copy beside the report (its cache and the files other
    # verbs wrote there carried over) and swapped in at the end, so a failed
    # or poorer run never replaces a good page.
    out_dir = pathlib.Path(temporary_name(final))
    try:
        out_dir.mkdir(parents=True)
        if final.is_dir():
            _copy_tree(final, out_dir)
        _say(verbose, f"writing {final / INDEX} ({len(chosen)} sections)")
        done, made, missing, timings = [], [], [], {}
        for i, (name, title) in enumerate(chosen, 1):
            start = time.perf_counter()
            _say(verbose, f"{i}/{len(chosen)} {name} ...")
            section, miss, reused = _build_section(run, out_dir, name, title, verbose, use_cache, params.get(name))
            seconds = time.perf_counter() - start
            timings[name] = round(seconds, 2)
            if section is not None:
                done.append(section)
                made.append(name)
                _say(verbose, f"{i}/{len(chosen)} {name}: {'reused' if reused else 'done'} in {seconds:.1f} s")
            else:
                missing.append(miss)
                _say(verbose, f"{i}/{len(chosen)} {name}: missing ({miss.reason})")
        summary = _write_summary(run, out_dir, done, missing, timings, made)
        page = render_page(run, done, missing, summary)
        with _atomic(out_dir / INDEX) as tmp:
            pathlib.Path(tmp).write_text(page, encoding="utf-8")
        before = _sections_before(previous, [name for name, _ in chosen])
        if len(made) >= before:
            install_directory(out_dir, final, replace=True)
            where = final
        else:
            where = pathlib.Path(aside_name(final, infix=INCOMPLETE_INFIX))
            os.replace(out_dir, where)
            _say(verbose, f"kept {final / INDEX}: it holds {before} of these sections, the new one {len(made)}")
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    index = where / INDEX
    _say(verbose, f"{len(done)} sections written, {len(missing)} missing: {index}")
    return index


def _copy_tree(source, target):
    """Copies folder `source` into the existing `target` (temporaries skipped); the first OSError
    (a full disk, a permission) is raised as it is, not gathered as `shutil.copytree` does."""
    for folder, dirs, names in os.walk(source):
        dirs[:] = [d for d in dirs if not is_temporary(d)]
        relative = os.path.relpath(folder, source)
        into = target / relative if relative != "." else target
        into.mkdir(exist_ok=True)
        for name in names:
            if not is_temporary(name):
                shutil.copy2(os.path.join(folder, name), into / name, follow_symlinks=False)


def _previous_summary(folder):
    """The summary of the report in `folder`, or None (none, or unreadable)."""
    try:
        with open(folder / REPORT_SUMMARY) as f:
            summary = json.load(f)
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def _sections_before(summary, chosen):
    """How many of the `chosen` modules the previous report made (0 without one).

    Reports written before ``made`` was recorded count their sections, at
    most as many as are asked for now.
    """
    if summary is None:
        return 0
    if isinstance(summary.get("made"), list):
        return len(set(summary["made"]) & set(chosen))
    return min(len(summary.get("sections") or []), len(chosen))


def _atomic(path):
    from zfkeras.utils.atomic import atomic_path

    return atomic_path(path)


def _write_summary(run, out_dir, done, missing, timings, made=None):
    from zfkeras.utils.atomic import write_json_atomic

    summary = {
        "run_dir": str(run.path),
        "cpu": machine.cpu_model(),
        "date": machine.today(),
        "python": sys.version.split()[0],
        "sections": [{"key": s.key, "title": s.title, "files": s.files} for s in done],
        "made": list(made or []),
        "missing": [dataclasses.asdict(m) for m in missing],
        "seconds": timings,
        "config": _safe(lambda: run.config),
        "metrics": _safe(lambda: run.metrics),
    }
    write_json_atomic(out_dir / REPORT_SUMMARY, summary)
    return summary


def _safe(getter):
    try:
        value = getter()
        return json.loads(json.dumps(value, default=str))
    except Exception:  # metrics of an unfinished run: the page says so
        return None


def render_page(run, done, missing, summary):
    """The HTML of index.html (a string): ``templates/report.html``."""
    return render("report.html", run_name=run.path.name, run_path=str(run.path), config=summary.get("config") or {},
                  metrics=summary.get("metrics") or {}, cpu=summary["cpu"], date=summary["date"],
                  summary_file=REPORT_SUMMARY, done=done, missing=missing)
