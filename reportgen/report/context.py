"""Everything the template shows, as plain strings, built once from the report document.

Numbers are formatted here (with :mod:`reportgen.formatting`), so the
template only places strings and never computes; the result is the views of
:mod:`reportgen.report.views`.  The document is the JSON contract described in
:mod:`reportgen.report`; optional sections (``sanity``, ``comparison``,
``gates``, ``substrate_rankings`` ...) become ``None`` or empty lists.
"""

from __future__ import annotations

from reportgen.formatting import (
    MISSING,
    file_name,
    fmt,
    fmt_any,
    fmt_interval,
    fmt_p,
    fmt_plain,
    fmt_signed,
    human_key,
    rows_of,
    without_paths,
)
from reportgen.judgement.check import SEVERITIES, outcome_counts
from reportgen.judgement.notes import ON_REGION
from reportgen.judgement.reading import (
    DIRECTIONS,
    OUTCOME_WORDS,
    SHORT_LABELS,
    find_verdict,
    headline_mean,
    method_title,
    model_accuracy,
)
from reportgen.judgement.sanity import sanity_outcome, untrusted_controls
from reportgen.metrics.localisation import UNIFORM_CENTRE_MASS
from reportgen.metrics.sanity import SIMILARITY_THRESHOLD
from reportgen.report import figures as figs
from reportgen.report import heatmaps
from reportgen.report.appendix import build_appendix
from reportgen.report.evidence import evidence_view
from reportgen.report.guide import guide_uri, reading_guide
from reportgen.report.labels import (
    EXTRA_LABELS,
    METHOD_SETTING_LABELS,
    PREPROCESSING_LABELS,
    TRAINING_LABELS,
    labelled_rows,
)
from reportgen.report.slides import slides_view
from reportgen.report.stability import stability_view
from reportgen.report.stain import stain_view
from reportgen.report.views import (
    CheckRow,
    ComparisonView,
    ConfusionView,
    DataView,
    FaithfulnessRow,
    GalleryView,
    GateView,
    MatrixView,
    MethodChangeRow,
    MethodSettingsView,
    ModelCard,
    Overlay,
    PatchPanel,
    ProvenanceView,
    ReportContext,
    SanityRow,
    SanityView,
    VerdictRow,
    WarningView,
)

SMALL_SAMPLE = 50
NOT_STATED = "not stated"
MODEL_CARD_LABELS = (("intended_use", "Intended use"), ("out_of_scope", "Out-of-scope uses"), ("owner", "Owner"),
                     ("version", "Model version"), ("licence", "Licence"))
SIGN_OFF_LABELS = (("reviewer", "Reviewer"), ("role", "Role"), ("date", "Date"), ("decision", "Decision"))
SYNTHETIC_NOTICE = ("Synthetic data: these patches are generated, not tissue. This report checks that the audit "
                    "works; its numbers say nothing about how the model behaves on real slides.")
_COUNT_WORDS = (("fail", "failed"), ("warn", "warnings"), ("pass", "passed"))
#: The verdict table's short name of each claimed metric, by its key.
VERDICT_METRIC_LABELS = {key: SHORT_LABELS[kind] for kind, (key, _) in DIRECTIONS.items()}


def _model_card(document: dict) -> ModelCard:
    model = document.get("model") or {}
    checkpoint = model.get("checkpoint") or {}
    card = model.get("card") or {}
    rows = [(label, str(card[key]) if card.get(key) else NOT_STATED) for key, label in MODEL_CARD_LABELS]
    rows += [("Architecture", fmt_any(model.get("architecture"))),
            ("Training recipe", fmt_any(model.get("recipe"))),
            ("Initial weights", fmt_any(model.get("weights"))),
            ("Checkpoint", file_name(checkpoint.get("path"))),
            ("Checkpoint format", fmt_any(checkpoint.get("format"))),
            ("Checkpoint SHA-256", fmt_any(checkpoint.get("sha256"))),
            ("Validation accuracy (checkpoint)", fmt(model.get("val_accuracy")))]
    training = model.get("training") or {}
    evaluation = model.get("evaluation") or {}
    metrics = [(label, fmt(evaluation.get(key))) for key, label in (
        ("accuracy", "Accuracy"), ("roc_auc", "ROC AUC"), ("sensitivity", "Sensitivity"),
        ("specificity", "Specificity"), ("ece", "Expected calibration error"), ("n", "Patches evaluated"))
        if key in evaluation]
    matrix = evaluation.get("confusion_matrix")
    confusion = None
    if matrix:
        (tn, fp), (fn, tp) = matrix
        confusion = ConfusionView(tn=fmt(tn), fp=fmt(fp), fn=fmt(fn), tp=fmt(tp))
    reliability = evaluation.get("reliability")
    return ModelCard(
        name=str(model.get("name", MISSING)), rows=rows,
        preprocessing=labelled_rows(model.get("preprocessing"), PREPROCESSING_LABELS),
        training=labelled_rows(training, TRAINING_LABELS), has_training_record=bool(training),
        metrics=metrics, confusion=confusion, confusion_uri=heatmaps.confusion_uri(matrix) if matrix else None,
        reliability_uri=figs.reliability_uri(reliability) if reliability and reliability.get("bin_edges") else None)


def _data_view(document: dict) -> DataView:
    data = document.get("data") or {}
    selection = data.get("selection") or {}
    balance = []
    for split, classes in (data.get("class_balance") or {}).items():
        balance.append((split, fmt_any(classes.get("0")), fmt_any(classes.get("1"))))
    rows = [("Source", fmt_any(data.get("source"))), ("Data directory", file_name(data.get("data_dir"))),
            ("Split explained", fmt_any(data.get("split"))), ("Fingerprint", fmt_any(data.get("fingerprint"))),
            ("Ground-truth masks", fmt_any(data.get("has_masks")))]
    description = str(selection.get("description", MISSING))
    if "n" in selection:
        description = f"{selection['n']} patches: {description}"
    return DataView(rows=rows, counts=rows_of(data.get("counts")), class_balance=balance,
                    selection=description, strata=rows_of(selection.get("strata")))


def _faithfulness(document: dict) -> list[FaithfulnessRow]:
    rows = []
    for group, is_reference in (("methods", False), ("baselines", True)):
        for name, record in (document.get(group) or {}).items():
            against_random = []
            for kind, (key, _) in DIRECTIONS.items():
                verdict = None if is_reference else find_verdict(document, name, "random", key)
                if verdict is not None:
                    against_random.append(f"{SHORT_LABELS[kind]}: "
                                          f"{OUTCOME_WORDS.get(verdict['outcome'], verdict['outcome'])}")
            rows.append(FaithfulnessRow(
                title=method_title(document, name), reference=str(record.get("reference", "")),
                is_reference_map=is_reference, deletion=fmt_interval(headline_mean(record, "deletion_auc")),
                insertion=fmt_interval(headline_mean(record, "insertion_auc")),
                srg=fmt_interval(headline_mean(record, "srg")), against_random=", ".join(against_random)))
    return rows


def _verdict_rows(document: dict) -> list[VerdictRow]:
    rows = []
    for verdict in document.get("verdicts") or []:
        low, high = verdict.get("ci95") or [None, None]
        difference = fmt_signed(verdict.get("median_difference"))
        if low is not None and high is not None:
            difference += f" [{fmt_signed(low)}, {fmt_signed(high)}]"
        rows.append(VerdictRow(metric=VERDICT_METRIC_LABELS.get(verdict.get("metric"), str(verdict.get("metric"))),
                               method=method_title(document, verdict["method"]),
                               against=method_title(document, verdict["against"]),
                               patches=len(verdict.get("patches") or []), slides=fmt_any(verdict.get("slides")),
                               median_difference=difference,
                               p_value=fmt_p(verdict.get("p")), p_holm=fmt_p(verdict.get("p_holm")),
                               outcome=OUTCOME_WORDS.get(verdict.get("outcome"), str(verdict.get("outcome"))),
                               decided=verdict.get("outcome") in ("better", "worse")))
    return rows


def _informative_rows(document: dict) -> list[tuple[str, str]]:
    informative = document.get("informative") or {}
    rows = []
    for kind in ("deletion", "insertion"):
        counts = informative.get(kind)
        if counts:
            strata = ", ".join(f"{s} {n}" for s, n in (counts.get("by_stratum") or {}).items())
            rows.append((kind.capitalize(), f"{counts['count']} of {counts['of']} ({strata})"))
    return rows


def _curve_uris(document: dict) -> tuple[str | None, str | None]:
    uris = []
    for kind, label, xlabel in (("deletion", "Deletion (lower AUC is better)", "fraction of pixels deleted"),
                                ("insertion", "Insertion (higher AUC is better)", "fraction of pixels restored")):
        key = f"{kind}_mean"
        curves = {method_title(document, name): record["curves"][key]
                  for name, record in (document.get("methods") or {}).items() if key in (record.get("curves") or {})}
        references = {method_title(document, name): record["curves"][key]
                      for name, record in (document.get("baselines") or {}).items()
                      if key in (record.get("curves") or {})}
        uris.append(figs.curves_uri(curves, references=references, xlabel=xlabel,
                                    ylabel="probability of the tracked class", title=label) if curves else None)
    return uris[0], uris[1]


def _matrix(document: dict, key: str) -> MatrixView | None:
    agreement = document.get("agreement") or {}
    if not agreement.get(key):
        return None
    titles = [method_title(document, name) for name in agreement.get("methods", [])]
    return MatrixView(titles=titles, rows=[[fmt(value, 2) for value in row] for row in agreement[key]],
                      uri=heatmaps.agreement_uri(agreement[key], titles, signed=key == "spearman"))


def _localisation(document: dict) -> list[tuple[str, str, str, str]]:
    return [(method_title(document, name), fmt_interval(record.get("centre_mass")),
             fmt_interval(record.get("pointing_game")), fmt_interval(record.get("mass_in_mask")))
            for name, record in (document.get("localisation") or {}).items()]


def short_stage(stage: str) -> str:
    """``backbone.conv1+backbone.bn1`` -> ``conv1+bn1``: module names without their parents, so the table fits."""
    return "+".join(name.rsplit(".", 1)[-1] for name in stage.split("+"))


def _per_patch(values: list, threshold: float) -> str:
    """``-0.42 to 0.75 (2/5 >= t)``: the range of per-patch final similarities and how many reach the threshold."""
    values = [float(v) for v in values if v is not None]
    if not values:
        return MISSING
    above = sum(1 for v in values if v >= threshold)
    return f"{min(values):.2f} to {max(values):.2f} ({above}/{len(values)} \u2265 {threshold:g})"


def _sanity_row(document: dict, name: str, record: dict, *, control: bool) -> SanityRow:
    outcome = sanity_outcome(record)
    low, high = (record.get("ci95") or [None, None])[:2]
    interval = "" if low is None or high is None else f" [{fmt(low, 2)}, {fmt(high, 2)}]"
    if control:
        # A control ignores the model, so "failed" is the outcome that shows the check works.
        shown, css = ("failed, as it must", "pass") if outcome == "failed" else (f"{outcome}: NOT FAILED", "fail")
    else:
        shown, css = {"passed": ("passed", "pass"), "failed": ("FAILED", "fail")}.get(
            outcome, ("inconclusive", "inconclusive"))
    return SanityRow(title=method_title(document, name) + (" (control, must fail)" if control else ""),
                     similarities=[fmt(v, 2) for v in record.get("similarity", [])],
                     per_patch=_per_patch(record.get("per_image_final") or [], float(record.get("threshold", SIMILARITY_THRESHOLD))),
                     final=fmt(record.get("final"), 2) + interval, outcome=shown, css=css, control=control)


def _sanity(document: dict) -> SanityView | None:
    sanity = document.get("sanity")
    if not sanity:
        return None
    methods, controls = sanity.get("methods") or {}, sanity.get("controls") or {}
    rows = [_sanity_row(document, name, record, control=False) for name, record in methods.items()]
    rows += [_sanity_row(document, name, record, control=True) for name, record in controls.items()]
    thresholds = {float(record.get("threshold", SIMILARITY_THRESHOLD)) for record in [*methods.values(), *controls.values()]}
    return SanityView(images=fmt_any(sanity.get("images")), stages=[short_stage(str(s)) for s in sanity.get("stages", [])],
                      threshold=", ".join(f"{t:g}" for t in sorted(thresholds)) or MISSING,
                      interval=str(sanity.get("interval") or MISSING), rows=rows,
                      trustworthy=not untrusted_controls(document))


#: Per-patch diagnostics of a method's map shown in the patch's facts: extras key -> label.
MAP_FACTS = {"n_superpixels": "superpixels", "distinct_perturbations": "distinct perturbations"}


def _map_facts(document: dict, position: int) -> list[tuple[str, str]]:
    """("LIME superpixels", "9")-style facts of patch ``position`` from the methods' per-patch extras."""
    facts = []
    for name, record in (document.get("methods") or {}).items():
        for key, label in MAP_FACTS.items():
            values = (((record.get("extras") or {}).get(key) or {}).get("per_image")) or []
            if position < len(values) and values[position] is not None:
                facts.append((f"{method_title(document, name)} {label}", f"{values[position]:g}"))
    return facts


def _method_settings(document: dict, warnings: list[WarningView], records: list[dict]) -> list[MethodSettingsView]:
    """Each method's labelled settings, its per-patch diagnostics (mean [95% CI], e.g. LIME's superpixel count)
    and the labels of the summary's warnings about it (said once, in the summary; ``records`` are the
    summary's warning records in the order of ``warnings``)."""
    views = []
    for name, record in (document.get("methods") or {}).items():
        title = method_title(document, name)
        cost = (f"{fmt(record.get('seconds'), 2)} s, {fmt_any(record.get('forward_passes'))} forward and "
                f"{fmt_any(record.get('backward_passes'))} backward image-passes")
        cached = record.get("cached_patches") or 0
        if cached:
            # Cached maps cost nothing in this run; the cache serves only maps the same code computed.
            cost += f" in this run; {cached} of {len(document.get('images') or [])} maps came from the cache"
        extras = [(EXTRA_LABELS.get(key, human_key(key)), fmt_interval(value))
                  for key, value in (record.get("extras") or {}).items()]
        views.append(MethodSettingsView(
            title=title, reference=str(record.get("reference", "")),
            rows=labelled_rows(record.get("settings"), METHOD_SETTING_LABELS) + extras, cost=cost,
            warnings=[view.label for view, warning in zip(warnings, records) if warning.get("method") == name]))
    return views


#: The gallery shows the model's errors first: false negatives (missed tumour), false positives, then the rest.
GALLERY_ORDER = ("FN", "FP", "TP", "TN")


def _gallery_order(images: list[dict]) -> list[int]:
    """Positions of the patches in gallery order: by stratum (:data:`GALLERY_ORDER`), then as in the report."""
    rank = {stratum: index for index, stratum in enumerate(GALLERY_ORDER)}
    return sorted(range(len(images)), key=lambda i: (rank.get(images[i].get("stratum"), len(rank)), i))


def gallery_positions(document: dict) -> list[int]:
    """The patches the gallery shows, in its order: the first ``settings.gallery`` in gallery order (errors first;
    every patch without a limit).  The statistics use every patch, shown or not."""
    images = document.get("images") or []
    limit = (document.get("settings") or {}).get("gallery")
    order = _gallery_order(images)
    return order if limit is None else order[: int(limit)]


def gallery_extent(document: dict) -> str:
    """The sentence that says which patches the gallery shows."""
    total, shown = len(document.get("images") or []), len(gallery_positions(document))
    if shown == total:
        return f"All {total} explained patches are shown."
    return (f"The gallery shows {shown} of the {total} explained patches, the first in this order (--gallery "
            f"{shown}); every patch's scores are in report.json and in every table and statistic of this report.")


#: Each stratum's group heading in the gallery.
STRATUM_GROUPS = {"FN": "False negatives: tumour the model missed",
                  "FP": "False positives: tumour called where none is",
                  "TP": "True positives: tumour found", "TN": "True negatives: normal called normal"}


def scale_labels(scale: figs.MapScale) -> tuple[str, ...]:
    """The colour bar's labels: two significant digits, the limit signed on a diverging bar."""
    limit = f"{scale.limit:.2g}"
    return (f"\u2212{limit}", "0", f"+{limit}") if scale.signed else ("0", limit)


def _gallery(document: dict, sequential_uri: str, signed_uri: str) -> GalleryView:
    methods = document.get("methods") or {}
    signed = [method_title(document, n) for n, record in methods.items() if record.get("signed")]
    unsigned = [method_title(document, n) for n, record in methods.items() if not record.get("signed")]
    has_masks = bool((document.get("data") or {}).get("has_masks"))
    legend = ["Cyan square: the centre 32\u00d732 region; tumour in it decides the label."]
    if has_masks:
        legend.append("White outline: the ground-truth tumour mask (tumour-like tissue outside the centre square is "
                      "outlined too; the label ignores it).")
    if unsigned:
        legend.append(f"Sequential colours, dark purple (0) to yellow (the bar's end), for maps that are never "
                      f"negative: {', '.join(unsigned)}. They show how much a pixel counts, not in which direction.")
    if signed:
        legend.append(f"Diverging colours for signed maps: {', '.join(signed)}. Red is evidence for the explained "
                      "class, blue evidence against it, white 0.")
    legend.append(f"Each map has its own scale, in the bar under it: the colours end at the {figs.CLIP_PERCENTILE:g}th "
                  "percentile of that map's |attribution| on that patch (the clip of captum's visualize_image_attr), "
                  "and stronger pixels take the end colour, so a few extreme pixels do not leave the rest in one "
                  "colour. Colours therefore compare places within a map, not maps with each other.")
    legend.append(f"In the notes, shares are of a map's positive attribution: a uniform map puts "
                  f"{UNIFORM_CENTRE_MASS:.0%} in the centre square and 44% in the outer 12 px; its share on the mask "
                  f"equals the mask's share of the patch. Evidence \"on\" a region has at least {ON_REGION:g} times "
                  "the region's share.")
    images = document.get("images") or []
    present = {image.get("stratum") for image in images}
    strata = [(stratum, STRATUM_GROUPS[stratum].split(":")[0]) for stratum in GALLERY_ORDER if stratum in present]
    slides = sorted({str(image["slide_id"]) for image in images if image.get("slide_id")})
    return GalleryView(legend=legend, sequential_bar_uri=sequential_uri, signed_bar_uri=signed_uri, strata=strata,
                       slides=[(slide, slide) for slide in slides], extent=gallery_extent(document))


def _patches(document: dict, patch_uris: dict[int, dict[str, str]],
             scales: list[dict[str, figs.MapScale]] | None = None) -> list[PatchPanel]:
    methods = list(document.get("methods") or {})
    images = document.get("images") or []
    shown = [position for position in gallery_positions(document) if position in patch_uris]
    totals = {stratum: sum(1 for image in images if image.get("stratum") == stratum) for stratum in STRATUM_GROUPS}
    counts = {stratum: sum(1 for position in shown if images[position].get("stratum") == stratum)
              for stratum in STRATUM_GROUPS}
    bars = {False: figs.colour_bar_uri(), True: figs.colour_bar_uri(colour_map=figs.SIGNED_COLOUR_MAP)}
    panels = []
    for position in shown:
        image, uris = images[position], patch_uris[position]
        patch_id = str(image.get("patch_id", MISSING))
        stratum = str(image.get("stratum") or "")
        facts = [("Label", fmt_any(image.get("label"))), ("Prediction", fmt_any(image.get("prediction"))),
                 ("Probability", fmt(image.get("probability"))), ("Explained class", fmt_any(image.get("target"))),
                 ("Stratum", fmt_any(image.get("stratum")))]
        if image.get("slide_id"):
            facts.append(("Slide", str(image["slide_id"])))
        facts.extend(_map_facts(document, position))
        per_method = image.get("per_method") or {}
        overlays = []
        for name in methods:
            scale = None if scales is None else scales[position][name]
            title = method_title(document, name)
            colours = ("diverging: blue negative, white 0, red positive" if scale and scale.signed
                       else "sequential: dark purple 0, yellow high")
            overlays.append(Overlay(
                title=title, uri=uris[name], alt=f"{title} attribution map over patch {patch_id} ({colours})",
                deletion=fmt(per_method.get(name, {}).get("deletion_auc")),
                insertion=fmt(per_method.get(name, {}).get("insertion_auc")),
                centre=fmt(per_method.get(name, {}).get("centre_mass")),
                bar_uri=bars[bool(scale and scale.signed)] if scale else "",
                scale=scale_labels(scale) if scale else ()))
        group = STRATUM_GROUPS.get(stratum, stratum)
        panels.append(PatchPanel(patch_id=patch_id, facts=facts, note=str(image.get("note", "")),
                                 original_uri=uris["original"], original_alt=f"Patch {patch_id} as the model sees it",
                                 overlays=overlays, stratum=stratum, slide=str(image.get("slide_id") or ""),
                                 group=f"{group} ({counts.get(stratum, 0)}"
                                       + (f" of {totals[stratum]} shown)" if counts.get(stratum, 0) < totals.get(stratum, 0)
                                          else ")")))
    return panels


def _provenance(document: dict) -> ProvenanceView:
    provenance = document.get("provenance") or {}
    return ProvenanceView(
        command_line=without_paths(str(provenance.get("command_line", MISSING))), seed=fmt_any(provenance.get("seed")),
        reportgen_version=fmt_any(provenance.get("reportgen_version")),
        checkpoint_sha256=fmt_any(provenance.get("checkpoint_sha256")),
        data_fingerprint=fmt_any(provenance.get("data_fingerprint")))


def _warnings(summary: dict) -> tuple[list[WarningView], list[dict]]:
    """The summary's warnings as numbered views, and their records (a summary from before severities were
    recorded has texts only: they read as medium)."""
    records = summary.get("warning_records")
    if records is None:
        records = [{"severity": "medium", "text": str(text), "method": None} for text in summary.get("warnings") or []]
    views = [WarningView(label=f"W{number}", severity=str(record.get("severity", "medium")), text=str(record["text"]))
             for number, record in enumerate(records, start=1)]
    return views, list(records)


#: The run settings table's labels, in report order; the raw keys stay in report.json and the appendix.
RUN_SETTING_LABELS = (
    ("target_description", "Tracked class"), ("score", "Score"), ("steps", "Curve steps"),
    ("substrates", "Substrates"), ("dataset_mean", "Mean colour (RGB) of the mean substrate"),
    ("tie_break", "Tie-break"), ("seed", "Seed"), ("precision", "Precision"), ("batch_size", "Batch size"),
    ("methods", "Methods"), ("alpha", "Family-wise error rate of the verdicts (alpha)"),
)


def _run_settings(document: dict) -> list[tuple[str, str]]:
    settings = dict(document.get("settings") or {})
    if isinstance(settings.get("methods"), list):
        settings["methods"] = [method_title(document, name) for name in settings["methods"]]
    if isinstance(settings.get("dataset_mean"), list):
        settings["dataset_mean"] = ", ".join(f"{float(v):.3f}" for v in settings["dataset_mean"])
    return [(label, fmt_plain(settings[key])) for key, label in RUN_SETTING_LABELS if key in settings]


def _identity(document: dict) -> list[tuple[str, str]]:
    """Page one's identity block: the model, its checkpoint file (name, never its local path), the data, the date."""
    model, data = document.get("model") or {}, document.get("data") or {}
    checkpoint = model.get("checkpoint") or {}
    path = checkpoint.get("path")
    images = document.get("images") or []
    uncertainty = (document.get("settings") or {}).get("uncertainty") or {}
    explained = f"{len(images)} patches of the {fmt_any(data.get('split'))} split"
    if uncertainty.get("slides") is not None:
        explained += f", from {uncertainty['slides']} slides"
    return [("Model", fmt_any(model.get("name"))),
            ("Checkpoint", file_name(path)),
            ("SHA-256", fmt_any(checkpoint.get("sha256"))),
            ("Data", "synthetic (the embedded demo set)" if data.get("source") == "synthetic"
             else fmt_any(data.get("source"))),
            ("Explained", explained),
            ("Generated", fmt_any(document.get("generated_at")))]


def _checks(document: dict) -> tuple[list[CheckRow], str]:
    checks = (document.get("summary") or {}).get("checks") or []
    counts = outcome_counts(checks)
    rows = [CheckRow(outcome=str(c["outcome"]), check=str(c["check"]), condition=str(c["condition"]),
                     measured=str(c["measured"]), section=str(c["section"])) for c in checks]
    return rows, ", ".join(f"{counts[key]} {word}" for key, word in _COUNT_WORDS)


def _uncertainty(document: dict) -> str:
    """What intervals and tests resample, with the number of slides."""
    uncertainty = (document.get("settings") or {}).get("uncertainty") or {}
    text = str(uncertainty.get("rule", ""))
    if uncertainty.get("unit") == "slide":
        text += f" The {len(document.get('images') or [])} explained patches come from {uncertainty.get('slides')} slides."
    return text


def _substrate_drift(document: dict) -> list[tuple[str, str, str, str]]:
    """(substrate, drift [interval], share of top-1 changes, the curves that use it) per substrate."""
    scope = document.get("substrate_scope") or {}
    rows = []
    for name, entry in (scope.get("substrates") or {}).items():
        changed = entry.get("top1_changed")
        rows.append((name, fmt_interval(entry.get("drift") or {}),
                     MISSING if changed is None else f"{100 * changed:.0f} %",
                     ", ".join(entry.get("used_for") or []) or "-"))
    return rows


def _limitations(document: dict) -> list[str]:
    limitations = []
    data = document.get("data") or {}
    if data.get("source") == "synthetic":
        limitations.append("The data are synthetic: these numbers say nothing about tissue; they check that the "
                           "pipeline works.")
    n = len(document.get("images") or [])
    if n < SMALL_SAMPLE:
        informative = document.get("informative") or {}
        counts = ", ".join(f"{(informative.get(kind) or {}).get('count', 'n/a')} informative for {kind}"
                           for kind in ("deletion", "insertion"))
        limitations.append(f"Only {n} patches were explained ({counts}): intervals are wide, and a claim is decided "
                           "only by the verdict rule above; the claims it could not decide are listed as such.")
    uncertainty = (document.get("settings") or {}).get("uncertainty") or {}
    if uncertainty.get("unit") == "slide":
        limitations.append(f"Intervals and tests resample the {uncertainty.get('slides')} slides the patches come "
                           "from, not the patches: with few slides, few claims can be decided.")
    else:
        limitations.append("The data carry no slide ids, so intervals and tests treat the patches as independent; "
                           "patches from one slide are not, so they are optimistic where several share a slide.")
    settings = document.get("settings") or {}
    if settings.get("target") == "label":
        limitations.append("Explanations track the ground-truth label, not the model's prediction.")
    if not document.get("sanity"):
        limitations.append("No model-randomisation sanity check was run.")
    if not data.get("has_masks"):
        limitations.append("No ground-truth masks: localisation is judged only by the centre 32x32 region "
                           f"(a uniform map puts {UNIFORM_CENTRE_MASS:.3f} of its mass there).")
    limitations.append(_substrate_limitation(document))
    return limitations


def _substrate_limitation(document: dict) -> str:
    """Deletion and insertion depend on their substrate: say by how much each used one moves the model on its own."""
    text = ("Deletion and insertion replace pixels with a substrate the model never saw in training, so their "
            "scores depend on it")
    scope = document.get("substrate_scope") or {}
    used = [(name, entry) for name, entry in (scope.get("substrates") or {}).items() if entry.get("used_for")]
    if not used:
        return text + "."
    measured = "; ".join(f"{name} ({' and '.join(entry['used_for'])}) {fmt_interval(entry.get('drift') or {})}"
                         for name, entry in used)
    return (text + f": replacing a random 10-30 % of the pixels alone changes the tracked-class probability by "
            f"{measured} on average (see Substrates). SRG is the least dependent on the substrate.")


def _comparison(document: dict) -> ComparisonView | None:
    comparison = document.get("comparison")
    if not comparison:
        return None
    model = comparison.get("model") or {}
    model_text = ("changed: " if model.get("changed") else "unchanged: ") + (
        f"{fmt_any(model.get('previous_sha256'))} -> {fmt_any(model.get('current_sha256'))}"
        if model.get("changed") else fmt_any(model.get("current_sha256")))
    accuracy = comparison.get("accuracy") or {}
    methods = []
    for row in comparison.get("methods") or []:
        deletion, insertion = row.get("deletion_auc") or {}, row.get("insertion_auc") or {}
        methods.append(MethodChangeRow(
            title=str(row.get("title", row.get("name"))), status=str(row.get("status", "")),
            deletion_previous=fmt_interval(deletion.get("previous")), deletion_current=fmt_interval(deletion.get("current")),
            deletion_change=fmt_signed(deletion.get("change")),
            insertion_previous=fmt_interval(insertion.get("previous")),
            insertion_current=fmt_interval(insertion.get("current")), insertion_change=fmt_signed(insertion.get("change"))))
    patches = [(str(row["patch_id"]), method_title(document, row["method"]), row["metric"].replace("_", " "),
                fmt(row["previous"]), fmt(row["current"]), fmt_signed(row["change"]))
               for row in (comparison.get("patches") or [])[:20]]
    evidence = [(str(row["title"]), str(row["label"]), fmt(row["previous"]), fmt(row["current"]),
                 fmt_signed(row["change"])) for row in comparison.get("evidence") or []]
    return ComparisonView(
        previous=f"{comparison.get('previous_title') or MISSING} ({comparison.get('previous_generated_at') or MISSING})",
        note=comparison.get("note"), model=model_text,
        accuracy=f"{fmt(accuracy.get('previous'))} -> {fmt(accuracy.get('current'))} ({fmt_signed(accuracy.get('change'))})",
        methods=methods, evidence=evidence, uniform_centre=fmt(UNIFORM_CENTRE_MASS),
        shared_patches=fmt_any(comparison.get("shared_patches")), patches=patches,
        new_warnings=list(comparison.get("new_warnings") or []),
        resolved_warnings=list(comparison.get("resolved_warnings") or []))


def build_context(document: dict, patch_uris: dict[int, dict[str, str]] | list[dict[str, str]],
                  scales: list[dict[str, figs.MapScale]] | None = None) -> ReportContext:
    """Turn a report document and per-patch image URIs into the template's context.

    Parameters
    ----------
    document : report document, schema_version 1, with ``summary`` filled
        (:func:`reportgen.judgement.summarise_findings`).
    patch_uris : per patch position, ``{"original": uri, "<method>": uri}`` (:func:`figures.patch_figures`); the
        gallery shows the patches of :func:`gallery_positions` that have them (a list counts as positions 0, 1, ...).
    scales : per patch, each method's colour scale (:func:`figures.map_scales`), shown under its map;
        ``None`` (default) shows no scales.

    Returns
    -------
    ReportContext
    """
    if isinstance(patch_uris, list):
        patch_uris = dict(enumerate(patch_uris))
    summary = document.get("summary") or {}
    deletion_uri, insertion_uri = _curve_uris(document)
    rankings = [(substrate, *(", ".join(method_title(document, n) for n in ranks.get(kind, []))
                              for kind in ("deletion", "insertion", "srg")))
                for substrate, ranks in (document.get("substrate_rankings") or {}).items()]
    gates = document.get("gates")
    sanity = _sanity(document)
    evidence = evidence_view(document)
    slides = slides_view(document)
    stability = stability_view(document)
    stain = stain_view(document)
    comparison = _comparison(document)
    spearman, iou = _matrix(document, "spearman"), _matrix(document, "iou_top10")
    accuracy = model_accuracy(document)
    findings = [str(sentence) for sentence in summary.get("findings") or []]
    if not findings and summary.get("verdict"):
        findings = [str(summary["verdict"])]
    if not findings and accuracy is not None:
        findings = [f"Validation accuracy {fmt(accuracy)}."]
    warnings, warning_records = _warnings(summary)
    checks, counts = _checks(document)
    verdict_rows = _verdict_rows(document)
    return ReportContext(
        title=str(document.get("title", "Explainability audit")), generated_at=str(document.get("generated_at", "")),
        identity=_identity(document), checks=checks, check_counts=counts,
        sign_off=[(label, str(((document.get("sign_off") or {}).get(key)) or "")) for key, label in SIGN_OFF_LABELS],
        data_has_masks=bool((document.get("data") or {}).get("has_masks")),
        synthetic_notice=SYNTHETIC_NOTICE if (document.get("data") or {}).get("source") == "synthetic" else None,
        reading_guide=reading_guide(document), guide_uri=guide_uri(document),
        findings=findings, warnings=warnings, severities=list(SEVERITIES.items()),
        model=_model_card(document), data=_data_view(document),
        run_settings=_run_settings(document),
        method_settings=_method_settings(document, warnings, warning_records), provenance=_provenance(document), faithfulness=_faithfulness(document),
        deletion_curves_uri=deletion_uri, insertion_curves_uri=insertion_uri, verdicts=verdict_rows, verdict_outcomes=[word for word in OUTCOME_WORDS.values()
                                                                if any(row.outcome == word for row in verdict_rows)], informative=_informative_rows(document),
        verdict_rule=str((document.get("informative") or {}).get("rule", "")),
        uncertainty=_uncertainty(document), substrate_drift=_substrate_drift(document),
        substrate_rule=str((document.get("substrate_scope") or {}).get("rule", "")),
        substrate_rankings=rankings, spearman=spearman, iou=iou, localisation=_localisation(document),
        uniform_centre=fmt(UNIFORM_CENTRE_MASS),
        sanity=sanity, evidence=evidence, slides=slides, stability=stability, stain=stain,
        gallery=_gallery(document, figs.colour_bar_uri(), figs.colour_bar_uri(colour_map=figs.SIGNED_COLOUR_MAP)),
        patches=_patches(document, patch_uris, scales),
        map_warnings=[view.label for view, record in zip(warnings, warning_records) if record.get("method")],
        limitations=_limitations(document), appendix=build_appendix(document), comparison=comparison,
        gates=None if gates is None else [GateView(expression=str(g["expression"]), passed=bool(g["passed"]),
                                                    detail=str(g.get("detail", ""))) for g in gates])
