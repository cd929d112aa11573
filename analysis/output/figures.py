"""Drawing the report's figures: panels placed and tiled, PNGs, HTML fragments.

Where and when a figure was made is `machine`; CSV and Markdown tables are
`tables`; how a projection is shown is `zfkeras.utils.display`; the
figures themselves are drawn by `zfkeras.plot` (one drawing code for the
report and for users); here they are written.

Plain numpy and matplotlib (Agg backend); no TensorFlow. Every writer is
atomic (the file appears complete or not at all), so an interrupted report
never leaves a half-written PNG that a rerun would take for a finished one.
"""

import html

import numpy as np

from zfkeras.plot.layout import UNCOVERED, montage, place  # noqa: F401  (the report's panels, zfkeras.plot's)
from zfkeras.utils.atomic import atomic_path


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(figure, path, dpi=100):
    """Saves a matplotlib figure atomically and closes it."""
    plt = pyplot()

    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight")
    plt.close(figure)


def save_accuracy_plot(figure, ax, xlabel, title, path):
    """Labels a mean per-class accuracy plot (Table 6 by depth, the transfer
    curve) the same way, with a grid and a legend, and saves it."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("mean per-class accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_png(figure, path)


def save_image_array(image, path):
    """Saves an ``(H, W, 3)`` array in [0, 1] as a PNG at its own pixel size."""
    import matplotlib.image

    image = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    with atomic_path(path) as tmp:
        matplotlib.image.imsave(tmp, image, format="png")


def html_table(header, rows, float_format="{:.3g}"):
    """A small HTML table; floats formatted with `float_format`."""

    def cell(value):
        if isinstance(value, (float, np.floating)):
            return float_format.format(float(value))
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f'<table class="numbers"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def img_html(path, alt, css_class="figure"):
    """An ``<img>`` tag for a file of the report folder (relative path)."""
    return f'<img class="{css_class}" src="{html.escape(path)}" alt="{html.escape(alt)}">'


def run_description(run):
    """One caption phrase naming the run's model, data and folder."""
    config = getattr(run, "config", {}) or {}
    model = config.get("model", "model")
    dataset = config.get("dataset", "data")
    return f"{html.escape(str(model))} trained on {html.escape(str(dataset))} (run folder <code>{html.escape(str(run.path))}</code>)"
