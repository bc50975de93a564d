"""Follow-up target lists from the label journal (ECSV, VOTable, CSV via astropy)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from . import schema
from .errors import PvsvetError
from .names import iau_name

logger = logging.getLogger(__name__)

FORMATS = {"ecsv": "ascii.ecsv", "votable": "votable", "csv": "ascii.csv"}
_EXTENSIONS = {".ecsv": "ecsv", ".xml": "votable", ".vot": "votable", ".votable": "votable",
               ".csv": "csv"}
DESCRIPTION = ("pvsvet follow-up target list: periodic variables with their anomaly scores "
               "(1.0 = most anomalous) and ranks (1 = most anomalous; 0 = not scored) in "
               "every scored space, the vetting question behind the vetting score (why, "
               "with -log10 p), and their current label from the label journal; ordered "
               "by the rank in the space named in the 'space' meta key.")
UNITS = {"ra": "deg", "dec": "deg", "mean_g": "mag", "mean_r": "mag", "g_r": "mag",
         "period": "d", "label_period": "d"}
DESCRIPTIONS = {
    "id": "survey object id", "name": "IAU-style name", "ra": "right ascension (ICRS)",
    "dec": "declination (ICRS)", "ra_hms": "right ascension, hh:mm:ss.ss",
    "dec_dms": "declination, +dd:mm:ss.s", "mean_g": "mean ZTF g magnitude",
    "mean_r": "mean ZTF r magnitude", "g_r": "mean_g - mean_r", "period": "catalogue period",
    "class": "catalogue class (Chen et al. 2020)",
    "score_cartesian": "normalised anomaly score, Cartesian latent space",
    "rank_cartesian": "anomaly rank, Cartesian latent space",
    "score_spherical": "normalised anomaly score, spherical latent space",
    "rank_spherical": "anomaly rank, spherical latent space",
    "why": "the most significant vetting question (vetting space)",
    "why_log10p": "-log10 p of that question (p: fraction of comparable stars at least as "
                  "extreme)", "label": "current label",
    "note": "note of the current label", "author": "who set the current label",
    "time": "when the current label was set (UTC)",
    "label_period": "period the labeller corrected (e.g. from the periodogram); NaN: the "
                    "catalogue period stands",
}


class ExportError(PvsvetError):
    """The target list cannot be made or written."""


def format_for(out: str | os.PathLike, fmt: str | None) -> str:
    """The export format: ``fmt`` or, when None/empty, from the file extension."""
    if fmt:
        if fmt not in FORMATS:
            raise ExportError(f"{out}: unknown format {fmt!r} (ecsv, votable or csv)")
        return fmt
    ext = Path(out).suffix.lower()
    if ext not in _EXTENSIONS:
        raise ExportError(f"{out}: cannot tell the format from the extension {ext or '(none)'}; "
                          "use .ecsv, .xml/.vot or .csv, or --format")
    return _EXTENSIONS[ext]


#: Spaces whose score and rank columns every export carries (NaN / 0 when not scored), so
#: a target list always has the paper's two; every other scored space is added.
ALWAYS = schema.PAPER_SPACES


def _spaces(st) -> list[str]:
    return [sp for sp in schema.SCORE_SPACES
            if sp in ALWAYS or st.has(schema.score_path(sp, "rank"))]


def _scores(st, n: int) -> dict:
    out = {}
    for space in _spaces(st):
        if st.has(schema.score_group(space)):
            out[f"score_{space}"] = st.read(schema.score_path(space, "score")).astype(float)
            out[f"rank_{space}"] = st.read(schema.score_path(space, "rank")).astype(np.int64)
        else:
            out[f"score_{space}"] = np.full(n, np.nan)
            out[f"rank_{space}"] = np.zeros(n, np.int64)
    if st.has(schema.score_path("vetting", "surprise")):
        out.update(_why(st, n))
    return out


def _why(st, n: int) -> dict:
    """The top vetting question of each object and its -log10 p ('' / NaN unscored)."""
    surprise = np.asarray(st.read(schema.score_path("vetting", "surprise")), dtype=float)[:n]
    names = np.array(schema.feature_names(st, "vetting") + [""])
    ok = (np.isfinite(surprise).any(axis=1)
          & np.isfinite(st.read(schema.score_path("vetting", "score"))[:n]))
    top = np.full(n, len(names) - 1)
    value = np.full(n, np.nan)
    top[ok] = np.nanargmax(surprise[ok], axis=1)
    value[ok] = surprise[ok, top[ok]]
    return {"why": names[np.minimum(top, len(names) - 1)], "why_log10p": value}


def _select(current: dict, index: dict, rank: np.ndarray, labels,
            top) -> list[tuple[int, object]]:
    """Rows to export, with their journal entry (None when unlabelled).

    ``labels`` given: the objects whose current label is one of them; else with ``top``:
    the ``top`` best ranked objects, labelled or not; else every labelled object. Best
    ranked first (unscored, rank 0, last); ``top`` cuts the result.
    """
    if labels or (current and not top):
        wanted = set(labels) if labels else None
        picked = [(index[i], e) for i, e in current.items()
                  if i in index and (wanted is None or e.label in wanted)]
        unknown = [i for i in current if i not in index]
        if unknown:
            logger.warning("%d labelled ids are not in the store: %s", len(unknown), unknown[:5])
        picked.sort(key=lambda p: (rank[p[0]] == 0, rank[p[0]], p[0]))
        return picked[:top] if top else picked
    if not top:
        return []
    from .anomaly.stats import rank_order

    order = rank_order(rank)[:top]
    by_row = {index[i]: e for i, e in current.items() if i in index}
    return [(int(r), by_row.get(int(r))) for r in order]


def _sexagesimal(ra: np.ndarray, dec: np.ndarray) -> tuple[list[str], list[str]]:
    from astropy import units as u
    from astropy.coordinates import Angle

    ok = np.isfinite(ra) & np.isfinite(dec)
    ra_s = np.full(len(ra), "", dtype=object)
    dec_s = np.full(len(ra), "", dtype=object)
    if ok.any():
        ra_s[ok] = Angle(ra[ok], u.deg).to_string(unit=u.hourangle, sep=":", precision=2,
                                                  pad=True)
        dec_s[ok] = Angle(dec[ok], u.deg).to_string(unit=u.deg, sep=":", precision=1,
                                                    pad=True, alwayssign=True)
    return list(ra_s), list(dec_s)


def export_targets(store_path, out, fmt: str | None = None, labels=None, top: int | None = None,
                   space: str | None = None, rows=None):
    """Write the follow-up target list and return it as an astropy Table.

    Parameters
    ----------
    store_path : the store; labels come from its journal
    out : output file (overwritten); None or '' returns the table without writing
    fmt : "ecsv" | "votable" | "csv"; None: from the extension of ``out``
    labels : list of labels to export; without it and without ``top``, every labelled
        object
    top : the ``top`` best ranked objects (of those labels when ``labels`` is given, else
        of the whole ranking, with their labels where they have one)
    space : the score space that ranks (default: the first scored of
        ``engine.labels.RANK_PREFERENCE``)
    rows : these catalogue rows, in this order, instead of ``labels``/``top`` (the GUI's
        selection sent over SAMP)

    Besides the current label (and who set it), each author in the journal (merged
    colleagues' included) gets a ``label_<author>`` column with their latest label.
    """
    from .labels import LabelJournal, ranking_space
    from .store import Store

    fmt = format_for(out, fmt) if out else fmt
    with Store(store_path, "r") as st:
        n = st.n_objects
        cols = [c for c in ("id", "name", "ra", "dec", "mean_g", "mean_r", "period", "class")
                if c in st.object_columns]
        obj = st.read_objects(cols)
        index = st.object_index()
        scores = _scores(st, n)
        space = ranking_space(st, space)
    rank = scores.get(f"rank_{space}", np.zeros(n, np.int64))
    with LabelJournal(store_path) as journal:
        current = journal.current()
    if rows is None:
        picked = _select(current, index, rank, labels, top)
    else:
        by_row = {index[i]: e for i, e in current.items() if i in index}
        picked = [(int(r), by_row.get(int(r))) for r in np.asarray(rows, dtype=np.int64)]
    rows = np.array([p[0] for p in picked], dtype=np.int64)
    entries = [p[1] for p in picked]
    table = _build_table(obj, scores, rows, entries)
    _add_author_columns(table, store_path)
    table.meta.update({"description": DESCRIPTION, "store": Path(store_path).name,
                       "labels": list(labels) if labels else "all", "top": top or 0,
                       "space": space,
                       "column_descriptions": {k: v for k, v in DESCRIPTIONS.items()
                                               if k in table.colnames}})
    if out:
        _write(table, out, fmt)
    return table


def _add_author_columns(table, store_path) -> None:
    """One ``label_<author>`` column per author: their latest label of each row ('' none),
    so a list labelled by several astronomers shows who said what."""
    from .label_merge import author_column, labels_by_author

    ids = [str(x) for x in table["id"]]
    for author, labels in sorted(labels_by_author(store_path).items()):
        name = author_column(author)
        while name in table.colnames:      # two authors that clean to one name
            name += "_"
        table[name] = np.asarray([labels.get(i, "") for i in ids], dtype=str)
        table[name].description = f"latest label by {author or 'an unnamed author'}"


def _col(obj: dict, name: str, rows: np.ndarray, fill) -> np.ndarray:
    if name in obj:
        return obj[name][rows]
    return np.full(len(rows), fill)


def _build_table(obj: dict, scores: dict, rows: np.ndarray, entries: list):
    from astropy.table import Table

    ra = _col(obj, "ra", rows, np.nan).astype(float)
    dec = _col(obj, "dec", rows, np.nan).astype(float)
    names = [str(x) for x in _col(obj, "name", rows, "")]
    names = [nm or iau_name(a, d) for nm, a, d in zip(names, ra, dec)]
    ra_s, dec_s = _sexagesimal(ra, dec)
    g = _col(obj, "mean_g", rows, np.nan).astype(float)
    r = _col(obj, "mean_r", rows, np.nan).astype(float)
    get = lambda attr: [getattr(e, attr) if e else "" for e in entries]  # noqa: E731
    data = {"id": [str(x) for x in _col(obj, "id", rows, "")], "name": names, "ra": ra,
            "dec": dec, "ra_hms": ra_s, "dec_dms": dec_s, "mean_g": g, "mean_r": r,
            "g_r": g - r, "period": _col(obj, "period", rows, np.nan).astype(float),
            "class": [str(x) for x in _col(obj, "class", rows, "")]}
    for key, arr in scores.items():
        data[key] = [str(x) for x in arr[rows]] if arr.dtype.kind in "US" else arr[rows]
    for attr in ("label", "note", "author", "time"):
        data[attr] = get(attr)
    data["label_period"] = np.array([e.period if e and e.period is not None else np.nan
                                     for e in entries], dtype=float)
    table = Table({k: np.asarray(v, dtype=str) if isinstance(v, list) else v
                   for k, v in data.items()})
    for name, unit in UNITS.items():
        table[name].unit = unit
    for name, text in DESCRIPTIONS.items():
        if name in table.colnames:
            table[name].description = text
    for name in table.colnames:
        if name.startswith(("score_", "rank_")) and not table[name].description:
            kind, space = name.split("_", 1)
            table[name].description = ("normalised anomaly score" if kind == "score"
                                       else "anomaly rank") + f", {space} space"
    return table


def _write(table, out, fmt: str) -> None:
    """Write the list to a temporary file beside ``out`` and rename it over ``out``, so
    a kill or a full disk leaves the previous list as it was."""
    from .safefile import replacing

    out = Path(out)
    if out.is_dir():
        raise ExportError(f"{out}: is a folder, not a file name for the target list")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            table.meta.pop("column_descriptions", None)   # plain CSV has no place for meta
        with replacing(out) as tmp:
            table.write(tmp, format=FORMATS[fmt], overwrite=True)
    except OSError as exc:
        kept = "; the previous list is kept" if out.exists() else ""
        raise ExportError(f"{out}: cannot write the target list "
                          f"({exc.strerror or exc}){kept}") from exc
    logger.info("%s: %d targets written (%s)", out, len(table), fmt)


# -- command line: pvsvet-engine export --------------------------------------------------
def configure_export(parser) -> None:
    parser.add_argument("store", help="the pvsvet store (.h5)")
    parser.add_argument("-o", "--output", required=True, help="output file")
    parser.add_argument("--format", choices=sorted(FORMATS), default=None,
                        help="default: from the extension (.ecsv, .xml/.vot, .csv)")
    parser.add_argument("--labels", nargs="+", default=None, metavar="L",
                        help="only objects with these labels (default: with --top, the top "
                             "of the ranking labelled or not; else all labelled objects)")
    parser.add_argument("--top", type=int, default=None,
                        help="the N best ranked (of --labels if given, else of the ranking)")
    parser.add_argument("--space", default=None,
                        help="the score space that ranks (default: the best scored one)")


def cli_export(args) -> int:
    if args.top is not None and args.top < 1:
        raise ExportError(f"--top {args.top}: give the number of best ranked objects, at least 1")
    table = export_targets(args.store, args.output, args.format, args.labels, args.top,
                           args.space)
    print(f"{args.output}: {len(table)} target{'s' if len(table) != 1 else ''}")
    return 0
