"""The report's HTML pages, from jinja2 templates with autoescape.

``templates/report.html`` is ``index.html`` and ``templates/explorer.html``
the explorer. Every value a template shows is escaped (run names and
paths, class names, reasons, file names); only the figure and table
fragments the sections write (`Section.caption_html`, `Section.body_html`)
are inserted as HTML, with ``|safe``.
"""

import functools
import pathlib

TEMPLATES = pathlib.Path(__file__).with_name("templates")


@functools.lru_cache(maxsize=None)
def environment():
    """The jinja2 environment: the templates folder, autoescape on, undefined names an error."""
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render(template, **context):
    """The text of `template` (a file name in `TEMPLATES`) filled with `context`."""
    return environment().get_template(template).render(**context)
