"""Unit tests of the build's steps on a tiny CNN: explaining, scoring, and the document producer."""

import re

import numpy as np
import pytest
import torch
from gold.fixture import make_figures, make_record
from test_explain_registry import tiny_model
from test_schema import _mismatches

from reportgen.cache import ArrayCache
from reportgen.config import resolve_config
from reportgen.judgement.gates import parse_gate
from reportgen.metrics.substrate_scope import substrate_drift
from reportgen.pipeline import score as score_module
from reportgen.pipeline.document import assemble_document
from reportgen.pipeline.explain import explain_patches
from reportgen.pipeline.sanity import SanityOutcome, sanity_controls
from reportgen.pipeline.score import CurveScorer, reference_maps, score_maps
from reportgen.report.render import render_html
from reportgen.runtime import Stopwatch
from reportgen.schema import ReportDocument, to_json

CONTEXT = {"checkpoint": "tiny", "data": "tiny-data", "split": "valid"}


def _images(n, size=96, seed=0):
    generator = torch.Generator().manual_seed(seed)
    blocks = torch.rand(n, 3, size // 16, size // 16, generator=generator)
    return blocks.repeat_interleave(16, dim=2).repeat_interleave(16, dim=3)


def _config(**flags):
    return resolve_config(flag_values={"steps": 6, "batch_size": 16, **flags},
                          settings=["integrated_gradients.n_steps=3"])


def _explain(cache, images, patches, config, model=None):
    targets = torch.zeros(len(images), dtype=torch.long)
    return explain_patches(model or tiny_model(), images, targets, np.asarray(patches), config=config, cache=cache,
                           cache_context=CONTEXT, progress=False)


def test_explain_patches_caches_per_patch_and_a_patch_does_not_depend_on_the_others(tmp_path):
    config = _config(methods="integrated_gradients,grad_cam")
    cache = ArrayCache(tmp_path, version="v1")
    images = _images(3)
    first = _explain(cache, images, [5, 9, 12], config)
    assert first["integrated_gradients"].settings["n_steps"] == 3  # the setting reached the method
    assert all(result.cached == 0 and result.maps.shape == (3, 96, 96) for result in first.values())
    again = _explain(cache, images, [5, 9, 12], config)
    assert all(result.cached == 3 and result.forward_passes == 0 for result in again.values())
    alone = _explain(ArrayCache(tmp_path / "other", version="v1"), images[1:2], [9], config)
    for name in first:
        np.testing.assert_array_equal(again[name].maps, first[name].maps)
        np.testing.assert_array_equal(alone[name].maps[0], first[name].maps[1])


def test_explain_patches_recomputes_under_another_code_version(tmp_path):
    config = _config(methods="grad_cam")
    images = _images(2)
    _explain(ArrayCache(tmp_path, version="v1"), images, [1, 2], config)
    upgraded = _explain(ArrayCache(tmp_path, version="v2"), images, [1, 2], config)
    assert upgraded["grad_cam"].cached == 0
    assert _explain(ArrayCache(tmp_path, version="v2"), images, [1, 2], config)["grad_cam"].cached == 2


def test_a_completeness_warning_over_all_patches_reaches_the_method_once_also_from_the_cache(tmp_path):
    from test_explain_methods import ExponentialModel

    config = resolve_config(flag_values={"methods": "integrated_gradients", "batch_size": 16},
                            settings=["integrated_gradients.n_steps=1"])
    cache, images = ArrayCache(tmp_path, version="v1"), _images(3)
    targets = torch.ones(3, dtype=torch.long)
    for expected_cached in (0, 3):
        result = explain_patches(ExponentialModel(), images, targets, np.arange(3), config=config, cache=cache,
                                 cache_context=CONTEXT, progress=False)["integrated_gradients"]
        assert result.cached == expected_cached
        assert result.extras["relative_completeness_delta"].shape == (3,)
        (warning,) = result.warnings
        assert "completeness" in warning and "raise n_steps" in warning


def test_a_changed_setting_is_another_cache_entry(tmp_path):
    cache = ArrayCache(tmp_path, version="v1")
    images = _images(2)
    _explain(cache, images, [1, 2], _config(methods="integrated_gradients"))
    other = resolve_config(flag_values={"methods": "integrated_gradients"}, settings=["integrated_gradients.n_steps=4"])
    assert _explain(cache, images, [1, 2], other)["integrated_gradients"].cached == 0


def test_curves_are_cached_per_patch_and_score_maps_fills_every_section(tmp_path):
    config = _config(methods="grad_cam")
    model, images = tiny_model(), _images(3)
    targets = torch.zeros(3, dtype=torch.long)
    cache = ArrayCache(tmp_path, version="v1")
    methods = _explain(cache, images, [1, 2, 3], config, model)
    masks = np.zeros((3, 96, 96), np.uint8)
    masks[:, 40:56, 40:56] = 1
    scores = score_maps(model, images, targets, [1, 2, 3], masks, methods, config=config, dataset_mean=(0.5,) * 3,
                        cache=cache, cache_context=CONTEXT, watch=Stopwatch(), progress=False)
    assert set(scores.curves) == {"grad_cam", "random", "centre_prior", "sobel"}
    assert scores.curves["grad_cam"].deletion.shape == (3, 7)
    assert scores.localisation["grad_cam"]["mass_in_mask"].shape == (3,)
    assert len(scores.agreement["methods"]) == 1 and scores.substrate_aucs == {}
    scorer = CurveScorer(model, images, targets, [1, 2, 3], config=config, dataset_mean=(0.5,) * 3, cache=cache,
                         cache_context=CONTEXT, progress=False)
    curves = scorer.curves("grad_cam", methods["grad_cam"].maps, mode="deletion", substrate="mean",
                           map_identity={"method": "grad_cam", "settings": methods["grad_cam"].settings})
    assert scorer.forward_passes == 0  # every patch's curve came from the cache
    np.testing.assert_array_equal(curves, scores.curves["grad_cam"].deletion)


def test_substrate_drift_is_cached_per_patch_and_equals_the_metric(tmp_path, monkeypatch):
    config = _config(methods="grad_cam")
    model, images = tiny_model(), _images(3)
    targets = torch.zeros(3, dtype=torch.long)
    random_maps = reference_maps(images, [1, 2, 3], seed=0)["random"]
    expected = substrate_drift(model, images, random_maps, targets, substrate="black", seed=0,
                               dataset_mean=(0.5,) * 3)
    cache = ArrayCache(tmp_path, version="v1")

    def scorer():
        return CurveScorer(model, images, targets, [1, 2, 3], config=config, dataset_mean=(0.5,) * 3, cache=cache,
                           cache_context=CONTEXT, progress=False)

    # Patch 2 first, alone: the other two are computed later, and each patch's entry is its own.
    CurveScorer(model, images[1:2], targets[1:2], [2], config=config, dataset_mean=(0.5,) * 3, cache=cache,
                cache_context=CONTEXT, progress=False).drift("black", random_maps[1:2])
    drift, flipped = scorer().drift("black", random_maps)
    np.testing.assert_array_equal(drift, expected[0])
    np.testing.assert_array_equal(flipped, expected[1])

    def must_not_run(*args, **kwargs):
        raise AssertionError("substrate drift computed again although every patch is cached")

    monkeypatch.setattr(score_module, "substrate_drift", must_not_run)
    again = scorer().drift("black", random_maps)
    np.testing.assert_array_equal(again[0], drift)


def test_the_random_reference_of_a_patch_does_not_depend_on_the_other_patches():
    images = _images(3)
    together = reference_maps(images, [4, 7, 9], seed=0)["random"]
    alone = reference_maps(images[1:2], [7], seed=0)["random"]
    np.testing.assert_array_equal(alone[0], together[1])


def test_document_follows_the_schema_and_fills_summary_comparison_and_gates():
    record = make_record(4)
    previous = assemble_document(make_record(4, seed=1))
    document = assemble_document(record, previous=previous, gates=[parse_gate("accuracy<0.9"), parse_gate("roc_auc<0")])
    assert _mismatches(to_json(document), ReportDocument) == []
    assert document["summary"]["verdict"] and document["comparison"]["compatible"] is True
    assert [gate["passed"] for gate in document["gates"]] == [False, True]  # accuracy 0.86 < 0.9 holds


def test_every_method_has_a_verdict_against_every_reference_and_every_other_method():
    document = assemble_document(make_record(12))
    claims = {(v["method"], v["against"], v["metric"]) for v in document["verdicts"]}
    methods, references = list(document["methods"]), list(document["baselines"])
    for metric in ("deletion_auc", "insertion_auc"):
        for method in methods:
            assert all((method, reference, metric) in claims for reference in references)
        assert sum(1 for v in document["verdicts"] if v["metric"] == metric) == \
            len(methods) * len(references) + len(methods) * (len(methods) - 1) // 2
    assert all(v["unit"] == "patch" and v["outcome"] in ("better", "worse", "not_distinguishable", "too_few")
               for v in document["verdicts"])


def test_a_failing_sanity_check_is_reported_with_its_similarity():
    record = make_record(3)
    document = assemble_document(record)
    lime = document["sanity"]["methods"]["lime"]
    assert lime["passed"] is False and lime["final"] == pytest.approx(0.9)
    assert lime["final"] == pytest.approx(float(record.sanity["lime"].per_image[-1].mean()))
    assert any("LIME failed the model-randomisation sanity check (similarity 0.90" in text
               for text in document["summary"]["warnings"])


STAGES = ["backbone.fc", "backbone.layer4", "backbone.conv1+backbone.bn1"]


def _sanity_row(html: str, title: str) -> list[str]:
    section = html[html.index('<section id="sanity">'):]
    section = section[:section.index("</section>")]
    row = next(row for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section) if f"<td>{title}" in row)
    return re.findall(r"<td>(.*?)</td>", row)


def test_every_place_states_the_sanity_outcome_the_rule_gives():
    record = make_record(3)
    finals = {"integrated_gradients": [0.1, 0.12, 0.08, 0.11, 0.09],    # clearly below 0.5: passed
              "grad_cam": [-0.4, 0.75, 0.7, -0.3, 0.75],                # mean 0.3, but straddles 0.5: inconclusive
              "lime": [0.9, 0.92, 0.88, 0.91, 0.89]}                    # clearly above: failed
    record.sanity = {name: SanityOutcome(stages=STAGES, per_image=np.stack([np.ones(5), np.ones(5), values]))
                     for name, values in finals.items()}
    record.sanity_controls = {"sobel": SanityOutcome(stages=STAGES, per_image=np.ones((3, 5)))}
    document = assemble_document(record, gates=[parse_gate("sanity_failed"), parse_gate("sanity_not_passed")])
    methods = document["sanity"]["methods"]
    assert {name: (m["outcome"], m["passed"]) for name, m in methods.items()} == {
        "integrated_gradients": ("passed", True), "grad_cam": ("inconclusive", False), "lime": ("failed", False)}
    low, high = methods["grad_cam"]["ci95"]
    assert low < 0.5 <= high and methods["grad_cam"]["final"] == pytest.approx(0.3)
    assert methods["lime"]["ci95"][0] >= 0.5 and methods["integrated_gradients"]["ci95"][1] < 0.5
    assert document["sanity"]["controls"]["sobel"]["outcome"] == "failed" and document["sanity"]["trustworthy"]
    warnings = document["summary"]["warnings"]
    assert any(w.startswith("LIME failed the model-randomisation sanity check (similarity 0.90 [") for w in warnings)
    assert any(w.startswith("The model-randomisation sanity check of Grad-CAM is inconclusive (similarity 0.30 [")
               for w in warnings)
    assert not any("Integrated Gradients" in w and "sanity" in w for w in warnings)
    assert not any("not trustworthy" in w for w in warnings)
    failed, not_passed = document["gates"]
    assert failed["detail"] == "LIME: model-randomisation sanity check: FAIL" and failed["passed"] is False
    assert not_passed["passed"] is False
    assert "Grad-CAM: model-randomisation sanity check: INCONCLUSIVE" in not_passed["detail"]
    html = render_html(document, make_figures(3))
    assert _sanity_row(html, "Integrated Gradients")[-1] == "passed"
    assert _sanity_row(html, "Grad-CAM")[-1] == "inconclusive"
    assert _sanity_row(html, "LIME")[-1] == "FAILED"
    assert _sanity_row(html, "LIME")[-3:-1] == ["0.88 to 0.92 (5/5 \u2265 0.5)", "0.90 [0.88, 0.92]"]
    assert _sanity_row(html, "Sobel edges (control, must fail)")[-1] == "failed, as it must"
    assert "<th>fc</th><th>layer4</th><th>conv1+bn1</th>" in html  # short stage labels keep the table narrow


def test_a_control_that_does_not_fail_makes_the_check_untrustworthy_everywhere():
    record = make_record(3)
    record.sanity = {name: SanityOutcome(stages=STAGES, per_image=np.full((3, 5), 0.1)) for name in record.sanity}
    # A broken similarity that scored the model-independent map low would look like this.
    record.sanity_controls = {"sobel": SanityOutcome(stages=STAGES, per_image=np.full((3, 5), 0.1))}
    document = assemble_document(record, gates=[parse_gate("sanity_failed")])
    assert document["sanity"]["trustworthy"] is False
    assert all(m["outcome"] == "passed" for m in document["sanity"]["methods"].values())
    assert any("positive control, Sobel edges" in w and "not trustworthy" in w for w in document["summary"]["warnings"])
    gate = document["gates"][0]
    assert gate["passed"] is False and gate["detail"] == "Sanity check control: FAIL"
    html = render_html(document, make_figures(3))
    assert "this sanity check is not trustworthy" in html
    assert _sanity_row(html, "Sobel edges (control, must fail)")[-1] == "passed: NOT FAILED"


def test_the_sobel_control_fails_through_the_real_cascade():
    model = tiny_model()
    images = _images(4)
    config = _config()
    controls = sanity_controls(model, images[:3], torch.zeros(3, dtype=torch.long), config=config)
    control = controls["sobel"]
    assert control.per_image.shape == (len(control.stages), 3)  # the patches given
    np.testing.assert_allclose(control.per_image, 1.0, atol=1e-9)
    assert control.outcome == "failed"


def test_the_document_holds_the_timings_it_was_given_and_no_later_ones():
    record = make_record(3)
    document = assemble_document(record)
    record.timings["render"] = 1.0  # a stage that ends after the document was assembled
    assert document["provenance"]["timings"] == {"explain": 12.5, "curves": 3.25}
