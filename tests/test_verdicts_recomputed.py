"""Every verdict of a real build, recomputed from report.json's per-patch values with scipy and the stated rule.

The rule as docs/metrics.md#verdicts states it: on each claim's patches, the paired differences (positive when the method
is better) are averaged per slide where slide ids exist; one-sided Wilcoxon signed-rank tests both ways, zero
differences dropped; Holm over every p-value of the report; better / worse below alpha, too few below
ceil(log2(m / alpha)) non-zero differences.  Nothing here calls reportgen's statistics.
"""

import json
import math

import numpy as np
import pytest
from gold.reference import holm_by_hand
from scipy.stats import wilcoxon

LOWER_IS_BETTER = {"deletion_auc"}


def _unit_differences(document, verdict):
    images = document["images"]
    differences = {}
    for index in verdict["patches"]:
        scores = images[index]["per_method"]
        method, against = scores[verdict["method"]][verdict["metric"]], scores[verdict["against"]][verdict["metric"]]
        difference = (against - method) if verdict["metric"] in LOWER_IS_BETTER else (method - against)
        unit = images[index]["slide_id"] if verdict["unit"] == "slide" else index
        differences.setdefault(unit, []).append(difference)
    return np.array([np.mean(values) for values in differences.values()])


def test_every_verdict_follows_from_the_per_patch_values(shared_build):
    document = json.loads((shared_build / "report.json").read_text())
    verdicts, alpha = document["verdicts"], document["settings"]["alpha"]
    assert verdicts and {v["unit"] for v in verdicts} == {"slide"}  # the synthetic set has slide ids
    raw, counts = [], []
    for verdict in verdicts:
        nonzero = _unit_differences(document, verdict)
        nonzero = nonzero[nonzero != 0]
        counts.append(len(nonzero))
        if len(nonzero) == 0:
            raw += [1.0, 1.0]
        else:
            raw += [wilcoxon(nonzero, alternative="greater").pvalue, wilcoxon(nonzero, alternative="less").pvalue]
    adjusted = holm_by_hand(raw)
    needed = math.ceil(math.log2(len(raw) / alpha))
    for index, verdict in enumerate(verdicts):
        better, worse = adjusted[2 * index], adjusted[2 * index + 1]
        expected = ("too_few" if counts[index] < needed else "better" if better < alpha
                    else "worse" if worse < alpha else "not_distinguishable")
        assert verdict["outcome"] == expected, verdict
        assert verdict["n"] == counts[index]
        assert verdict["p"] == pytest.approx(min(raw[2 * index], raw[2 * index + 1]))
