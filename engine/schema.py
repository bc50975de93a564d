"""Where everything lives in the store: group and dataset paths, the status bits, the
score spaces, and typed readers over them.

Every module that names a store path takes it from here, so a path is spelled once.
What each group holds (shapes, attributes, who writes it) is described in one place,
``docs/internals.md``; this module is its code. No h5py here: the readers take an open
:class:`engine.store.Store`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:       # only for annotations: the store imports this module
    from .store import Store

SCHEMA_VERSION = 1

# -- top-level groups ------------------------------------------------------------------
META = "meta"
OBJECTS = "objects"
LIGHTCURVES = "lightcurves"
RUNS = "runs"
SIM = "sim"                 # demo stores only: synthetic context photometry
INTERP = "interp"           # the GP stage
VAE_TRAIN = "vae_train"     # the training checkpoint
VAE = "vae"                 # the trained model and the encoding
SCORES = "scores"           # one subgroup per score space
FOLDSTATS = "foldstats"     # raw points against the folded GP curve (foldstats stage)
RANK_HISTORY = "rank_history"   # past rankings per space (score stage, engine.compare)
CONTEXT = "context"         # cross-match, extinction, SED and dust-shell fits

# -- datasets --------------------------------------------------------------------------
RUN_RECORDS = f"{RUNS}/records"
LC_OFFSETS = f"{LIGHTCURVES}/offsets"
#: the flat photometry columns of /lightcurves, in the order LightCurve takes them
LC_COLUMNS = ("time", "mag", "magerr", "band")
OBJECTS_STATUS = f"{OBJECTS}/status"

INTERP_MEAN = f"{INTERP}/mean"
INTERP_STD = f"{INTERP}/std"
INTERP_SPLIT = f"{INTERP}/split"
INTERP_STATUS = f"{INTERP}/status"
INTERP_STATUS_MSG = f"{INTERP}/status_msg"
INTERP_HYPER = f"{INTERP}/hyper"
INTERP_PHASE = f"{INTERP}/phase"
INTERP_RAW_MEAN = f"{INTERP}/raw_mean_mag"
INTERP_RAW_STD = f"{INTERP}/raw_std_mag"

VAE_MODEL = f"{VAE}/model"
VAE_MU = f"{VAE}/mu"
VAE_LOGVAR = f"{VAE}/logvar"
VAE_RECON_RESIDUAL = f"{VAE}/recon_residual"
VAE_HISTORY = f"{VAE}/history"

FOLD_OUTLIER_FRAC = f"{FOLDSTATS}/fold_outlier_frac"
VARIABILITY_SIGMA = f"{FOLDSTATS}/variability_sigma"

CONTEXT_ROW = f"{CONTEXT}/row"


def dataset(group: str, name: str) -> str:
    """The path of dataset ``name`` in ``group``."""
    return f"{group}/{name}"


def score_group(space: str) -> str:
    """``scores/<space>``: one score space's group."""
    return f"{SCORES}/{space}"


def score_path(space: str, name: str) -> str:
    """``scores/<space>/<name>``: e.g. ``score``, ``rank``, ``raw``, ``features``."""
    return f"{SCORES}/{space}/{name}"


#: top-level group -> the command that rewrites it (for "damaged; rerun ..." messages)
REWRITTEN_BY = {OBJECTS: "ingest", LIGHTCURVES: "ingest", META: "ingest", RUNS: "ingest",
                INTERP: "interpolate", VAE: "train", VAE_TRAIN: "train", SCORES: "score",
                FOLDSTATS: "foldstats", RANK_HISTORY: "score", CONTEXT: "context"}
#: groups only ingest makes: damage there is fixed from a copy or by re-ingesting
INGESTED = (OBJECTS, LIGHTCURVES, META, RUNS)

# -- /objects and /lightcurves ---------------------------------------------------------
#: Band codes in ``/lightcurves/band``. 0 and 1 are the two bands of the pipeline.
BANDS = ("g", "r", "i", "z", "u", "y", "other")
BAND_CODE = {b: i for i, b in enumerate(BANDS)}

#: Column name -> numpy dtype kind of ``/objects``. "S" columns are UTF-8 strings.
OBJECT_COLUMNS: dict[str, str] = {
    "id": "S", "name": "S", "ra": "f8", "dec": "f8", "period": "f8", "class": "S",
    "mean_g": "f4", "mean_r": "f4", "n_g": "i4", "n_r": "i4",
    "status": "u4", "status_msg": "S", "truth_anomaly": "u1", "truth_kind": "S",
}


class Status(enum.IntFlag):
    """Bit flags in ``/objects/status`` (ingest) and ``<stage>/status`` (stages)."""

    OK = 0
    REJECTED_CUT = 1        # fails the paper's detection cut (2.5 sigma g, 3 sigma r)
    FEW_POINTS = 2          # fewer than min_points in g or r
    MISSING_BAND = 4        # no g or no r at all
    BAD_PERIOD = 8          # zero, negative or NaN period
    BAD_VALUES = 16         # NaN/inf magnitudes or errors were dropped
    DUPLICATE_TIMES = 32    # duplicated epochs were merged
    GP_FAILED = 64          # the GP fit failed (optimiser, divergence)
    GP_UNPHYSICAL = 128     # mean leaves the data range or sigma collapses/explodes
    NO_LIGHTCURVE = 256     # catalogue row without a light-curve file
    OTHER_BANDS = 512       # points in bands outside g/r were kept out of the pipeline


#: Ingest flags that keep an object out of the interpolation (no curve is made).
NOT_INTERPOLATED = (Status.REJECTED_CUT | Status.FEW_POINTS | Status.MISSING_BAND
                    | Status.BAD_PERIOD | Status.NO_LIGHTCURVE)
#: Flags after which an object has no usable curve: it is not encoded or scored.
NO_CURVE = NOT_INTERPOLATED | Status.GP_FAILED
#: Flags that keep an object out of the VAE's train/validation/test split. Objects with
#: an unphysical interpolation are still encoded and scored (the paper's ranking kept
#: them; they are a known source of false anomalies), and the GUI shows their flag.
NOT_FOR_TRAINING = NO_CURVE | Status.GP_UNPHYSICAL


#: Codes of ``/interp/split``: the VAE's train/validation/test sets, and objects kept out
#: of all three (flags of :data:`NOT_FOR_TRAINING`).
SPLIT_TRAIN, SPLIT_VALIDATION, SPLIT_TEST, SPLIT_EXCLUDED = 0, 1, 2, 255


@dataclass
class LightCurve:
    """Raw photometry of one object.

    Parameters
    ----------
    time : ndarray, MJD (days)
    mag, magerr : ndarray, mag
    band : ndarray of uint8, codes of :data:`BANDS`
    """

    time: np.ndarray
    mag: np.ndarray
    magerr: np.ndarray
    band: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    def select(self, mask: np.ndarray) -> "LightCurve":
        return LightCurve(self.time[mask], self.mag[mask], self.magerr[mask], self.band[mask])

    def in_band(self, band: str | int) -> "LightCurve":
        code = BAND_CODE[band] if isinstance(band, str) else band
        return self.select(self.band == code)


# -- score spaces ----------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreSpace:
    """What the code needs to know of one score space (``/scores/<name>``).

    short, about : the column header and what the score is (GUI, exports)
    forest : scored by an isolation forest over a stored feature matrix
        (``/scores/<name>/features``, names in its ``features`` attribute)
    latent : its features are latent coordinates whose names other spaces share, so a
        viewer lists them without the space's name
    paper : one of the paper's two spaces: scored by default, in every export
    from_labels : a re-ranking from the user's labels, not a feature space
    """

    short: str
    about: str
    forest: bool = False
    latent: bool = False
    paper: bool = False
    from_labels: bool = False


#: Every score space, in the engine's order (settings, the score command's choices).
#: A new space is one entry here (and its features in engine.anomaly.features).
SCORE_SPACES: dict[str, ScoreSpace] = {
    "cartesian": ScoreSpace(
        "cart.", "isolation-forest score, Cartesian latent space (paper), max 1",
        forest=True, latent=True, paper=True),
    "spherical": ScoreSpace(
        "sph.", "isolation-forest score, spherical latent space (paper, eq. 9), max 1",
        forest=True, latent=True, paper=True),
    "residual": ScoreSpace(
        "resid.", "isolation-forest score, Cartesian features + the VAE reconstruction "
        "residual, max 1", forest=True),
    "diagnostic": ScoreSpace(
        "diag.", "isolation-forest score, diagnostic space, max 1: a period that does not "
        "fold the data, g and r out of step, points off the fold (fades, outbursts), an "
        "unfamiliar shape", forest=True),
    "vetting": ScoreSpace(
        "vet.", "vetting-space score, max 1: the most significant of five vetting questions "
        "(does the period fold the data, do g and r vary in step, did it fade or brighten "
        "once, is its dip flat-bottomed, is its colour usual for its period and shape); see "
        "the why column"),
    "active": ScoreSpace(
        "labels", "label-aware score, max 1: active anomaly detection (AAD) on your labels, "
        "from Run ▸ Score with labels", from_labels=True),
}
#: the spaces a feature matrix defines (all but the label-aware re-ranking)
FEATURE_SPACES = tuple(sp for sp, s in SCORE_SPACES.items() if not s.from_labels)
#: the spaces scored by isolation forests
FOREST_SPACES = tuple(sp for sp, s in SCORE_SPACES.items() if s.forest)
#: the paper's two spaces
PAPER_SPACES = tuple(sp for sp, s in SCORE_SPACES.items() if s.paper)


# -- typed readers ---------------------------------------------------------------------
def written(store: "Store", group: str) -> str:
    """When ``group`` was committed (UTC, ISO 8601), '' when absent."""
    return str(store.attrs(group).get("written", "")) if store.has(group) else ""


def padded(store: "Store", name: str, n: int, dtype: str = "f4") -> np.ndarray:
    """A per-object dataset padded to ``n`` rows with NaN (0 for integers); all fill
    when the dataset is absent (its stage has not run)."""
    fill = 0 if np.dtype(dtype).kind in "iu" else np.nan
    out = np.full(n, fill, dtype=dtype)
    if store.has(name):
        data = store.read(name)[:n]
        out[:len(data)] = data
    return out


def scored_spaces(store: "Store", spaces: Any = None, need: str = "score") -> list[str]:
    """The spaces (default: all of :data:`SCORE_SPACES`) that have dataset ``need``."""
    return [sp for sp in (SCORE_SPACES if spaces is None else spaces)
            if store.has(score_path(sp, need))]


def read_score(store: "Store", space: str) -> tuple[np.ndarray, np.ndarray]:
    """(score, rank) of one scored space, as stored."""
    return store.read(score_path(space, "score")), store.read(score_path(space, "rank"))


def feature_names(store: "Store", space: str) -> list[str]:
    """Column names of ``/scores/<space>/features`` ([] when not stored)."""
    if not store.has(score_group(space)):
        return []
    return [str(n) for n in store.attrs(score_group(space)).get("features", [])]
