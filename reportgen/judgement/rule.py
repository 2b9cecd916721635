"""The one rule every check of the report decides by (docs/judgement.md).

A check asserts a claim: this method's maps are faithful to the model, the model's accuracy is at least the
limit, its tumour calls do not rest on the periphery.  It

- **passes** only when its evidence supports the claim at 95 % confidence: the measurement's 95 % interval lies
  wholly on the claim's side of the limit, or the claim's test is significant after the correction of its family;
- **fails** when the evidence is against the claim: the interval lies wholly on the other side, or the test is
  significant in the other direction;
- is otherwise **inconclusive**, and says what would decide it.

The same rule runs both ways, so too few patches can neither clear a model nor credit a method: a point
estimate on the safe side with an interval across the limit is inconclusive, not a pass.

What would decide an inconclusive interval: the interval's half-width shrinks as one over the square root of
the number of units (patches, or slides where slide ids exist), so about ``n * (half-width / distance)^2``
units would bring it wholly to one side of the limit, where ``distance`` is how far the estimate lies from the
limit.  It is a planning figure, not a promise: the estimate itself moves with more data.
"""

from __future__ import annotations

import math

PASS, INCONCLUSIVE, FAIL = "pass", "inconclusive", "fail"
#: Every outcome, in the order page one lists them: failures first.
OUTCOMES = (FAIL, INCONCLUSIVE, PASS)

#: A claim's direction -> (does the interval support the claim, is it against the claim), from (low, high, limit).
#: "below" is "at_most" with the limit itself on the failing side (the sanity check's similarity "below the threshold").
DIRECTIONS = {
    "at_least": (lambda low, high, limit: low >= limit, lambda low, high, limit: high < limit),
    "at_most": (lambda low, high, limit: high <= limit, lambda low, high, limit: low > limit),
    "below": (lambda low, high, limit: high < limit, lambda low, high, limit: low >= limit),
}


def interval_outcome(interval, limit: float, direction: str) -> str:
    """The rule for a measurement with a 95 % interval: PASS, FAIL or INCONCLUSIVE against ``limit``.

    Parameters
    ----------
    interval : (low, high), the 95 % interval; a missing or non-finite end makes the check inconclusive.
    limit : the claim's limit.
    direction : a key of :data:`DIRECTIONS` ("at_least": the claim is "the quantity is at least the limit").
    """
    supports, against = DIRECTIONS[direction]
    low, high = (None, None) if interval is None else interval
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return INCONCLUSIVE
    if supports(low, high, limit):
        return PASS
    if against(low, high, limit):
        return FAIL
    return INCONCLUSIVE


def combine(outcomes: list[str]) -> str:
    """The rule over the parts of one claim: FAIL when any part fails, PASS when every part passes (and there is
    one), otherwise INCONCLUSIVE."""
    if FAIL in outcomes:
        return FAIL
    return PASS if outcomes and all(outcome == PASS for outcome in outcomes) else INCONCLUSIVE


def units_to_decide(value, interval, limit: float, units: int) -> int | None:
    """About how many units would bring an interval like this one wholly to one side of ``limit``.

    ``units * (half-width / distance)^2``, rounded up, where ``distance`` is ``|value - limit|``
    (module docstring); ``None`` when there is no estimate or interval, or the estimate sits on the limit (more
    data alone does not decide it then).
    """
    low, high = (None, None) if interval is None else interval
    if value is None or low is None or high is None or units < 1:
        return None
    if not all(math.isfinite(v) for v in (value, low, high)):
        return None
    distance, half_width = abs(value - limit), (high - low) / 2
    if distance == 0:
        return None
    # Rounded before the ceiling, so a ratio that is whole on paper (4.000000000000001) stays whole.
    return max(units + 1, math.ceil(round(units * (half_width / distance) ** 2, 9)))


def scaled_images(images: int, have: int, need: int) -> int:
    """How many explained patches (``--images``) give about ``need`` units where ``images`` gave ``have``."""
    return math.ceil(images * need / max(have, 1))
