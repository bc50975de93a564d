"""``pvsvet-engine``: every engine feature from the command line.

Each subcommand lives in the module that owns the feature; that module defines
``configure_parser(parser)`` and ``cli(args) -> int``. Module-level imports of
those modules stay light (heavy libraries are imported inside functions), so
``pvsvet-engine --help`` is fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import PvsvetError

logger = logging.getLogger(__name__)

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("engine.simulate", "make the synthetic demo catalogue (raw light curves + truth)"),
    "ingest": ("engine.ingest", "read a catalogue and light-curve files into a store"),
    "fetch": ("engine.ingest.fetch", "fetch the CPVS from VizieR and its ZTF light curves from IRSA"),
    "run": ("engine.pipeline_cli", "run the stale stages of the pipeline"),
    "interpolate": ("engine.gp", "fold and interpolate light curves with the 2-D GP"),
    "train": ("engine.vae", "train the convolutional VAE"),
    "encode": ("engine.vae", "encode all objects with the trained VAE"),
    "foldstats": ("engine.anomaly", "fold statistics: the raw points against the GP curve"),
    "score": ("engine.anomaly", "isolation-forest anomaly scores and ranks"),
    "context": ("engine.context", "cross-match, extinction, SED and dust-shell fits"),
    "info": ("engine.info", "what a store holds: stages done, counts, provenance, failures"),
    "verify": ("engine.verify", "check every group of a store for damage (checksums)"),
    "label": ("engine.label_cli", "label objects in the label journal"),
    "export": ("engine.export", "export the labelled follow-up target list"),
    "compare": ("engine.compare", "which objects rose or fell most between two scoring runs"),
    "bench": ("engine.benchmarks", "benchmarks (bench --help lists them; the GUI: pvsvet --bench)"),
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="pvsvet-engine",
        description="Headless pipeline of pvsvet: anomalous periodic variable stars in ZTF.")
    parser.add_argument("--version", action="version", version=f"pvsvet {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (modname, help_) in COMMANDS.items():
        try:
            module = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name != modname:
                raise
            continue
        configure = getattr(module, f"configure_{name}", None) or getattr(
            module, "configure_parser", None)
        handler = getattr(module, f"cli_{name}", None) or getattr(module, "cli", None)
        if configure is None or handler is None:
            logger.debug("%s: no command-line entry in %s", name, modname)
            continue
        p = sub.add_parser(name, help=help_, description=help_)
        configure(p)
        p.set_defaults(_handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "_handler", None):
        parser.print_help()
        return 1
    try:
        return int(args._handler(args) or 0)
    except PvsvetError as exc:
        print(f"pvsvet-engine {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader went away (``info | head``): not an error of ours, and no traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"pvsvet-engine {args.command}: interrupted; finished work is kept, "
              "run the command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
