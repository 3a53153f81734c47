"""Render the plugin scaffold: validate the name, fill the templates, write the directory.

Templates live in ``templates/`` beside this module and use :class:`string.Template`
placeholders: ``${name}`` (method name), ``${package}`` (``srbench_<name>``),
``${distribution}`` (``srbench-mri-<name>``), ``${class_prefix}`` (CamelCase name) and
``${api_major}`` (the hook API major version the plugin declares).
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from srbench.errors import InputError
from srbench.hookspecs import API_VERSION
from srbench.io.atomic import write_text_atomic

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

#: output path (formatted with the variables) → template file
FILES: dict[str, str] = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    "{package}/__init__.py": "package_init.py.tmpl",
    "{package}/network.py": "network.py.tmpl",
    "{package}/trainer.py": "trainer.py.tmpl",
    "{package}/model.py": "model.py.tmpl",
    "{package}/plugin.py": "plugin.py.tmpl",
    "tests/test_{name}_conformance.py": "test_conformance.py.tmpl",
    "tests/test_{name}_network.py": "test_network.py.tmpl",
}


def check_name(name: str, *, pm: Any | None = None) -> None:
    """Raise an InputError unless ``name`` can be a method name and a package suffix.

    With a plugin manager, a name some installed plugin already registers is refused too.
    """
    if not NAME_RE.match(name) or keyword.iskeyword(name):
        raise InputError(
            f"NAME '{name}': use a lowercase Python identifier of at most 40 characters "
            "(letters, digits, '_'; starting with a letter), e.g. mymethod"
        )
    if pm is not None:
        for kind in ("model", "trainer"):
            if name in pm.names(kind):
                owner = pm.owner(kind, name)
                raise InputError(
                    f"NAME '{name}': a {kind} with this name is already registered by distribution "
                    f"'{owner.distribution}'; choose another name"
                )


def variables(name: str) -> dict[str, str]:
    """The template variables for method ``name``."""
    return {
        "name": name,
        "package": f"srbench_{name}",
        "distribution": f"srbench-mri-{name.replace('_', '-')}",
        "class_prefix": "".join(part.capitalize() for part in name.split("_")),
        "api_major": API_VERSION.split(".")[0],
    }


def render(name: str) -> dict[str, str]:
    """Relative output path → file text for method ``name``."""
    values = variables(name)
    templates = resources.files("srbench.scaffold") / "templates"
    return {
        path.format(**values): Template((templates / template).read_text(encoding="utf-8")).substitute(values)
        for path, template in FILES.items()
    }


def write_scaffold(name: str, target: Path, *, pm: Any | None = None) -> Path:
    """Write the distribution for ``name`` into the new directory ``target``.

    The files are written into a temporary sibling directory which is then renamed to
    ``target``, so ``target`` appears complete or not at all.

    Raises:
        InputError: bad name, ``target`` exists, or its parent directory is missing.
    """
    check_name(name, pm=pm)
    target = Path(target)
    if target.exists():
        raise InputError(f"--dir {target}: already exists; choose a new directory (nothing was written)")
    if not target.parent.is_dir():
        raise InputError(f"--dir {target}: parent directory '{target.parent}' does not exist")
    files = render(name)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    umask = _umask()
    try:
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, text)
            os.chmod(path, 0o666 & ~umask)  # atomic writes create private (0600) files
        os.chmod(staging, 0o777 & ~umask)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
