"""Leaderboard markdown: values, arrows, bold best, statistics, not-applicable, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from srbench.errors import InputError
from srbench.leaderboard.markdown import write_leaderboards
from srbench.metric_columns import MetricColumn, declared_columns, resolve_columns
from srbench.plugins import get_plugin_manager
from srbench.results.store import ResultsStore, RunRecord, TrackRecord
from srbench.statistics import bootstrap_ci, paired_test, sign_flip_test, smallest_p, t_interval
from srbench.cli.runner import run_cli

PM = get_plugin_manager()

TODAY = "2025-01-02"

# per-subject values of three methods on a 3-subject track (hand-checkable means and stds)
INSAMPLE = {
    "trilinear": {"psnr": [30.0, 31.0, 32.0], "ssim": [0.80, 0.82, 0.84], "lpips": [0.10, 0.12, 0.14]},
    "good": {"psnr": [33.0, 35.0, 34.0], "ssim": [0.90, 0.91, 0.92], "lpips": [0.05, 0.06, 0.07]},
    "bad": {"psnr": [20.0, 22.0, 24.0], "ssim": [0.50, 0.60, 0.70], "lpips": [0.01, 0.02, 0.03]},
}


def rec(method: str, **changes) -> RunRecord:
    fields = dict(method=method, degradation="paper-linear", intensity_convention="hr-minmax-01", scale=(2, 2, 2),
                  config={}, srbench_version="0.1.0")
    fields.update(changes)
    return RunRecord(**fields)


def fill(store: ResultsStore, track: str, data: dict, **changes) -> None:
    for method, metrics in data.items():
        key = store.register_run(rec(method, **changes))
        n = len(next(iter(metrics.values())))
        for i in range(n):
            store.add_subject(key, track, f"s{i + 1}", {m: v[i] for m, v in metrics.items()}, {})


def main_table(markdown: str) -> dict[str, list[str]]:
    """Method → cells of the main table (the first table after the header list)."""
    lines = markdown.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("| Method | n |"))
    table = {}
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    table["__header__"] = header
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        table[cells[0]] = cells
    return table


def stats_table(markdown: str, heading: str) -> dict[str, list[str]]:
    section = markdown.split(f"### {heading}\n", 1)[1]
    return main_table(section)


@pytest.fixture
def published(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_track(TrackRecord("insample", "insample", "demo-t1-test", "demo-t1-train"))
    store.register_track(TrackRecord("knee", "ood", "demo-knee"))
    fill(store, "insample", INSAMPLE)
    fill(store, "knee", {"trilinear": {"psnr": [25.0 + i for i in range(6)], "ssim": [0.7] * 6}}, scale=(2, 2, 1))
    key = store.register_run(rec("good", scale=(2, 2, 1)))
    store.mark_not_applicable(key, "good", "knee", "good supports only scale (2, 2, 2)")
    files = write_leaderboards(store, tmp_path / "boards", today=TODAY, pm=PM)
    store.close()
    return files


def test_main_table(published):
    markdown = published.tracks["insample"].read_text()
    table = main_table(markdown)
    assert table["__header__"] == ["Method", "n", "PSNR ↑", "SSIM ↑", "LPIPS ↓"]
    # sorted by PSNR descending; mean ± sample std; nothing in bold: at n = 3 no paired test can
    # reach p < 0.05 (the exact sign-flip test's smallest p is 0.25)
    assert [k for k in table if k != "__header__"] == ["good", "trilinear", "bad"]
    assert table["good"] == ["good", "3", "34.000 ± 1.000", "0.9100 ± 0.0100", "0.0600 ± 0.0100"]
    assert table["trilinear"] == ["trilinear", "3", "31.000 ± 1.000", "0.8200 ± 0.0200", "0.1200 ± 0.0200"]
    assert table["bad"] == ["bad", "3", "22.000 ± 2.000", "0.6000 ± 0.1000", "0.0200 ± 0.0100"]


def test_header(published):
    markdown = published.tracks["insample"].read_text()
    for text in (
        "track `insample`",
        "**Kind:** insample",
        "**Test dataset:** demo-t1-test (models trained on demo-t1-train)",
        "**Degradation:** paper-linear",
        "**Scale:** ×2 × 2 × 2",
        "**Intensity convention:** hr-minmax-01",
        "**LPIPS planes:** sagittal, coronal, axial (slice-wise 2D, AlexNet v0.1), mean of the three",
        "**srbench version:**",
        f"**Date:** {TODAY} (UTC)",
        "**Subjects:** 3",
    ):
        assert text in markdown, text


def test_statistics_hand_checked(published):
    markdown = published.tracks["insample"].read_text()
    psnr = stats_table(markdown, "PSNR ↑")
    assert psnr["__header__"] == ["Method", "n", "mean", "std", "95% CI", "Δ trilinear [95% CI]", "p vs best",
                                  "p vs trilinear"]
    # good − trilinear = (3, 4, 2): of the 8 sign flips only ±(3, 4, 2) reach |mean| = 3 → p = 2/8;
    # good − bad and trilinear − bad are all positive too (p = 2/8 each). The table's family is the
    # three pairs, so Holm multiplies the smallest by 3: every adjusted p is 0.75
    assert psnr["good"][6:] == ["—", "0.75 (P, n=3; raw 0.25)"]
    assert psnr["trilinear"][6:] == ["0.75 (P, n=3; raw 0.25)", "—"]
    assert psnr["good"][2:4] == ["34.000", "1.000"]
    # t-interval: 34 ± t(0.975, 2) · 1 / √3 = 34 ± 4.3027 / 1.7321 = 34 ± 2.484
    assert psnr["good"][4] == "[31.516, 36.484]"
    # paired difference (3, 4, 2): mean 3, sd 1, the same half-width
    assert psnr["good"][5] == "+3.000 [+0.516, +5.484]"
    assert psnr["trilinear"][5] == "—"
    # LPIPS: lower is better, so 'bad' is the reference of "p vs best"
    lpips = stats_table(markdown, "LPIPS ↓")
    assert lpips["bad"][6] == "—"
    assert lpips["good"][6] == "0.75 (P, n=3; raw 0.25)"
    assert "With n = 3 pairs the smallest p an exact test can give is 0.25." in markdown


def test_statistics_functions_hand_checked():
    # exact sign flips: (1, 2, 3) has |mean| 2, reached only by the all-plus and all-minus flips
    assert sign_flip_test([1.0, 2.0, 3.0]).p_value == pytest.approx(2 / 8)
    assert sign_flip_test([1.0, -1.0]).p_value == 1.0
    # six positive differences: the same exact sign-flip test, p = 2 / 2**6
    test = paired_test([2, 3, 4, 5, 6, 7], [1, 1, 1, 1, 1, 1])
    assert (test.test, test.n) == ("sign-flip", 6)
    assert test.p_value == pytest.approx(2 / 64)
    assert smallest_p(4) == 0.125 and smallest_p(1) == 1.0
    # pairs with an infinite difference are dropped
    small = paired_test([math.inf, 3.0, 5.0], [math.inf, 1.0, 2.0])
    assert (small.test, small.n, small.p_value) == ("sign-flip", 2, 0.5)
    # bootstrap of {0, 1}: means 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4 → 95% CI [0, 1]
    assert bootstrap_ci([0.0, 1.0]) == (0.0, 1.0)
    assert bootstrap_ci([0.2, 0.2, 0.2]) == pytest.approx((0.2, 0.2))
    assert bootstrap_ci([1.0, 5.0, 2.0]) == bootstrap_ci([1.0, 5.0, 2.0])  # seeded
    # Student-t interval: mean ± t(0.975, n − 1) · sd / √n; none below 2 values or with an infinity
    lo, hi = t_interval([1.0, 2.0, 3.0])
    assert (lo, hi) == pytest.approx((2.0 - 4.302653 / math.sqrt(3), 2.0 + 4.302653 / math.sqrt(3)), rel=1e-6)
    assert all(math.isnan(v) for v in t_interval([1.0]) + t_interval([1.0, math.inf]))
    # up to 32 pairs the count is exact: 20 equal differences are reached only by the all-plus
    # and all-minus flips
    exact = sign_flip_test(np.ones(20))
    assert exact.test == "sign-flip" and exact.p_value == 2 / 2**20
    # more than 32 pairs: Monte-Carlo sign flips, (count + 1) / (resamples + 1)
    many = sign_flip_test(np.ones(40), resamples=999)
    assert many.test == "sign-flip-mc" and many.p_value == pytest.approx(1 / 1000)


@pytest.mark.parametrize("n", [5, 12, 17])
def test_split_sign_flip_count_equals_brute_force(n):
    """The two-halves count equals enumerating every one of the 2**n sign vectors."""
    rng = np.random.default_rng(n)
    for differences in (rng.normal(0.4, 1.0, size=n), np.round(rng.normal(0.2, 1.0, size=n), 1)):
        codes = np.arange(2**n, dtype=np.int64)[:, None]
        signs = 1.0 - 2.0 * ((codes >> np.arange(n, dtype=np.int64)) & 1)
        stats = np.abs(signs @ differences) / n
        brute = float(np.mean(stats >= abs(differences.mean()) - 1e-12 * max(1.0, abs(differences.mean()))))
        assert sign_flip_test(differences).p_value == brute


def test_one_test_at_every_n(tmp_path):
    """Six subjects get the same exact sign-flip test as three: one null throughout."""
    store = ResultsStore(tmp_path / "r.sqlite")
    fill(store, "insample", {
        "trilinear": {"psnr": [30.0, 30.5, 31.0, 29.0, 30.0, 31.5]},
        "good": {"psnr": [33.0, 34.5, 32.0, 33.5, 35.0, 34.0]},
    })
    markdown = write_leaderboards(store, tmp_path / "out", today=TODAY, pm=PM).tracks["insample"].read_text()
    psnr = stats_table(markdown, "PSNR ↑")
    # every difference positive: only the all-plus and all-minus flips reach the mean, p = 2/64
    assert psnr["good"][7] == "0.0312 (P, n=6)"
    assert psnr["trilinear"][6] == "0.0312 (P, n=6)"


def test_not_applicable(published):
    markdown = published.tracks["knee"].read_text()
    table = main_table(markdown)
    assert table["good"] == ["good", "0", "not applicable", "not applicable"]
    assert table["trilinear"][2] == "27.500 ± 1.871"  # nothing to be better than: not in bold
    assert "- **good**: good supports only scale (2, 2, 2)" in markdown
    assert "**Scale:** ×2 × 2 × 1" in markdown


def test_index(published):
    index = published.index.read_text()
    assert index == published.index_markdown
    assert "[insample](insample.md)" in index and "[knee](knee.md)" in index
    assert index.index("[insample]") < index.index("[knee]")
    assert "none named (n = 3: no row beats every other in paired tests, Holm-adjusted at 0.05)" in index
    assert sorted(p.name for p in published.index.parent.iterdir()) == ["index.md", "insample.md", "knee.md"]


@pytest.mark.parametrize(
    ("field", "other", "word"),
    [("degradation", "kspace", "degradation"), ("intensity_convention", "other-convention", "intensity convention")],
)
def test_refuses_mixed_rows(tmp_path, field, other, word):
    store = ResultsStore(tmp_path / "r.sqlite")
    fill(store, "insample", {"trilinear": INSAMPLE["trilinear"]})
    fill(store, "insample", {"dcsrn": INSAMPLE["good"]}, **{field: other})
    with pytest.raises(InputError) as info:
        write_leaderboards(store, tmp_path / "out", today=TODAY, pm=PM)
    message = str(info.value)
    assert word in message and other in message and "--results" in message and "\n" not in message
    assert not (tmp_path / "out" / "insample.md").exists()


def test_two_checkpoints_of_one_method_are_two_rows(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    fill(store, "insample", {"good": INSAMPLE["good"]}, checkpoint_sha256="a" * 64)
    fill(store, "insample", {"good": INSAMPLE["bad"]}, checkpoint_sha256="b" * 64)
    table = main_table(write_leaderboards(store, tmp_path / "out", today=TODAY, pm=PM).tracks["insample"].read_text())
    assert list(table)[1:] == ["good (ckpt aaaaaaaa)", "good (ckpt bbbbbbbb)"]


def test_columns_come_from_the_metric_declarations_in_column_order():
    declared = declared_columns(PM)
    columns = resolve_columns(["bias", "lpips_axial", "psnr", "ssim", "nrmse", "lpips"], declared)
    assert {name: c.direction for name, c in columns.items()} == {
        "psnr": True, "ssim": True, "nrmse": False, "lpips": False, "lpips_axial": False, "bias": None}
    assert list(columns) == ["psnr", "ssim", "nrmse", "lpips", "lpips_axial", "bias"]  # a plane after its LPIPS
    assert [c.label for c in columns.values()] == ["PSNR", "SSIM", "NRMSE (Euclidean)", "LPIPS", "LPIPS axial", "Bias"]
    with pytest.raises(InputError, match="mystery"):
        resolve_columns(["mystery"], declared)
    # a column declaring nothing but its direction: its name, a headline, after the declared order
    zeta = {"zeta_x": MetricColumn(name="zeta_x", direction=True)}
    assert list(resolve_columns(["zeta_x", "lpips", "psnr"], declared, zeta)) == ["psnr", "lpips", "zeta_x"]
    assert zeta["zeta_x"].label == "zeta x" and zeta["zeta_x"].is_headline


def test_a_store_written_by_evaluate_renders_without_the_plugins(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    fill(store, "insample", INSAMPLE)
    with pytest.raises(InputError, match="not declared by any installed metric plugin"):
        write_leaderboards(store, tmp_path / "none", today=TODAY)
    store.register_columns(declared_columns(PM).values())
    alone = write_leaderboards(store, tmp_path / "alone", today=TODAY).tracks["insample"].read_text()
    with_plugins = write_leaderboards(store, tmp_path / "with", today=TODAY, pm=PM).tracks["insample"].read_text()
    # only the degradation's description comes from the installed plugins
    changed = [(a, b) for a, b in zip(alone.split("\n"), with_plugins.split("\n"), strict=True) if a != b]
    assert changed == [("- **Degradation:** paper-linear", with_plugins.split("\n")[5])]
    assert with_plugins.split("\n")[5].startswith("- **Degradation:** paper-linear — ")
    assert "**LPIPS planes:** sagittal, coronal, axial" in alone and "| Method | n | PSNR ↑ | SSIM ↑ | LPIPS ↓ |" in alone


def test_output_directory_errors(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    with pytest.raises(InputError, match="empty"):
        write_leaderboards(store, tmp_path / "out", today=TODAY, pm=PM)
    fill(store, "insample", {"trilinear": INSAMPLE["trilinear"]})
    with pytest.raises(InputError, match="does not exist"):
        write_leaderboards(store, tmp_path / "no" / "out", today=TODAY, pm=PM)


def test_leaderboard_command(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        fill(store, "insample", INSAMPLE)
    result = run_cli("leaderboard", "--results", str(tmp_path / "r.sqlite"), "--out", str(tmp_path / "boards"), check=True)
    assert result.stdout.startswith("# srbench leaderboards")
    assert "[insample](insample.md)" in result.stdout
    assert f"wrote {tmp_path / 'boards' / 'insample.md'}" in result.stderr
    assert (tmp_path / "boards" / "index.md").read_text() == result.stdout
    # a missing store is one line and exit 2
    missing = run_cli("leaderboard", "--results", str(tmp_path / "missing.sqlite"), "--out", str(tmp_path / "x"))
    assert missing.returncode == 2
    assert f"error: {tmp_path / 'missing.sqlite'}: results store not found" in missing.stderr
    assert "Traceback" not in missing.stderr and missing.stdout == ""
    assert not (tmp_path / "x").exists()


# -- a diagnostic column (direction None): signed, in percent, never ranked ------------------
BIASED = {
    "trilinear": {"psnr": [30.0, 31.0, 32.0], "bias": [-0.001, 0.0, 0.001]},
    "good": {"psnr": [33.0, 35.0, 34.0], "bias": [0.040, 0.042, 0.044]},
    "bad": {"psnr": [20.0, 22.0, 24.0], "bias": [-0.010, -0.012, -0.014]},
}


def test_a_diagnostic_column_is_signed_and_never_ranked(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    fill(store, "insample", BIASED)
    files = write_leaderboards(store, tmp_path / "out", today=TODAY, pm=PM)
    markdown = files.tracks["insample"].read_text()
    table = main_table(markdown)
    assert table["__header__"] == ["Method", "n", "PSNR ↑", "Bias %"]  # no arrow: no better direction
    # rows still sorted by PSNR; the bias in % of the HR range with its sign, never in bold (the
    # smallest, the largest and the one closest to 0 alike)
    assert [k for k in table if k != "__header__"] == ["good", "trilinear", "bad"]
    assert table["good"] == ["good", "3", "34.000 ± 1.000", "+4.20 ± 0.20"]
    assert table["trilinear"][3] == "+0.00 ± 0.10"
    assert table["bad"][3] == "-1.20 ± 0.20"
    assert "Columns without an arrow are signed diagnostics" in markdown
    assert "Bias %: 100 × mean signed error SR − HR inside the evaluation mask" in markdown
    # statistics: no test against a best method, the test against trilinear stays
    bias = stats_table(markdown, "Bias %")
    assert bias["__header__"] == ["Method", "n", "mean", "std", "95% CI", "Δ trilinear [95% CI]", "p vs trilinear"]
    lo, hi = t_interval([0.040, 0.042, 0.044])
    assert bias["good"][:5] == ["good", "3", "+4.20", "0.20", f"[{100 * lo:+.2f}, {100 * hi:+.2f}]"]
    # a diagnostic's family is each row against trilinear (two tests, both p = 0.25): Holm gives 0.5
    assert bias["good"][6] == "0.5 (P, n=3; raw 0.25)"
    assert bias["trilinear"][6] == "—"
    assert "A diagnostic has no best method: it is tested against trilinear only." in markdown
    assert stats_table(markdown, "PSNR ↑")["__header__"][6] == "p vs best"
    assert "none named (n = 3" in files.index_markdown


def test_boards_without_a_diagnostic_render_as_before(published):
    markdown = published.tracks["insample"].read_text()
    assert "diagnostic" not in markdown and "Bias" not in markdown


def test_a_diagnostic_never_leads_and_stays_one_with_explicit_directions(tmp_path):
    from srbench.leaderboard.board import build_boards

    store = ResultsStore(tmp_path / "r.sqlite")
    fill(store, "insample", {method: {"bias": values["bias"]} for method, values in BIASED.items()})
    board = build_boards(store, directions={"bias": None}, pm=PM)[0]
    assert board.directions == {"bias": None} and board.best("bias") == [] and board.primary_metric is None
    assert [e.label for e in board.entries] == ["bad", "good", "trilinear"]  # by label: nothing to rank by
    assert all(e.summaries["bias"].vs_best is None for e in board.entries)
    assert all(e.summaries["bias"].vs_baseline is not None for e in board.entries if e.method != "trilinear")
    files = write_leaderboards(store, tmp_path / "out", today=TODAY, pm=PM)
    assert "| [insample](insample.md) | unknown | unknown | paper-linear | ×2 × 2 × 2 | 3 | 3 | — |" in (
        files.index_markdown)
    # the directions reach the board as given: None stays a diagnostic beside ranked columns
    fill(store, "insample", {"trilinear": {"psnr": BIASED["trilinear"]["psnr"]}}, checkpoint_sha256="c" * 64)
    board = build_boards(store, directions={"psnr": True, "bias": None}, pm=PM)[0]
    assert board.directions == {"psnr": True, "bias": None}


def test_notes_written_by_hand_appear_under_their_tracks_table(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    fill(store, "insample", {"trilinear": INSAMPLE["trilinear"]})
    out = tmp_path / "out"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "insample.md").write_text("**Why X loses.** Measured: 1.5 dB.\n")
    files = write_leaderboards(store, out, today=TODAY, pm=PM)
    text = files.tracks["insample"].read_text()
    assert "\n## Notes\n\n**Why X loses.** Measured: 1.5 dB.\n" in text
    before = text
    (out / "notes" / "insample.md").write_bytes(b"\xff\xfe not text")
    with pytest.raises(InputError, match=r"insample.md: notes are not UTF-8 text"):
        write_leaderboards(store, out, today=TODAY, pm=PM)
    assert files.tracks["insample"].read_text() == before, "a failed publish replaced a good board"
    (out / "notes" / "insample.md").unlink()
    (out / "notes" / "insample.md").mkdir()
    with pytest.raises(InputError, match="insample.md"):
        write_leaderboards(store, out, today=TODAY, pm=PM)


def test_names_from_files_cannot_break_a_markdown_table_or_inject_html(tmp_path):
    """A subject id comes from a file name: in a board it stays one cell of plain text."""
    hostile = "<img src=x onerror=alert(1)>|s\\n2"
    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_track(TrackRecord("cvt", "cv", "heads"))
    key = store.register_run(rec("trilinear"))
    store.add_subject(key, "cvt", hostile, {"psnr": 30.0, "ssim": 0.9}, {})
    store.add_subject(key, "cvt", "s2", {"psnr": 31.0, "ssim": 0.8}, {})
    files = write_leaderboards(store, tmp_path / "boards", today=TODAY, pm=PM)
    store.close()
    markdown = files.tracks["cvt"].read_text()
    assert "<img" not in markdown and "&lt;img src=x onerror=alert(1)&gt;\\|s\\n2" in markdown
    row = next(line for line in markdown.splitlines() if "&lt;img" in line)
    assert len(row.replace("\\|", "").strip("|").split("|")) == 3  # subject, fold, one method


def test_bold_and_leader_only_where_the_rows_support_them(tmp_path):
    """A leader and a bold value need n and a margin: here 12 subjects where 'strong' beats
    both others on every subject (Wilcoxon, Holm over two tests: p ≈ 0.0005 each). A tie at
    the displayed precision is never bold, and one subject names no leader."""
    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_track(TrackRecord("big", "ood", "heads"))
    rng = np.random.default_rng(0)
    base = 30 + rng.normal(0, 1, 12)
    fill(store, "big", {"strong": {"psnr": list(base + 1.0 + rng.uniform(0, 0.1, 12)), "ssim": [0.91] * 12},
                        "trilinear": {"psnr": list(base), "ssim": list(0.91 + rng.uniform(0, 1e-6, 12))},
                        "weak": {"psnr": list(base - 0.5), "ssim": [0.5] * 12}})
    store.register_track(TrackRecord("one", "ood", "heads"))
    fill(store, "one", {"strong": {"psnr": [33.0]}, "trilinear": {"psnr": [30.0]}})
    files = write_leaderboards(store, tmp_path / "boards", today=TODAY, pm=PM)
    store.close()
    table = main_table(files.tracks["big"].read_text())
    assert table["strong"][2].startswith("**") and not table["trilinear"][2].startswith("**")
    assert not any(cell.startswith("**") for row in ("strong", "trilinear", "weak") for cell in table[row][3:4])  # SSIM tie
    index = files.index_markdown
    assert "| strong (" in index and "PSNR) |" in index
    assert "none named (n = 1: nothing can be tested)" in index
    assert not any(cell.startswith("**") for cell in main_table(files.tracks["one"].read_text())["strong"])


def test_the_noise_seed_is_printed_only_where_the_degradation_draws_noise(tmp_path):
    """Whether a degradation draws noise is its declared ``uses_seed`` with the recorded options
    (kspace: only with snr; blur-noise: unless noise = 0; paper-linear: never), looked up among
    the installed plugins or else srbench's built-ins, so an export renders the same without
    plugins; a degradation known to neither keeps its recorded seed."""
    from srbench.results.export import read_export, store_from_records, write_export

    setups = {  # track → (degradation, options, seed, the board's "Degradation options" line)
        "linear": ("paper-linear", {}, 0, "none; draws no noise (no seed)"),
        "kspace": ("kspace", {}, 0, "none; draws no noise (no seed)"),
        "noise": ("kspace", {"snr": 20}, 3, "snr = 20; seed 3 (each subject's noise seed is sha256 of it and the subject id)"),
        "blur": ("blur-noise", {}, 4, "none; seed 4 (each subject's noise seed is sha256 of it and the subject id)"),
        "blur0": ("blur-noise", {"noise": 0}, 4, "noise = 0; draws no noise (no seed)"),
        "mystery": ("not-installed", {}, 2, "none; seed 2 (each subject's noise seed is sha256 of it and the subject id)"),
    }
    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_columns(declared_columns(PM).values())
    for track, (name, options, seed, _) in setups.items():
        fill(store, track, {"trilinear": INSAMPLE["trilinear"]}, degradation=name,
             config={"degradation": {"name": name, "options": options, "seed": seed}})
    write_export(store, tmp_path / "results.jsonl")
    exported = ResultsStore(store_from_records(read_export(tmp_path / "results.jsonl"), tmp_path / "export.sqlite"))
    for source, pm in ((store, PM), (store, None), (exported, None)):
        out = tmp_path / f"boards-{len(list(tmp_path.iterdir()))}"
        tracks = write_leaderboards(source, out, today=TODAY, pm=pm).tracks
        for track, (*_, line) in setups.items():
            assert f"- **Degradation options:** {line}\n" in tracks[track].read_text(), (track, pm)


def test_rows_are_compared_over_the_subjects_every_row_has(tmp_path):
    """A track cut from 3 subjects to 2 after one method was scored on all 3: the board
    compares every row over the 2 shared subjects and names what it left out."""
    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_track(TrackRecord("insample", "insample", "demo-t1-test", "demo-t1-train"))
    fill(store, "insample", {"trilinear": {"psnr": [30.0, 31.0]}, "dcsrn": {"psnr": [32.0, 33.0]},
                             "trigan": {"psnr": [32.1, 33.1, 40.0]}})
    files = write_leaderboards(store, tmp_path / "boards", today=TODAY, pm=PM)
    store.close()
    markdown = files.tracks["insample"].read_text()
    table = main_table(markdown)
    assert table["trigan"][1:3] == ["2", "32.600 ± 0.7071"]
    assert table["dcsrn"][1:3] == ["2", "32.500 ± 0.7071"]
    assert ("**Subjects:** 2 (every row is compared over the 2 subject(s) all rows have; "
            "stored subjects left out: trigan: s3)") in markdown
    assert "| s3 |" not in markdown


def test_each_trained_row_states_its_budget_and_weights(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_track(TrackRecord("insample", "insample", "demo-t1-test", "demo-t1-train"))
    training = {"preset": "cpu", "iterations": 700, "batch_size": 8, "patch_size": 24, "seed": 0, "track": "insample"}
    fill(store, "insample", {"trilinear": {"psnr": [30.0]}})
    fill(store, "insample", {"dcsrn": {"psnr": [31.0]}},
         config={"training": training, "budget": {"parameters": 220661, "training_seconds": 416.7}},
         checkpoint_path="weights/dcsrn/model.safetensors", checkpoint_sha256="ab" * 32)
    fill(store, "insample", {"trigan": {"psnr": [31.5]}}, config={"training": {**training, "iterations": 850}},
         checkpoint_path=str(tmp_path.parent / "elsewhere" / "model.safetensors"), checkpoint_sha256="cd" * 32)
    files = write_leaderboards(store, tmp_path / "boards", today=TODAY, pm=PM)
    store.close()
    markdown = files.tracks["insample"].read_text()
    section = markdown.split("## Training budgets", 1)[1]
    assert ("- **dcsrn**: preset cpu; 700 iterations × batch 8; HR patches 24³; seed 0; 220,661 parameters; "
            "trained for 417 s wall time, as its run manifest records; trained on track insample; "
            "weights weights/dcsrn/model.safetensors") in section
    assert "- **trilinear**: not trained (no weights)" in section
    trigan = next(line for line in section.splitlines() if line.startswith("- **trigan**"))
    assert "850 iterations" in trigan and "weights outside-" in trigan and str(tmp_path.parent) not in markdown
    assert "parameters" not in trigan  # evaluated before budgets were recorded: nothing invented


def test_a_preset_that_declares_a_row_label_names_its_row_for_what_it_trains(tmp_path):
    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_track(TrackRecord("insample", "insample", "demo-t1-test", "demo-t1-train"))
    training = {"preset": "cpu", "iterations": 300, "track": "insample"}
    fill(store, "insample", {"trilinear": {"psnr": [30.0]}})
    fill(store, "insample", {"esrgan3d": {"psnr": [31.0]}}, config={"training": {**training, "row_label": "RRDB, L1-trained"}},
         checkpoint_path="w/e.safetensors", checkpoint_sha256="ab" * 32)
    fill(store, "insample", {"hostile": {"psnr": [31.0]}}, config={"training": {**training, "row_label": "x\n| y"}},
         checkpoint_path="w/h.safetensors", checkpoint_sha256="cd" * 32)
    markdown = write_leaderboards(store, tmp_path / "boards", today=TODAY, pm=PM).tracks["insample"].read_text()
    store.close()
    table = main_table(markdown)
    assert "esrgan3d (RRDB, L1-trained)" in table and "hostile" in table, "a label that is not one printable line is ignored"
    assert "- **esrgan3d (RRDB, L1-trained)**: preset cpu" in markdown


def test_the_declared_primary_metric_sorts_the_rows_and_names_the_leader(tmp_path):
    """A track declaring ``primary_metric = "lpips"`` sorts by LPIPS (lower first) and names
    its leader on it; the declaration survives an export and its import."""
    from srbench.results.export import read_export, store_from_records, write_export

    store = ResultsStore(tmp_path / "r.sqlite")
    store.register_track(TrackRecord("insample", "insample", "demo-t1-test", "demo-t1-train", primary_metric="lpips"))
    n = 7  # enough subjects for the exact test to reach p < 0.05 after Holm over three pairs
    fill(store, "insample", {
        "trilinear": {"psnr": [30.0 + i for i in range(n)], "lpips": [0.20 + 0.01 * i for i in range(n)]},
        "sharp": {"psnr": [29.0 + i for i in range(n)], "lpips": [0.10 + 0.01 * i for i in range(n)]},
        "smooth": {"psnr": [33.0 + i for i in range(n)], "lpips": [0.15 + 0.01 * i for i in range(n)]},
    })
    markdown = write_leaderboards(store, tmp_path / "boards", today=TODAY, pm=PM).tracks["insample"].read_text()
    table = main_table(markdown)
    assert [k for k in table if k != "__header__"] == ["sharp", "smooth", "trilinear"]  # by LPIPS, not by PSNR
    assert ("- **Primary metric:** LPIPS ↓, declared by the track: it sorts the rows, and a leader is named on it "
            "only when the paired tests support one") in markdown
    index = (tmp_path / "boards" / "index.md").read_text()
    assert "sharp (0.1300 LPIPS)" in index
    write_export(store, tmp_path / "rows.jsonl")
    store.close()
    records = read_export(tmp_path / "rows.jsonl")
    assert {"record": "track_setting", "track": "insample", "primary_metric": "lpips"} in records
    with ResultsStore(store_from_records(records, tmp_path / "copy.sqlite"), read_only=True) as copy:
        assert copy.tracks()["insample"].primary_metric == "lpips"


def test_a_store_without_a_declared_primary_metric_sorts_by_the_first_ranked_column(published):
    markdown = published.tracks["insample"].read_text()
    assert "Primary metric" not in markdown
    assert [k for k in main_table(markdown) if k != "__header__"][0] == "good"  # by PSNR
