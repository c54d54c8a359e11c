"""The papermill runner on tiny fixture notebooks."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest

from healthlab.errors import NotebookExecutionError, ParameterError
from healthlab.notebooks import execute_notebook, export_html, find_notebook

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _write_fixture(path: Path) -> Path:
    """A notebook with a tagged parameters cell, a figure and a guarded failure."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell("factor = 1\nlabel = 'plain'")
    params.metadata["tags"] = ["parameters"]
    hidden = nbformat.v4.new_code_cell("print('HIDDEN-OUTPUT')")
    hidden.metadata["tags"] = ["remove-cell"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Fixture report"),
        params,
        nbformat.v4.new_code_cell("product = 6 * factor\nprint('PRODUCT', product)"),
        nbformat.v4.new_code_cell("print(label)"),
        hidden,
        nbformat.v4.new_code_cell(
            "import sys\nimport matplotlib.pyplot as plt\n"
            "print('WARNED', file=sys.stderr)\n"
            "fig, ax = plt.subplots(figsize=(3, 2))\nax.plot([0, 1], [0, factor])\n"
            "plt.show()"
        ),
        nbformat.v4.new_code_cell(
            "import io\nfrom IPython.display import Image\n"
            "fig, ax = plt.subplots(figsize=(2, 1))\nbuffer = io.BytesIO()\n"
            "fig.savefig(buffer, format='png')\nplt.close(fig)\n"
            "Image(buffer.getvalue(), width=200, alt='Share of \"strong\" <accounts>')"
        ),
        nbformat.v4.new_code_cell(
            "if factor > 100:\n    raise RuntimeError(f'factor {factor} is too large')"
        ),
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def fixture_nb(tmp_path_factory) -> Path:
    return _write_fixture(tmp_path_factory.mktemp("fixture") / "tiny.ipynb")


@pytest.fixture(scope="module")
def first_run(fixture_nb, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return execute_notebook(fixture_nb, {"factor": 7, "label": "<b>bold?</b>"}, out)


def test_parameters_are_injected_into_the_executed_notebook(first_run):
    nb = nbformat.read(first_run.notebook_path, as_version=4)
    text = "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )
    # 6 * 7, computed by hand
    assert "PRODUCT 42" in text
    assert first_run.parameters == {"factor": 7, "label": "<b>bold?</b>"}
    assert first_run.html_path == first_run.notebook_path.with_suffix(".html")


def test_html_has_no_code_no_hidden_cells_and_embedded_png(first_run):
    html = first_run.html_path.read_text(encoding="utf-8")
    assert "PRODUCT 42" in html
    assert "product = 6 * factor" not in html  # code cells are not shown
    assert "HIDDEN-OUTPUT" not in html
    assert "WARNED" not in html  # stderr is for the executed notebook only
    assert "<b>bold?</b>" not in html and "&lt;b&gt;bold?&lt;/b&gt;" in html
    assert "<script src=" not in html  # nothing fetched from a CDN

    images = re.findall(r'<img[^>]*src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 2
    assert all(base64.b64decode(i).startswith(b"\x89PNG\r\n\x1a\n") for i in images)
    # alternative text is kept (as text, not markup); without one, nbconvert's
    assert "<accounts>" not in html
    assert _image_attributes(html) == [
        {"alt": "No description has been provided for this image"},
        {"alt": 'Share of "strong" <accounts>', "width": "200"},
    ]


def _image_attributes(html: str) -> list[dict]:
    from html.parser import HTMLParser

    found = []

    class Images(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "img":
                found.append({k: v for k, v in attrs if k in ("alt", "width")})

    Images().feed(html)
    return found


def test_failing_cell_names_cell_and_keeps_previous_outputs(fixture_nb, tmp_path):
    good = execute_notebook(fixture_nb, {"factor": 2}, tmp_path)
    before = {p: p.read_bytes() for p in (good.notebook_path, good.html_path)}

    with pytest.raises(NotebookExecutionError) as info:
        execute_notebook(fixture_nb, {"factor": 500}, tmp_path)

    failed = tmp_path / "failed" / "tiny.ipynb"
    assert str(info.value) == (
        "Notebook 'tiny.ipynb' failed in cell 7 ('if factor > 100:'): "
        "RuntimeError: factor 500 is too large. The partial run is kept in "
        f"'{failed}'; previous outputs in '{tmp_path}' are unchanged."
    )
    assert {p: p.read_bytes() for p in before} == before
    partial = nbformat.read(failed, as_version=4)
    outputs = [o for c in partial.cells if c.cell_type == "code" for o in c.outputs]
    assert any("PRODUCT 3000" in o.get("text", "") for o in outputs)
    assert (tmp_path / "failed" / "tiny.html").is_file()
    # no temporary folder is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "failed",
        "tiny.html",
        "tiny.ipynb",
    ]


def test_export_html_can_show_code(first_run, tmp_path):
    html = export_html(first_run.notebook_path, tmp_path / "x.html", show_code=True)
    assert "product" in html.read_text(encoding="utf-8")


def test_find_notebook_names_the_places_searched(tmp_path):
    with pytest.raises(ParameterError, match=r"No notebook named 'no_such_report'"):
        find_notebook("no_such_report")
    missing = tmp_path / "absent.ipynb"
    with pytest.raises(ParameterError) as info:
        find_notebook(missing)
    assert str(info.value) == f"Notebook file {str(missing)!r} does not exist."


def test_unsupported_parameter_type_is_refused(fixture_nb, tmp_path):
    with pytest.raises(ParameterError) as info:
        execute_notebook(fixture_nb, {"factor": {1, 2}}, tmp_path)
    assert str(info.value) == (
        "Notebook parameter 'factor' must be a str, number, bool, None, list, "
        "dict, path or date; got set {1, 2}."
    )
    assert list(tmp_path.iterdir()) == []


NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_are_clean_and_paired(path):
    import jupytext

    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"

    # the jupytext percent script holds the same cells
    pair = jupytext.read(path.with_suffix(".py"))
    assert [(c.cell_type, c.source) for c in pair.cells] == [
        (c.cell_type, c.source) for c in nb.cells
    ]


def test_a_folder_named_like_a_notebook_does_not_hide_it(tmp_path, monkeypatch):
    # the repository root has a benchmarks/ folder beside notebooks/benchmarks.ipynb
    monkeypatch.chdir(tmp_path)
    (tmp_path / "portfolio").mkdir()
    found = find_notebook("portfolio")
    assert found.name == "portfolio.ipynb"
    assert found.parent.name == "notebooks"
