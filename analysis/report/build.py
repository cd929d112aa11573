"""The run report: ``RUN_DIR/report/index.html`` and everything it shows.

`write_report` asks each experiment module of `SECTIONS` for its section
(``report_section(run, out_dir, progress)``, see `report_types`), and
writes one self-contained folder: the HTML page, the PNGs, CSV/JSON files of
every number, a copy of the run's configuration and metrics. No external
URL is used, so the folder can be zipped, mailed or opened from file://.

A section that cannot run (its module is not installed, it raised
`SectionUnavailable`, or it failed) is listed under "Missing sections" with
the reason, and every other section is still written.

Rerunning reuses finished sections: each one is cached in
``report/.cache/<module>.json`` under a key made of the model file's
modification time and size, the module's ``REPORT_PARAMS`` (if any) and a
hash of its source, and reused while that key matches and its files exist.
"""

import dataclasses
import hashlib
import html
import importlib
import json
import os
import pathlib
import sys
import time
import traceback

from zfkeras.analysis.output import figures
from zfkeras.analysis.report.section import Section, SectionUnavailable

# (module in zfkeras.analysis.sections, title), in the order they appear.
SECTIONS = (
    ("fig2_top9", "Fig. 2: top-9 activations, projected and as image patches"),
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


@dataclasses.dataclass
class Missing:
    """A section the report could not include, and why."""

    module: str
    title: str
    reason: str
    log: str = ""  # relative path of the traceback file, if any


def _say(progress, message):
    if progress:
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


def _model_stamp(run):
    path = pathlib.Path(run.path) / "model.keras"
    try:
        stat = path.stat()
    except OSError:
        return None
    return {"mtime_ns": stat.st_mtime_ns, "size": stat.st_size}


def _cache_key(run, module):
    source = getattr(module, "__file__", None)
    digest = None
    if source and os.path.exists(source):
        with open(source, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
    params = getattr(module, "REPORT_PARAMS", {})
    return json.loads(json.dumps({"model": _model_stamp(run), "params": params, "source": digest}, default=str))


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
    from zfkeras.atomic import write_json_atomic

    write_json_atomic(out_dir / CACHE_DIR / f"{name}.json", {"key": key, "section": dataclasses.asdict(section)})


def _check_section(section, name):
    if not isinstance(section, Section):
        raise TypeError(f"zfkeras.analysis.sections.{name}.report_section returned {type(section).__name__}, not a Section")
    for file in section.files:
        if os.path.isabs(file) or file.startswith(".."):
            raise ValueError(f"section {name!r} lists file {file!r} outside the report folder")


def _build_section(run, out_dir, name, title, progress, use_cache):
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
    key = _cache_key(run, module)
    if use_cache:
        section = _cached(out_dir, name, key)
        if section is not None:
            return section, None, True
    try:
        section = module.report_section(run, out_dir, progress=progress)
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
    first_line = (str(error).splitlines() or [""])[0]
    return Missing(name, title, f"{what}: {type(error).__name__}: {first_line}", log)


def write_report(run_dir, sections=None, progress=True, use_cache=True):
    """Writes ``RUN_DIR/report/index.html`` and the files it shows.

    Args:
        run_dir: a run folder written by ``zfkeras train``.
        sections: module names in ``zfkeras.analysis`` (or ``(module,
            title)`` pairs) to include, in order; None for `SECTIONS`.
        progress: print a line per step and let sections show progress bars.
        use_cache: reuse sections computed by an earlier call for the same
            model file and parameters.

    Returns:
        pathlib.Path of ``index.html``.

    Raises:
        ValueError: `run_dir` is not a run folder.
    """
    from zfkeras.runs.folder import RunFolder

    chosen = _normalize_sections(sections)
    run = RunFolder(run_dir)
    out_dir = pathlib.Path(run.report_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _say(progress, f"writing {out_dir / INDEX} ({len(chosen)} sections)")
    done, missing, timings = [], [], {}
    for i, (name, title) in enumerate(chosen, 1):
        start = time.perf_counter()
        _say(progress, f"{i}/{len(chosen)} {name} ...")
        section, miss, reused = _build_section(run, out_dir, name, title, progress, use_cache)
        seconds = time.perf_counter() - start
        timings[name] = round(seconds, 2)
        if section is not None:
            done.append(section)
            _say(progress, f"{i}/{len(chosen)} {name}: {'reused' if reused else 'done'} in {seconds:.1f} s")
        else:
            missing.append(miss)
            _say(progress, f"{i}/{len(chosen)} {name}: missing ({miss.reason})")
    summary = _write_summary(run, out_dir, done, missing, timings)
    index = out_dir / INDEX
    page = render_page(run, done, missing, summary)
    with _atomic(index) as tmp:
        pathlib.Path(tmp).write_text(page, encoding="utf-8")
    _say(progress, f"{len(done)} sections written, {len(missing)} missing: {index}")
    return index


def _atomic(path):
    from zfkeras.atomic import atomic_path

    return atomic_path(path)


def _write_summary(run, out_dir, done, missing, timings):
    from zfkeras.atomic import write_json_atomic

    summary = {
        "run_dir": str(run.path),
        "cpu": figures.cpu_model(),
        "date": figures.today(),
        "python": sys.version.split()[0],
        "sections": [{"key": s.key, "title": s.title, "files": s.files} for s in done],
        "missing": [dataclasses.asdict(m) for m in missing],
        "seconds": timings,
        "config": _safe(lambda: run.config),
        "metrics": _safe(lambda: run.metrics),
    }
    write_json_atomic(out_dir / "report.json", summary)
    return summary


def _safe(getter):
    try:
        value = getter()
        return json.loads(json.dumps(value, default=str))
    except Exception:  # metrics of an unfinished run: the page says so
        return None


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em} h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
img.figure{max-width:100%;height:auto;image-rendering:pixelated;border:1px solid #ddd}
.caption{font-size:.92em;color:#333;background:#f6f6f6;padding:.6em .8em;border-left:3px solid #999}
.files{font-size:.85em;color:#555} table.numbers{border-collapse:collapse;font-size:.9em;margin:.5em 0}
table.numbers td,table.numbers th{border:1px solid #ccc;padding:2px 8px;text-align:right}
.missing li{margin:.3em 0} code{background:#f0f0f0;padding:0 3px}
"""


def _header(run, summary):
    config = summary.get("config") or {}
    metrics = summary.get("metrics") or {}
    facts = [f"Run folder <code>{html.escape(str(run.path))}</code>"]
    if config:
        facts.append(f"model <b>{html.escape(str(config.get('model')))}</b> on "
                     f"<b>{html.escape(str(config.get('dataset')))}</b>, {config.get('epochs')} epochs")
    if metrics.get("test_accuracy") is not None:
        facts.append(f"test accuracy {100 * metrics['test_accuracy']:.2f}% "
                     f"({metrics.get('test_examples', '?')} test images)")
    facts.append(f"CPU: {html.escape(summary['cpu'])}")
    facts.append(f"written {summary['date']} by <code>zfkeras report {html.escape(str(run.path))}</code>")
    return "<p>" + "; ".join(facts) + ". Numbers: <a href=\"report.json\">report.json</a>.</p>"


def render_page(run, done, missing, summary):
    """The HTML of index.html (a string)."""
    toc = "".join(f'<li><a href="#{html.escape(s.key)}">{html.escape(s.title)}</a></li>' for s in done)
    if missing:
        toc += '<li><a href="#missing">Missing sections</a></li>'
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>zfkeras report: {html.escape(run.path.name)}</title><style>{_CSS}</style></head><body>",
        "<h1>Visualizing and Understanding Convolutional Networks: run report</h1>",
        _header(run, summary),
        f"<ul class=\"toc\">{toc}</ul>",
    ]
    for s in done:
        files = " · ".join(f'<a href="{html.escape(f)}">{html.escape(f)}</a>' for f in s.files)
        parts.append(
            f'<section id="{html.escape(s.key)}"><h2>{html.escape(s.title)}</h2>{s.body_html}'
            f'<p class="caption">{s.caption_html}</p><p class="files">Files: {files}</p></section>'
        )
    if missing:
        items = []
        for m in missing:
            log = f' (<a href="{html.escape(m.log)}">traceback</a>)' if m.log else ""
            items.append(f"<li><b>{html.escape(m.title)}</b> (<code>zfkeras.analysis.sections.{html.escape(m.module)}</code>): "
                         f"{html.escape(m.reason)}{log}</li>")
        parts.append(f'<section id="missing"><h2>Missing sections</h2><ul class="missing">{"".join(items)}</ul></section>')
    parts.append("</body></html>")
    return "\n".join(parts)
