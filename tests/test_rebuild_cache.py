"""A warm rebuild recomputes nothing it cached: the data set's mean colour, agreement and localisation.

Each cached value is validated on read: a corrupt or malformed entry is
recomputed (and gives the same numbers), never trusted.
"""

import json
import math

import numpy as np
import pytest

from reportgen.cache import ArrayCache
from reportgen.cli import main
from reportgen.data.pcam import PCamSplit, open_pcam
from reportgen.metrics import agreement as agreement_module
from reportgen.metrics import localisation as localisation_module
from reportgen.summary_cache import cached_agreement, cached_localisation, metric_code_version
from reportgen.steps import MEAN_COLOUR_PATCHES, dataset_mean_colour
from tests.conftest import FAST_BUILD_ARGS


@pytest.fixture
def reads(monkeypatch):
    """Every PCamSplit.read call's number of patches, in order."""
    calls = []
    original = PCamSplit.read

    def spy(self, indices):
        calls.append(len(np.atleast_1d(indices)))
        return original(self, indices)

    monkeypatch.setattr(PCamSplit, "read", spy)
    return calls


def _entry_files(cache: ArrayCache) -> list:
    return sorted(cache.root.rglob("*.npz"))


def test_mean_colour_is_read_once_then_served_from_the_cache(tmp_path, tiny_pcam, reads):
    data = open_pcam(tiny_pcam, splits=("train", "valid"))
    cache = ArrayCache(tmp_path / "results")
    first = dataset_mean_colour(data, "valid", cache=cache)
    assert reads == [min(64, MEAN_COLOUR_PATCHES)]  # the training split, read once
    second = dataset_mean_colour(data, "valid", cache=cache)
    assert reads == [64]  # no second read
    assert second == first
    uncached = dataset_mean_colour(data, "valid")
    assert uncached == first  # the same floats, bit for bit
    assert all(0.0 <= value <= 1.0 for value in first)


@pytest.mark.parametrize("damage", ["garbage bytes", "wrong shape", "out of range", "not finite", "wrong dtype"])
def test_a_damaged_cached_mean_colour_is_recomputed(tmp_path, tiny_pcam, reads, damage):
    data = open_pcam(tiny_pcam, splits=("valid",))
    cache = ArrayCache(tmp_path / "results")
    expected = dataset_mean_colour(data, "valid", cache=cache)
    (path,) = _entry_files(cache)
    if damage == "garbage bytes":
        path.write_bytes(b"not a zip file")
    else:
        value = {"wrong shape": np.array([0.5, 0.5]), "out of range": np.array([0.5, 1.5, 0.5]),
                 "not finite": np.array([0.5, np.nan, 0.5]), "wrong dtype": np.array([0, 1, 0])}[damage]
        with open(path, "wb") as handle:
            np.savez(handle, mean=value)
    assert dataset_mean_colour(data, "valid", cache=cache) == expected
    assert reads == [48, 48]  # recomputed from the split
    assert dataset_mean_colour(data, "valid", cache=cache) == expected
    assert reads == [48, 48]  # and the repaired entry is used again


def test_mean_colour_key_follows_the_data_and_the_split_read(tmp_path, tiny_pcam, reads):
    cache = ArrayCache(tmp_path / "results")
    with_train = open_pcam(tiny_pcam, splits=("train", "valid"))
    valid_only = open_pcam(tiny_pcam, splits=("valid",))
    from_train = dataset_mean_colour(with_train, "valid", cache=cache)
    from_valid = dataset_mean_colour(valid_only, "valid", cache=cache)
    assert reads == [64, 48]  # a different split read is a different entry
    assert from_train != from_valid
    valid_only.fingerprint = "another data set"
    dataset_mean_colour(valid_only, "valid", cache=cache)
    assert reads == [64, 48, 48]  # so is a different fingerprint


def _maps(seed, n=4, size=96):
    rng = np.random.default_rng(seed)
    maps = {name: rng.random((n, size, size)).astype(np.float32) for name in ("a", "b", "c")}
    maps["c"][1] = 0.0  # a constant map: undefined Spearman, no positive mass
    return maps


def test_agreement_is_computed_once_per_set_of_maps(tmp_path, monkeypatch):
    cache = ArrayCache(tmp_path / "results")
    maps, titles = _maps(0), {"a": "A", "b": "B", "c": "C"}
    calls = []
    original = agreement_module.agreement_matrix
    monkeypatch.setattr(agreement_module, "agreement_matrix", lambda *a, **k: calls.append(1) or original(*a, **k))
    code = metric_code_version()
    first = cached_agreement(maps, titles, n_images=4, seed=0, cache=cache, code=code)
    second = cached_agreement(maps, titles, n_images=4, seed=0, cache=cache, code=code)
    assert len(calls) == 1
    assert second == first
    assert first[0] == original(maps, seed=0)
    assert len(first[1]) == 4 and "cannot be compared" in first[1][1]
    # Other values, another seed, other titles or other metric code: computed afresh.
    changed = dict(maps, b=maps["b"] + 1e-3)
    cached_agreement(changed, titles, n_images=4, seed=0, cache=cache, code=code)
    cached_agreement(maps, titles, n_images=4, seed=1, cache=cache, code=code)
    renamed = cached_agreement(maps, dict(titles, a="Method A"), n_images=4, seed=0, cache=cache, code=code)
    cached_agreement(maps, titles, n_images=4, seed=0, cache=cache, code="edited")
    assert len(calls) == 5
    assert "Method A" in " ".join(renamed[1]) and "Method A" not in " ".join(first[1])


@pytest.mark.parametrize("damage", ["garbage bytes", "not json", "wrong methods", "short notes", "bad matrix"])
def test_a_damaged_cached_agreement_is_recomputed(tmp_path, damage):
    cache = ArrayCache(tmp_path / "results")
    maps, titles = _maps(1), {"a": "A", "b": "B", "c": "C"}
    expected = cached_agreement(maps, titles, n_images=4, seed=0, cache=cache, code="v")
    (path,) = _entry_files(cache)
    agreement, notes = json.loads(json.dumps(expected))
    if damage == "garbage bytes":
        path.write_bytes(b"\x00" * 10)
    else:
        if damage == "wrong methods":
            agreement["methods"] = ["a", "b"]
        elif damage == "short notes":
            notes = notes[:3]
        elif damage == "bad matrix":
            agreement["per_image"]["spearman"][0][1] = [0.5]
        text = "{" if damage == "not json" else json.dumps([agreement, notes])
        with open(path, "wb") as handle:
            np.savez(handle, json=np.array(text))
    assert cached_agreement(maps, titles, n_images=4, seed=0, cache=cache, code="v") == expected


def test_localisation_is_computed_once_and_a_damaged_entry_is_recomputed(tmp_path, monkeypatch):
    cache = ArrayCache(tmp_path / "results")
    maps = _maps(2)
    masks = np.zeros((4, 96, 96), dtype=np.uint8)
    masks[:2, 30:60, 30:60] = 1
    calls = []
    original = localisation_module.pointing_game
    monkeypatch.setattr(localisation_module, "pointing_game", lambda *a, **k: calls.append(1) or original(*a, **k))
    first = cached_localisation(maps, masks, seed=0, cache=cache, code="v")
    assert len(calls) == 3
    second = cached_localisation(maps, masks, seed=0, cache=cache, code="v")
    assert len(calls) == 3
    for name in maps:
        for metric in ("centre_mass", "pointing_game", "mass_in_mask"):
            np.testing.assert_array_equal(second[name][metric], first[name][metric])
    assert math.isnan(first["a"]["pointing_game"][3])  # empty mask
    # Other masks are another entry; without masks only centre mass is stored.
    cached_localisation(maps, masks[::-1].copy(), seed=0, cache=cache, code="v")
    assert len(calls) == 6
    no_masks = cached_localisation(maps, None, seed=0, cache=cache, code="v")
    assert no_masks["a"]["pointing_game"] is None and no_masks["a"]["mass_in_mask"] is None
    # Truncate one array of the first entry: recomputed, same numbers.
    key_files = _entry_files(cache)
    for path in key_files:
        with np.load(path) as stored:
            arrays = dict(stored)
        if set(arrays) == {f"{n}.{m}" for n in maps for m in ("centre_mass", "pointing_game", "mass_in_mask")} and \
                np.array_equal(arrays["a.pointing_game"], first["a"]["pointing_game"], equal_nan=True):
            arrays["b.mass_in_mask"] = arrays["b.mass_in_mask"][:2]
            with open(path, "wb") as handle:
                np.savez(handle, **arrays)
            break
    else:
        pytest.fail("the first entry was not found")
    before = len(calls)
    again = cached_localisation(maps, masks, seed=0, cache=cache, code="v")
    assert len(calls) == before + 3
    np.testing.assert_array_equal(again["b"]["mass_in_mask"], first["b"]["mass_in_mask"])


def test_metric_code_version_follows_the_metric_sources():
    assert metric_code_version() == metric_code_version()
    assert len(metric_code_version()) == 64


def test_warm_rebuild_reads_only_the_explained_patches_and_recomputes_no_summary(
        tmp_path, tiny_pcam, checkpoint_a, reads, monkeypatch):
    def build(out):
        return main(["build", "--data-dir", str(tiny_pcam), "--checkpoint", str(checkpoint_a), "--out",
                     str(tmp_path / out), "--cache-dir", str(tmp_path / "cache"), *FAST_BUILD_ARGS])

    assert build("cold") == 0
    assert 48 in reads  # the mean colour of the valid split (no training split opened)
    reads.clear()
    computed = []
    for module, name in ((agreement_module, "agreement_matrix"), (agreement_module, "agreement_note"),
                         (localisation_module, "centre_mass")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _o=original, _n=name, **k: computed.append(_n) or _o(*a, **k))
    assert build("warm") == 0
    assert reads == [4]  # only the 4 explained patches
    assert computed == []
    cold, warm = (json.loads((tmp_path / out / "report.json").read_text()) for out in ("cold", "warm"))
    for key in ("agreement", "localisation", "images"):
        assert warm[key] == cold[key], key
    assert warm["settings"]["dataset_mean"] == cold["settings"]["dataset_mean"]
