"""Stability of the explanations: each method's declared variants (LIME under a second seed, IG per baseline, the
Grad-CAM layer table), the option that picks them and the section that shows them."""

import json

import numpy as np
import pytest
import torch
from conftest import run_build

from reportgen.cache import ArrayCache
from reportgen.config import resolve_config
from reportgen.errors import ConfigError
from reportgen.explain import list_stability_variants
from reportgen.explain.grad_cam import GRAD_CAM_LAYERS
from reportgen.metrics.stability import map_similarity, pairwise_similarity
from reportgen.model.network import build_model
from reportgen.pipeline.explain import explain_patches
from reportgen.pipeline.stability import stability_checks
from reportgen.pipeline.stability_section import stability_section
from reportgen.report.stability import stability_view
from reportgen.runtime import Stopwatch
from reportgen.schema import ReportDocument

PATCHES = np.array([3, 11, 17])
#: The variants the registry declares, and those it runs by default, in the order they run.
STABILITY_MEASURES = ("lime_seeds", "ig_baselines", "grad_cam_layers")
DEFAULT_STABILITY = ("lime_seeds", "grad_cam_layers")


@pytest.fixture(scope="module")
def patches():
    """An untrained ResNet-18 (seeded) and three textured 96 px patches with their targets."""
    torch.manual_seed(0)
    model = build_model().eval()
    generator = torch.Generator().manual_seed(1)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 96), torch.linspace(0, 1, 96), indexing="ij")
    base = torch.stack([0.8 - 0.3 * yy, 0.5 + 0.2 * xx, 0.7 - 0.2 * xx * yy])
    images = (base[None] + 0.15 * torch.rand(3, 3, 96, 96, generator=generator)).clamp(0, 1)
    with torch.no_grad():
        targets = model(images).argmax(dim=1)
    return model, images, targets


def _config(*settings, **flags):
    values = {"images": 3, "steps": 4, "batch_size": 32, **flags}
    return resolve_config(flag_values=values, settings=["lime.num_samples=40", "integrated_gradients.n_steps=4",
                                                        *settings])


def _run(patches, config, cache):
    model, images, targets = patches
    methods = explain_patches(model, images, targets, PATCHES, config=config, cache=cache, cache_context={},
                              progress=False)
    outcome = stability_checks(model, images, targets, PATCHES, methods, config=config,
                               dataset_mean=(0.7, 0.55, 0.7), cache=cache, cache_context={}, watch=Stopwatch(),
                               progress=False)
    return methods, outcome


@pytest.fixture(scope="module")
def layer_run(patches, tmp_path_factory):
    """Grad-CAM with the layer table, run once for the tests that only read it: (config, methods, outcome)."""
    config = _config(methods="grad_cam", stability="grad_cam_layers")
    return (config, *_run(patches, config, ArrayCache(tmp_path_factory.mktemp("layers") / "cache")))


def test_identical_maps_are_fully_similar_and_different_ones_less():
    rng = np.random.default_rng(0)
    maps = rng.random((4, 96, 96))
    same = map_similarity(maps, maps.copy())
    assert np.allclose(same["spearman"], 1.0) and np.allclose(same["iou_top10"], 1.0)
    other = map_similarity(maps, rng.random((4, 96, 96)))
    assert np.all(other["spearman"] < 0.9) and np.all(other["iou_top10"] < 0.5)
    pairs = pairwise_similarity({"black": maps, "white": maps, "blur": -maps})
    assert [(a, b) for a, b, _ in pairs] == [("black", "white"), ("black", "blur"), ("white", "blur")]
    assert np.allclose(pairs[1][2]["spearman"], -1.0)


def test_lime_with_the_same_seed_repeats_exactly_and_a_second_seed_does_not(patches, tmp_path):
    model, images, targets = patches
    config = _config(methods="lime", stability="lime_seeds")
    uncached = ArrayCache(tmp_path / "none", enabled=False)
    first = explain_patches(model, images, targets, PATCHES, config=config, cache=uncached, cache_context={},
                            progress=False)["lime"]
    again = explain_patches(model, images, targets, PATCHES, config=config, cache=uncached, cache_context={},
                            progress=False)["lime"]
    assert np.allclose(map_similarity(first.maps, again.maps)["spearman"], 1.0)

    methods, outcome = _run(patches, config, ArrayCache(tmp_path / "cache"))
    lime = outcome.measured["lime_seeds"]
    assert "SeedSequence([1, patch index])" in lime.seed_rule
    assert lime.second.maps.shape == methods["lime"].maps.shape
    assert not np.array_equal(lime.second.maps, methods["lime"].maps)
    assert np.nanmin(lime.similarity["spearman"]) < 1.0


def test_the_layer_table_has_three_layers_with_their_feature_map_sizes(layer_run):
    config, _, outcome = layer_run
    table = outcome.measured["grad_cam_layers"]
    assert table.facts == {"backbone.layer2.1": {"feature_map_size": "12x12"},
                           "backbone.layer3.1": {"feature_map_size": "6x6"},
                           "backbone.layer4.1": {"feature_map_size": "3x3"}}
    # The default layer's curves are the report's own map's (same identity); the others are new maps.
    layer4 = table.curves["backbone.layer4.1"]
    assert layer4.deletion.shape == (3, config.steps + 1)
    masks = {mode: np.ones(3, bool) for mode in ("deletion", "insertion")}
    section = stability_section(outcome, random_curves=layer4, masks=masks, alpha=0.05, seed=0)["grad_cam_layers"]
    assert [row["layer"] for row in section["rows"]] == list(GRAD_CAM_LAYERS)
    assert [row["default"] for row in section["rows"]] == [False, False, True]
    assert [row["used"] for row in section["rows"]] == [False, False, True]
    for row in section["rows"]:
        assert set(row["against_random"]) == {"deletion_auc", "insertion_auc", "srg"}
        assert all(v["method"] == f"grad_cam@{row['layer']}" for v in row["against_random"].values())
    # Against itself the default layer differs on no patch: never "better".
    assert section["rows"][2]["against_random"]["deletion_auc"]["n"] == 0


def test_the_row_of_the_reports_own_layer_states_the_reports_verdicts(layer_run):
    _, _, outcome = layer_run
    masks = {mode: np.ones(3, bool) for mode in ("deletion", "insertion")}
    random = outcome.measured["grad_cam_layers"].curves["backbone.layer2.1"]
    own = [{"method": "grad_cam", "against": "random", "metric": metric, "outcome": "worse", "marker": metric}
           for metric in ("deletion_auc", "insertion_auc", "srg")]
    rows = stability_section(outcome, random_curves=random, masks=masks, report_verdicts=own, alpha=0.05,
                             seed=0)["grad_cam_layers"]["rows"]
    used = next(row for row in rows if row["used"])
    assert {metric: v.get("marker") for metric, v in used["against_random"].items()} == {
        metric: metric for metric in ("deletion_auc", "insertion_auc", "srg")}
    others = [v for row in rows if not row["used"] for v in row["against_random"].values()]
    assert others and all(v["method"].startswith("grad_cam@") and "marker" not in v for v in others)


def test_a_configured_layer_is_marked_as_used_and_the_default_stays_marked(patches, tmp_path):
    config = _config("grad_cam.target_layer=backbone.layer3.1", methods="grad_cam", stability="grad_cam_layers")
    _, outcome = _run(patches, config, ArrayCache(tmp_path / "cache"))
    masks = {mode: np.ones(3, bool) for mode in ("deletion", "insertion")}
    random = outcome.measured["grad_cam_layers"].curves["backbone.layer2.1"]
    rows = stability_section(outcome, random_curves=random, masks=masks, alpha=0.05, seed=0)["grad_cam_layers"]["rows"]
    assert [(row["default"], row["used"]) for row in rows] == [(False, False), (False, True), (True, False)]


def test_ig_baselines_give_one_map_set_per_baseline_and_each_pair_compared(patches, tmp_path):
    config = _config(methods="integrated_gradients", stability="ig_baselines")
    methods, outcome = _run(patches, config, ArrayCache(tmp_path / "cache"))
    ig = outcome.measured["ig_baselines"]
    assert list(ig.results) == ["black", "white", "blur"] and ig.used == "black"
    assert ig.results["black"] is methods["integrated_gradients"]  # the report's own maps, not recomputed
    assert not np.allclose(ig.results["white"].maps, ig.results["black"].maps)
    assert [(a, b) for a, b, _ in ig.pairs] == [("black", "white"), ("black", "blur"), ("white", "blur")]


def test_a_rebuild_serves_every_variant_from_the_cache_but_not_under_other_code(patches, tmp_path):
    config = _config(methods="lime,grad_cam", stability="lime_seeds,grad_cam_layers")
    _, first = _run(patches, config, ArrayCache(tmp_path / "cache", version="v1"))
    assert first.measured["lime_seeds"].second.cached == 0
    _, second = _run(patches, config, ArrayCache(tmp_path / "cache", version="v1"))
    assert second.measured["lime_seeds"].second.cached == len(PATCHES)
    assert np.array_equal(second.measured["lime_seeds"].second.maps, first.measured["lime_seeds"].second.maps)
    _, other = _run(patches, config, ArrayCache(tmp_path / "cache", version="v2"))
    assert other.measured["lime_seeds"].second.cached == 0


def test_a_measurement_whose_method_is_not_in_the_report_is_skipped_with_the_reason(patches, tmp_path):
    config = _config(methods="grad_cam", stability="lime_seeds,grad_cam_layers")
    _, outcome = _run(patches, config, ArrayCache(tmp_path / "cache"))
    assert list(outcome.measured) == ["grad_cam_layers"]
    assert "lime" in outcome.skipped["lime_seeds"]


def test_the_methods_declare_the_variants_in_the_order_they_run():
    variants = list_stability_variants()
    assert [variant.name for variant in variants] == list(STABILITY_MEASURES)
    assert [variant.name for variant in list_stability_variants(default_only=True)] == list(DEFAULT_STABILITY)
    assert [(variant.method, variant.kind) for variant in variants] == [
        ("lime", "seed"), ("integrated_gradients", "pairs"), ("grad_cam", "table")]
    assert variants[0].seed_rule(4).startswith("first seed SeedSequence([4, patch index]) (the report's map), "
                                               "second seed SeedSequence([5, patch index]); ")
    assert variants[0].runs(4) == {"second seed": ({}, 5)}
    assert variants[2].runs(4) == {layer: ({"target_layer": layer}, 4) for layer in GRAD_CAM_LAYERS}


def test_every_declared_variant_names_a_setting_of_its_method_and_valid_values():
    from reportgen.explain import get_explainer

    for variant in list_stability_variants():
        factory = get_explainer(variant.method).factory
        assert variant.title and variant.name
        if variant.kind == "seed":
            assert variant.note
            continue
        assert variant.setting in factory.defaults and variant.varies and variant.values
        for value in variant.values:
            assert factory.resolve_settings({variant.setting: value})[variant.setting] == value


def test_a_variant_of_an_unknown_kind_is_refused():
    from reportgen.explain import StabilityVariant

    with pytest.raises(ValueError, match="kind 'shuffle'; choose from: seed, pairs, table"):
        StabilityVariant(name="toy_shuffle", title="Toy shuffled", kind="shuffle")


@pytest.mark.parametrize("value, resolved", [(None, DEFAULT_STABILITY), ("all", STABILITY_MEASURES), ("none", ()),
                                             ("grad_cam_layers,lime_seeds", ("lime_seeds", "grad_cam_layers"))])
def test_the_stability_option_resolves_names_all_and_none(value, resolved):
    flags = {} if value is None else {"stability": value}
    assert resolve_config(flag_values=flags).stability == resolved


@pytest.mark.parametrize("value, fragment", [("lime", "'lime'"), ("all,ig_baselines", "alone"),
                                             ("ig_baselines,ig_baselines", "twice")])
def test_a_bad_stability_value_is_one_clear_line(value, fragment):
    with pytest.raises(ConfigError) as error:
        resolve_config(flag_values={"stability": value})
    assert fragment in str(error.value) and "\n" not in str(error.value)


def _layer_document(outcomes: dict[str, list[str]]) -> ReportDocument:
    rows = [{"layer": layer, "feature_map_size": size, "default": layer.endswith("layer4.1"), "used": False,
             "deletion_auc": {"mean": 0.3, "ci95": [0.2, 0.4]}, "insertion_auc": {"mean": 0.6, "ci95": [0.5, 0.7]},
             "against_random": {metric: {"outcome": outcomes[metric][i]} for metric in outcomes}}
            for i, (layer, size) in enumerate(zip(GRAD_CAM_LAYERS, ("12x12", "6x6", "3x3")))]
    differ = {metric: len(set(values)) > 1 for metric, values in outcomes.items()}
    table = {"method": "grad_cam", "default_layer": "backbone.layer4.1", "used_layer": "backbone.layer4.1",
             "family": "own family", "rows": rows, "depends_on_layer": differ, "seconds": 1.0}
    return ReportDocument.from_json({
        "methods": {"grad_cam": {"title": "Grad-CAM"}},
        "stability": {"measures": ["grad_cam_layers"], "skipped": {}, "lime_seeds": None, "ig_baselines": None,
                      "grad_cam_layers": table}})


def test_the_section_says_when_the_verdict_depends_on_the_layer():
    view = stability_view(_layer_document({"deletion_auc": ["better", "better", "not_distinguishable"],
                                           "insertion_auc": ["worse", "worse", "worse"]}))
    text = " ".join(view.findings)
    assert "Grad-CAM's verdict against the random map depends on the layer." in text
    assert "not distinguishable at layer4 (3x3, the default)" in text
    assert "By insertion, Grad-CAM's outcome against the random map is the same at every layer: worse." in text
    assert [row.is_default for row in view.tables[0].rows] == [False, False, True]

    same = stability_view(_layer_document({"deletion_auc": ["better"] * 3, "insertion_auc": ["worse"] * 3}))
    assert not any("depends on the layer" in sentence for sentence in same.findings)
    assert any("not run" in sentence and "lime_seeds" in sentence for sentence in same.not_run)


def test_the_default_build_runs_the_default_measurements(shared_build):
    document = json.loads((shared_build / "report.json").read_text())
    assert document["provenance"]["config"]["stability"] == list(DEFAULT_STABILITY)
    assert document["stability"]["measures"] == list(DEFAULT_STABILITY)
    for name in STABILITY_MEASURES:
        assert (document["stability"][name] is not None) == (name in DEFAULT_STABILITY)
        assert (f"stability_{name}" in document["provenance"]["timings"]) == (name in DEFAULT_STABILITY)


def test_a_small_build_has_every_measurement_in_report_json_and_html(tmp_path, tiny_pcam, checkpoint_a):
    # No sanity or stain step, which do not touch the stability section, and curves of 4 steps instead of 8.
    skip = ("--sanity-images", "0", "--stain-images", "0", "--steps", "4")
    assert run_build(tiny_pcam, checkpoint_a, tmp_path / "report", tmp_path / "cache", "--stability", "all",
                     *skip) == 0
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    stability = document["stability"]
    assert stability["measures"] == list(STABILITY_MEASURES) and stability["skipped"] == {}
    rows = stability["grad_cam_layers"]["rows"]
    assert [(row["layer"], row["feature_map_size"]) for row in rows] == list(zip(GRAD_CAM_LAYERS,
                                                                                ("12x12", "6x6", "3x3")))
    assert len(stability["lime_seeds"]["spearman"]["per_image"]) == len(document["images"])
    assert [(pair["a"], pair["b"]) for pair in stability["ig_baselines"]["pairs"]] == [
        ("black", "white"), ("black", "blur"), ("white", "blur")]
    html = (tmp_path / "report" / "report.html").read_text()
    assert '<section id="stability">' in html and '<a href="#stability">' in html
    assert "backbone.layer4.1 (default)" in html and "first seed against second seed" in html
    assert "Integrated Gradients, black against white" in html

    # --stability none: no section, and the report's verdicts are those of the build with the section.
    assert run_build(tiny_pcam, checkpoint_a, tmp_path / "none", tmp_path / "cache", "--stability", "none",
                     *skip) == 0
    without = json.loads((tmp_path / "none" / "report.json").read_text())
    assert without["stability"] is None and '<section id="stability">' not in (tmp_path / "none" / "report.html").read_text()
    assert without["verdicts"] == document["verdicts"]
