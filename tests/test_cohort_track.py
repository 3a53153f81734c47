"""The cross-validation track over the vendored cohort: 12 real, distinct, licensed heads in
subject-disjoint folds, declared identically by the root and the shipped datasets.toml."""

from __future__ import annotations

import hashlib

import nibabel as nib
import numpy as np

from srbench.config import load_config
from srbench.folds import track_folds
from srbench.plugins import get_plugin_manager
from tests.conftest import DEMO_DATA, REPO

COHORT = DEMO_DATA / "cohort"
#: names of the population templates the demo also ships: never in a track that claims subjects
TEMPLATES = ("icbm2009c", "colin27")


def test_both_configs_split_the_12_cohort_heads_into_3_subject_disjoint_folds():
    pm = get_plugin_manager()
    for path in (REPO / "datasets.toml", REPO / "srbench" / "demo" / "datasets.toml"):
        config = load_config(path, pm=pm)
        track = config.tracks["cohort-t1-cv"]
        assert (track.kind, track.folds, track.primary_metric) == ("cv", 3, "psnr")
        subjects = config.subjects(track.test, pm)
        assert sorted(s.path for s in subjects) == sorted(COHORT.glob("sub-*_T1w.nii.gz"))
        assert len({s.subject for s in subjects}) == 12
        assert not any(t in s.subject.lower() for s in subjects for t in TEMPLATES)
        folds = track_folds(config, track, pm)
        assert [len(f.held_out) for f in folds] == [4, 4, 4] and [len(f.train) for f in folds] == [8, 8, 8]
        held = [s.subject for f in folds for s in f.held_out]
        assert sorted(held) == sorted(s.subject for s in subjects), "every head is scored exactly once"
        for fold in folds:
            assert not {s.subject for s in fold.held_out} & {s.subject for s in fold.train}


def test_the_vendored_cohort_is_described_licensed_and_readable():
    sources = (COHORT / "SOURCES.md").read_text()
    licences = (DEMO_DATA.parent / "LICENSES.md").read_text()
    assert "CC0" in licences and "BSD-2-Clause notice (cohort sub-01)" in licences and "ds002748" in licences
    files = sorted(COHORT.glob("*.nii.gz"))
    assert len(files) == 12
    digests = set()
    for file in files:
        assert f"| {file.name} |" in sources, f"{file.name} is not described in cohort/SOURCES.md"
        image = nib.load(file)
        data = np.asarray(image.dataobj)
        assert data.dtype == np.int16 and min(image.shape) > 100
        assert 0.1 < (data > 0).mean() < 0.9, f"{file.name}: not a brain-extracted head"
        digests.add(hashlib.sha256(file.read_bytes()).hexdigest())
    assert len(digests) == 12, "two cohort files are the same volume"
