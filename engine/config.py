"""Stage configuration: one frozen dataclass per stage, defaults as in DESIGN.md section 1.

A whole-pipeline :class:`Config` round-trips through TOML (``[interp]``, ``[vae]``,
``[score]``, ``[context]``, ``[pipeline]`` tables). :func:`config_hash` of a stage
config decides whether a stage is stale.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

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


@dataclass(frozen=True)
class ScoreConfig:
    """Isolation forests, sections 2.3-2.4, and active anomaly detection (AAD)."""

    n_estimators: int = 5000     # paper footnote 2: 5,000 trees give a converged ranking
    max_samples: int = 256       # scikit-learn's "auto" for large N (capped at N)
    contamination: str = "auto"  # kept for scikit-learn parity; ranks do not depend on it
    seed: int = 0
    spaces: tuple[str, ...] = ("cartesian", "spherical")
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
    rate_per_s: float = 2.0      # polite request rate
    max_consecutive_failures: int = 3  # objects in a row with failed queries: go offline
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


@dataclass(frozen=True)
class PipelineConfig:
    """Where ``pvsvet-engine run`` sends chunked work (engine.pipeline, engine.executors).

    These settings change speed, never results, so they never make a stage stale.
    """

    workers: int = 2             # local worker processes (1: everything in the driver)
    scheduler: str = ""          # address of a running dask scheduler (tcp://host:8786)
    dask_local: int = 0          # >0: start a dask LocalCluster with this many workers


@dataclass(frozen=True)
class Config:
    ingest: IngestConfig = field(default_factory=IngestConfig)
    interp: InterpConfig = field(default_factory=InterpConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    context: ContextConfig = field(default_factory=ContextConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)


def _coerce(cls, values: dict[str, Any], where: str):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, val in values.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown setting '{key}' (known: {', '.join(fields)})")
        default = getattr(cls(), key) if not isinstance(fields[key].default_factory, type) else None
        if isinstance(default, tuple) and isinstance(val, list):
            val = tuple(val)
        elif isinstance(default, float) and isinstance(val, int) and not isinstance(val, bool):
            val = float(val)
        if default is not None and not isinstance(val, type(default)):
            raise ConfigError(f"{where}: setting '{key}' must be {type(default).__name__}, got {val!r}")
        out[key] = val
    return cls(**out)


def from_dict(data: dict[str, Any], where: str = "config") -> Config:
    sections = {f.name: f.type for f in dataclasses.fields(Config)}
    kwargs = {}
    for name, values in data.items():
        if name not in sections:
            raise ConfigError(f"{where}: unknown section [{name}] (known: {', '.join(sections)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{name}] must be a table")
        cls = type(getattr(Config(), name))
        kwargs[name] = _coerce(cls, values, f"{where} [{name}]")
    return Config(**kwargs)


def load(path: str | Path) -> Config:
    """Read a TOML config; missing settings take their defaults."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    return from_dict(data, str(path))


def to_dict(cfg) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise ConfigError(f"cannot write {v!r} to TOML")


def dumps(cfg: Config) -> str:
    lines = []
    for section, values in to_dict(cfg).items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)


def config_hash(stage_cfg, *extra: Any) -> str:
    """Stable short hash of a stage config plus extra inputs (input hashes, versions)."""
    blob = json.dumps([to_dict(stage_cfg), [str(e) for e in extra]], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
