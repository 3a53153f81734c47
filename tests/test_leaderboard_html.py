"""``srbench leaderboard --html``: a self-contained static site, checked as files and in a real browser.

The browser test drives headless Chromium through selenium (Debian packages ``chromium``
and ``chromium-driver``, installed by ``.ci/run``). It is skipped only where neither
binary exists, and never when ``CI=true``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from srbench.leaderboard.board import build_boards
from srbench.leaderboard.html import ROWS_CSV, ROWS_JSONL, page_name, write_html_site
from srbench.leaderboard.markdown import write_leaderboards
from srbench.leaderboard.text import format_p, format_value
from srbench.plugins import get_plugin_manager
from srbench.results.store import ResultsStore, RunRecord, TrackRecord
from srbench.cli.runner import run_cli
from tests.conftest import REPO

PM = get_plugin_manager()

TODAY = "2025-01-02"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# per-subject values of four methods on a 4-subject track; PSNR orders them
# good > trilinear > mid > bad, SSIM does not (mid is best on SSIM)
INSAMPLE = {
    "trilinear": {"psnr": [30.0, 31.0, 32.0, 30.5], "ssim": [0.80, 0.82, 0.84, 0.81]},
    "good": {"psnr": [33.0, 35.0, 34.0, 34.5], "ssim": [0.90, 0.91, 0.92, 0.90]},
    "mid": {"psnr": [29.0, 28.0, 30.0, 29.5], "ssim": [0.95, 0.96, 0.94, 0.95]},
    "bad": {"psnr": [20.0, 22.0, 24.0, 21.0], "ssim": [0.50, 0.60, 0.70, 0.55]},
}
DIRECTIONS = {"psnr": True, "ssim": True}


def record(method: str, **changes) -> RunRecord:
    fields = dict(
        method=method, degradation="paper-linear", intensity_convention="hr-minmax-01", scale=(2, 2, 2),
        config={"inference": {"patch_size": 32, "overlap": 8}}, srbench_version="0.1.0",
        checkpoint_sha256=None if method == "trilinear" else hashlib.sha256(method.encode()).hexdigest(),
        checkpoint_path=None if method == "trilinear" else f"runs/{method}/model.safetensors",
        plugin_versions={"srbench-mri-trigan": "0.1.0"}, git_commit="0123456789abcdef0123456789abcdef01234567",
    )
    fields.update(changes)
    return RunRecord(**fields)


def write_png(path: Path) -> Path:
    from PIL import Image

    Image.fromarray((np.arange(64 * 48).reshape(48, 64) % 251).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def store(tmp_path) -> ResultsStore:
    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_track(TrackRecord("insample", "insample", "demo-t1-test", "demo-t1-train"))
    store.register_track(TrackRecord("knee", "ood", "demo-knee-test"))
    for method, metrics in INSAMPLE.items():
        key = store.register_run(record(method))
        for i in range(4):
            store.add_subject(key, "insample", f"sub-{i + 1:02d}", {m: v[i] for m, v in metrics.items()}, {})
    knee = store.register_run(record("trilinear", scale=(2, 2, 1)))
    for i in range(2):
        store.add_subject(knee, "knee", f"k{i}", {"psnr": 25.0 + i, "ssim": 0.7 + i / 10}, {})
    absent = store.register_run(record("good", scale=(2, 2, 1)))
    store.mark_not_applicable(absent, "good", "knee", "good supports only scale (2, 2, 2)")
    yield store
    store.close()


@pytest.fixture
def site(store, tmp_path):
    figure = write_png(tmp_path / "insample-figure.png")
    return write_html_site(store, tmp_path / "site", figures={"insample": figure}, today=TODAY, directions=DIRECTIONS, pm=PM)


class Collector(HTMLParser):
    """Every tag with its attributes, and the text of each table cell, per table id."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attrs))
        if tag == "table":
            self._table = attrs.get("id", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "details" and self._cell is not None:
            self._depth += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "details" and self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._cell is not None and not self._depth:
            self._cell.append(data)


def parse(path: Path) -> Collector:
    collector = Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    return collector


def by_first_cell(rows: list[list[str]]) -> dict[str, list[str]]:
    return {row[0]: row for row in rows[1:]}


# -- the files -------------------------------------------------------------------------------
def test_index_links_every_track_page_and_the_export(site):
    index = parse(site.index)
    links = [a["href"] for tag, a in index.tags if tag == "a"]
    assert page_name("insample") in links and page_name("knee") in links
    assert ROWS_CSV in links and ROWS_JSONL in links
    tracks = by_first_cell(index.tables["tracks"])
    assert tracks["insample"][5:7] == ["4", "4"]  # subjects, methods
    assert tracks["insample"][7].startswith("none named (n = 4")
    assert tracks["knee"][6] == "2"  # trilinear and the not-applicable good


def test_pages_are_self_contained(site):
    for page in [site.index, *site.tracks.values()]:
        text = page.read_text(encoding="utf-8")
        doc = parse(page)
        refs = [a.get("src") or a.get("href") for tag, a in doc.tags if tag in ("a", "img", "script", "link", "iframe")]
        refs = [r for r in refs if r]
        assert all(not re.match(r"^[a-z][a-z0-9+.-]*:|^//", r) for r in refs), refs  # no scheme: relative links only
        for ref in refs:
            assert (page.parent / ref.split("#")[0]).exists() or ref.startswith("#"), ref
        assert not [a for tag, a in doc.tags if tag == "link"]  # no external stylesheet
        assert all("src" not in a for tag, a in doc.tags if tag == "script")  # scripts are inline
        assert "<style>" in text and "sortable" in text
        assert len(text.encode()) < 200_000


def test_track_page_tables_match_the_markdown_numbers(site, store, tmp_path):
    board = next(b for b in build_boards(store, directions=DIRECTIONS, pm=PM) if b.track == "insample")
    page = parse(site.tracks["insample"])
    main = by_first_cell(page.tables["main"])
    assert list(main) == [e.label for e in board.entries] == ["good", "trilinear", "mid", "bad"]
    good = next(e for e in board.entries if e.method == "good")
    assert main["good"][2] == f"{format_value(good.summaries['psnr'].mean)} ± {format_value(good.summaries['psnr'].std)}"
    assert len(main["good"]) == 2 + len(board.metrics) + 1  # method, n, metrics, provenance
    # statistics: CIs and p-values are the ones the markdown prints
    written = write_leaderboards(store, tmp_path / "md", today=TODAY, directions=DIRECTIONS, pm=PM)
    markdown = written.tracks["insample"].read_text()
    # a track the markdown gives no statistics (too few subjects) gets none here either
    knee_md, knee_page = written.tracks["knee"].read_text(), parse(site.tracks["knee"])
    assert ("stats-psnr" in knee_page.tables) == ("### PSNR" in knee_md)
    for metric, heading in (("psnr", "PSNR ↑"), ("ssim", "SSIM ↑")):
        stats = by_first_cell(page.tables[f"stats-{metric}"])
        section = markdown.split(f"### {heading}\n", 1)[1]
        lines = section.split("\n")
        start = next(i for i, line in enumerate(lines) if line.startswith("| Method |"))
        md_rows = {}
        for line in lines[start + 2:]:
            if not line.startswith("|"):
                break
            cells = [c.strip() for c in line.strip("|").split("|")]
            md_rows[cells[0]] = cells
        assert set(stats) == set(md_rows)
        for label, cells in stats.items():
            assert cells == md_rows[label], label
        mid = next(e for e in board.entries if e.method == "mid").summaries[metric]
        assert stats["mid"][4] == f"[{format_value(mid.ci[0])}, {format_value(mid.ci[1])}]"
        assert stats["mid"][7] == format_p(mid.vs_baseline)
    # one row per subject × method, each value as stored
    subjects = page.tables["subjects"][1:]
    assert len(subjects) == 4 * 4
    row = next(r for r in subjects if r[0] == "sub-03" and r[1] == "bad")
    assert row[2:] == [format_value(24.0), format_value(0.70)]


def test_provenance_figure_and_export(site, store):
    text = site.tracks["insample"].read_text(encoding="utf-8")
    good = record("good")
    for needle in (good.checkpoint_sha256, good.git_commit, "srbench-mri-trigan 0.1.0", "paper-linear", "hr-minmax-01",
                   "×2 × 2 × 2", "runs/good/model.safetensors", "&quot;patch_size&quot;: 32"):
        assert needle in text, needle
    assert text.count('<details class="provenance">') == 4
    # the figure was copied into the site and is shown
    assert site.figures["insample"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'src="figures/insample.png"' in text
    assert "knee" not in site.figures and "<h2>Figure</h2>" not in site.tracks["knee"].read_text()
    # the export holds every stored value once, with its run
    rows = list(csv.DictReader(io.StringIO((site.index.parent / ROWS_CSV).read_text())))
    assert len(rows) == len(store.rows()) == 4 * 4 * 2 + 2 * 2
    assert {r["git_commit"] for r in rows} == {good.git_commit}
    # the JSON-lines file is the canonical export: it renders and re-imports like `results export`'s
    from srbench.results.export import read_export

    records = read_export(site.index.parent / ROWS_JSONL)
    values = sorted((r["subject"], r["metric"], r["value"]) for r in records if r["record"] == "result")
    assert values == sorted((r["subject"], r["metric"], float(r["value"])) for r in rows)
    per_track = list(csv.DictReader(io.StringIO((site.index.parent / "knee.rows.csv").read_text())))
    assert {r["track"] for r in per_track} == {"knee"} and len(per_track) == 4
    assert "not applicable" in site.tracks["knee"].read_text()


def test_leaderboard_command_html_leaves_the_markdown_unchanged(store, tmp_path):
    store.close()
    plain = tmp_path / "plain"
    with_html = tmp_path / "with-html"
    site_dir = tmp_path / "site"
    first = run_cli("leaderboard", "--results", str(store.path), "--out", str(plain), check=True)
    second = run_cli("leaderboard", "--results", str(store.path), "--out", str(with_html), "--html", str(site_dir), check=True)
    assert first.stdout == second.stdout  # the markdown index on stdout
    assert sorted(p.name for p in plain.iterdir()) == sorted(p.name for p in with_html.iterdir())
    for path in plain.iterdir():
        assert path.read_bytes() == (with_html / path.name).read_bytes(), path.name
    assert {p.name for p in site_dir.iterdir()} >= {"index.html", "insample.html", "knee.html", ROWS_CSV, ROWS_JSONL}
    assert f"wrote {site_dir / 'index.html'}" in second.stderr
    # a file where the folder should be: one line, exit 2
    bad = tmp_path / "file"
    bad.write_text("x")
    result = run_cli("leaderboard", "--results", str(store.path), "--out", str(plain), "--html", str(bad))
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and str(bad) in result.stderr


# -- in a real browser -----------------------------------------------------------------------
def _browser_or_skip() -> tuple[Path, Path]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {', '.join(missing)} missing: .ci/run installs the Debian packages chromium and chromium-driver")
        pytest.skip(f"no browser here ({', '.join(missing)} missing; apt-get install chromium chromium-driver)")
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture
def browser(tmp_path):
    chromium, chromedriver = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(chromedriver)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _column_order(driver, table_id: str) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' tbody tr'))"
        ".map(r => r.cells[0].firstChild.textContent.trim());",
        table_id,
    )


def test_site_in_headless_chromium(site, browser, tmp_path, capsys):
    from selenium.webdriver.common.by import By

    browser.get(site.index.resolve().as_uri())
    assert browser.title == "srbench leaderboards"
    browser.find_element(By.LINK_TEXT, "insample").click()
    assert browser.current_url.endswith("/insample.html")
    assert _column_order(browser, "main") == ["good", "trilinear", "mid", "bad"]  # as published: best PSNR first

    # sort by SSIM: ascending, then descending on a second click
    ssim = browser.find_element(By.XPATH, "//table[@id='main']/thead/tr/th[starts-with(normalize-space(.), 'SSIM')]")
    ssim.click()
    assert ssim.get_attribute("aria-sort") == "ascending"
    assert _column_order(browser, "main") == ["bad", "trilinear", "good", "mid"]
    ssim.click()
    assert ssim.get_attribute("aria-sort") == "descending"
    assert _column_order(browser, "main") == ["mid", "good", "trilinear", "bad"]
    # the per-subject table sorts numerically by PSNR
    psnr = browser.find_element(By.XPATH, "//table[@id='subjects']/thead/tr/th[starts-with(normalize-space(.), 'PSNR')]")
    psnr.click()
    values = browser.execute_script(
        "return Array.from(document.querySelectorAll('#subjects tbody tr')).map(r => Number(r.cells[2].dataset.sort));"
    )
    assert values == sorted(values) and len(values) == 16

    # provenance: closed, then one click shows the checkpoint hash
    row = browser.find_element(By.CSS_SELECTOR, "#main tbody tr[data-method='good']")
    details = row.find_element(By.CSS_SELECTOR, "details.provenance")
    hash_cell = details.find_element(By.XPATH, ".//dt[text()='checkpoint sha256']/following-sibling::dd[1]")
    assert details.get_attribute("open") is None and not hash_cell.is_displayed()
    details.find_element(By.TAG_NAME, "summary").click()
    assert details.get_attribute("open") is not None and hash_cell.is_displayed()
    assert hash_cell.text == record("good").checkpoint_sha256
    figure = browser.find_element(By.CSS_SELECTOR, "img.figure")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", figure) == 64

    browser.execute_script("window.scrollTo(0, 0);")  # the title, the sorted table and the open provenance
    screenshot = tmp_path / "leaderboard.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    kept = REPO / "results" / "screenshots" / "leaderboard.png"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, kept)
    with capsys.disabled():  # shown in the test run's output, not only on failure
        print(f"\nscreenshot: {screenshot} (copy: {kept})")


def test_ci_never_skips_the_browser_test():
    """The skip above is refused under CI: .ci/run must install the browser."""
    script = (REPO / ".ci" / "run").read_text()
    assert "apt-get install -y chromium chromium-driver" in script
    code = (
        "import os, pytest\n"
        "from pathlib import Path\n"
        "import tests.test_leaderboard_html as t\n"
        "t.CHROMIUM = Path('/nonexistent/chromium')\n"
        "try:\n    t._browser_or_skip()\n"
        "except pytest.fail.Exception: print('failed')\n"
        "except pytest.skip.Exception: print('skipped')\n"
    )
    outcomes = {}
    for ci in ("true", ""):
        env = {**os.environ, "CI": ci}
        outcomes[ci] = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env,
                                      timeout=120).stdout.strip()
    assert outcomes == {"true": "failed", "": "skipped"}


def test_a_diagnostic_column_is_signed_and_never_highlighted(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        biases = {"trilinear": [0.0, -0.002, 0.002, 0.0], "good": [0.041, 0.043, 0.042, 0.042],
                  "mid": [-0.01, -0.012, -0.011, -0.011], "bad": [0.2, 0.1, 0.15, 0.15]}
        for method, metrics in INSAMPLE.items():
            key = store.register_run(record(method))
            for i in range(4):
                store.add_subject(key, "insample", f"sub-{i + 1:02d}",
                                  {"psnr": metrics["psnr"][i], "bias": biases[method][i]}, {})
        site = write_html_site(store, tmp_path / "site", today=TODAY, directions={"psnr": True, "bias": None}, pm=PM)
    text = site.tracks["insample"].read_text(encoding="utf-8")
    page = parse(site.tracks["insample"])
    main = page.tables["main"]
    assert main[0][:4] == ["Method", "n", "PSNR ↑", "Bias %"]
    rows = by_first_cell(main)
    assert list(rows) == ["good", "trilinear", "mid", "bad"]  # sorted by PSNR, not by bias
    assert rows["good"][3].startswith("+4.20 ± ") and rows["mid"][3].startswith("-1.10 ± ")
    assert text.count('class="best"') == 0  # n = 4 supports no claim; a bias cell never would be
    assert "Columns without an arrow are signed diagnostics" in text
    stats = page.tables["stats-bias"]
    assert stats[0] == ["Method", "n", "mean", "std", "95% CI", "Δ trilinear [95% CI]", "p vs trilinear"]
    assert "p vs best" in page.tables["stats-psnr"][0]
    subject = next(r for r in page.tables["subjects"][1:] if r[0] == "sub-02" and r[1] == "good")
    assert subject[2:] == [format_value(35.0), "+4.30"]
    assert by_first_cell(parse(site.index).tables["tracks"])["insample"][7].startswith("none named (n = 4")
