"""``pvsvet-engine train`` and ``pvsvet-engine encode``."""
from __future__ import annotations

import argparse
import json
import logging

from ..config import VAEConfig

logger = logging.getLogger(__name__)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", metavar="STORE", help="the pvsvet store (HDF5)")
    parser.add_argument("--config", metavar="TOML", default="",
                        help="settings file; its [vae] table is used")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def configure_train(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--epochs", type=int, default=None,
                        help="cap on the total number of epochs (over resumed runs)")
    parser.add_argument("--minutes", type=float, default=None,
                        help="wall-clock budget of this run in minutes (0: none)")
    parser.add_argument("--force", action="store_true",
                        help="train even when the model is up to date; when the stored "
                             "training is done, train on from its weights with a new "
                             "learning-rate schedule")


def configure_encode(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--force", action="store_true",
                        help="encode again even when /vae/mu is up to date")


def _config(args: argparse.Namespace) -> VAEConfig:
    from ..config import resolve

    flags = {k: getattr(args, k, None) for k in ("epochs", "minutes")}
    return resolve(args.store, args.config or None, {"vae": flags}).config.vae


def _report(result: dict, args: argparse.Namespace, title: str) -> None:
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(title + ": " + ", ".join(f"{k} {v}" for k, v in result.items()))


def cli_train(args: argparse.Namespace) -> int:
    from ..progress import drive
    from .training import train

    result = drive(train(args.store, _config(args), force=args.force), show=not args.quiet)
    _report(result, args, "trained")
    return 0


def cli_encode(args: argparse.Namespace) -> int:
    from ..progress import drive
    from .encoding import encode

    result = drive(encode(args.store, _config(args), force=args.force), show=not args.quiet)
    _report(result, args, "encoded")
    return 0
