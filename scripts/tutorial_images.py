"""Runs the tutorials in examples/ and saves the README's picture of each.

The picture of a tutorial is the PNG output of its code cell tagged
``readme-figure``; it is written to ``docs/images/tutorial_<stem>.png``.

    .venv/bin/python scripts/tutorial_images.py          # full size
    ZFKERAS_EXAMPLES_SMALL=1 .venv/bin/python scripts/tutorial_images.py  # seconds, not minutes

Runs each notebook in a kernel of this interpreter (as tests/test_examples.py).
"""

import base64
import json
import os
import pathlib
import sys
import tempfile

import nbclient
import nbformat

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main(names):
    with tempfile.TemporaryDirectory() as folder:
        spec = pathlib.Path(folder) / "kernels" / "zfkeras-examples"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "zfkeras examples", "language": "python"}))
        os.environ["JUPYTER_PATH"] = folder
        os.environ.setdefault("MPLBACKEND", "Agg")
        for path in sorted((ROOT / "examples").glob("*.ipynb")):
            if names and path.name not in names:
                continue
            notebook = nbformat.read(path, as_version=4)
            nbclient.NotebookClient(notebook, kernel_name="zfkeras-examples", timeout=1800,
                                    resources={"metadata": {"path": str(path.parent)}}).execute()
            for cell in notebook.cells:
                if "readme-figure" in cell.get("metadata", {}).get("tags", []):
                    png = next(o["data"]["image/png"] for o in cell.outputs if "image/png" in o.get("data", {}))
                    target = ROOT / "docs" / "images" / f"tutorial_{path.stem}.png"
                    target.write_bytes(base64.b64decode(png))
                    print("wrote", target.relative_to(ROOT))


if __name__ == "__main__":
    main(sys.argv[1:])
