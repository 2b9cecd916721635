"""Plain implementations of stated rules for tests to check reportgen against (none of reportgen's code)."""

import numpy as np


def holm_by_hand(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm, 1979) in input order: sorted ascending, the k-th (from 0) of m
    multiplied by m - k, capped at 1 and made non-decreasing."""
    p_values = np.asarray(p_values, dtype=np.float64)
    adjusted, running = np.empty(len(p_values)), 0.0
    for rank, index in enumerate(np.argsort(p_values, kind="stable")):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
