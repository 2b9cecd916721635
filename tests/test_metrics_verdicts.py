"""The verdict rule on per-patch values with a known answer, and every place in a report that states it.

The outcomes are recomputed here with scipy from the rule as stated (two-sided
Wilcoxon, zeros dropped, Holm over the family, the direction that of the median
difference), not with the code under test.
"""

import dataclasses

import numpy as np
import pytest
from gold.fixture import make_document
from gold.reference import holm_by_hand
from scipy.stats import wilcoxon

from reportgen.judgement import summarise_findings
from reportgen.judgement.gates import evaluate_gates, parse_gate
from reportgen.metrics.verdicts import decide_claims, informative_patches, minimum_pairs
from reportgen.report.context import build_context

N = 30


def _claim(name, difference, *, higher=True, n=N):
    rng = np.random.default_rng(len(name))
    against = rng.uniform(0.3, 0.6, n)
    return {"method": name, "against": "random", "metric": "insertion_auc", "higher_is_better": higher,
            "values": against + difference(rng, n), "against_values": against, "patches": np.arange(n)}


CASES = {
    "equal": lambda rng, n: rng.normal(0.0, 0.02, n),
    "clearly better": lambda rng, n: 0.1 + rng.normal(0.0, 0.02, n),
    "clearly worse": lambda rng, n: -0.1 + rng.normal(0.0, 0.02, n),
}


def test_outcomes_match_the_stated_rule_recomputed_with_scipy():
    claims = [_claim(name, make) for name, make in CASES.items()]
    records = decide_claims(claims, alpha=0.05)
    assert [r["outcome"] for r in records] == ["not_distinguishable", "better", "worse"]
    raw = [wilcoxon(claim["values"] - claim["against_values"], alternative="two-sided").pvalue for claim in claims]
    adjusted = holm_by_hand(raw)
    for claim, record, p, p_holm in zip(claims, records, raw, adjusted):
        median = np.median(claim["values"] - claim["against_values"])
        expected = "not_distinguishable" if p_holm >= 0.05 else "better" if median > 0 else "worse"
        assert record["outcome"] == expected
        assert record["p"] == pytest.approx(p) and record["p_holm"] == pytest.approx(p_holm)
        assert record["differences"] == pytest.approx(claim["values"] - claim["against_values"])
        if record["outcome"] in ("better", "worse"):
            assert np.sign(record["median_difference"]) == (1 if record["outcome"] == "better" else -1)


def test_the_report_tests_its_primary_claims_first_with_most_of_alpha():
    """The primary family (against random by deletion AUC and SRG) gets 0.8 alpha, the rest 0.2 alpha, or all of
    it once every primary claim is decided: recomputed with Holm by hand."""
    from reportgen.metrics.verdicts import PRIMARY_SHARE, decide_report_claims

    def claims(effect):
        found = []
        for metric in ("deletion_auc", "srg", "insertion_auc"):
            for against in ("random", "sobel"):
                claim = _claim(f"{metric}-{against}", effect)
                found.append({**claim, "metric": metric, "against": against})
        return found

    for effect, all_decided in ((CASES["clearly better"], True), (CASES["equal"], False)):
        found = claims(effect)
        records = decide_report_claims(found, alpha=0.05)
        primary = [r for r in records if (r["against"], r["metric"]) in (("random", "deletion_auc"), ("random", "srg"))]
        assert {r["family"] for r in primary} == {"primary"} and len(primary) == 2
        assert [r["level"] for r in primary] == pytest.approx([PRIMARY_SHARE * 0.05] * 2)
        secondary = [r for r in records if r not in primary]
        assert {r["family"] for r in secondary} == {"secondary"}
        level = 0.05 if all_decided else (1 - PRIMARY_SHARE) * 0.05
        assert [r["level"] for r in secondary] == pytest.approx([level] * len(secondary))
        raw = [wilcoxon(c["values"] - c["against_values"]).pvalue for c in found]
        for family, alpha in (([r for r in records if r["family"] == "primary"], PRIMARY_SHARE * 0.05),
                              ([r for r in records if r["family"] == "secondary"], level)):
            adjusted = holm_by_hand([raw[records.index(r)] for r in family])
            for record, p_holm in zip(family, adjusted):
                assert record["p_holm"] == pytest.approx(p_holm)
                assert (record["outcome"] in ("better", "worse")) == (p_holm < alpha)


def test_lower_is_better_metrics_count_a_lower_value_as_better():
    (record,) = decide_claims([_claim("deletion", CASES["clearly worse"], higher=False)])
    assert record["outcome"] == "better" and record["median_difference"] > 0


def test_too_few_pairs_to_reach_alpha_after_holm_is_its_own_outcome():
    needed = minimum_pairs(1, 0.05)  # one claim: its smallest two-sided p on n pairs is 2^(1 - n)
    assert 2.0 ** (1 - needed) < 0.05 <= 2.0 ** (2 - needed)
    (short,) = decide_claims([_claim("short", CASES["clearly better"], n=needed - 1)])
    (enough,) = decide_claims([_claim("enough", CASES["clearly better"], n=needed)])
    assert short["outcome"] == "too_few" and enough["outcome"] == "better"


def test_zero_differences_are_left_out_of_n():
    claim = _claim("ties", CASES["clearly better"])
    claim["values"][:10] = claim["against_values"][:10]
    (record,) = decide_claims([claim])
    assert record["n"] == N - 10 and len(record["patches"]) == N


def test_informative_patches_need_the_score_to_move_between_the_curve_ends():
    curves = np.array([[0.9, 0.5, 0.2], [0.99, 0.99, 0.98], [0.3, 0.6, 0.95]])
    assert informative_patches(curves, "deletion").tolist() == [True, False, False]
    assert informative_patches(curves, "insertion").tolist() == [False, False, True]


@pytest.mark.parametrize("outcome", ["better", "not_distinguishable", "worse", "too_few"])
def test_every_place_that_states_a_verdict_reads_the_same_outcome(outcome):
    document = make_document(30)
    for record in document["verdicts"]:
        if record["method"] == "grad_cam" and record["against"] == "random":
            record["outcome"] = outcome
        elif record["against"] in ("random", "centre_prior", "sobel"):
            record["outcome"] = "better"
    document["summary"] = summarise_findings(document)
    warnings = "\n".join(document["summary"]["warnings"])
    said = {"worse": "Grad-CAM is worse than the random map on deletion AUC",
            "not_distinguishable": "Grad-CAM is not distinguishable from the random map on deletion AUC"}
    for wording in said.values():
        assert (wording in warnings) == (wording == said.get(outcome))
    failed, not_passed = evaluate_gates([parse_gate("beats_random_failed"), parse_gate("beats_random_not_passed")],
                                        document)
    assert failed["passed"] is (outcome != "worse")
    assert not_passed["passed"] is (outcome == "better")
    row = next(row for row in document["summary"]["checks"] if row["check"] == "Grad-CAM: faithful to the model")
    assert row["outcome"] == {"better": "pass", "worse": "fail"}.get(outcome, "inconclusive")
    assert bool(row["decide"]) == (row["outcome"] == "inconclusive")
    context = build_context(document, [{"original": "", **{name: "" for name in document["methods"]}}] * 30)
    row = next(row for row in context.faithfulness if row.title == "Grad-CAM")
    words = {"better": "better", "not_distinguishable": "not distinguishable", "worse": "worse",
             "too_few": "too few informative patches to decide"}[outcome]
    assert row.against_random == f"deletion: {words}, insertion: {words}, SRG: {words}"
    assert any(v.method == "Grad-CAM" and v.against == "Random map" and v.outcome == words for v in context.verdicts)


def test_the_detectable_difference_and_the_patches_needed_invert_each_other():
    from scipy.stats import norm

    from reportgen.metrics.verdicts import detectable_difference, patches_needed

    spread, level = 0.2, 0.05 / 48
    expected = (norm.ppf(1 - level) + norm.ppf(0.8)) * spread / np.sqrt(15 * 3 / np.pi)
    assert detectable_difference(spread, 15, level=level) == pytest.approx(expected)
    needed = patches_needed(spread, 0.05, level=level)
    assert detectable_difference(spread, needed, level=level) <= 0.05 < detectable_difference(spread, needed - 1,
                                                                                              level=level)


def test_the_faithfulness_section_states_what_the_patches_can_detect():
    from reportgen.judgement.faithfulness import section_sentences

    document = make_document(30)
    sentences = " ".join(section_sentences(document))
    assert "With 30 informative patches for deletion AUC a claim finds a mean difference of about" in sentences
    assert "a difference of 0.05 would need about" in sentences
    assert all(v["detectable_difference"] > 0 and v["patches_for_target"] >= 1 for v in document["verdicts"])


def test_with_slide_ids_the_unit_is_the_slide_and_scipy_on_slide_means_gives_the_same_p():
    rng = np.random.default_rng(7)
    slides = np.repeat([f"slide_{k:02d}" for k in range(14)], 3)[rng.permutation(42)]
    against = rng.uniform(0.3, 0.6, 42)
    effect = {f"slide_{k:02d}": value for k, value in enumerate(rng.normal(0.06, 0.05, 14))}
    values = against + np.array([effect[s] for s in slides]) + rng.normal(0, 0.01, 42)
    claim = {"method": "m", "against": "random", "metric": "insertion_auc", "higher_is_better": True,
             "values": values, "against_values": against, "patches": np.arange(42), "groups": slides}
    (record,) = decide_claims([claim], alpha=0.05)
    assert record["unit"] == "slide" and record["slides"] == 14 and record["n"] == 14
    assert len(record["patches"]) == 42
    means = [np.mean((values - against)[slides == s]) for s in sorted(set(slides))]
    assert record["p"] == pytest.approx(wilcoxon(means, alternative="two-sided").pvalue)
    assert record["median_difference"] == pytest.approx(np.median(means))
    (by_patch,) = decide_claims([{k: v for k, v in claim.items() if k != "groups"}], alpha=0.05)
    assert by_patch["unit"] == "patch" and by_patch["slides"] is None and by_patch["n"] == 42


def test_a_document_with_slide_ids_tests_slides_and_says_how_many():
    from gold.fixture import make_record

    from reportgen.pipeline.document import assemble_document

    record = make_record(12)
    record.selection = dataclasses.replace(record.selection, slide_ids=[f"slide_{i % 4}" for i in range(12)])
    document = assemble_document(record)
    assert document["settings"]["uncertainty"]["unit"] == "slide"
    assert document["settings"]["uncertainty"]["slides"] == 4
    assert {v["unit"] for v in document["verdicts"]} == {"slide"}
    assert all(v["slides"] <= 4 for v in document["verdicts"])
    context = build_context(document, [{"original": "", **{name: "" for name in document["methods"]}}] * 12)
    assert "come from 4 slides" in context.uncertainty
    assert any("resample the 4 slides" in text for text in context.limitations)


def test_every_method_has_a_verdict_per_reference_map_for_deletion_insertion_and_srg():
    document = make_document(30)
    for method in document["methods"]:
        for reference in document["baselines"]:
            metrics = {v["metric"] for v in document["verdicts"] if (v["method"], v["against"]) == (method, reference)}
            assert metrics == {"deletion_auc", "insertion_auc", "srg"}
    srg = next(v for v in document["verdicts"] if v["metric"] == "srg")
    per_image = {image["index"]: image for image in document["images"]}
    ids = [image["index"] for image in document["images"]]
    method = [per_image[ids[i]]["per_method"][srg["method"]]["srg"] for i in srg["patches"]]
    against = [per_image[ids[i]]["per_method"][srg["against"]]["srg"] for i in srg["patches"]]
    assert srg["median_difference"] == pytest.approx(np.median(np.subtract(method, against)))
