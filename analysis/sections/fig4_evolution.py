"""Fig. 4 of the paper: how features evolve during training.

Drawn from the run's ``evolution/*.npz`` files (written by the trainer's
`FeatureEvolution` callback; read through `RunFolder.evolution`): for each
followed layer a block whose rows are feature maps and whose columns are
the recorded epochs; each panel is the deconvnet projection of that map's
strongest activation over the trainer's fixed sample of training images.
"""

import html


from zfkeras.analysis.output import figures, machine, tables
from zfkeras.analysis.report.section import Section, SectionUnavailable
from zfkeras.plot import evolution as evolution_figure
from zfkeras.plot.evolution_plot import evolution_grid  # noqa: F401  (arranges the records; the CSV rows)
from zfkeras.runs import layout

# The trainer's evolution records; config.json for the caption (sample size, seed).
INPUTS = (layout.CONFIG, layout.EVOLUTION)
FIGURE = "fig4_evolution.png"
NUMBERS = "fig4_evolution.csv"


def plot_evolution(evolution, path):
    """Draws the Fig. 4 grid (`zfkeras.plot.evolution`: one block per layer, side by side) into `path`."""
    figures.save_png(evolution_figure(evolution), path, dpi=110)


def report_section(run, out_dir, verbose="auto"):
    """The Fig. 4 section of the report (see `zfkeras.analysis.report.section`); no parameters."""
    try:
        evolution = run.evolution()
    except (ValueError, OSError) as e:
        raise SectionUnavailable(f"cannot read the run's evolution files: {e}") from None
    if not evolution or not any(evolution.values()):
        raise SectionUnavailable(
            f"run folder {run.path} has no evolution/*.npz files (the trainer writes them at the "
            "recorded epochs); train the run with 'zfkeras train' to record them"
        )
    try:
        epochs, grids = evolution_grid(evolution)
    except (ValueError, KeyError, TypeError) as e:
        raise SectionUnavailable(f"the run's evolution files cannot be drawn: {e}") from None
    plot_evolution(evolution, out_dir / FIGURE)
    rows = [row for g in grids.values() for row in g["rows"]]
    tables.write_csv(out_dir / NUMBERS, ["layer", "channel", "epoch", "image_id", "y", "x", "activation"], rows)
    config = getattr(run, "config", {}) or {}
    sample = config.get("evolution_sample", "?")
    maps = max(len(g["channels"]) for g in grids.values())
    caption = (
        f"Reproduces the paper's <b>Fig. 4</b> (evolution of a randomly chosen subset of model features "
        f"through training). Each block is one layer ({', '.join(html.escape(l) for l in grids)}); its rows "
        f"are {maps} feature maps drawn at random once (seed {html.escape(str(config.get('seed', 0)))}) and "
        f"its columns the recorded epochs ({', '.join(map(str, epochs))}). Each panel is the deconvnet "
        f"projection to pixels of the map's strongest activation over a fixed sample of {sample} training "
        "images (the paper searches all training images), recorded by the trainer's FeatureEvolution "
        "callback at the end of that epoch. Panels are contrast-normalised one by one: "
        "0.5 + x / (2 max|x|), so zero is grey. "
        f"Model: {figures.run_description(run)}; made by <code>zfkeras train</code> (the evolution files) "
        f"and <code>zfkeras report</code> (this drawing). Image ids, positions and activations: "
        f"<a href=\"{NUMBERS}\">{NUMBERS}</a>. {machine.measured_on()}"
    )
    body = figures.img_html(FIGURE, "Fig. 4: feature evolution grid")
    return Section("fig4", "Fig. 4: feature evolution during training", caption, body, [FIGURE, NUMBERS])
