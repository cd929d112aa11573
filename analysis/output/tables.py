"""Writing tables: CSV files (`write_csv`) and the result tables of the probes, transfer and ablations.

Every table is written twice, atomically: ``STEM.csv`` (for programs) and
``STEM.md`` (a Markdown table, for people and docs), with the notes that
say how the numbers were made (data, budget, seeds, CPU) under the
Markdown table.
"""

import csv
import io
import os

from zfkeras.utils.atomic import atomic_path


def write_csv(path, header, rows):
    """Writes a CSV file atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(buffer.getvalue())


def markdown_table(header, rows):
    """A GitHub-style Markdown table of the cells' string forms."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_text(path, text):
    """Writes a text file atomically. Returns `path`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write(text)
    return path


def write_table(out_dir, stem, header, rows, md_header, md_rows, title="", notes=()):
    """Writes ``out_dir/STEM.csv`` and ``out_dir/STEM.md``.

    Args:
        out_dir: folder (created if missing).
        stem: file name without suffix, saying what the table holds.
        header, rows: CSV columns and rows (raw numbers, full precision).
        md_header, md_rows: the formatted table people read.
        title: Markdown heading line (optional).
        notes: lines written under the Markdown table.

    Returns:
        ``[STEM.csv, STEM.md]`` (names relative to ``out_dir``).
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    write_csv(os.path.join(out_dir, f"{stem}.csv"), header, rows)
    text = (f"## {title}\n\n" if title else "") + markdown_table(md_header, md_rows)
    if notes:
        text += "\n" + "\n".join(f"- {line}" for line in notes) + "\n"
    write_text(os.path.join(out_dir, f"{stem}.md"), text)
    return [f"{stem}.csv", f"{stem}.md"]
