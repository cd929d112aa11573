"""Types shared by the report and the experiment modules that feed it.

Every section module in ``zfkeras.analysis.sections`` that contributes to
``zfkeras report RUN_DIR`` exposes::

    INPUTS = (...)   # what it reads of the run folder: names of files and folders
    report_section(run: RunFolder, out_dir: pathlib.Path, verbose="auto", *, parameter=default, ...) -> Section

Its parameters are the keyword arguments of ``report_section`` with their
defaults (no module-level settings), so the report can cache a section
under exactly its inputs, parameters and code (`zfkeras.analysis.report.cache`)
and a caller can change one (``write_report(params={module: {name: value}})``).
``report_section`` writes its PNG/CSV/JSON files into ``out_dir`` (the report folder) with
names saying what they hold, refers to them in ``body_html`` by path
relative to ``out_dir``, and lists them in ``files``. When the step cannot
run (no model, no evolution files, a missing optional dependency ...) it
raises ``SectionUnavailable(reason)``; the report then lists the section as
missing with that reason and still writes every other section.
"""

import dataclasses
from typing import List

from zfkeras.runs import layout

# The run-folder files a section reads when it runs the trained model on the
# run's own (preprocessed) test images and names their classes.
TRAINED_MODEL = (layout.CONFIG, layout.MODEL, layout.SPLITS, layout.CLASS_NAMES,
                 layout.NORMALIZATION, layout.MEAN_IMAGE)


@dataclasses.dataclass
class Section:
    """One block of the report: a figure or table with its caption.

    Args:
        key: Short identifier, used as the HTML anchor (e.g. ``"fig2"``).
        title: Heading shown in the report (e.g. ``"Fig. 2: top-9 ..."``).
        caption_html: Caption naming the paper's figure/table reproduced,
            what it shows and how it was made (data, sample size, model,
            command). HTML fragment.
        body_html: The figure/table itself. HTML fragment; files are referred
            to by paths relative to the report folder.
        files: Paths (relative to the report folder) of every file the
            section wrote: PNGs, and CSV/JSON holding its numbers.
    """

    key: str
    title: str
    caption_html: str
    body_html: str
    files: List[str] = dataclasses.field(default_factory=list)


class SectionUnavailable(Exception):
    """Raised by ``report_section`` when the step cannot run.

    The message (one line) says why and, where possible, what to do; the
    report shows it in the list of missing sections.
    """
