"""Compare every number of two report.json files, except timings, dates and what a run spent.

    python benchmarks/same_numbers.py old/report.json new/report.json

Prints how many numbers both documents hold and the largest difference, every
number that differs by more than ``--tolerance`` (default 0: bit-identical), and
the paths that only one document has (a renamed or added key).  Exits 1 when a
shared number differs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

#: Paths (prefixes) that say how long a run took or when, not what it measured.
IGNORED = ("generated_at", "provenance.timings", "provenance.forward_passes", "provenance.command_line", "provenance.config",
           "provenance.machine", "provenance.versions", "model.checkpoint.path", "model.training.seconds")
#: Leaf names that time the training run (its history and the trained checkpoint record them).
TIMING_LEAVES = ("seconds", "images_per_second")
#: Keys of a method record that count what this run spent (a cached patch costs nothing).
BOOKKEEPING = ("seconds", "cached_patches", "forward_passes", "backward_passes")


def flatten(value, path: str = "") -> dict[str, object]:
    """``{"a.b[0].c": leaf}`` for every number, string, bool and null leaf of ``value``."""
    if isinstance(value, dict):
        items = {}
        for key, item in value.items():
            items.update(flatten(item, f"{path}.{key}" if path else str(key)))
        return items
    if isinstance(value, list):
        items = {}
        for index, item in enumerate(value):
            items.update(flatten(item, f"{path}[{index}]"))
        return items
    return {path: value}


def _kept(path: str) -> bool:
    if any(path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[") for prefix in IGNORED):
        return False
    parts = path.split(".")
    if path.startswith("model.history[") and parts[-1] in TIMING_LEAVES:
        return False
    return not (len(parts) == 3 and parts[0] == "methods" and parts[2] in BOOKKEEPING)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--tolerance", type=float, default=0.0)
    args = parser.parse_args(argv)
    old, new = (json.load(open(path, encoding="utf-8")) for path in (args.old, args.new))
    old_leaves = {k: v for k, v in flatten(old).items() if _kept(k)}
    new_leaves = {k: v for k, v in flatten(new).items() if _kept(k)}
    shared = old_leaves.keys() & new_leaves.keys()
    numbers = [k for k in shared if isinstance(old_leaves[k], (int, float)) and not isinstance(old_leaves[k], bool)]
    differing, largest = [], 0.0
    for key in sorted(shared):
        a, b = old_leaves[key], new_leaves[key]
        if key in numbers and isinstance(b, (int, float)):
            gap = abs(float(a) - float(b)) if math.isfinite(float(a)) and math.isfinite(float(b)) else math.inf
            largest = max(largest, gap)
            if gap > args.tolerance:
                differing.append(f"{key}: {a!r} -> {b!r}")
        elif a != b:
            differing.append(f"{key}: {a!r} -> {b!r}")
    print(f"{len(numbers)} numbers and {len(shared) - len(numbers)} other values in both; "
          f"largest numeric difference {largest:.3g}; {len(differing)} differ")
    for line in differing[:50]:
        print(f"  differs: {line}")
    for label, only in (("only in old", old_leaves.keys() - new_leaves.keys()),
                        ("only in new", new_leaves.keys() - old_leaves.keys())):
        for key in sorted(only)[:50]:
            print(f"  {label}: {key}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
