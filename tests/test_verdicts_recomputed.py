"""Every verdict and every page-one outcome of a real build, recomputed from report.json with scipy and the
stated rules; nothing here calls reportgen's statistics or judgement.

The verdict rule as docs/metrics.md#verdicts and docs/judgement.md state it: on each claim's patches, the paired
differences (positive when the method is better) are averaged per slide where slide ids exist; a two-sided
Wilcoxon signed-rank test, zero differences dropped; Holm within the claim's family at the family's level (the
primary family, better than random by deletion AUC and SRG, at 0.8 alpha; the rest at 0.2 alpha, or alpha once
every primary claim is decided); better / worse below the level in the direction of the median difference, too
few when 2^(1 - n) cannot reach level / m.

The check rule: a check passes only when its 95 % interval lies wholly on the claim's side of its limit, fails
when it lies wholly on the other side, and is inconclusive otherwise.
"""

import json

import numpy as np
import pytest
from gold.reference import holm_by_hand
from scipy.stats import binomtest, wilcoxon

LOWER_IS_BETTER = {"deletion_auc"}
PRIMARY = {("random", "deletion_auc"), ("random", "srg")}


def _unit_differences(document, verdict):
    images = document["images"]
    differences = {}
    for index in verdict["patches"]:
        scores = images[index]["per_method"]
        method, against = scores[verdict["method"]][verdict["metric"]], scores[verdict["against"]][verdict["metric"]]
        difference = (against - method) if verdict["metric"] in LOWER_IS_BETTER else (method - against)
        unit = images[index]["slide_id"] if verdict["unit"] == "slide" else index
        differences.setdefault(unit, []).append(difference)
    return np.array([np.mean(differences[unit]) for unit in sorted(differences)])


def _needed(level, family_size):
    n = 1
    while 2.0 ** (1 - n) >= level / family_size:
        n += 1
    return n


@pytest.fixture(scope="module")
def document(shared_build):
    return json.loads((shared_build / "report.json").read_text())


def test_every_verdict_follows_from_the_per_patch_values(document):
    verdicts, alpha = document["verdicts"], document["settings"]["alpha"]
    assert verdicts and {v["unit"] for v in verdicts} == {"slide"}  # the synthetic set has slide ids
    families = {"primary": [], "secondary": []}
    for verdict in verdicts:
        assert verdict["family"] == ("primary" if (verdict["against"], verdict["metric"]) in PRIMARY else "secondary")
        families[verdict["family"]].append(verdict)
    primary_decided = all(v["outcome"] in ("better", "worse") for v in families["primary"])
    levels = {"primary": 0.8 * alpha, "secondary": alpha if primary_decided else 0.2 * alpha}
    for family, members in families.items():
        raw, counts, medians = [], [], []
        for verdict in members:
            differences = _unit_differences(document, verdict)
            assert verdict["differences"] == pytest.approx(differences)
            nonzero = differences[differences != 0]
            counts.append(len(nonzero))
            medians.append(np.median(differences) if len(differences) else 0.0)
            raw.append(wilcoxon(nonzero).pvalue if len(nonzero) else 1.0)
        adjusted = holm_by_hand(raw)
        level = levels[family]
        needed = _needed(level, len(members))
        for verdict, p, p_holm, n, median in zip(members, raw, adjusted, counts, medians):
            expected = ("too_few" if n < needed else "not_distinguishable" if p_holm >= level
                        else "better" if median > 0 else "worse")
            assert verdict["level"] == pytest.approx(level)
            assert verdict["outcome"] == expected, verdict
            assert verdict["n"] == n and verdict["needed"] == needed
            assert verdict["p"] == pytest.approx(p) and verdict["p_holm"] == pytest.approx(p_holm)


def _rule(low, high, limit, direction):
    if low is None or high is None:
        return "inconclusive"
    supports = {"at_least": low >= limit, "at_most": high <= limit, "below": high < limit}[direction]
    against = {"at_least": high < limit, "at_most": low > limit, "below": low >= limit}[direction]
    return "pass" if supports else "fail" if against else "inconclusive"


def test_no_check_passes_with_its_interval_across_its_limit(document):
    checks = document["summary"]["checks"]
    with_interval = [row for row in checks if row["interval"] is not None and row["limit"] is not None]
    assert len(with_interval) >= 6  # accuracy, calibration, right reason, centre and sanity per method
    for row in with_interval:
        low, high = row["interval"]
        assert row["outcome"] == _rule(low, high, row["limit"], row["direction"]), row
        assert (row["decide"] != "") == (row["outcome"] == "inconclusive"), row


def test_the_faithfulness_checks_read_the_primary_claims(document):
    for row in document["summary"]["checks"]:
        if row["column"] != "faithfulness":
            continue
        outcomes = [v["outcome"] for v in document["verdicts"]
                    if v["method"] == row["method"] and (v["against"], v["metric"]) in PRIMARY]
        assert len(outcomes) == 2
        expected = "fail" if "worse" in outcomes else "pass" if set(outcomes) == {"better"} else "inconclusive"
        assert row["outcome"] == expected


def test_share_intervals_contain_the_exact_binomial_interval(document):
    """A share's interval is never narrower than Clopper-Pearson's on its patches (0 of 14 is not [0, 0])."""
    evaluation = document["model"]["evaluation"]
    correct = evaluation["confusion_matrix"][0][0] + evaluation["confusion_matrix"][1][1]
    exact = binomtest(correct, evaluation["n"]).proportion_ci(method="exact")
    low, high = evaluation["intervals"]["accuracy"]["ci95"]
    assert low <= exact.low + 1e-9 and high >= exact.high - 1e-9
    rates = [document["evidence"]["lost_without_periphery"], document["evidence"]["kept_without_centre"],
             *(condition["flip_rate"] for condition in document["stain_robustness"]["conditions"].values())]
    rates = [rate for rate in rates if rate["mean"] is not None]
    assert rates  # the model-level checks run on every evaluated patch, so some shares exist
    for rate in rates:
        exact = binomtest(round(rate["mean"] * rate["n"]), rate["n"]).proportion_ci(method="exact")
        assert rate["ci95"][0] <= exact.low + 1e-9 and rate["ci95"][1] >= exact.high - 1e-9
    for slide in document["slides"]["split"].values():
        k = round(slide["accuracy"] * slide["patches"])
        exact = binomtest(k, slide["patches"]).proportion_ci(method="exact")
        assert slide["ci95"] == pytest.approx([exact.low, exact.high])


def test_the_combined_checks_follow_from_their_parts(document):
    """The model's stain check: FAIL when any part's interval lies wholly above its limit, PASS when every part's
    lies at or below; the slides check: FAIL when a judged slide's exact interval lies below the bar, PASS when
    every one lies at or above it."""
    stain = document["stain_robustness"]
    limits = stain["thresholds"]
    parts = [_rule(*stain["conditions"][name]["flip_rate"]["ci95"], limits["model_flip_rate_max"], "at_most")
             for name in stain["model_conditions"]]
    if stain["class_stain"] is not None:
        parts.append(_rule(*stain["class_stain"]["toward_donor"]["ci95"], limits["class_stain_shift_max"], "at_most"))
    expected = "fail" if "fail" in parts else "pass" if set(parts) == {"pass"} else "inconclusive"
    (row,) = [row for row in document["summary"]["checks"] if row["check"] == "Model decision under a stain change"]
    assert row["outcome"] == expected
    judged = [slide for slide in document["slides"]["split"].values() if slide["patches"] >= 20]
    rows = [row for row in document["summary"]["checks"] if row["check"] == "Accuracy on every slide"]
    if judged:
        outcomes = [_rule(*slide["ci95"], 0.8, "at_least") for slide in judged]
        assert rows[0]["outcome"] == ("fail" if "fail" in outcomes else "pass" if set(outcomes) == {"pass"}
                                      else "inconclusive")
    else:
        assert rows == []  # too few patches on every slide of the tiny split to judge one
