"""`omnisync report --html`: a self-contained page, checked as text and in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnisync.cli import app

CHARTS = ("daily-units", "revenue-share-idr", "top-skus", "days-of-cover", "out-of-stock")


def chromium() -> str:
    """The browser's path; absent, the test fails in CI (which installs it) and skips here."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: .ci/run installs Debian's chromium package")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return found


def browse(page: Path, profile: Path, *flags: str) -> tuple[str, list[str]]:
    """Open `page` headless: stdout, and the messages the page wrote to its console."""
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            f"--user-data-dir={profile}",  # never a profile another test or person uses
            "--enable-logging=stderr",
            "--v=0",
            *flags,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    console = [row for row in result.stderr.splitlines() if ":CONSOLE" in row]
    return result.stdout, console


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's report page, as a newcomer makes it."""
    root = tmp_path_factory.mktemp("report")
    runner = CliRunner()
    result = runner.invoke(app, ["demo", str(root / "demo")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    page = root / "report.html"
    config = root / "demo" / "omnisync.toml"
    result = runner.invoke(
        app, ["--config", str(config), "report", "--html", str(page)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {page}" in result.stderr
    return page


def test_page_needs_nothing_from_the_network(demo_page: Path) -> None:
    html = demo_page.read_text(encoding="utf-8")
    assert "<script src" not in html
    assert "<link" not in html
    assert "@import" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    for chart in CHARTS:
        assert re.search(rf'<figure id="chart-{chart}" class="chart"><svg', html), chart


def test_page_renders_in_chromium_with_its_charts(demo_page: Path, tmp_path: Path) -> None:
    dom, console = browse(demo_page, tmp_path / "profile", "--dump-dom")
    assert console == []
    for chart in CHARTS:
        figure = re.search(rf'<figure id="chart-{chart}".*?</figure>', dom, re.S)
        assert figure, f"chart {chart} is missing from the rendered page"
        assert 'class="pygal-chart"' in figure[0]
    # The demo sold on every channel: its daily chart has a bar per channel and day.
    daily = re.search(r'<figure id="chart-daily-units".*?</figure>', dom, re.S)
    assert daily and len(re.findall(r'class="rect reactive tooltip-trigger"', daily[0])) >= 3
    assert "SHP20005" in dom  # the oversold XL shirt's last sale, in the oversells table


def test_screenshot_of_the_demo_report_on_a_phone(demo_page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "demo-report.png"
    _, console = browse(
        demo_page, tmp_path / "profile", "--window-size=412,2400", f"--screenshot={shot}"
    )
    assert console == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a page with charts, not a blank one


def test_console_errors_are_caught(tmp_path: Path) -> None:
    """The check above can fail: a page that writes to its console is seen doing so."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><script>console.error("boom"); missing();</script>')
    _, console = browse(page, tmp_path / "profile", "--dump-dom")
    assert any('"boom"' in row for row in console)
    assert any("missing is not defined" in row for row in console)


def test_the_chart_library_leaves_imports_alone() -> None:
    """pygal's import hook, taken out by omnisync, would make a missed import warn."""
    import omnisync.analytics.html  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ModuleNotFoundError):
            __import__("omnisync_no_such_module")
