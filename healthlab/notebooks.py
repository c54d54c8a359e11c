"""Execute parameterized notebooks with papermill and publish them as HTML.

The report and validation notebooks live in ``notebooks/`` and are committed
without outputs, with their parameters in a cell tagged ``parameters``.
:func:`execute_notebook` runs one of them with papermill, then writes a
self-contained HTML page with nbconvert: no code cells, no prompts, figures
embedded as base64 PNG, no script fetched from the network.

Writes are atomic. The notebook runs in a temporary folder inside `out_dir`;
only on success do ``<name>.ipynb`` and ``<name>.html`` replace the previous
files (``os.replace``). A failing cell raises
:class:`~healthlab.errors.NotebookExecutionError` naming the notebook, the
cell and the exception, keeps the partial notebook and its HTML in
``<out_dir>/failed/`` and leaves the previous outputs byte-identical.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from healthlab.errors import NotebookExecutionError, ParameterError

__all__ = [
    "NotebookRun",
    "execute_notebook",
    "export_html",
    "find_notebook",
    "REPORT_CSS",
]

logger = logging.getLogger("healthlab")

#: Folders searched, in order, for a notebook given by name.
_NOTEBOOK_DIRS = (
    Path(__file__).resolve().parent.parent / "notebooks",
    Path(__file__).resolve().parent / "notebooks",
)

#: Cells whose input and output never appear in the published HTML.
_HIDDEN_TAGS = ("parameters", "injected-parameters", "remove-cell")

#: Typography of every published report: readable on a laptop, printable.
REPORT_CSS = """
:root {
  --hl-ink: #1f2933; --hl-muted: #52606d; --hl-rule: #d9e2ec;
  --hl-accent: #0072B2;
}
body.jp-Notebook {
  font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    sans-serif;
  color: var(--hl-ink); background: #ffffff; line-height: 1.5;
}
body.jp-Notebook main {
  max-width: 1100px; margin: 0 auto; padding: 24px 32px 64px;
}
.jp-Cell { padding: 0; margin: 0; }
.jp-RenderedHTMLCommon, .jp-RenderedMarkdown {
  font-size: 15px; color: var(--hl-ink); padding-right: 0;
}
.jp-RenderedHTMLCommon h1 { font-size: 28px; margin: 8px 0 4px; }
.jp-RenderedHTMLCommon h2 {
  font-size: 21px; margin-top: 32px; padding-bottom: 4px;
  border-bottom: 2px solid var(--hl-rule);
}
.jp-RenderedHTMLCommon h3 { font-size: 17px; margin-top: 20px; }
.jp-RenderedHTMLCommon a { color: var(--hl-accent); }
.jp-RenderedHTMLCommon table {
  border-collapse: collapse; font-size: 13.5px; margin: 8px 0 16px;
  font-variant-numeric: tabular-nums;
}
.jp-RenderedHTMLCommon th {
  background: #f0f4f8; font-weight: 600; text-align: left;
}
.jp-RenderedHTMLCommon th, .jp-RenderedHTMLCommon td {
  padding: 4px 10px; border: 1px solid var(--hl-rule);
}
.jp-RenderedHTMLCommon tbody tr:nth-child(odd) { background: #fafbfc; }
.jp-RenderedImage img, .jp-OutputArea-output img {
  max-width: 100%; height: auto;
}
.jp-OutputPrompt, .jp-InputPrompt { display: none; }
.jp-OutputArea-output pre { font-size: 13px; }
"""

# The lab template, minus every script it would fetch from a CDN (require.js,
# MathJax, mermaid): a report must open offline and without console errors.
# PNG outputs are always embedded and keep their alternative text.
_TEMPLATE = """
{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style type="text/css">{{ resources.healthlab_css }}</style>
{%- endblock html_head_css -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
{%- set width = output | get_metadata('width', 'image/png') %}
{%- if width is not none %} width="{{ width | escape_html }}"{% endif %}
{%- set alt = output | get_metadata('alt', 'image/png') %}
{%- if alt is not none %} alt="{{ alt | escape_html }}"{% endif %}>
</div>
{%- endblock data_png %}
"""
_TEMPLATE_NAME = "healthlab_report.html.j2"


@dataclass(frozen=True)
class NotebookRun:
    """Outcome of one successful notebook execution.

    Attributes
    ----------
    name : str
        Output name; the files are ``<name>.ipynb`` and ``<name>.html``.
    source : Path
        The notebook that was executed.
    notebook_path : Path
        The executed notebook, outputs included.
    html_path : Path
        The published HTML page.
    parameters : dict
        The parameters injected, as papermill received them.
    seconds : float
        Wall time of execution plus export.
    """

    name: str
    source: Path
    notebook_path: Path
    html_path: Path
    parameters: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def html(self) -> Path:
        """Shorthand for :attr:`html_path`."""
        return self.html_path


def find_notebook(name_or_path: str | os.PathLike) -> Path:
    """Return the path of a notebook given by path or by name.

    A name such as ``"portfolio"`` is looked up as ``notebooks/portfolio.ipynb``
    next to the package (a source checkout), then inside the package.

    Raises
    ------
    ParameterError
        If no such notebook exists.
    """
    candidate = Path(name_or_path)
    # a folder that happens to share the name (``benchmarks/``) is no notebook
    if candidate.suffix == ".ipynb" or candidate.is_file():
        if candidate.is_file():
            return candidate.resolve()
        raise ParameterError(f"Notebook file {str(candidate)!r} does not exist.")

    searched = [folder / f"{candidate.name}.ipynb" for folder in _NOTEBOOK_DIRS]
    for path in searched:
        if path.is_file():
            return path
    raise ParameterError(
        f"No notebook named {str(name_or_path)!r}; looked for "
        f"{', '.join(str(p) for p in searched)}."
    )


def execute_notebook(
    name_or_path: str | os.PathLike,
    parameters: Mapping[str, object] | None,
    out_dir: str | os.PathLike,
    *,
    output_name: str | None = None,
    title: str | None = None,
    cwd: str | os.PathLike | None = None,
    kernel_name: str = "python3",
    timeout: float | None = 600,
    progress: bool = False,
) -> NotebookRun:
    """Execute a notebook with papermill and publish it as self-contained HTML.

    Parameters
    ----------
    name_or_path : str or path-like
        A notebook path, or a name looked up by :func:`find_notebook`.
    parameters : mapping or None
        Values injected after the cell tagged ``parameters``. Paths become
        strings; dates and timestamps become ISO strings.
    out_dir : str or path-like
        Folder receiving ``<name>.ipynb`` and ``<name>.html``; created if absent.
    output_name : str, optional
        File stem of the outputs; default the notebook's stem.
    title : str, optional
        Title of the HTML page; default the output name.
    cwd : str or path-like, optional
        Working directory of the kernel; default a temporary folder whose
        files join the outputs in `out_dir` only when the run succeeds.
    kernel_name : str, default "python3"
        Jupyter kernel executing the notebook.
    timeout : float or None, default 600
        Seconds allowed per cell; None for no limit.
    progress : bool, default False
        Show papermill's progress bar of cells.

    Returns
    -------
    NotebookRun

    Raises
    ------
    NotebookExecutionError
        If a cell fails or the kernel dies. The message names the notebook,
        the cell (index in the source notebook, from 0), its first line and
        the exception; the partial notebook and HTML are kept in
        ``<out_dir>/failed/`` and the previous outputs are left untouched.

    Notes
    -----
    Jupyter, IPython and matplotlib get configuration and runtime folders in
    the temporary directory when ``JUPYTER_CONFIG_DIR``, ``JUPYTER_DATA_DIR``,
    ``JUPYTER_RUNTIME_DIR``, ``IPYTHONDIR`` or ``MPLCONFIGDIR`` are unset, so
    a scheduled run never writes to ``$HOME``. The kernel always uses
    matplotlib's inline backend, whatever ``MPLBACKEND`` says, so figures
    are embedded.
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    source = find_notebook(name_or_path)
    name = output_name or source.stem
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {
        key: _plain_parameter(key, value) for key, value in (parameters or {}).items()
    }

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=out_dir))
    executed, html = work / f"{name}.ipynb", work / f"{name}.html"
    try:
        logger.info("Executing notebook %s into %s", source.name, out_dir)
        with _quiet_jupyter_env():
            try:
                papermill.execute_notebook(
                    str(source),
                    str(executed),
                    parameters=params,
                    kernel_name=kernel_name,
                    language="python",
                    cwd=str(cwd if cwd is not None else work),
                    progress_bar=progress,
                    execution_timeout=timeout,
                )
            except PapermillExecutionError as exc:
                raise _keep_failure(source, name, work, out_dir, exc) from exc
            except (CellTimeoutError, DeadKernelError) as exc:
                raise _keep_failure(source, name, work, out_dir, exc) from exc

        export_html(executed, html, title=title or name)
        final_nb, final_html = out_dir / executed.name, out_dir / html.name
        # files the notebook wrote beside itself (summaries, proposals) are
        # published with it; the HTML page goes last
        for extra in sorted(set(work.iterdir()) - {executed, html}):
            target = out_dir / extra.name
            if extra.is_dir() and target.is_dir():
                shutil.rmtree(target)
            os.replace(extra, target)
        os.replace(executed, final_nb)
        os.replace(html, final_html)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    seconds = time.perf_counter() - started
    logger.info("Notebook %s done in %.1f s", name, seconds)
    return NotebookRun(name, source, final_nb, final_html, params, seconds)


def export_html(
    notebook_path: str | os.PathLike,
    html_path: str | os.PathLike,
    *,
    title: str | None = None,
    show_code: bool = False,
) -> Path:
    """Write an executed notebook as one self-contained HTML page.

    Parameters
    ----------
    notebook_path : str or path-like
        An executed notebook.
    html_path : str or path-like
        Destination of the HTML page.
    title : str, optional
        Page title; default the notebook's stem.
    show_code : bool, default False
        Keep code cells and error outputs (used for failed runs, which are
        read by whoever debugs them).

    Returns
    -------
    Path
        `html_path`.

    Notes
    -----
    Uses nbconvert's ``lab`` template without its CDN scripts, plus
    :data:`REPORT_CSS`. Cells tagged ``parameters``, ``injected-parameters``
    or ``remove-cell`` are dropped, and so is text a cell wrote to stderr
    (warnings), unless `show_code` is set. Images stay embedded as data URIs.
    """
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    notebook_path, html_path = Path(notebook_path), Path(html_path)
    nb = nbformat.read(notebook_path, as_version=4)
    if not show_code:
        nb.cells = [cell for cell in nb.cells if not _is_hidden(cell)]
        for cell in nb.cells:
            if cell.get("cell_type") == "code":
                cell.outputs = [out for out in cell.outputs if not _is_stderr(out)]

    exporter = HTMLExporter(
        template_name="lab",
        template_file=_TEMPLATE_NAME,
        extra_loaders=[DictLoader({_TEMPLATE_NAME: _TEMPLATE})],
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    resources = {
        "metadata": {"name": title or notebook_path.stem},
        "healthlab_css": REPORT_CSS,
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def _plain_parameter(key: str, value: object) -> object:
    # papermill writes parameters as Python literals: keep them to plain types
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, str | int | float | bool | type(None) | list | dict):
        return value
    raise ParameterError(
        f"Notebook parameter {key!r} must be a str, number, bool, None, list, "
        f"dict, path or date; got {type(value).__name__} {value!r}."
    )


def _keep_failure(
    source: Path, name: str, work: Path, out_dir: Path, exc: Exception
) -> NotebookExecutionError:
    # Move the partial notebook (and its HTML, code shown) to out_dir/failed.
    failed = out_dir / "failed"
    failed.mkdir(exist_ok=True)
    partial_nb, partial_html = failed / f"{name}.ipynb", failed / f"{name}.html"
    executed = work / f"{name}.ipynb"
    if executed.exists():
        os.replace(executed, partial_nb)
        try:
            export_html(
                partial_nb, partial_html, title=f"{name} (failed)", show_code=True
            )
        except Exception as export_exc:  # the notebook itself is what matters
            logger.warning("Could not export the failed notebook: %s", export_exc)

    where, detail = _describe_failure(source, exc)
    error = NotebookExecutionError(
        f"Notebook {source.name!r} failed {where}: {detail}. The partial run is "
        f"kept in {str(partial_nb)!r}; previous outputs in {str(out_dir)!r} "
        "are unchanged."
    )
    error.notebook = source
    error.partial_path = partial_nb
    return error


def _describe_failure(source: Path, exc: Exception) -> tuple[str, str]:
    # Locate the failing cell in the source notebook (the executed copy has an
    # extra injected-parameters cell, so its indices are shifted).
    cell_source = getattr(exc, "source", None)
    if cell_source is None:
        return "while executing", f"{type(exc).__name__}: {_first_line(str(exc))}"

    cells = nbformat.read(source, as_version=4).cells
    index = next(
        (i for i, cell in enumerate(cells) if cell.source == cell_source),
        exc.cell_index,
    )
    where = f"in cell {index} ({_first_line(cell_source)!r})"
    return where, f"{exc.ename}: {_first_line(exc.evalue)}"


def _first_line(text: str) -> str:
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


def _is_hidden(cell) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return any(tag in _HIDDEN_TAGS for tag in tags)


def _is_stderr(output) -> bool:
    return output.get("output_type") == "stream" and output.get("name") == "stderr"


@contextlib.contextmanager
def _quiet_jupyter_env() -> Iterator[None]:
    # Point unset Jupyter/IPython/matplotlib folders at a private temp folder
    # for the duration of the run, so the kernel never writes to $HOME.
    base = Path(tempfile.gettempdir()) / f"healthlab-jupyter-{os.getuid()}"
    defaults = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "IPYTHONDIR": base / "ipython",
        "MPLCONFIGDIR": base / "matplotlib",
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    added = []
    for key, value in defaults.items():
        if key not in os.environ:
            if isinstance(value, Path):
                value.mkdir(parents=True, exist_ok=True)
            os.environ[key] = str(value)
            added.append(key)
    # A headless MPLBACKEND such as Agg (common under cron) would make the
    # kernel drop every figure; the inline backend embeds them as PNG.
    backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)
        if backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = backend
