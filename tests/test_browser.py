"""Headless Chromium opens the index page and every report of a small world.

Each page must render without console messages (the reports carry no
script, so any message means something broke), every image must be an
embedded PNG that decodes, and the screenshot must not be blank.
Screenshots are kept beside the reports (``<page>.png``) for a human look.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium must be installed in CI (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def _run_chromium(
    chromium: str, profile: Path, *args: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, *_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _console_lines(stderr: str) -> list[str]:
    # Chromium logs every console message and uncaught exception as CONSOLE
    return [
        line
        for line in stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Not allowed to load" in line
    ]


def _check_page(chromium: str, page: Path, tmp_path: Path) -> Path:
    url = page.resolve().as_uri()
    shot = page.with_suffix(".png")

    shown = _run_chromium(
        chromium,
        tmp_path / "profile-shot",
        "--enable-logging=stderr",
        "--v=0",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        url,
    )
    assert shot.is_file(), f"no screenshot of {page}: {shown.stderr[-2000:]}"
    assert _console_lines(shown.stderr) == [], f"console messages on {page}"

    # the page is not blank: a heading and a line of text alone ink a few
    # thousand pixels that differ clearly from the background
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    background = np.median(pixels)
    inked = int(np.sum(np.abs(pixels - background) > 60))
    assert inked > 2000, f"{page} looks blank ({inked} pixels inked)"

    # every image in the rendered DOM is an embedded PNG that decodes
    dom = _run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", url).stdout
    assert "</html>" in dom.lower() or "</body>" in dom.lower()
    sources = re.findall(r"<img[^>]*\ssrc=\"([^\"]*)\"", dom)
    for src in sources:
        assert src.startswith("data:image/png;base64,"), f"{page}: image {src[:60]}"
        data = base64.b64decode(src.split(",", 1)[1], validate=True)
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            assert image.format == "PNG"
    return shot


def test_index_and_reports_render_cleanly(chromium, small_reports, tmp_path):
    index = small_reports / "index.html"
    pages = [index]
    html = index.read_text(encoding="utf-8")
    for href in re.findall(r"href='([^']+\.html)'", html):
        target = small_reports / href
        assert target.is_file(), f"index links a missing report {href}"
        pages.append(target)
    assert len(pages) >= 2, "the index links no report"

    for page in pages:
        shot = _check_page(chromium, page, tmp_path)
        assert shot.stat().st_size > 1000

    # the portfolio report holds its figures
    portfolio = next(p for p in pages if p.name == "portfolio.html")
    images = re.findall(r"<img[^>]*src=\"data:image/png", portfolio.read_text())
    assert len(images) >= 2


def test_broken_pages_are_caught(chromium, tmp_path):
    # the checks themselves must be able to fail
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<html><body><h1>Report</h1><p>text</p>"
        "<script>undefinedFunction();</script></body></html>"
    )
    with pytest.raises(AssertionError, match="console messages"):
        _check_page(chromium, bad, tmp_path)

    blank = tmp_path / "blank.html"
    blank.write_text("<html><body></body></html>")
    with pytest.raises(AssertionError, match="looks blank"):
        _check_page(chromium, blank, tmp_path)

    broken = tmp_path / "broken.html"
    text = "<h1>Report</h1>" + "<p>Many words on this page.</p>" * 40
    broken.write_text(
        f'<html><body>{text}<img src="data:image/png;base64,aGVsbG8="></body></html>'
    )
    with pytest.raises(Exception, match="cannot identify image|PNG"):
        _check_page(chromium, broken, tmp_path)
