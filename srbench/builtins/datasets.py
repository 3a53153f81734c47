"""Built-in plugin: dataset readers for file lists/globs (``paths``) and BIDS folders (``bids``)."""

from __future__ import annotations

import dataclasses
import glob
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from srbench import hookimpl
from srbench.errors import InputError, show
from srbench.interfaces import SubjectFile

NIFTI_RE = re.compile(r"\.nii(\.gz)?$")


def subject_id_from_name(path: Path) -> str:
    """File name without ``.nii`` / ``.nii.gz``."""
    return NIFTI_RE.sub("", path.name)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Regex matching a path pattern where ``{subject}`` captures one path component.

    ``*`` and ``?`` match within one component, ``**`` across components.
    """
    out = []
    for token in re.split(r"(\{subject\}|\*\*/|\*\*|\*|\?)", pattern):
        out.append(
            {"{subject}": "(?P<subject>[^/]+)", "**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
        )
    return re.compile("".join(out) + r"\Z")


def expand_pattern(base: Path, pattern: str) -> list[str]:
    """The paths matching ``pattern`` (relative to ``base`` unless absolute), sorted.

    ``*``, ``?`` and ``[...]`` match within one name and ``**`` any number of folders, as
    in :func:`glob.glob`, but ``base`` (and the anchor of an absolute pattern) is taken
    literally, so a folder named ``lab [2024]`` is no pattern, and ``**`` never enters a
    symlinked folder, so no loop of links can make a tree endless. As with ``glob``, a name
    starting with ``.`` is matched only by a pattern part starting with ``.``.
    """
    path = Path(pattern)
    root, relative = (Path(path.anchor), str(path.relative_to(path.anchor))) if path.is_absolute() else (base, pattern)
    if not glob.has_magic(relative):
        candidate = root / relative
        return [str(candidate)] if candidate.exists() else []
    hidden_allowed = any(part.startswith(".") for part in Path(relative).parts)
    found = []
    for match in root.glob(relative):
        if not hidden_allowed and any(part.startswith(".") for part in match.relative_to(root).parts):
            continue
        found.append(str(match))
    return sorted(found)


@dataclasses.dataclass(frozen=True)
class NiftiPathsReader:
    """``paths = ["t1/*.nii.gz", "{subject}/T1w/T1w.nii.gz"]``: files or globs, relative to the base.

    The subject id is the file name without extension, or the path component matched by
    ``{subject}`` when the pattern has one. Each pattern must match at least one file.
    """

    name: str = "nifti"
    key: str = "paths"
    options: tuple[str, ...] = ()

    def validate_table(self, table: Any) -> None:
        """``paths`` is a string or a non-empty list of strings (a :class:`~srbench.config.schema.Table`)."""
        table.strings("paths")

    def subjects(self, table: Mapping[str, Any], *, base: Path, dataset: str) -> list[SubjectFile]:
        patterns = table["paths"]
        if isinstance(patterns, str):
            patterns = [patterns]
        found: dict[str, SubjectFile] = {}
        for pattern in patterns:
            full = str(base / pattern)
            matches = expand_pattern(base, pattern.replace("{subject}", "*"))
            if not matches:
                what = "file not found" if not glob.has_magic(pattern) and "{subject}" not in pattern else "pattern matches no file"
                raise InputError(f"{show(full)}: {what} (dataset '{dataset}')")
            regex = _pattern_regex(full) if "{subject}" in pattern else None
            nifti = [match for match in matches if NIFTI_RE.search(Path(match).name)]
            if not nifti:
                raise InputError(
                    f"{show(full)}: {len(matches)} file(s) matched but none is a NIfTI file (.nii or .nii.gz) (dataset '{dataset}')"
                )
            for match in nifti:
                path = Path(match)
                subject = subject_id_from_name(path)
                if regex is not None and (m := regex.match(match)):
                    subject = m.group("subject")
                if subject in found and found[subject].path != path:
                    raise InputError(f"{path}: subject id '{subject}' appears twice in dataset '{dataset}' (also {found[subject].path})")
                found[subject] = SubjectFile(subject=subject, path=path)
        return [found[k] for k in sorted(found)]


BIDS_ENTITY_RE = re.compile(r"([a-zA-Z0-9]+)-([a-zA-Z0-9]+)")


def parse_bids_name(name: str) -> tuple[dict[str, str], str]:
    """``sub-01_ses-a_T1w.nii.gz`` → ``({"sub": "01", "ses": "a"}, "T1w")``."""
    stem = NIFTI_RE.sub("", name)
    *pairs, suffix = stem.split("_")
    entities = {}
    for pair in pairs:
        m = BIDS_ENTITY_RE.fullmatch(pair)
        if m:
            entities[m.group(1)] = m.group(2)
    return entities, suffix


BIDS_FILTERS = {"suffix": None, "session": "ses", "acquisition": "acq", "run": "run", "task": "task", "space": "space", "reconstruction": "rec"}


@dataclasses.dataclass(frozen=True)
class BidsReader:
    """``bids = "path/to/bids"`` plus entity filters (``suffix = "T2w"``, ``session``, ``acquisition``...).

    Reads ``sub-*/[ses-*/]anat/*.nii[.gz]``; the subject id is ``sub-<label>``, with
    ``_ses-<label>`` appended when the dataset holds several sessions of one subject.
    """

    name: str = "bids"
    key: str = "bids"
    options: tuple[str, ...] = tuple(BIDS_FILTERS) + ("datatype",)

    def validate_table(self, table: Any) -> None:
        """``bids`` and every filter are strings (a :class:`~srbench.config.schema.Table`)."""
        for key in (self.key, *self.options):
            table.string(key)

    def subjects(self, table: Mapping[str, Any], *, base: Path, dataset: str) -> list[SubjectFile]:
        root = base / table["bids"]
        if not root.is_dir():
            raise InputError(f"{root}: BIDS folder not found (dataset '{dataset}')")
        datatype = table.get("datatype", "anat")
        wanted = {key: str(table[key]) for key in BIDS_FILTERS if key in table}
        rows: list[tuple[dict[str, str], Path]] = []
        for path in sorted(root.glob(f"sub-*/**/{datatype}/*.nii*")):
            if not NIFTI_RE.search(path.name):
                continue
            entities, suffix = parse_bids_name(path.name)
            if "sub" not in entities:
                continue
            if any((suffix if key == "suffix" else entities.get(BIDS_FILTERS[key] or "")) != value for key, value in wanted.items()):
                continue
            rows.append((entities, path))
        if not rows:
            filters = ", ".join(f"{k}={v}" for k, v in wanted.items()) or "no filters"
            raise InputError(f"{root}: no BIDS images match ({filters}) in dataset '{dataset}'")
        multi_session = len({e.get("ses") for e, _ in rows}) > 1
        found: dict[str, SubjectFile] = {}
        for entities, path in rows:
            subject = f"sub-{entities['sub']}" + (f"_ses-{entities['ses']}" if multi_session and "ses" in entities else "")
            if subject in found:
                raise InputError(
                    f"{path}: several images for {subject} in dataset '{dataset}' (also {found[subject].path}); "
                    "add a filter such as acquisition or run"
                )
            found[subject] = SubjectFile(subject=subject, path=path)
        return [found[k] for k in sorted(found)]


@hookimpl
def register_datasets():
    return [NiftiPathsReader(), BidsReader()]
