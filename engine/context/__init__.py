"""The context stage (paper section 3.4): cross-match, extinction, SED, dust-shell fits, HR.

Modules: :mod:`.crossmatch` (VizieR through astroquery, disk cache, retries),
:mod:`.extinction` (Bayestar19 through dustmaps, flagged fallback), :mod:`.sed`
(magnitudes to dereddened fluxes, alpha_IR), :mod:`.dusty` (fits on DESK grids),
:mod:`.hr` (M_G, the Mowlavi et al. 2018 line), :mod:`.selection`, :mod:`.stage`.

Stage: ``run_context(store_path, cfg: ContextConfig) -> StageGen`` writes ``/context``;
CLI: ``pvsvet-engine context STORE [--top N] [--offline] [--config TOML]``.

What ``/context`` holds (datasets, shapes, attributes) is described in
``docs/internals.md``; its path is :data:`engine.schema.CONTEXT`.

Reader API for the GUI
----------------------
``load_context(store_path_or_Store, row) -> dict | None``
    keys ``hr`` {M_G, bp_rp}; ``sed`` {band, wavelength_um, flux_jy, flux_err_jy,
    lam_flam (W m^-2), lam_flam_err, dereddened}; ``fit`` (None when not fitted)
    {teff, lum_lsun, tau10, t_inner, r_in_cm, mdot_dust, mdot_total, chi2, grid, grid_note,
    kappa10, model_wavelength_um, model_lam_flam}; ``alpha_ir``; ``status``; ``message``;
    ``synthetic``; also ``row``, ``distance_pc``, ``ebv``, ``ebv_source``,
    ``crossmatch`` {catalogue: {id, sep_arcsec, fetched, state}}, ``selection``.
``hr_points(store) -> dict``: ``M_G``, ``bp_rp``, ``rows`` of all context objects.
``hr_background(store) -> dict | None``: field stars (None offline).
``mowlavi_line(store=None) -> dict``: ``bp_rp``, ``M_G`` end points, slope, intercept.
"""
from __future__ import annotations

import argparse
import json
import logging

from .objects import ContextStatus
from .reader import hr_background, hr_points, load_context, mowlavi_line
from .stage import run_context

logger = logging.getLogger(__name__)

__all__ = ["run_context", "load_context", "hr_points", "hr_background", "mowlavi_line",
           "ContextStatus", "configure_parser", "cli"]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", help="the pvsvet store (HDF5)")
    parser.add_argument("--top", type=int, default=None, help="top N of each ranking")
    parser.add_argument("--normal", type=int, default=None,
                        help="least anomalous objects per dominant class for comparison")
    parser.add_argument("--offline", action="store_true", help="use the query cache only")
    parser.add_argument("--bayestar", default=None, help="a Bayestar19 HDF5 map file")
    parser.add_argument("--config", default=None, help="TOML config ([context] table)")
    parser.add_argument("--force", action="store_true",
                        help="rerun even when /context is up to date")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _config(args: argparse.Namespace):
    from .. import config as cfgmod

    changes = {}
    if args.top is not None:
        changes["top_n"] = args.top
    if args.normal is not None:
        changes["n_normal"] = args.normal
    if args.offline:
        changes["offline"] = True
    if args.bayestar:
        changes["bayestar_path"] = args.bayestar
    return cfgmod.resolve(args.store, args.config, {"context": changes}).config.context


def cli(args: argparse.Namespace) -> int:
    from ..progress import drive

    summary = drive(run_context(args.store, _config(args), force=args.force),
                    show=not args.quiet)
    if args.json:
        print(json.dumps(summary))
    else:
        print("context: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return 0
