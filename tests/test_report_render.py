"""The HTML report opens in a real browser (Debian's headless Chromium) and renders its parts.
The screenshot is kept in artifacts/report.png for people (and CI) to look at."""

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.history import History, record_rundir
from harness.report import html
from test_history import make_run

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(*args, profile):
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium is missing: `python -m harness setup --install` installs it")
    return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=120)


def test_report_renders_in_chromium(tmp_path, recorded):
    run, _ = make_run(tmp_path, recorded)
    h = History(tmp_path / "h.db")
    record_rundir(h, run.path)
    page = tmp_path / "report.html"
    page.write_text(html.render(h, h.resolve_run("latest")))
    dom = chromium("--dump-dom", page.as_uri(), profile=tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Case × cell" in dom.stdout and "<svg" in dom.stdout
    assert 'class="extra">*b.p</mark>' in dom.stdout
    artifacts = ROOT / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "report.png"
    shot.unlink(missing_ok=True)
    result = chromium("--window-size=1300,1400", f"--screenshot={shot}", page.as_uri(), profile=tmp_path / "p2")
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000    # a blank page compresses far smaller
