"""The tutorials in examples/ run: each notebook executes without raising (small mode)."""

import json
import pathlib
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
# Notebooks the suite executes.
EXECUTED = ("01_deconvnet_top9.ipynb", "02_compare_methods.ipynb", "03_occlusion.ipynb",
            "04_feature_visualization.ipynb")
# Notebooks stored but not executed (none: every tutorial runs).
NOT_YET_EXECUTED = ()
KERNEL = "zfkeras-examples"


def test_every_tutorial_is_executed_or_named_as_waiting_and_stored_without_outputs():
    stored = sorted(p.name for p in EXAMPLES.glob("*.ipynb"))
    assert stored == sorted(EXECUTED + NOT_YET_EXECUTED)
    for name in stored:
        notebook = json.loads((EXAMPLES / name).read_text())
        code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert code, name
        assert all(c["outputs"] == [] and c["execution_count"] is None for c in code), f"{name} has outputs"
        # each tutorial names the figure the README shows
        assert any("readme-figure" in c.get("metadata", {}).get("tags", []) for c in code), name


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernel spec running this interpreter (the venv's, wherever it is: CI, a laptop)."""
    folder = tmp_path_factory.mktemp("jupyter")
    spec = folder / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "zfkeras examples", "language": "python"}))
    return folder


def execute(path, kernel_dir, monkeypatch, small=True):
    """Runs a notebook in a fresh kernel; returns the executed notebook (raises where a cell raises)."""
    import nbclient
    import nbformat

    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("ZFKERAS_EXAMPLES_SMALL", "1" if small else "0")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, kernel_name=KERNEL, timeout=600,
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return notebook


@pytest.mark.parametrize("name", EXECUTED)
def test_tutorial_runs_and_draws_its_figure(name, kernel_dir, monkeypatch):
    notebook = execute(EXAMPLES / name, kernel_dir, monkeypatch)
    figure_cells = [c for c in notebook.cells if "readme-figure" in c.get("metadata", {}).get("tags", [])]
    assert figure_cells and all(any("image/png" in o.get("data", {}) for o in c.outputs) for c in figure_cells)
    # a result at the end of a cell is drawn (zfkeras.plot.inline)
    for cell in notebook.cells:
        if "shows-itself" in cell.get("metadata", {}).get("tags", []):
            (result,) = [o for o in cell.outputs if o.get("output_type") == "execute_result"]
            assert "image/png" in result["data"] and result["data"]["text/plain"].startswith("<Explanation")


def test_a_tutorial_that_raises_fails_the_test(tmp_path, kernel_dir, monkeypatch):
    import nbclient
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import zfkeras\nzfkeras.plot.explanations([])")]
    path = tmp_path / "broken.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="InputError"):
        execute(path, kernel_dir, monkeypatch)
