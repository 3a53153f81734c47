"""Broken plugins, installed through real entry points, are reported by distribution and
skipped; the rest of srbench keeps working; strict mode, disable and allow lists work.

The command-line tests run ``srbench`` in a subprocess with ``PYTHONPATH`` pointing at
fake distributions (see :mod:`tests.fake_distributions`); the in-process tests build a
``PluginManager`` from the same discovered entry points to check each message exactly.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from srbench.errors import PluginError
from srbench.hookspecs import API_VERSION
from srbench.plugins import PluginManager
from srbench.testing.synthetic import smooth_volume
from tests.fake_distributions import forget_fake_modules, good_model_source, make_distribution, run_srbench

BROKEN = {
    "srbench-mri-pkbrokenimport": ("pkbrokenimport", "import srbench_pk_this_module_does_not_exist\n"),
    "srbench-mri-pkhookraises": ("pkhookraises", """
        from srbench import hookimpl

        @hookimpl
        def register_models():
            raise RuntimeError("model registry exploded")
    """),
    "srbench-mri-pkmalformed": ("pkmalformed", """
        import types
        from srbench import hookimpl

        @hookimpl
        def register_models():
            return [types.SimpleNamespace(name="pkmalformed")]
    """),
    "srbench-mri-pkoldapi": ("pkoldapi", good_model_source("pkoldmodel") + '\nSRBENCH_API_VERSIONS = ("0",)\n'),
}


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    """Four broken distributions and a good one (model ``pkgood``)."""
    site = tmp_path_factory.mktemp("broken-site")
    for distribution, (ep, source) in BROKEN.items():
        module = f"srbench_pk_{ep}"
        make_distribution(site, distribution, modules={module: source}, entry_points={ep: module})
    make_distribution(site, "srbench-mri-pkgood", modules={"srbench_pk_good": good_model_source("pkgood")},
                      entry_points={"pkgood": "srbench_pk_good"})
    return site




def rows(listing: str) -> dict[str, str]:
    """Plugin name → its row of the `srbench plugins` table."""
    return {line.split()[0]: line for line in listing.splitlines()[1:] if line and not line.startswith("problem:")}


# -- the command line ---------------------------------------------------------------------
def test_broken_plugins_warn_by_distribution_and_the_rest_works(broken_site, tmp_path):
    import nibabel as nib

    lr = tmp_path / "lr.nii.gz"
    nib.save(nib.Nifti1Image(smooth_volume((10, 9, 8), seed=0).numpy(), np.diag([2.0, 2.0, 2.0, 1.0])), str(lr))
    result = run_srbench(broken_site, "predict", "pkgood", "--input", str(lr), "--output", str(tmp_path / "sr.nii.gz"))
    assert result.returncode == 0, result.stderr
    assert nib.load(str(tmp_path / "sr.nii.gz")).shape == (20, 18, 16)
    warnings = [line for line in result.stderr.splitlines() if "srbench-mri-pk" in line]
    expected = {
        "srbench-mri-pkbrokenimport": "import failed: ModuleNotFoundError: No module named 'srbench_pk_this_module_does_not_exist'",
        "srbench-mri-pkhookraises": "hook register_models raised RuntimeError: model registry exploded",
        "srbench-mri-pkmalformed": "hook register_models returned a malformed model namespace(name='pkmalformed') (missing: load)",
        "srbench-mri-pkoldapi": f"it supports srbench hook API 0 but this srbench has API {API_VERSION}; "
                                "upgrade 'srbench-mri-pkoldapi' to a release that supports hook API 1",
    }
    assert len(warnings) == len(expected)
    for distribution, problem in expected.items():
        ep = BROKEN[distribution][0]
        assert f"warning: plugin '{ep}' from distribution '{distribution}' skipped: {problem}" in warnings


def test_plugins_lists_broken_plugins_with_their_problem(broken_site):
    result = run_srbench(broken_site, "plugins")
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert table["pkgood"].split()[1:4] == ["srbench-mri-pkgood", "0.1.0", "ok"] and "models: pkgood" in table["pkgood"]
    assert table["trilinear"].split()[3] == "ok"
    for distribution, (ep, _) in BROKEN.items():
        assert table[ep].split()[1:4] == [distribution, "0.1.0", "error"]
        assert f"problem: plugin '{ep}' ({distribution}): " in result.stdout


def test_strict_mode_makes_a_plugin_error_fatal(broken_site):
    result = run_srbench(broken_site, "plugins", SRBENCH_STRICT_PLUGINS="1")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        "error: plugin 'pkbrokenimport' from distribution 'srbench-mri-pkbrokenimport' skipped: import failed: "
        "ModuleNotFoundError: No module named 'srbench_pk_this_module_does_not_exist' (SRBENCH_STRICT_PLUGINS is set)"
    )


def test_disabled_plugins_are_never_imported(broken_site):
    result = run_srbench(
        broken_site, "--disable-plugin", "pkbrokenimport", "--disable-plugin=srbench-mri-pkhookraises", "plugins",
        SRBENCH_STRICT_PLUGINS="1", SRBENCH_DISABLE_PLUGINS="pkmalformed, SRBENCH_MRI_PKOLDAPI",
    )
    assert result.returncode == 0, result.stderr
    assert "srbench-mri-pk" not in result.stderr
    table = rows(result.stdout)
    for ep, _ in BROKEN.values():
        assert table[ep].split()[3] == "disabled"
    assert table["pkgood"].split()[3] == "ok"


def test_allow_list_loads_only_the_named_plugins_and_the_builtins(broken_site):
    result = run_srbench(broken_site, "plugins", SRBENCH_STRICT_PLUGINS="1", SRBENCH_PLUGINS_ALLOW="srbench-mri-pkgood")
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert table["pkgood"].split()[3] == "ok"
    assert table["trilinear"].split()[3] == "ok"
    assert all(table[ep].split()[3] == "disabled" for ep, _ in BROKEN.values())


@pytest.fixture(scope="module")
def clash_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("clash-site")
    for suffix in ("a", "b"):
        module = f"srbench_pk_clash{suffix}"
        make_distribution(site, f"srbench-mri-pkclash{suffix}", modules={module: good_model_source("pkclash")},
                          entry_points={f"pkclash{suffix}": module})
    return site


def test_a_name_clash_names_both_distributions(clash_site):
    result = run_srbench(clash_site, "plugins")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: model name 'pkclash' is registered twice: by plugin 'pkclasha' (distribution 'srbench-mri-pkclasha') "
        "and by plugin 'pkclashb' (distribution 'srbench-mri-pkclashb'); uninstall or disable one "
        "(--disable-plugin / SRBENCH_DISABLE_PLUGINS)"
    )
    resolved = run_srbench(clash_site, "--disable-plugin", "pkclashb", "plugins")
    assert resolved.returncode == 0, resolved.stderr
    assert "models: pkclash" in rows(resolved.stdout)["pkclasha"]


# -- in process: the messages of each problem -----------------------------------------------
@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path for fake distributions; their modules are forgotten afterwards."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    forget_fake_modules()


def fake_manager(**kwargs) -> PluginManager:
    """A manager over the discovered fake distributions only (installed plugins left out)."""
    eps = [ep for ep in entry_points(group="srbench") if ep.dist is not None and ep.dist.name.startswith("srbench-mri-pk")]
    return PluginManager(entry_points_override=eps, **kwargs)


def plugin_source(body: str, api: str | None = None) -> str:
    header = "import dataclasses\nfrom srbench import hookimpl\nfrom srbench.builtins.trilinear import Trilinear\n"
    return header + (f"SRBENCH_API_VERSIONS = {api}\n" if api else "") + body


@pytest.mark.parametrize(
    ("declared", "loads", "advice"),
    [
        ('("1",)', True, None),
        ('"1"', True, None),
        (f'("{API_VERSION}", "2")', True, None),
        ('("0",)', False, "upgrade 'srbench-mri-pkapi' to a release that supports hook API 1"),
        ('("2", "3")', False, "upgrade srbench-mri to a release with hook API 2, 3"),
        ("42", False, "upgrade srbench-mri to a release with hook API 42"),
    ],
)
def test_api_versions(site, capsys, declared, loads, advice):
    body = "@hookimpl\ndef register_models():\n    return [dataclasses.replace(Trilinear(), name='pkapimodel')]\n"
    make_distribution(site, "srbench-mri-pkapi", modules={"srbench_pk_api": plugin_source(body, declared)},
                      entry_points={"pkapi": "srbench_pk_api"})
    pm = fake_manager(strict=False)
    info = pm.plugins[0]
    assert (info.problem is None) is loads
    assert ("pkapimodel" in pm.names("model")) is loads
    if advice:
        assert info.problem.endswith(advice)
        assert f"this srbench has API {API_VERSION}" in info.problem
        assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("@hookimpl\ndef register_models():\n    return Trilinear()\n",
         "hook register_models returned Trilinear, expected a list of model objects"),
        ("@hookimpl\ndef register_model():\n    return [Trilinear()]\n",
         "unknown hook 'register_model' (did you mean 'register_models'?)"),
        ("@hookimpl\ndef register_models():\n    return [Trilinear(), Trilinear()]\n",
         "hook register_models returned two model objects named 'trilinear'"),
        ("@hookimpl\ndef register_metrics():\n    return [dataclasses.replace(Trilinear(), name='')]\n",
         "hook register_metrics returned a malformed metric"),
        ("@hookimpl\ndef register_models(extra):\n    return []\n", "invalid hook implementation"),
        ("@hookimpl\ndef register_models():\n    raise ValueError('first line\\nsecond line')\n",
         "hook register_models raised ValueError: first line second line"),
    ],
)
def test_malformed_registrations_are_skipped_with_one_line(site, capsys, body, problem):
    make_distribution(site, "srbench-mri-pkbad", modules={"srbench_pk_bad": plugin_source(body)},
                      entry_points={"pkbad": "srbench_pk_bad"})
    pm = fake_manager(strict=False)
    info = pm.plugins[0]
    assert info.status == "error" and problem in info.problem
    assert pm.names("model") == [] and pm.names("metric") == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "distribution 'srbench-mri-pkbad' skipped" in err
    with pytest.raises(PluginError, match="SRBENCH_STRICT_PLUGINS"):
        fake_manager(strict=True)


def test_register_commands_failure_is_guarded(site, capsys):
    good = "@hookimpl\ndef register_commands(cli):\n    @cli.command('pk-hello')\n    def hello():\n        print('hello')\n"
    bad = "@hookimpl\ndef register_commands(cli):\n    raise RuntimeError('no commands today')\n"
    make_distribution(site, "srbench-mri-pkcmdgood", modules={"srbench_pk_cmdgood": plugin_source(good)},
                      entry_points={"pkcmdgood": "srbench_pk_cmdgood"})
    make_distribution(site, "srbench-mri-pkcmdbad", modules={"srbench_pk_cmdbad": plugin_source(bad)},
                      entry_points={"pkcmdbad": "srbench_pk_cmdbad"})
    pm = fake_manager(strict=False)
    group = click.Group("srbench")
    pm.add_commands(group)
    assert CliRunner().invoke(group, ["pk-hello"]).output == "hello\n"
    bad_info = next(p for p in pm.plugins if p.name == "pkcmdbad")
    assert bad_info.problem == "hook register_commands raised RuntimeError: no commands today"
    assert "plugin 'pkcmdbad' from distribution 'srbench-mri-pkcmdbad' skipped" in capsys.readouterr().err
    with pytest.raises(PluginError, match="no commands today"):
        fake_manager(strict=True).add_commands(click.Group("srbench"))
