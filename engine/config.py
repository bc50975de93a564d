"""Stage configuration: one frozen dataclass per stage, defaults as in DESIGN.md section 1.

A whole-pipeline :class:`Config` round-trips through TOML (``[ingest]``, ``[interp]``,
``[vae]``, ``[score]``, ``[context]``, ``[pipeline]`` tables).

This module is the one room for settings:

- every setting is checked when a config is built (type, range, choice; see
  :data:`RULES`), whether it comes from TOML, a command-line flag, the GUI or
  ``dataclasses.replace``: the stages never see an invalid setting;
- settings are **science** (they decide results and travel with a store) or
  **machine** (:data:`MACHINE`: where pvsvet connects, which local paths and how many
  processes it uses). Machine settings come only from this machine: a ``--config``
  file, command-line flags and the user's machine file (:func:`machine_file`), never
  from a store, so a store received from a colleague cannot choose a dask scheduler
  (dask unpickles what a scheduler sends), a VizieR host or a local path;
- :func:`resolve` is the one resolver every command and the GUI use.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import tomli_w

from .errors import ConfigError

logger = logging.getLogger(__name__)

#: Effective wavelengths of ZTF g and r (Angstrom) used for the normalised wavelength axis.
ZTF_LAMBDA = {"g": 4746.5, "r": 6366.4}


@dataclass(frozen=True)
class IngestConfig:
    """Quality cut of the paper, section 2.1."""

    snr_g: float = 2.5          # at least one detection at this significance in g
    snr_r: float = 3.0          # ... and in r
    min_points: int = 10        # fewer points than this in a band flags the object
    max_mag: float = 30.0       # brighter-than limit: larger values are missing-value sentinels
    catflags_mask: int = 0xFFFF  # ZTF DR rows with catflags & mask != 0 are dropped
    batch_size: int = 2000      # objects per append to the store

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class InterpConfig:
    """GP interpolation (eqs. 2-6)."""

    method: str = "fast"        # "fast" | "george"
    n_phase: int = 160          # output phases per band
    workers: int = 2
    chunk_size: int = 2000      # objects per resumable chunk
    min_points: int = 10        # per band
    stack: int = 3              # george reference: periodic boundary by stacking
    lambda_low: float = 3676.0  # normalised wavelength range (Angstrom, ZTF g blue edge)
    lambda_high: float = 7226.0  # (ZTF r red edge)
    n_restarts: int = 3         # other initial l_phi when l_phi diverges/collapses
    # "unphysical": the mean leaves the data's range by more than this many times the
    # data's scatter. At 1x, 20% of demo Miras (gaps in phase coverage near maximum
    # light) were flagged; the paper found < 0.01% unphysical fits.
    unphysical_tolerance: float = 3.0
    split: tuple[float, float, float] = (0.7, 0.2, 0.1)
    seed: int = 42
    # Search box of the hyperparameters (both methods): l_phi (phase units), l_lambda
    # (normalised wavelength), C and delta (mag^2). l_phi at either edge = divergence/collapse.
    lphi_bounds: tuple[float, float] = (0.01, 2.0)
    llam_bounds: tuple[float, float] = (0.05, 10.0)
    amp_bounds: tuple[float, float] = (1e-6, 1e2)
    noise_bounds: tuple[float, float] = (1e-9, 1e1)
    # fast: harmonics of the first l_phi-start pass and of batch_size (each curve is then
    # fitted with the K its l_phi needs, engine/gp/fast_fit.py)
    n_harmonics: int = 12
    batch_size: int = 256       # fast: light curves per vectorised batch

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class VAEConfig:
    """Convolutional VAE, appendix A, and its reconstruction check, appendix C.

    The network is the paper's; where a default differs from the paper's training
    settings the comment says why, and ``docs/paper.toml`` restores them all.
    """

    latent_dim: int = 10
    filters: tuple[int, ...] = (32, 64, 128)
    kernel: tuple[int, int] = (3, 4)     # (bands, phases)
    strides: tuple[int, int] = (1, 2)
    dense: int = 256
    # The paper's 0.1 regularises its 895 epochs; in the 60-80 epochs of a CPU budget
    # it only adds noise to what the latent must carry (README "Encoding": 86% -> 91%
    # of test curves within the GP's sigma on a 20k demo). The paper: 0.1.
    dropout: float = 0.0
    # Beyond the paper (measured in README "Encoding"): the paper's batch of 1,024 gives
    # 4x fewer Adam steps for 10% more samples/s on 2 CPU cores; 256 learns faster per minute.
    batch_size: int = 256
    epochs: int = 2000           # cap on the total epochs; the paper stopped at 895
    minutes: float = 30.0        # wall-clock budget of one training run (0: none)
    patience: int = 500          # early stopping on the validation loss, epochs
    learning_rate: float = 2e-3  # Adam's peak step (the paper: Adam's default 1e-3, constant)
    # "cosine": the step decays to ~0 over the planned epochs (the epoch cap, or what the
    # time budget holds, estimated after the first epoch and kept for resumed runs);
    # "constant": the paper's fixed Adam step.
    lr_schedule: str = "cosine"
    # Weight of the KL term against the squared error summed over the 2 x 160 pixels.
    # 1 is eq. 7-8 read as "mean squared error x D"; it implies a pixel noise of
    # 1/sqrt(2) of a unit-variance curve and blurs curves the GP knows to ~0.03. 0.05
    # (a pixel noise of ~0.16) reaches the appendix-C quality in the CPU budget.
    kl_weight: float = 0.05
    # "faintest": each folded curve is rotated in phase so that its faintest point (g + r)
    # comes first before encoding (primary minimum / minimum light at phase 0); the latent
    # space then carries shape, not the arbitrary catalogue epoch. "none": the paper's
    # phases. Reconstructions are rotated back, so curves and residuals are unchanged.
    align: str = "faintest"
    n_decode: int = 10           # decodes averaged for the residual of appendix C (0: skip)
    max_train: int = 0           # 0: the whole train split
    seed: int = 0
    deterministic: bool = True   # TF op determinism (free on CPU, slower on GPU)
    encode_batch: int = 8192     # light curves per encoding batch

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class ScoreConfig:
    """Isolation forests, sections 2.3-2.4, and active anomaly detection (AAD)."""

    n_estimators: int = 5000     # paper footnote 2: 5,000 trees give a converged ranking
    max_samples: int = 256       # scikit-learn's "auto" for large N (capped at N)
    seed: int = 0
    # the paper's two spaces and the two beyond it that vet (the GUI ranks by vetting)
    spaces: tuple[str, ...] = ("cartesian", "spherical", "diagnostic", "vetting")
    convergence_check: bool = True   # also grow n_estimators more trees: n vs 2n ranking
    top_k: int = 1000            # convergence: Spearman over the top_k of the 2n ranking
    top_overlap: int = 100       # convergence and class mix: size of the top/bottom list
    n_jobs: int = 2              # worker processes (one forest each)
    block: int = 512             # samples per scoring task of the tree kernel
    last_angle: str = "paper"    # eq. 9 branch of theta_9: "paper" | "blumenson"
    aad_trees: int = 1000        # active anomaly detection (coniferest AADForest)
    aad_space: str = "cartesian"
    aad_prior_influence: float = 1.0
    aad_budget: float = 0.01     # fraction of objects the AAD margin q_tau sits at
    demote_nonvariable: bool = True    # rank curves consistent with noise below the rest
    variability_sigma_min: float = 5.0  # constant-model chi^2 significance that counts as variable
    like_with_like: bool = True        # vetting: compare each star with stars observed alike

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class ContextConfig:
    """Cross-match, extinction, SED and dust-shell fits, section 3.4 (engine.context)."""

    top_n: int = 100             # anomalies per latent space (no scores: the first top_n)
    n_normal: int = 10           # least anomalous objects per dominant class, for comparison
    normal_classes: int = 2      # how many dominant classes of the top N get normals
    radius_arcsec: float = 2.0   # cone-search radius
    offline: bool = False        # cache only
    timeout_s: float = 30.0      # per VizieR request
    retries: int = 3             # further attempts, back-off backoff_s * 2**k
    backoff_s: float = 1.0
    rate_per_s: float = 2.0      # polite request rate (0: no limit, for local mirrors)
    max_consecutive_failures: int = 3  # objects in a row with failed queries: go offline
    max_query_s: float = 0.0     # bound on one run's time querying VizieR (0: none); past it
                                 # the rest is cache-only and flagged, a rerun fills the gaps
    vizier_server: str = ""      # host[:port] of a VizieR mirror; empty: astroquery's default
    bayestar_path: str = ""      # a Bayestar19 HDF5 file; empty: the flagged fallback
    extinction_mode: str = "mean"      # "mean" | "median" of the Bayestar19 samples
    extinction_fallback: str = "bh"    # "bh" (2-D Burstein-Heiles, flagged) | "none"
    cache_dir: str = ""          # empty: <store>.cache/
    grid: str = "auto"           # DESK grid: "auto" (chemistry, else best of both) | "oxygen" | "carbon"
    grid_family: str = "auto"    # "auto" (GRAMS if DESK has it installed, else DUSTY) | "grams" | "dusty"
    min_bands: int = 5           # SED bands needed for a fit
    max_reduced_chi2: float = 50.0     # above: flagged as a poor fit
    v_exp_kms: float = 10.0      # expansion velocity of eq. 11
    gas_to_dust: float = 200.0
    kappa10_silicate: float = 3000.0   # cm^2/g at 10 um (sources: engine.context.dusty.KAPPA_SOURCES)
    kappa10_carbon: float = 2200.0     # cm^2/g at 11.3 um (Srinivasan et al. 2010)
    mowlavi_slope: float = 2.5         # YSO/LPV line M_G = slope (BP-RP) + intercept,
    # Mowlavi et al. 2018, A&A 618, A58 (the one definition: engine.context.hr reads these)
    mowlavi_intercept: float = -1.0
    hr_background: bool = True   # fetch (and cache) Gaia field stars for the HR diagram online
    hr_background_rows: int = 5000

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class PipelineConfig:
    """Where ``pvsvet-engine run`` sends chunked work (engine.pipeline, engine.executors).

    These settings change speed, never results, so they never make a stage stale.
    """

    workers: int = 2             # local worker processes (1: everything in the driver)
    scheduler: str = ""          # address of a running dask scheduler (tcp://host:8786)
    dask_local: int = 0          # >0: start a dask LocalCluster with this many workers

    def __post_init__(self) -> None:
        check_section(self)


@dataclass(frozen=True)
class Config:
    ingest: IngestConfig = field(default_factory=IngestConfig)
    interp: InterpConfig = field(default_factory=InterpConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    context: ContextConfig = field(default_factory=ContextConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)

    def __post_init__(self) -> None:
        check_config(self)


# -- machine settings ----------------------------------------------------------------

#: Machine settings per section: where pvsvet connects, which local paths it reads and
#: writes and how many processes it starts. They never change a result, never travel
#: with a store and are ignored (with a warning) when an older store carries them.
MACHINE: dict[str, frozenset[str]] = {
    "interp": frozenset({"workers"}),
    "score": frozenset({"n_jobs"}),
    "context": frozenset({"vizier_server", "bayestar_path", "cache_dir", "timeout_s",
                          "retries", "backoff_s", "rate_per_s", "max_consecutive_failures",
                          "max_query_s"}),
    "pipeline": frozenset({"workers", "scheduler", "dask_local"}),
}

#: Settings that existed once and are dropped when read from a store or file (with a
#: warning), so stores and configs written by earlier versions still open.
RETIRED: dict[str, frozenset[str]] = {
    # hashed but never read: isolation-forest ranks do not depend on it
    "score": frozenset({"contamination"}),
}


def is_machine(section: str, key: str) -> bool:
    return key in MACHINE.get(section, ())


# -- validation at the door -------------------------------------------------------------

Rule = Callable[[Any], "str | None"]


def _at_least(lo: float) -> Rule:
    return lambda v: None if v >= lo else f"must be at least {lo}"


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be positive"


def _between(lo: float, hi: float, hi_open: bool = False) -> Rule:
    def rule(v: Any) -> str | None:
        ok = lo <= v < hi if hi_open else lo <= v <= hi
        return None if ok else f"must be in [{lo}, {hi}{')' if hi_open else ']'}"
    return rule


def _one_of(*choices: str) -> Rule:
    return lambda v: None if v in choices else f"must be one of {', '.join(map(repr, choices))}"


def _each(rule: Rule, length: int | None = None, nonempty: bool = True) -> Rule:
    def check(v: tuple) -> str | None:
        if length is not None and len(v) != length:
            return f"must have {length} values, got {len(v)}"
        if nonempty and not v:
            return "must not be empty"
        for x in v:
            why = rule(x)
            if why:
                return f"value {x!r} {why}"
        return None
    return check


def _bounds(v: tuple) -> str | None:
    if len(v) != 2:
        return f"must be [low, high], got {len(v)} values"
    return None if 0 < v[0] < v[1] else "must be [low, high] with 0 < low < high"


def _split(v: tuple) -> str | None:
    if len(v) != 3 or any(x < 0 for x in v) or abs(sum(v) - 1) > 1e-6 or v[0] <= 0:
        return "must be three fractions (train, validation, test) >= 0 adding up to 1, train > 0"
    return None


def _scheduler(v: str) -> str | None:
    if not v:
        return None
    scheme, sep, rest = v.partition("://")
    host, _, port = rest.rpartition(":")
    if not sep or scheme not in ("tcp", "tls", "ucx", "inproc") or not host or not port.isdigit():
        return "must be a dask scheduler address such as tcp://host:8786"
    return None


def _spaces(v: tuple) -> str | None:
    from .schema import FEATURE_SPACES as SPACE_NAMES

    if not v:
        return "must name at least one space"
    bad = [x for x in v if x not in SPACE_NAMES]
    return f"unknown space {bad[0]!r} (known: {', '.join(SPACE_NAMES)})" if bad else None


def _space(v: str) -> str | None:
    return _spaces((v,))


_COUNT, _SIZE = _at_least(1), _at_least(0)

#: (section, setting) -> rule: a reason when the value is refused. Every float must also
#: be finite and every value of the type of its default (checked for all settings).
RULES: dict[tuple[str, str], Rule] = {
    ("ingest", "snr_g"): _positive, ("ingest", "snr_r"): _positive,
    ("ingest", "min_points"): _COUNT, ("ingest", "max_mag"): _positive,
    ("ingest", "catflags_mask"): _SIZE, ("ingest", "batch_size"): _COUNT,
    ("interp", "method"): _one_of("fast", "george"),
    ("interp", "n_phase"): _between(8, 4096), ("interp", "workers"): _COUNT,
    ("interp", "chunk_size"): _COUNT, ("interp", "min_points"): _at_least(3),
    ("interp", "stack"): _COUNT, ("interp", "lambda_low"): _positive,
    ("interp", "lambda_high"): _positive, ("interp", "n_restarts"): _SIZE,
    ("interp", "unphysical_tolerance"): _positive, ("interp", "split"): _split,
    ("interp", "seed"): _SIZE, ("interp", "lphi_bounds"): _bounds,
    ("interp", "llam_bounds"): _bounds, ("interp", "amp_bounds"): _bounds,
    ("interp", "noise_bounds"): _bounds, ("interp", "n_harmonics"): _COUNT,
    ("interp", "batch_size"): _COUNT,
    ("vae", "latent_dim"): _between(1, 256), ("vae", "filters"): _each(_COUNT),
    ("vae", "kernel"): _each(_COUNT, 2), ("vae", "strides"): _each(_COUNT, 2),
    ("vae", "dense"): _COUNT, ("vae", "dropout"): _between(0, 1, hi_open=True),
    ("vae", "batch_size"): _COUNT, ("vae", "epochs"): _COUNT, ("vae", "minutes"): _SIZE,
    ("vae", "patience"): _COUNT, ("vae", "learning_rate"): _positive,
    ("vae", "lr_schedule"): _one_of("cosine", "constant"), ("vae", "kl_weight"): _SIZE,
    ("vae", "align"): _one_of("faintest", "none"), ("vae", "n_decode"): _SIZE,
    ("vae", "max_train"): _SIZE, ("vae", "seed"): _SIZE, ("vae", "encode_batch"): _COUNT,
    ("score", "n_estimators"): _COUNT, ("score", "max_samples"): _at_least(2),
    ("score", "seed"): _SIZE, ("score", "spaces"): _spaces, ("score", "top_k"): _COUNT,
    ("score", "top_overlap"): _COUNT, ("score", "n_jobs"): _COUNT, ("score", "block"): _COUNT,
    ("score", "last_angle"): _one_of("paper", "blumenson"), ("score", "aad_trees"): _COUNT,
    ("score", "aad_space"): _space, ("score", "aad_prior_influence"): _SIZE,
    ("score", "aad_budget"): _between(1e-6, 1),
    ("context", "top_n"): _SIZE, ("context", "n_normal"): _SIZE,
    ("context", "normal_classes"): _SIZE, ("context", "radius_arcsec"): _between(1e-3, 3600),
    ("context", "timeout_s"): _positive, ("context", "retries"): _SIZE,
    ("context", "backoff_s"): _SIZE, ("context", "rate_per_s"): _SIZE,
    ("context", "max_consecutive_failures"): _COUNT, ("context", "max_query_s"): _SIZE,
    ("context", "extinction_mode"): _one_of("mean", "median"),
    ("context", "extinction_fallback"): _one_of("bh", "none"),
    ("context", "grid"): _one_of("auto", "oxygen", "carbon"), ("context", "min_bands"): _COUNT,
    ("context", "max_reduced_chi2"): _positive, ("context", "v_exp_kms"): _positive,
    ("context", "gas_to_dust"): _positive, ("context", "kappa10_silicate"): _positive,
    ("context", "kappa10_carbon"): _positive, ("context", "hr_background_rows"): _SIZE,
    ("pipeline", "workers"): _COUNT, ("pipeline", "scheduler"): _scheduler,
    ("pipeline", "dask_local"): _SIZE,
}


def _section_name(obj) -> str:
    return {IngestConfig: "ingest", InterpConfig: "interp", VAEConfig: "vae",
            ScoreConfig: "score", ContextConfig: "context",
            PipelineConfig: "pipeline"}[type(obj)]


def _type_error(value: Any, default: Any) -> str | None:
    """Why ``value`` cannot stand where ``default`` is (None when it can)."""
    want = type(default)
    if isinstance(default, bool) or isinstance(value, bool):
        return None if type(value) is want else f"must be {want.__name__}"
    if isinstance(default, float):
        if not isinstance(value, (int, float)):
            return "must be a number"
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(default, tuple):
        if not isinstance(value, tuple):
            return "must be a list"
        if default:
            for x in value:
                why = _type_error(x, default[0])
                if why:
                    return f"value {x!r} {why}"
        return None
    return None if isinstance(value, want) else f"must be {want.__name__}"


def check_section(obj) -> None:
    """Refuse a section whose settings have a wrong type, range or choice (ConfigError)."""
    section = _section_name(obj)
    defaults = type(obj).__dataclass_fields__
    for name, f in defaults.items():
        value = getattr(obj, name)
        why = _type_error(value, f.default)
        if why is None and (rule := RULES.get((section, name))):
            why = rule(value)
        if why:
            raise ConfigError(f"[{section}] {name} = {value!r}: {why}")
    if section == "interp" and not obj.lambda_low < obj.lambda_high:
        raise ConfigError(f"[interp] lambda_low = {obj.lambda_low} must be below "
                          f"lambda_high = {obj.lambda_high}")


def check_config(cfg: "Config") -> None:
    """Checks that span sections: the VAE's strides must divide the GP's phase grid; the
    spaces that read the reconstruction residual need it computed."""
    stride, n_conv = cfg.vae.strides[1], len(cfg.vae.filters)
    if cfg.vae.strides[0] != 1:
        raise ConfigError("[vae] strides: the band axis has 2 rows; its stride must be 1")
    if cfg.interp.n_phase % stride ** n_conv:
        raise ConfigError(f"[vae] strides = {list(cfg.vae.strides)}: [interp] n_phase = "
                          f"{cfg.interp.n_phase} is not divisible by {stride}^{n_conv} "
                          "(the phase stride to the power of the number of conv layers)")
    needs = [s for s in ("residual", "diagnostic") if s in cfg.score.spaces]
    if needs and cfg.vae.n_decode == 0:
        raise ConfigError(f"[score] spaces include '{needs[0]}', which needs the appendix-C "
                          "residual: [vae] n_decode = 0 skips it (set n_decode > 0, or drop "
                          f"'{needs[0]}' from [score] spaces)")


# -- reading and writing --------------------------------------------------------------------

def _coerce(cls, values: Mapping[str, Any], where: str, section: str, machine: bool):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, val in values.items():
        if key in RETIRED.get(section, ()):
            logger.warning("%s: [%s] %s is no longer used; ignored", where, section, key)
            continue
        if key not in fields:
            raise ConfigError(f"{where}: [{section}] unknown setting '{key}' "
                              f"(known: {', '.join(fields)})")
        if not machine and is_machine(section, key):
            logger.warning("%s: machine setting [%s] %s ignored (where pvsvet connects and "
                           "which paths it uses come from this machine, not from a store)",
                           where, section, key)
            continue
        default = fields[key].default
        if isinstance(default, tuple) and isinstance(val, list):
            val = tuple(val)
        elif isinstance(default, float) and isinstance(val, int) and not isinstance(val, bool):
            val = float(val)
        out[key] = val
    try:
        return cls(**out)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def from_dict(data: Mapping[str, Any], where: str = "config", machine: bool = True) -> Config:
    """A validated :class:`Config` from nested tables; ``machine=False`` drops machine
    settings (what a store holds)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: settings must be a table of sections")
    sections = {f.name for f in dataclasses.fields(Config)}
    kwargs = {}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"{where}: unknown section [{name}] (known: {', '.join(sections)})")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where}: [{name}] must be a table")
        cls = type(getattr(Config(), name))
        kwargs[name] = _coerce(cls, values, where, name, machine)
    try:
        return Config(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """The tables of a TOML file, or a ConfigError naming the file and what is wrong."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a TOML config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file ({exc.reason} at byte "
                          f"{exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def load(path: str | Path) -> Config:
    """Read a TOML config; missing settings take their defaults."""
    return from_dict(read_toml(path), str(path))


def to_dict(cfg) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def science_dict(cfg: Config) -> dict[str, Any]:
    """The settings that travel with a store: :func:`to_dict` without machine settings."""
    return {sec: {k: v for k, v in vals.items() if not is_machine(sec, k)}
            for sec, vals in to_dict(cfg).items()}


def science_of(section: str, stage_cfg) -> dict[str, Any]:
    """One section's science settings (what a stage's provenance hash should cover)."""
    return {k: v for k, v in to_dict(stage_cfg).items() if not is_machine(section, k)}


def dumps(cfg: Config) -> str:
    return tomli_w.dumps(to_dict(cfg))


# -- the one resolver ------------------------------------------------------------------------

#: Key of the saved science settings inside the store's ``/meta`` config JSON.
META_KEY = "run"


def machine_file() -> Path:
    """The user's machine settings: ``$PVSVET_MACHINE_CONFIG``, else
    ``$XDG_CONFIG_HOME/pvsvet/machine.toml`` (``~/.config/pvsvet/machine.toml``)."""
    if os.environ.get("PVSVET_MACHINE_CONFIG"):
        return Path(os.environ["PVSVET_MACHINE_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "pvsvet" / "machine.toml"


@dataclass(frozen=True)
class Resolved:
    """The settings of a command and where they came from."""

    config: Config
    source: str          # "file", "store" or "defaults": where the science settings came from
    machine: str         # "file", "machine file", "flags" or "defaults" (the last layer used)


def _machine_only(data: Mapping[str, Any], where: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for sec, vals in data.items():
        if not isinstance(vals, Mapping):
            raise ConfigError(f"{where}: [{sec}] must be a table")
        for key, val in vals.items():
            if not is_machine(sec, key):
                raise ConfigError(f"{where}: [{sec}] {key} is a science setting; the machine "
                                  "file holds only machine settings "
                                  f"({', '.join(f'[{s}] ' + ', '.join(sorted(k)) for s, k in MACHINE.items())})")
            out.setdefault(sec, {})[key] = val
    return out


def _merge(base: dict[str, dict[str, Any]], top: Mapping[str, Mapping[str, Any]]) -> None:
    for sec, vals in top.items():
        base.setdefault(sec, {}).update(vals)


def stored_settings(store_path) -> dict[str, Any] | None:
    """The science settings saved in a store by an earlier ``run --config`` or the demo."""
    from .store import Store

    with Store(store_path, "r") as store:
        saved = (store.meta.get("config") or {}).get(META_KEY)
    return saved if isinstance(saved, Mapping) and saved else None


def resolve(store=None, toml: str | Path | None = None,
            overrides: Mapping[str, Mapping[str, Any]] | None = None,
            base: Config | None = None) -> Resolved:
    """The settings of a command: science from ``toml``, else the store's saved ones,
    else ``base`` (the defaults); machine settings from the defaults, then the machine
    file, then ``toml``, then ``overrides`` (command-line flags, ``{section: {key: v}}``;
    ``None`` values are skipped). Everything is validated; a ConfigError names the file,
    section and key.
    """
    layers: dict[str, dict[str, Any]] = {}
    source, machine = "defaults", "defaults"
    if base is not None:
        _merge(layers, science_dict(base))
    if toml is None and store is not None:
        saved = stored_settings(store)
        if saved:
            where = f"{store} (settings saved by an earlier run)"
            _merge(layers, science_dict(from_dict(saved, where, machine=False)))
            source = "store"
    mfile = machine_file()
    if mfile.is_file():
        _merge(layers, _machine_only(read_toml(mfile), str(mfile)))
        machine = "machine file"
    if toml is not None:
        data = read_toml(toml)
        from_dict(data, str(toml))          # the file alone must be valid
        _merge(layers, data)
        source = machine = "file"
    flags = {sec: {k: v for k, v in vals.items() if v is not None}
             for sec, vals in (overrides or {}).items()}
    flags = {sec: vals for sec, vals in flags.items() if vals}
    if flags:
        _merge(layers, flags)
        machine = "flags" if all(is_machine(s, k) for s, v in flags.items() for k in v) else machine
    where = "command-line options" if flags else str(toml or store or "settings")
    return Resolved(from_dict(layers, where), source, machine)


def save(store_path, cfg: Config) -> None:
    """Keep the science settings in ``/meta`` so a later command on this store reuses them."""
    from .store import Store

    with Store(store_path, "a") as store:
        meta_cfg = dict(store.meta.get("config") or {})
        meta_cfg[META_KEY] = science_dict(cfg)
        store.set_config(meta_cfg)


def config_hash(stage_cfg, *extra: Any, ignore: tuple[str, ...] = ()) -> str:
    """Stable short hash of a stage config's science settings (machine settings and
    ``ignore`` left out) plus extra inputs (input hashes, versions)."""
    values = {k: v for k, v in science_of(_section_name(stage_cfg), stage_cfg).items()
              if k not in ignore}
    blob = json.dumps([values, [str(e) for e in extra]], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
