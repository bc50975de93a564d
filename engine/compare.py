"""Run comparison: which objects rose or fell most between two scorings of a space.

A scoring overwrites ``/scores/<space>``, so the score stage keeps a compact history
through :func:`remember`: each run of a space becomes ``/rank_history/<space>/w<id>``
(``rank`` as int32, 4 bytes an object, and the run's provenance as attributes: when it
was written, the forest settings, the config and input hashes, the code version and the
VAE model it scored). The newest :data:`KEEP` runs per space are kept.

:func:`compare` reads the newest two runs of a space (or two named ones) and returns the
rank change of every object, the biggest risers and fallers, and the objects new in the
top N. ``pvsvet-engine compare STORE [--space S] [--top N]`` prints them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from . import schema
from .errors import PvsvetError

logger = logging.getLogger(__name__)

GROUP = schema.RANK_HISTORY
#: Runs kept per space: enough to look back over a few retrains, small next to /interp
#: (8 × 4 bytes an object per space).
KEEP = 8
#: Attributes of /scores/<space> copied as the run's provenance.
PROVENANCE = ("written", "write_id", "settings", "features", "method", "n_scored",
              "n_labels", "n_anomalous", "n_regular")


class CompareError(PvsvetError):
    """Two runs to compare are not there (the message says what to run)."""


# -- keeping the history (called by the score stage) -------------------------------------
def remember(st, space: str) -> str | None:
    """Record the current ``/scores/<space>`` ranking in the history (``st`` open for
    writing) unless it is there already; return the entry's name (None: nothing scored).

    The score stage calls it before it overwrites a space (so a store scored before the
    history existed keeps its last ranking) and after (the new one)."""
    if not st.has(schema.score_path(space, "rank")):
        return None
    attrs = st.attrs(schema.score_group(space))
    key = f"w{int(attrs.get('write_id', 0)):06d}"
    name = f"{GROUP}/{space}/{key}"
    if st.has(name):
        return name
    prov = {k: attrs[k] for k in PROVENANCE if k in attrs}
    prov.update(_run_provenance(st))
    prov["space"] = space
    rank = np.asarray(st.read(schema.score_path(space, "rank")), dtype=np.int32)
    st.write_group(name, {"rank": rank}, prov)
    _prune(st, space)
    return name


def _run_provenance(st) -> dict:
    """The last score run's record and the VAE model that made the latent space."""
    out = {}
    run = st.last_run("score")
    if run:
        out.update({f"run_{k}": run[k] for k in ("config_hash", "input_hash", "code_version",
                                                 "started", "finished") if k in run})
    for group in ("vae", "interp"):
        if st.has(group):
            out[f"{group}_written"] = str(st.attrs(group).get("written", ""))
    return out


def _prune(st, space: str) -> None:
    keys = sorted(st.group_keys(f"{GROUP}/{space}"))
    for old in [k for k in keys if k.startswith("w")][:-KEEP]:
        st.delete_group(f"{GROUP}/{space}/{old}")


def history(st, space: str) -> list[dict]:
    """The recorded runs of ``space``, oldest first: ``{"key": ..., **provenance}``."""
    if not st.has(f"{GROUP}/{space}"):
        return []
    keys = sorted(k for k in st.group_keys(f"{GROUP}/{space}") if k.startswith("w"))
    return [{"key": k, **st.attrs(f"{GROUP}/{space}/{k}")} for k in keys]


# -- comparing ------------------------------------------------------------------------------
@dataclass
class Comparison:
    """The rank change between two runs of one space (rank 1 = most anomalous)."""

    space: str
    old: dict                       # provenance of the earlier run
    new: dict                       # provenance of the later run
    old_rank: np.ndarray            # (N,) int, 0 = not scored in that run
    new_rank: np.ndarray
    top: int = 100
    ids: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))

    @property
    def rise(self) -> np.ndarray:
        """Places gained (old − new; positive = more anomalous now); 0 where either run
        did not score the object."""
        both = (self.old_rank > 0) & (self.new_rank > 0)
        return np.where(both, self.old_rank.astype(np.int64) - self.new_rank, 0)

    def risers(self, k: int = 20) -> np.ndarray:
        """Rows that rose most, biggest first (only rises > 0)."""
        r = self.rise
        order = np.argsort(-r, kind="stable")
        return order[r[order] > 0][:k]

    def fallers(self, k: int = 20) -> np.ndarray:
        r = self.rise
        order = np.argsort(r, kind="stable")
        return order[r[order] < 0][:k]

    def new_in_top(self, n: int | None = None) -> np.ndarray:
        """Rows in the new top ``n`` that were not in the old top ``n`` (or unscored),
        in their new rank order."""
        n = n or self.top
        now = (self.new_rank > 0) & (self.new_rank <= n)
        before = (self.old_rank > 0) & (self.old_rank <= n)
        rows = np.flatnonzero(now & ~before)
        return rows[np.argsort(self.new_rank[rows], kind="stable")]

    def left_top(self, n: int | None = None) -> np.ndarray:
        n = n or self.top
        now = (self.new_rank > 0) & (self.new_rank <= n)
        before = (self.old_rank > 0) & (self.old_rank <= n)
        rows = np.flatnonzero(before & ~now)
        return rows[np.argsort(self.old_rank[rows], kind="stable")]

    def overlap(self, n: int | None = None) -> float:
        """Fraction of the old top ``n`` still in the new top ``n``."""
        n = n or self.top
        before = (self.old_rank > 0) & (self.old_rank <= n)
        if not before.any():
            return float("nan")
        return float(((self.new_rank > 0) & (self.new_rank <= n) & before).sum() / before.sum())


def compare(store_path, space: str | None = None, top: int = 100,
            runs: tuple[str, str] | None = None, against: str | None = None) -> Comparison:
    """Compare two recorded runs of ``space`` (default: the ranking space).

    ``runs``: two history keys (``w000012``), else the newest two. ``against``: instead,
    the current ranking of another space as the old one (after a first labelled rescore:
    ``space="active", against="vetting"``).
    """
    from .labels import ranking_space
    from .store import Store

    with Store(store_path, "r") as st:
        space = space or ranking_space(st)
        if not space:
            raise CompareError(f"{store_path}: nothing is scored yet (pvsvet-engine score)")
        if against:
            return _against(st, space, against, top)
        recs = history(st, space)
        if runs:
            by_key = {r["key"]: r for r in recs}
            missing = [k for k in runs if k not in by_key]
            if missing:
                raise CompareError(f"{store_path}: no run {', '.join(missing)} of {space} "
                                   f"(recorded: {', '.join(by_key) or 'none'})")
            old, new = by_key[runs[0]], by_key[runs[1]]
        elif len(recs) < 2:
            raise CompareError(
                f"{store_path}: {len(recs)} scoring run(s) of {space} recorded; comparing "
                "needs two (rescore after a retrain or with labels: pvsvet-engine score "
                f"--space {space} --force, or Run ▸ Score)")
        else:
            old, new = recs[-2], recs[-1]
        old_rank = st.read(f"{GROUP}/{space}/{old['key']}/rank").astype(np.int64)
        new_rank = st.read(f"{GROUP}/{space}/{new['key']}/rank").astype(np.int64)
        ids = st.read_objects(["id"])["id"]
    n = min(len(old_rank), len(new_rank), len(ids))   # objects appended since: not compared
    return Comparison(space, old, new, old_rank[:n], new_rank[:n], top, np.asarray(ids[:n]))


def _current(st, space: str) -> tuple[dict, np.ndarray]:
    if not st.has(schema.score_path(space, "rank")):
        raise CompareError(f"{st.path}: no /scores/{space} (score that space first)")
    attrs = st.attrs(schema.score_group(space))
    prov = {k: attrs[k] for k in PROVENANCE if k in attrs}
    prov.update(space=space, key=f"{space} (current)")
    return prov, st.read(schema.score_path(space, "rank")).astype(np.int64)


def _against(st, space: str, other: str, top: int) -> Comparison:
    """The current rankings of two spaces as old (``other``) and new (``space``)."""
    old, old_rank = _current(st, other)
    new, new_rank = _current(st, space)
    ids = st.read_objects(["id"])["id"]
    n = min(len(old_rank), len(new_rank), len(ids))
    return Comparison(space, old, new, old_rank[:n], new_rank[:n], top, np.asarray(ids[:n]))


def describe_run(p: dict) -> str:
    """One line of a run's provenance."""
    settings = p.get("settings") or {}
    # the forest's settings; AAD's only for the label-aware space (a plain forest run
    # carries the whole ScoreConfig, whose AAD fields did not act on it)
    keys = ("n_estimators", "max_samples", "seed") + (
        ("aad_trees", "aad_budget") if p.get("space") == "active" else ())
    bits = [f"{k}={settings[k]}" for k in keys if isinstance(settings, dict) and k in settings]
    if "n_labels" in p:
        bits.append(f"{p['n_labels']} labels")
    if p.get("vae_written"):
        bits.append(f"VAE of {str(p['vae_written'])[:19]}")
    if p.get("run_config_hash"):
        bits.append(f"config {str(p['run_config_hash'])[:8]}")
    if p.get("run_code_version"):
        bits.append(f"pvsvet {p['run_code_version']}")
    return f"{p.get('key', '?')} scored {str(p.get('written', '?'))[:19]}: " + ", ".join(bits)


# -- command line: pvsvet-engine compare ------------------------------------------------------
def configure_compare(parser) -> None:
    parser.add_argument("store", help="the pvsvet store (.h5)")
    parser.add_argument("--space", default=None,
                        help="the score space (default: the ranking space, as label/export)")
    parser.add_argument("--top", type=int, default=100,
                        help="N of 'new in the top N' and of the overlap (default 100)")
    parser.add_argument("--show", type=int, default=10,
                        help="how many risers and fallers to list (default 10)")
    parser.add_argument("--runs", nargs=2, metavar=("OLD", "NEW"), default=None,
                        help="two recorded runs (keys from --list) instead of the newest two")
    parser.add_argument("--against", default=None, metavar="SPACE",
                        help="compare with the current ranking of another space instead "
                             "(e.g. --space active --against vetting after a labelled rescore)")
    parser.add_argument("--list", action="store_true", help="list the recorded runs")


def cli_compare(args) -> int:
    if args.top < 1 or args.show < 0:
        raise CompareError(f"--top must be at least 1 and --show not negative "
                           f"(got {args.top}, {args.show})")
    if args.list:
        return _list_runs(args)
    c = compare(args.store, args.space, args.top, tuple(args.runs) if args.runs else None,
                args.against)
    print(f"{c.old.get('space', c.space)}: old {describe_run(c.old)}")
    print(f"{c.space}: new {describe_run(c.new)}")
    print(f"top {c.top}: {c.overlap():.0%} kept, {len(c.new_in_top())} new, "
          f"{len(c.left_top())} left")
    _rows("new in the top", c, c.new_in_top()[:max(args.show, 0) or None])
    _rows("rose most", c, c.risers(args.show))
    _rows("fell most", c, c.fallers(args.show))
    return 0


def _rows(title: str, c: Comparison, rows: np.ndarray) -> None:
    print(f"{title}:")
    if not len(rows):
        print("  (none)")
    for r in rows:
        old = int(c.old_rank[r]) or "–"
        print(f"  {c.ids[r]}: rank {old} → {int(c.new_rank[r]) or '–'}"
              + (f" ({int(c.rise[r]):+d})" if c.rise[r] else ""))


def _list_runs(args) -> int:
    from .labels import ranking_space
    from .store import Store

    with Store(args.store, "r") as st:
        space = args.space or ranking_space(st)
        recs = history(st, space)
    print(f"{space}: {len(recs)} recorded run(s)")
    for r in recs:
        print("  " + describe_run(r))
    return 0


def recorded(store_path) -> dict[str, int]:
    """space -> number of recorded runs, for the spaces that have any (the GUI offers
    those with two or more)."""
    from .store import Store

    with Store(store_path, "r") as st:
        if not st.has(GROUP):
            return {}
        return {sp: len(history(st, sp)) for sp in st.group_keys(GROUP)}
