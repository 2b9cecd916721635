"""Command-line interface: each command builds a configuration and calls one library function.

Library errors become one line on stderr and a documented exit code (0 success,
2 bad input or usage, 3 a ``--fail-if`` gate failed, 130 interrupted, 1 anything
unexpected); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from reportgen import __version__
from reportgen.errors import ConfigError, ReportgenError, sigterm_as_interrupt
from reportgen.explain.shorthands import SHORTHANDS

logger = logging.getLogger("reportgen")

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_GATE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

#: The notebook's flags, kept as shorthands for method settings: flag -> (settings it sets, help).
SETTING_ALIASES = {f"--{option.replace('_', '-')}": (targets, meaning)
                   for option, (targets, meaning) in SHORTHANDS.items() if meaning is not None}


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (exit code 2)."""

    def error(self, message: str):  # noqa: D102 - argparse API
        sys.stderr.write(f"reportgen: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(EXIT_USAGE)


def _add_common_options(parser: argparse.ArgumentParser, *, default) -> None:
    """``-q``, ``-v`` and ``--debug``, accepted before the command and after it (``reportgen -q build``).

    The main parser gives them ``default=False``; every command's parser gives
    ``argparse.SUPPRESS``, so a command that does not repeat a flag leaves the
    value set before it (argparse copies a command's defaults over the main
    parser's values).
    """
    group = parser.add_argument_group("output and diagnostics")
    group.add_argument("-q", "--quiet", action="store_true", default=default,
                       help="only warnings and errors; no progress bars (there are none when stderr is not a terminal)")
    group.add_argument("-v", "--verbose", action="store_true", default=default, help="debug logging")
    group.add_argument("--debug", action="store_true", default=default, help="show the full traceback on errors")


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _add_common_options(common, default=argparse.SUPPRESS)
    return common


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    """Flags of ``build``; each maps to a :class:`reportgen.config.BuildConfig` field.

    Defaults are suppressed so that only flags the user gave override the config file.
    """
    add = parser.add_argument
    S = argparse.SUPPRESS
    add("--config", default=None, metavar="FILE", help="TOML configuration file (flags override it)")
    add("--images", type=int, default=S, help="number of validation patches to explain (default 30)")
    add("--data-dir", default=S, metavar="DIR", help="directory of real PCam .h5/.h5.gz files, or an image folder "
        "{train,valid,test}/{tumour,normal}/ (default: embedded synthetic set)")
    add("--label-region", default=S, metavar="REGION",
        help="for an image folder: centre32 when the centre 32x32 decides each patch's label, as in PCam (default "
             "none: the right-for-the-right-reason and centre-attribution checks do not apply)")
    add("--split", default=S, help="split to explain: valid (default) or test")
    add("--checkpoint", default=S, metavar="PATH", help="model checkpoint to load (default: train, or reuse the cached model)")
    add("--arch", default=S, metavar="NAME",
        help="the checkpoint's architecture: a torchvision.models name (default resnet18, or the one a reportgen "
             "checkpoint records) or timm:NAME (pip install 'reportgen[timm]')")
    add("--preprocessing", default=S, help="normalisation of a checkpoint that does not record it: identity, imagenet or M,M,M:S,S,S")
    add("--input-size", type=int, default=S, metavar="PIXELS",
        help="the side the network takes (e.g. 224 for a ViT/16 at 224 px): the model resizes each patch to it inside "
             "its module, so maps keep the patch's pixels (default: the checkpoint's record, else the patch size)")
    add("--out", default=S, metavar="DIR", help="output directory (default report/)")
    add("--executor", default=S, help="local (default): this process; ray: the shards as Ray tasks, then the merge "
                                      "(pip install 'reportgen[ray]')")
    add("--ray-address", default=S, metavar="ADDRESS",
        help="with --executor ray, join this Ray cluster (e.g. auto, or ray://host:10001) instead of starting one here")
    add("--shards", type=int, default=S, metavar="N",
        help="with --executor ray, the number of shards (default: one per CPU, or per GPU when there are GPUs)")
    add("--shard", default=S, metavar="K/N",
        help="explain and score only the K-th of N shards of the chosen patches into --out; "
             "'reportgen merge' writes the report from all N")
    add("--seed", type=int, default=S, help="seed for every random choice (default 0)")
    add("--title", default=S, help="report title")
    add("--model-name", default=S, help="model name shown in the report")
    add("--methods", default=S, help="comma-separated methods (default: the registry's default methods; see 'reportgen methods')")
    add("--target", default=S, help="class to explain: predicted (default) or label")
    add("--steps", type=int, default=S, help="deletion/insertion steps (default 100)")
    add("--deletion-substrate", default=S, help="black, white, mean (default) or blur")
    add("--insertion-substrate", default=S, help="black, white, mean or blur (default)")
    add("--substrate", dest="deletion_substrate", default=S, help="shorthand for --deletion-substrate")
    add("--gallery", type=int, default=S, metavar="K",
        help="patches the gallery shows, the model's errors first (default 60); the statistics use every patch")
    add("--by-slide", dest="by_slide", action=argparse.BooleanOptionalAction, default=S,
        help="choose the explained patches spread over slides as well as over TP/TN/FP/FN where the split has "
             "slide ids (default on; --no-by-slide spreads them over confidence only)")
    add("--compare-substrates", dest="compare_substrates", action="store_true", default=S,
        help="also score every map under every substrate and show how the ranking of methods changes "
             "(four times the curve cost)")
    add("--set", dest="settings", action="append", default=[], metavar="METHOD.SETTING=VALUE",
        help="a method's setting (repeatable); 'reportgen methods' lists them all")
    for flag, (assignments, meaning) in SETTING_ALIASES.items():
        add(flag, dest=flag[2:].replace("-", "_"), default=S, help=f"{meaning} (same as --set {assignments[0]}=...)")
    add("--alpha", type=float, default=S,
        help="family-wise error rate of the verdicts over all their claims: most of it for the primary claims, the "
             "rest for the secondary ones (docs/judgement.md; default 0.05)")
    add("--stability", default=S, metavar="MEASURES",
        help="stability of the explanations: comma-separated measurements the methods declare, or all or none "
             "(default: those the methods mark default; see 'reportgen methods')")
    add("--sanity-images", type=int, default=S, help="patches for the randomisation sanity check (default 10; 0 skips)")
    add("--stain-images", type=int, default=S,
        help="patches for the stain robustness check: HED light, HED strong, Macenko (default 10; 0 skips)")
    add("--precision", default=S, help="fp32 (default) or bf16 for gradient-free forward passes")
    add("--batch-size", type=int, default=S, help="images per forward pass (default 256)")
    add("--device", default=S, help="auto (default), cpu, cuda or mps")
    add("--recipe", default=S, help="training recipe when no checkpoint is given: full (default) or head")
    add("--weights", default=S, help="initial weights for training: none (default), imagenet or PATH")
    add("--epochs", type=int, default=S, help="training epochs (default: 1 for the full recipe, 5 for head)")
    add("--train-fraction", type=float, default=S, help="stratified share of the training split to train on (default: 0.625 for the full recipe, 0.1 for head)")
    add("--eval-limit", type=int, default=S, help="validation patches for the model card (default: all)")
    add("--cache-dir", default=S, metavar="DIR", help="cache directory (default $REPORTGEN_CACHE or ~/.cache/reportgen)")
    add("--no-cache", action="store_true", default=S, help="recompute everything; read and write no cache")
    add("--no-pdf", dest="pdf", action="store_false", default=S, help="write HTML and JSON only")
    add("--compare", default=S, metavar="REPORT_JSON", help="previous report.json to compare with")
    add("--fail-if", action="append", default=S, metavar="GATE",
        help=_gate_help())


def _gate_help() -> str:
    from reportgen.judgement.sections import gate_stems  # the report's sections declare the gates

    return ("exit with code 3 when the gate holds, e.g. 'accuracy<0.9' (repeatable); a page-one check's gate: "
            "<check>_failed on a FAIL, <check>_not_passed on an INCONCLUSIVE too, for <check> one of "
            f"{', '.join(gate_stems())}")


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    parser = _Parser(
        prog="reportgen",
        description="Explainability audit reports for PatchCamelyon patch classifiers.",
        epilog="Exit codes: 0 success, 2 bad input or usage, 3 a --fail-if gate failed, "
        "130 interrupted, 1 unexpected error.",
    )
    parser.add_argument("--version", action="version", version=f"reportgen {__version__}")
    _add_common_options(parser, default=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    build = commands.add_parser(
        "build", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="build the HTML, PDF and JSON audit report",
        description="Train or load the model, explain N validation patches, score the explanations "
        "and write report.html, report.pdf and report.json.",
        epilog="examples:\n"
        "  reportgen build --images 30\n"
        "  reportgen build --data-dir ~/pcam --checkpoint model.pt --out audit/\n"
        "  reportgen build --config examples/report.toml --compare previous/report.json --fail-if 'accuracy<0.9'",
    )
    _add_build_options(build)
    build.set_defaults(handler=_run_build)

    merge = commands.add_parser(
        "merge", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="write the report of a build run in shards",
        description="Check that the shard directories are every shard of one run (same checkpoint, data, options, "
        "seed and code), then write the report from their results: equal in every number to the unsharded build.",
        epilog="examples:\n"
        "  reportgen build --images 30 --shard 1/2 --out shards/1\n"
        "  reportgen build --images 30 --shard 2/2 --out shards/2\n"
        "  reportgen merge shards/1 shards/2 --out report/ --fail-if 'accuracy<0.9'",
    )
    merge.add_argument("shards", nargs="+", metavar="SHARD_DIR", help="the --out of every 'reportgen build --shard K/N'")
    merge.add_argument("--out", default="report", metavar="DIR", help="report directory (default report/)")
    merge.add_argument("--compare", default=None, metavar="REPORT_JSON", help="previous report.json to compare with")
    merge.add_argument("--fail-if", dest="fail_if", action="append", default=None, metavar="GATE",
                       help=_gate_help())
    merge.add_argument("--no-pdf", dest="pdf", action="store_false", default=True, help="write HTML and JSON only")
    merge.add_argument("--cache-dir", default=None, metavar="DIR", help="cache to merge through (default as for build)")
    merge.add_argument("--checkpoint", default=None, metavar="PATH",
                       help="the shards' checkpoint, where it lies on this machine (default: the shards' path)")
    merge.add_argument("--data-dir", default=None, metavar="DIR",
                       help="the shards' data, where they lie on this machine (default: the shards' path)")
    merge.set_defaults(handler=_run_merge)

    train = commands.add_parser(
        "train", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="train a model and write a checkpoint",
        description="Train ResNet-18 (or --arch NAME) on PCam-format data or an image folder (the embedded synthetic "
                    "set by default).",
        epilog="examples:\n  reportgen train --out model.pt\n"
        "  reportgen train --data-dir ~/pcam --recipe head --weights backbone.pth --train-fraction 0.1 --out head.pt\n"
        "  reportgen train --config audit.toml --out model.pt   # its data_dir, class_folders and training keys",
    )
    # train's and inspect's defaults are None: a flag not given leaves the --config file's value (command_config).
    train.add_argument("--out", required=True, metavar="PATH", help="checkpoint file to write")
    train.add_argument("--config", default=None, metavar="FILE",
                       help="the build's TOML file: its data_dir, class_folders and training keys (flags override it)")
    train.add_argument("--data-dir", default=None, metavar="DIR", help="PCam directory or image folder (default: embedded synthetic set)")
    train.add_argument("--recipe", default=None, choices=("full", "head"), help="full (default; every layer) or head (frozen backbone)")
    train.add_argument("--weights", default=None, help="none (default), imagenet or PATH to a torchvision resnet18 state dict")
    train.add_argument("--arch", default=None, metavar="NAME",
                       help="architecture: a torchvision.models name (default resnet18) or timm:NAME; another "
                            "architecture trains with the full recipe from random weights")
    train.add_argument("--input-size", type=int, default=None, metavar="PIXELS",
                       help="the side the network takes; the model resizes each patch to it inside its module")
    train.add_argument("--epochs", type=int, default=None, help="epochs (default: 1 for the full recipe, 5 for head)")
    train.add_argument("--train-fraction", type=float, default=None,
                       help="stratified share of the training split (default: 0.625 for the full recipe, 0.1 for head)")
    train.add_argument("--precision", default=None, choices=("fp32", "bf16"), help="training precision (default fp32)")
    train.add_argument("--resume", default=None, metavar="PATH", help="checkpoint to resume from")
    train.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    train.add_argument("--device", default=None, help="auto (default), cpu, cuda or mps")
    train.add_argument("--eval-limit", type=int, default=None, help="validation patches to evaluate on")
    train.set_defaults(handler=_run_train)

    synth = commands.add_parser(
        "synth", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="write a synthetic data set in the PCam HDF5 layout",
        description="Write a deterministic synthetic data set (with tumour masks) in the exact PCam layout.",
        epilog="example:\n  reportgen synth --out synthetic-pcam/ --seed 1",
    )
    synth.add_argument("--out", required=True, metavar="DIR", help="directory to write")
    synth.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    synth.add_argument("--train", type=int, default=None, help="training patches (default: the demo size)")
    synth.add_argument("--valid", type=int, default=None, help="validation patches (default: the demo size)")
    synth.add_argument("--test", type=int, default=None, help="test patches (default: the demo size)")
    synth.add_argument("--shortcut", default="none", choices=("none", "stain", "periphery_marker"),
                       help="plant a shortcut that predicts the label: the stain (more haematoxylin on tumour "
                            "patches) or a dark mark in the top-left corner of tumour patches (default none)")
    synth.add_argument("--shortcut-agreement", type=float, default=0.95, metavar="SHARE",
                       help="share of the patches on which the shortcut follows the label (default 0.95)")
    synth.set_defaults(handler=_run_synth)

    data = commands.add_parser("data", parents=[common], help="inspect data directories",
                               description="Data-directory tools.")
    data_commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", parser_class=_Parser)
    inspect = data_commands.add_parser(
        "inspect", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        help="print the splits, counts, class balance, shapes and compression of a PCam directory",
        description="Validate a PCam-format directory, print what it holds and which splits a build needs. "
        "Exit code 2 when the split a build explains (--split, default valid) is missing, as 'reportgen build' "
        "refuses it; a missing train split is only reported (a build with --checkpoint does not read it).",
        epilog="examples:\n  reportgen data inspect ~/pcam\n  reportgen data inspect ~/patches --config audit.toml",
    )
    inspect.add_argument("data_dir", nargs="?", default=None, metavar="DIR",
                         help="directory of PCam .h5/.h5.gz files, or an image folder (default: data_dir in --config)")
    inspect.add_argument("--config", default=None, metavar="FILE", help="the build's TOML file: its data_dir, "
                         "class_folders, split and label_region (flags override it)")
    inspect.add_argument("--split", default=None, choices=("valid", "test"),
                         help="the split a build would explain (default valid); exit code 2 when it is missing")
    inspect.add_argument("--label-region", default=None, metavar="REGION",
                         help="for an image folder: centre32 when the centre 32x32 decides each patch's label, as "
                              "for build (default none); inspect reports which checks it lets a build run")
    inspect.set_defaults(handler=_run_inspect)

    methods = commands.add_parser(
        "methods", parents=[common], help="list the explanation methods",
        description="List the registered explanation methods and whether they run by default.",
        epilog="example:\n  reportgen methods", formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    methods.set_defaults(handler=_run_methods)
    return parser


def _configure_logging(args) -> None:
    """``reportgen: message`` lines on stderr, and only there, at the level ``-q``/``-v`` ask for."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("reportgen: %(message)s"))
    root = logging.getLogger("reportgen")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO)
    root.propagate = False


def _progress_bars(args) -> bool:
    """Bars only on a terminal: sent to a file or a pipe (cron, CI, ``make report > log``) the log keeps
    its ``reportgen:`` line per step, with the step's time, and no carriage-return updates."""
    return not args.quiet and sys.stderr.isatty()


def _run_build(args) -> int:
    from reportgen.config import load_config_file, resolve_config

    options = {key: value for key, value in vars(args).items()
               if key not in ("config", "command", "handler", "quiet", "verbose", "debug", "settings")}
    settings = []
    for flag, (targets, _) in SETTING_ALIASES.items():
        value = options.pop(flag[2:].replace("-", "_"), None)
        if value is not None:
            settings.extend(f"{target}={value}" for target in targets)
    file_values = load_config_file(args.config) if args.config else {}
    config = resolve_config(file_values=file_values, flag_values=options, settings=[*settings, *args.settings])
    if config.executor == "ray":
        from reportgen.pipeline.ray_executor import build_with_ray
        from reportgen.report.render import render_stored

        return _report_written(build_with_ray(config, render=render_stored, command_line=_command_line(),
                                              progress=_progress_bars(args)), pdf=config.pdf)
    from reportgen.pipeline import build_report
    from reportgen.report.render import render_stored

    outcome = build_report(config, render=render_stored, command_line=_command_line(), progress=_progress_bars(args))
    if outcome.shard:
        shard = outcome.shard
        print(f"shard {shard['index']}/{shard['count']} written to {outcome.out_dir}/ ({shard['patches']} patches, "
              f"{shard['entries']} results); write the report with 'reportgen merge' of all {shard['count']} shards")
        return EXIT_OK
    return _report_written(outcome, pdf=config.pdf)


def _report_written(outcome, *, pdf: bool) -> int:
    print(f"report written to {outcome.out_dir}/ (report.html, report.json{', report.pdf' if pdf else ''})")
    for gate in outcome.failed_gates:
        print(f"gate failed: {gate['expression']} ({gate['detail']})", file=sys.stderr)
    return EXIT_GATE if outcome.failed_gates else EXIT_OK


def _run_merge(args) -> int:
    from reportgen.pipeline import merge_shards
    from reportgen.report.render import render_stored

    overrides = {"compare": args.compare, "fail_if": args.fail_if, "pdf": args.pdf, "cache_dir": args.cache_dir,
                 "checkpoint": args.checkpoint, "data_dir": args.data_dir}
    outcome = merge_shards(args.shards, out=args.out, render=render_stored, command_line=_command_line(),
                           progress=_progress_bars(args),
                           overrides=overrides)
    return _report_written(outcome, pdf=bool(outcome.document.provenance.config["pdf"]))


def _run_train(args) -> int:
    from pathlib import Path

    from reportgen.cache import default_cache_dir
    from reportgen.command_config import TRAIN_DEFAULTS, TRAIN_SETTINGS, command_options
    from reportgen.data import ensure_demo_data, open_pcam
    from reportgen.model.settings import demo_train_settings
    from reportgen.model.train import train_model
    from reportgen.runtime import resolve_device, seed_everything

    options = command_options(TRAIN_DEFAULTS, config_file=args.config, flags=vars(args))
    settings = demo_train_settings(**{key: options[key] for key in TRAIN_SETTINGS})
    device = resolve_device(options["device"])
    seed_everything(options["seed"])
    cache_root = default_cache_dir()
    data_dir = options["data_dir"] or ensure_demo_data(cache_root)
    out = Path(args.out)
    with open_pcam(data_dir, splits=("train", "valid"), cache_dir=cache_root / "pcam-unzipped",
                   class_folders=options["class_folders"]) as data:
        # The head recipe's backbone features are cached, so another head on the same backbone skips the forward pass.
        _, info = train_model(data, settings, device=device, progress=_progress_bars(args),
                              resume=Path(args.resume) if args.resume else None, checkpoint_path=out,
                              cache_dir=cache_root)
    evaluation = info["evaluation"] or {}
    cached = info.get("feature_cache_hit")
    logger.info(
        "%s recipe: validation accuracy %s (best of %d epochs, %d validation patches) after training on "
        "%d patches (train fraction %g) in %.1f s%s",
        settings.recipe, "n/a" if evaluation.get("accuracy") is None else f"{evaluation['accuracy']:.4f}",
        info["epochs_run"], evaluation.get("n") or 0, info["train_size"], settings.train_fraction, info["seconds"],
        "" if cached is None else f"; backbone features {'cached' if all(cached.values()) else 'computed'}",
    )
    print(f"checkpoint written to {out}")
    return EXIT_OK


def _run_synth(args) -> int:
    from reportgen.data import DEMO_SIZES, write_synthetic_pcam

    sizes = {split: getattr(args, split) or DEMO_SIZES[split] for split in ("train", "valid", "test")}
    out = write_synthetic_pcam(args.out, seed=args.seed, n_train=sizes["train"], n_valid=sizes["valid"],
                               n_test=sizes["test"], shortcut=args.shortcut,
                               shortcut_agreement=args.shortcut_agreement)
    print(f"synthetic PCam-format data written to {out}")
    return EXIT_OK


def _run_inspect(args) -> int:
    from reportgen.command_config import INSPECT_DEFAULTS, command_options
    from reportgen.data import check_build_split, format_inspection, inspect_data_dir

    options = command_options(INSPECT_DEFAULTS, config_file=args.config, flags=vars(args))
    if options["data_dir"] is None:
        raise ConfigError("name the directory to inspect: reportgen data inspect DIR, or data_dir in --config FILE")
    info = inspect_data_dir(options["data_dir"], class_folders=options["class_folders"],
                            stated_label_region=options["label_region"])
    print(format_inspection(info))
    check_build_split(info, options["split"])  # the same refusal, and exit code, as 'reportgen build'
    return EXIT_OK


def _run_methods(args) -> int:
    from reportgen.explain import get_explainer, list_explainers

    for name in list_explainers():
        info = get_explainer(name)
        print(f"{name:22} {'default' if info.default else 'optional':8} {info.title} ({info.reference})")
        settings = ", ".join(f"{key}={value!r}" for key, value in info.factory.defaults.items())
        print(f"{'':22} settings: {settings or '(none)'}")
        for variant in info.factory.stability_variants:
            print(f"{'':22} --stability {variant.name} ({'default' if variant.default else 'optional'}): {variant.title}")
    return EXIT_OK


def _command_line() -> str:
    import shlex

    return shlex.join(["reportgen", *sys.argv[1:]])


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``reportgen`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # --help, --version and usage errors
        return int(exit_request.code or 0)
    if not getattr(args, "handler", None):
        sys.stderr.write(f"reportgen: error: name a {'data subcommand' if args.command == 'data' else 'command'} "
                         "(see 'reportgen --help')\n")
        return EXIT_USAGE
    _configure_logging(args)
    try:
        # From here on SIGTERM is an interruption like Ctrl-C (exit code 130), also while torch imports.
        with sigterm_as_interrupt():
            return args.handler(args)
    except ReportgenError as error:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(f"reportgen: error: {error}\n")
        return error.exit_code
    except KeyboardInterrupt:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write("reportgen: interrupted; the previous report was left as it was\n")
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the last line of defence before a traceback
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(
            f"reportgen: unexpected error: {type(error).__name__}: {error} (rerun with --debug for the traceback)\n"
        )
        return EXIT_UNEXPECTED
