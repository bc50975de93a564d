"""``pvsvet-engine score STORE [--use-labels] [--trees N] [--space ...] [--config TOML]``
and ``pvsvet-engine foldstats STORE [--force]``."""
from __future__ import annotations

import argparse
import json
import logging

from ..schema import PAPER_SPACES
from .features import SPACE_NAMES

logger = logging.getLogger(__name__)


def configure_score(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="the pvsvet store (.h5)")
    parser.add_argument("--use-labels", action="store_true",
                        help="also re-rank with active anomaly detection on the label journal")
    parser.add_argument("--trees", type=int, default=None, help="trees per forest (5000)")
    parser.add_argument("--space", choices=("both", "all") + SPACE_NAMES,
                        default=None,
                        help="feature space(s) to score (default: the [score] spaces setting, "
                             "cartesian, spherical, diagnostic and vetting; both: the paper's "
                             "cartesian and spherical; residual: cartesian + log10 reconstruction "
                             "residual, beyond the paper; diagnostic: fold and band "
                             "coherence, points off the fold, latent radius and residual, "
                             "beyond the paper; vetting: one tail probability per vetting "
                             "question (fold, bands in step, a fade, brightening or drops, a "
                             "flat-bottomed dip, colour for the period, period for the "
                             "class), no forest, beyond "
                             "the paper; all: the five)")
    parser.add_argument("--config", default=None, help="TOML file with a [score] table")
    parser.add_argument("--no-convergence", action="store_true",
                        help="skip the n vs 2n trees convergence check (halves the time)")
    parser.add_argument("--force", action="store_true", help="rescore even when up to date")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def config_from_args(args: argparse.Namespace):
    from ..config import resolve

    changes = {}
    if args.trees is not None:
        changes["n_estimators"] = args.trees
    if args.space:
        changes["spaces"] = {"both": PAPER_SPACES, "all": SPACE_NAMES}.get(
            args.space, (args.space,))
    if args.no_convergence:
        changes["convergence_check"] = False
    return resolve(args.store, args.config, {"score": changes}).config.score


def cli_score(args: argparse.Namespace) -> int:
    from ..progress import drive
    from .stage import score

    cfg = config_from_args(args)
    result = drive(score(args.store, cfg, use_labels=args.use_labels, force=args.force),
                   show=not args.json)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    if "skipped" in result:
        print(f"{args.store}: {result['skipped']} (use --force to rescore)")
    for space in cfg.spaces:
        fig = result.get(space)
        if fig:
            conv = fig["convergence"]
            conv_txt = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                 for k, v in conv.items() if k != "checked")
            print(f"{space}: fit {fig['timing']['fit_s']} s, score {fig['timing']['score_s']} s; "
                  f"top {fig['class_mix']['k']}: {fig['class_mix']['top']}"
                  + (f"; convergence: {conv_txt}" if conv.get("checked") else ""))
    if args.use_labels:
        print(f"active: {result['active']['message']}")
    return 0


def configure_foldstats(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="the pvsvet store (.h5)")
    parser.add_argument("--force", action="store_true",
                        help="recompute even when /foldstats is up to date")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")


def cli_foldstats(args: argparse.Namespace) -> int:
    from ..progress import drive
    from .foldstats import foldstats_stage

    result = drive(foldstats_stage(args.store, force=args.force), show=not args.json)
    if args.json:
        print(json.dumps(result, indent=2))
    elif "skipped" in result:
        print(f"{args.store}: foldstats {result['skipped']}; use --force to recompute")
    else:
        print(f"{args.store}: fold statistics of {result['n_with_stats']} of "
              f"{result['n_objects']} objects in /foldstats")
    return 0
