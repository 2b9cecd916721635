"""Chunked builds: the patches go through the per-patch steps a chunk at a time into attributions.h5,
and the report equals the one built in a single chunk, number for number."""

import h5py
import numpy as np
import pytest
from conftest import LEAN_BUILD_ARGS, run_build
from test_shards import assert_same_numbers

from reportgen.data.reader import PCamSplit
from reportgen.metrics.agreement import agreement_matrix, combine_agreement
from reportgen.pipeline import chunks
from reportgen.pipeline.join import join
from reportgen.pipeline.patch_store import PatchStore, StoredPatches


@pytest.mark.parametrize("size, reference", [pytest.param(1, "shared_build", id="1"),
                                             pytest.param(3, "lean_build", id="3")])
def test_a_report_built_in_chunks_equals_the_one_built_at_once(tmp_path, tiny_pcam, checkpoint_a, monkeypatch, size,
                                                               reference, request):
    # The reference builds take their 4 patches in one chunk. 1 puts the two sanity patches of shared_build in
    # different chunks; 3 splits the per-patch steps unevenly (3 + 1), as lean_build, without the sanity, stain and
    # stability steps.
    whole_build = request.getfixturevalue(reference)
    extra = LEAN_BUILD_ARGS if reference == "lean_build" else []
    monkeypatch.setattr(chunks, "PATCHES_PER_CHUNK", size)
    reads = _record_reads(monkeypatch)
    assert run_build(tiny_pcam, checkpoint_a, tmp_path / "report", tmp_path / "cache", *extra) == 0
    assert_same_numbers(tmp_path / "report", whole_build)
    with h5py.File(tmp_path / "report" / "attributions.h5", "r") as chunked, \
            h5py.File(whole_build / "attributions.h5", "r") as whole:
        for name in ("images", "maps/grad_cam", "maps/lime", "curves/sobel/insertion"):
            np.testing.assert_array_equal(chunked[name][:], whole[name][:])
        explained = chunked["patch_indices"][:].tolist()
    assert len(explained) == 4
    # The per-patch steps read the explained patches a chunk at a time, each once, in report order, never all four
    # together; then shared_build's sanity and stain steps read the report's first two patches, once, together.
    per_chunk = [explained[start:stop] for start, stop in chunks.chunk_bounds(len(explained), size)]
    leading = [explained[:2]] if reference == "shared_build" else []
    assert [read for read in reads if set(read) <= set(explained)] == per_chunk + leading


def _record_reads(monkeypatch) -> list[list[int]]:
    """The split indices of every ``PCamSplit.read`` from now on, one list per call, in call order."""
    reads, original = [], PCamSplit.read

    def recording_read(self, indices):
        batch = original(self, indices)
        reads.append(np.asarray(batch.indices).tolist())
        return batch

    monkeypatch.setattr(PCamSplit, "read", recording_read)
    return reads


def test_the_store_holds_what_each_chunk_wrote_in_report_order(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    maps = rng.random((5, 8, 8)).astype(np.float32)
    curves = rng.random((5, 4))
    store = PatchStore(tmp_path / "a.h5", patch_ids=[f"valid:{i}" for i in range(5)], patch_indices=range(5),
                       labels=[0, 1, 0, 1, 1], targets=[0, 1, 1, 1, 0], predictions=[0, 1, 1, 1, 0])
    for start, stop in chunks.chunk_bounds(5, 2):
        store.write(start, images=images[start:stop], masks=None, maps={"m": maps[start:stop]},
                    curves={"m": {"deletion": curves[start:stop]}})
    store.close()
    stored = StoredPatches(tmp_path / "a.h5")
    try:
        np.testing.assert_array_equal(stored.images[3], images[3])
        np.testing.assert_array_equal(stored.maps["m"][:2], maps[:2])
        assert stored.masks is None
        assert stored.file["patch_ids"].asstr()[4] == "valid:4"
        np.testing.assert_array_equal(stored.file["curves/m/deletion"][:], curves)
        assert stored.maps["m"].chunks == (1, 8, 8)  # one patch is one chunk: the gallery reads only its own
    finally:
        stored.close()


def test_chunk_bounds_cover_every_position_once():
    assert chunks.chunk_bounds(5, 2) == [(0, 2), (2, 4), (4, 5)]
    assert chunks.chunk_bounds(0, 2) == []


def test_agreement_joined_from_chunks_equals_the_agreement_of_all_patches():
    rng = np.random.default_rng(1)
    maps = {name: rng.random((7, 16, 16)) for name in ("a", "b", "c")}
    maps["c"][2] = 0.0  # a constant map: its Spearman is undefined and the means skip it
    whole = agreement_matrix(maps)
    parts = [agreement_matrix({name: values[start:stop] for name, values in maps.items()})
             for start, stop in chunks.chunk_bounds(7, 3)]
    assert combine_agreement(parts) == whole
    assert whole["per_image"]["spearman"][0][2][2] is None


def _method_result(n, *, start=0, seconds=1.0, warnings=(), extras=None):
    from reportgen.pipeline.explain import MethodResult

    maps = np.arange(start, start + n, dtype=np.float32)[:, None, None] * np.ones((1, 2, 2), np.float32)
    return MethodResult(name="integrated_gradients", title="IG", reference="ref", maps=maps, display_maps=maps,
                        settings={"n_steps": 3}, seconds=seconds, forward_passes=2 * n, backward_passes=n, cached=1,
                        patch_warnings=list(warnings), extras=extras or {})


def test_join_concatenates_per_patch_values_and_keeps_the_rest_from_the_first_chunk():
    from reportgen.pipeline.score import CurveSet
    from reportgen.pipeline.stability import SettingTable

    def table(values, seconds):
        curves = CurveSet(deletion=np.array(values), insertion=np.array(values) + 1, least_first=np.array(values) * 2)
        return SettingTable(method="grad_cam", default="l4", used="l4", facts={"l4": {"feature_map_size": "3x3"}},
                            curves={"l4": curves}, seconds=seconds)

    parts = [({"a": np.array([1, 2]), "none": None}, ("x", np.array([0.5])), [table([1.0], 2.0)]),
             ({"a": np.array([3]), "none": None}, ("x", np.array([0.25])), [table([2.0, 3.0], 0.5)])]
    values, pair, (joined,) = join(parts)
    np.testing.assert_array_equal(values["a"], [1, 2, 3])
    assert values["none"] is None and pair[0] == "x" and isinstance(pair, tuple)
    np.testing.assert_array_equal(pair[1], [0.5, 0.25])
    np.testing.assert_array_equal(joined.curves["l4"].least_first, [2.0, 4.0, 6.0])
    assert joined.seconds == 2.5  # a cost of the run: added
    assert (joined.method, joined.facts) == ("grad_cam", {"l4": {"feature_map_size": "3x3"}})
    with pytest.raises(ValueError):  # lists of per-chunk lengths are not guessed at
        join([["a", "b"], ["a"]])


def test_a_method_result_joins_costs_extras_and_warnings_and_holds_no_maps():
    first = _method_result(2, warnings=["w1"], extras={"delta": np.array([0.1, 0.2])})
    second = _method_result(3, start=2, seconds=2.0, warnings=["w1", "w2"])
    joined = join([first, second])
    assert joined.maps is None and joined.display_maps is None
    assert (joined.seconds, joined.forward_passes, joined.backward_passes, joined.cached) == (3.0, 10, 5, 2)
    assert joined.patch_warnings == ["w1", "w2"] and joined.warnings[:2] == ["w1", "w2"]
    np.testing.assert_array_equal(joined.extras["delta"], [0.1, 0.2, np.nan, np.nan, np.nan])
    assert joined.settings == {"n_steps": 3}
