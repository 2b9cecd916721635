"""Reading a finished report document: titles, the model's accuracy, verdicts and the metrics' names.

Every judgement module reads the document through these, so a key's meaning
is interpreted in one place.
"""

from __future__ import annotations

from reportgen.judgement.rule import scaled_images
from reportgen.metrics.verdicts import CLAIM_METRICS

# Each claimed metric of the verdict rule (deletion and insertion: Petsiuk et al., RISE, BMVC 2018; SRG: Blücher
# et al., TMLR 2024) by its kind ("deletion", "insertion", "srg"): its key and which direction is better ...
DIRECTIONS = {key.removesuffix("_auc"): (key, "higher" if higher else "lower")
              for key, (_, higher) in CLAIM_METRICS.items()}
#: ... and whose informative patches it uses (SRG's two curves are deletion curves with deletion's ends).
INFORMATIVE_OF = {key.removesuffix("_auc"): mode for key, (mode, _) in CLAIM_METRICS.items()}
#: How a sentence names each metric, and the short name a table column uses.
METRIC_LABELS = {"deletion": "deletion AUC", "insertion": "insertion AUC", "srg": "SRG"}
SHORT_LABELS = {"deletion": "deletion", "insertion": "insertion", "srg": "SRG"}

#: Reference maps that ignore the model: a method not better than one of these is a headline finding.
MODEL_INDEPENDENT = ("centre_prior", "sobel")
#: How a sentence names each reference map.
REFERENCE_PHRASES = {"random": "the random map", "centre_prior": "the centre prior", "sobel": "the Sobel edge map"}
OUTCOME_WORDS = {"better": "better", "worse": "worse", "not_distinguishable": "not distinguishable",
                 "too_few": "too few informative patches to decide", "untested": "not tested"}
_FLIPPED = {"better": "worse", "worse": "better"}


def model_accuracy(document: dict) -> float | None:
    """Validation accuracy of the model: the evaluation's, else the checkpoint's ``val_accuracy``."""
    model = document.get("model") or {}
    evaluation = model.get("evaluation") or {}
    value = evaluation.get("accuracy", model.get("val_accuracy"))
    return None if value is None else float(value)


def method_title(document: dict, name: str) -> str:
    """Display title of a method or reference map, falling back to its registry name."""
    record = (document.get("methods") or {}).get(name) or (document.get("baselines") or {}).get(name) or {}
    return str(record.get("title") or name)


def find_verdict(document: dict, method: str, against: str, metric: str) -> dict | None:
    """The verdict record of ``method`` against ``against`` by ``metric``, from ``method``'s side.

    A record stored the other way round (method pairs are stored once) comes
    back with its outcome and median difference flipped.
    """
    for record in document.get("verdicts") or []:
        if record.get("metric") != metric:
            continue
        if (record.get("method"), record.get("against")) == (method, against):
            return record
        if (record.get("method"), record.get("against")) == (against, method):
            flipped = dict(record, method=method, against=against,
                           outcome=_FLIPPED.get(record.get("outcome"), record.get("outcome")))
            if record.get("median_difference") is not None:
                flipped["median_difference"] = -record["median_difference"]
                flipped["ci95"] = [None if v is None else -v for v in reversed(record.get("ci95") or [None, None])]
            return flipped
    return None


def page_one_rows(document: dict, section: str) -> list[dict]:
    """The stored page-one rows (``summary.checks``) whose evidence is in ``section`` (an anchor): what a section
    says of its outcome, decided once."""
    return [row for row in (document.get("summary") or {}).get("checks") or [] if row.get("section") == section]


def explained_count(document: dict) -> int:
    """How many patches the report explained (``--images``)."""
    return len(document.get("images") or []) or int(((document.get("data") or {}).get("selection") or {}).get("n") or 0)


def explained_units(document: dict, record: dict | None = None) -> tuple[int, str]:
    """(units, noun) an interval over the explained patches rests on: their slides where slide ids exist, else
    the patches with a finite value in ``record["per_image"]`` (all explained patches without a record)."""
    uncertainty = (document.get("settings") or {}).get("uncertainty") or {}
    if uncertainty.get("unit") == "slide" and uncertainty.get("slides"):
        return int(uncertainty["slides"]), "slides"
    values = (record or {}).get("per_image")
    count = explained_count(document) if values is None else sum(1 for v in values if v is not None)
    return count, "patches"


def rate_units(record: dict | None, fallback: int = 0) -> tuple[int, str]:
    """(units, noun) of an interval over the model's own decisions (a rate record with ``n`` and ``slides``):
    its slides where it counts them, else its patches (``n``, else its finite ``per_image`` values, else
    ``fallback``)."""
    record = record or {}
    if record.get("slides"):
        return int(record["slides"]), "slides"
    if record.get("n"):
        return int(record["n"]), "patches"
    values = record.get("per_image")
    return (sum(1 for v in values if v is not None) if values is not None else fallback), "patches"


def more_evaluated(noun: str):
    """``k -> text``: what gives about ``k`` units to a check that already runs on every evaluated patch."""
    return lambda k: f"about {k} {noun}: a larger evaluation split"


def more_images(document: dict, units: int):
    """``k -> "explain about M patches: --images M"``: what gives about ``k`` units where this run's
    explained patches gave ``units`` (:func:`reportgen.judgement.rule.scaled_images`)."""
    images = explained_count(document)

    def more(k: int) -> str:
        wanted = scaled_images(images, units, k)
        return f"explain about {wanted} patches: --images {wanted}"
    return more


def headline_mean(record: dict, key: str) -> dict:
    """A map's mean of ``key`` over the informative patches (mean ``None`` when no patch is informative)."""
    return ((record.get("informative") or {}).get(key)) or {}


def unit_noun(verdict: dict) -> str:
    """What a claim's test counted: "slides with informative patches" or "informative patches"."""
    return "slides with informative patches" if verdict.get("unit") == "slide" else "informative patches"


def loses_to_random(document: dict, name: str) -> list[str]:
    """The metrics ("deletion", "insertion", "srg") on which method ``name`` is not better than the random map."""
    lost = []
    for kind, (key, _) in DIRECTIONS.items():
        verdict = find_verdict(document, name, "random", key)
        if verdict is not None and verdict.get("outcome") != "better":
            lost.append(kind)
    return lost


def share(record: dict | None) -> str:
    """An interval record's mean to two decimals, or n/a."""
    mean = (record or {}).get("mean")
    return "n/a" if mean is None else f"{float(mean):.2f}"
