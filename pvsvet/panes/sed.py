"""SED of the current object: dereddened λFλ against λ (log-log) with the dust-shell fit."""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..state import AppState
from .common import LogAxis, MessagePlot

logger = logging.getLogger(__name__)

#: (key in the fit dict, label (rich text), unit, format) of the fit parameters shown.
FIT_PARAMS = (("teff", "T<sub>eff</sub>", "K", "{:.0f}"), ("lum", "L", "L<sub>☉</sub>", "{:.3g}"),
              ("tau10", "τ<sub>10 µm</sub>", "", "{:.3g}"),
              ("t_inner", "T<sub>in</sub>", "K", "{:.0f}"), ("r_in", "R<sub>in</sub>", "cm", "{:.3g}"),
              ("mdot", "Ṁ<sub>dust</sub>", "M<sub>☉</sub>/yr", "{:.2e}"),
              ("mdot_total", "Ṁ<sub>gas+dust</sub>", "M<sub>☉</sub>/yr", "{:.2e}"),
              ("chi2", "χ²", "", "{:.3g}"), ("grid", "grid", "", "{}"),
              ("kappa10", "κ<sub>10 µm</sub>", "cm²/g", "{:.3g}"))
_ALIASES = {"teff": ("teff", "Teff", "T_eff"), "lum": ("lum_lsun", "lum", "L", "luminosity"),
            "tau10": ("tau10", "tau", "tau_10"), "r_in": ("r_in_cm", "r_in", "R_in"),
            "mdot": ("mdot_dust", "mdot", "Mdot"), "chi2": ("chi2", "chisq"),
            "grid": ("grid", "grid_name")}
#: Catalogue classes of long-period variables, the stars a dust shell is expected around
#: (compared case-insensitively; the Chen et al. classes and GCVS/Gaia LPV names).
DUST_CLASSES = {"mira", "sr", "sra", "srb", "src", "srd", "lpv", "m", "agb", "osarg", "l",
                "lb", "lc"}
#: α_IR above this is an infrared excess (the Class II/III boundary of Greene et al. 1994;
#: a bare photosphere has α_IR ≈ −3 between Ks and W1).
IR_EXCESS_ALPHA = -1.6
#: A luminosity outside this range (L☉) is not a star's.
PHYSICAL_L = (1.0, 1e7)


def _get(d: dict, key: str) -> Any:
    return next((d[k] for k in _ALIASES.get(key, (key,)) if k in d), None)


def sed_points(sed: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wavelength (µm), λFλ and its error (W m⁻²) of an SED dict from ``engine.context``."""
    lam = next((sed[k] for k in ("wavelength_um", "lam_um", "wavelength") if k in sed), None)
    if lam is None:
        from engine.context.sed import WAVELENGTH_UM
        lam = WAVELENGTH_UM
    lf = np.asarray(sed["lam_flam"], "f8")
    err = np.asarray(sed.get("lam_flam_err", np.zeros_like(lf)), "f8")
    return np.asarray(lam, "f8"), lf, err


def fit_curve(fit: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """The model SED (µm, W m⁻²) of a dust-shell fit, if the fit carries one."""
    model = fit.get("model") if isinstance(fit.get("model"), dict) else fit
    lam = next((model[k] for k in ("model_wavelength_um", "wavelength_um", "lam_um")
                if k in model), None)
    lf = next((model[k] for k in ("model_lam_flam", "lam_flam") if k in model), None)
    if lam is None or lf is None:
        return None
    return np.asarray(lam, "f8"), np.asarray(lf, "f8")


def fit_refusal(ctx: dict, cls: str) -> str:
    """Why the dust-shell fit of ``ctx`` must not be drawn ('' when it may).

    Drawn only for a dust-shell candidate (a long-period variable, or an infrared excess)
    and an acceptable fit: the context stage flags a fit POOR_FIT when its reduced χ²
    exceeds the run's ``max_reduced_chi2`` or its L is unphysical, and FIT_FAILED when
    there is none; L must be finite and stellar here as well.
    """
    from engine.context import ContextStatus

    fit = ctx.get("fit")
    if not isinstance(fit, dict):
        return "no dust-shell fit"
    alpha = ctx.get("alpha_ir")
    excess = alpha is not None and np.isfinite(alpha) and alpha > IR_EXCESS_ALPHA
    if cls.strip().lower() not in DUST_CLASSES and not excess:
        return (f"no dust-shell fit shown: not a dust-shell candidate (class "
                f"{cls or 'unclassified'}, no infrared excess: α_IR ≤ {IR_EXCESS_ALPHA})")
    status = int(ctx.get("status", 0) or 0)
    if status & int(ContextStatus.POOR_FIT | ContextStatus.FIT_FAILED):
        return "dust-shell fit not shown: " + _fit_message(ctx)
    lum = _get(fit, "lum")
    if lum is None or not np.isfinite(lum) or not PHYSICAL_L[0] <= lum <= PHYSICAL_L[1]:
        return f"dust-shell fit not shown: unphysical luminosity (L = {lum:.3g} L☉)"
    return ""


def _fit_message(ctx: dict) -> str:
    parts = [p.strip() for p in str(ctx.get("message") or "").split(";")]
    fit = [p for p in parts if "fit" in p]
    return fit[0] if fit else "the fit was rejected by the context stage"


def short_message(text: str, keep: int = 2) -> str:
    """At most ``keep`` distinct parts of a '; '-joined status message, and a count."""
    parts = list(dict.fromkeys(p.strip() for p in str(text).split(";") if p.strip()))
    more = f" (+{len(parts) - keep} more)" if len(parts) > keep else ""
    return "; ".join(parts[:keep]) + more


def fit_text(fit: dict, alpha_ir: float | None) -> str:
    parts = []
    for key, label, unit, fmt in FIT_PARAMS:
        val = _get(fit, key)
        if val is None or (isinstance(val, float) and not np.isfinite(val)):
            continue
        parts.append(f"{label} = {fmt.format(val)} {unit}".strip())
    if alpha_ir is not None and np.isfinite(alpha_ir):
        parts.append(f"α<sub>IR</sub> = {alpha_ir:.2f}")
    # the paper fits GRAMS: say why another grid was used (the stage's note)
    note = "" if str(_get(fit, "grid") or "").startswith("grams") else fit.get("grid_note", "")
    return " · ".join(parts) + (f"<br>{note}" if note else "")


class SEDPane(QWidget):
    """Log-log SED of the current object."""

    def __init__(self, state: AppState, parent=None):
        super().__init__(parent)
        self.state = state
        self.row: int | None = None
        self.shown: tuple[np.ndarray, np.ndarray] | None = None
        self.fit_shown = False
        self.pw = pg.PlotWidget(axisItems={"bottom": LogAxis("bottom"),
                                           "left": LogAxis("left")})
        pi = self.pw.getPlotItem()
        pi.setLabel("bottom", "λ [µm]")
        pi.setLabel("left", "λF<sub>λ</sub> [W m⁻²]")
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.setMenuEnabled(False)
        for name in ("bottom", "left"):
            pi.getAxis(name).enableAutoSIPrefix(False)
        pi.setLogMode(x=True, y=True)
        self.box = MessagePlot(self.pw)
        self.params = QLabel(wordWrap=True)
        self.params.setTextFormat(Qt.RichText)
        self.params.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.box, 1)
        lay.addWidget(self.params)
        state.selection.changed.connect(self.on_selection)
        state.loaded.connect(lambda s: self.redraw())
        self.redraw()

    def on_selection(self, sel, source) -> None:
        if sel.current != self.row:
            self.row = sel.current
            self.redraw()

    def redraw(self) -> None:
        pi = self.pw.getPlotItem()
        pi.clear()
        self.shown, self.fit_shown = None, False
        self.params.setText("")
        if self.row is None or self.state.path is None:
            self.box.say("select an object in the table")
            return
        if not self._has_position(self.row):
            self.box.say("no position: no cross-match")
            return
        if "context" not in self.state.groups:
            self.box.say("no cross-match yet — Run ▸ Context")
            return
        det = self.state.detail(self.row)
        if det.busy:
            self.box.say("store busy (a run is committing) — retrying")
            return
        ctx = det.context
        if not ctx or ctx.get("sed") is None:
            self.box.say(short_message(det.context_message) or "no SED for this object")
            return
        try:
            self._draw(ctx)
        except (KeyError, ValueError, TypeError) as exc:
            logger.warning("SED of row %d unreadable: %s", self.row, exc)
            self.box.say(f"SED unreadable: {exc}")

    def _has_position(self, row: int) -> bool:
        extra = self.state.catalog.extra
        if "ra" not in extra or "dec" not in extra:
            return True          # the store does not say: let the context speak
        return bool(np.isfinite(extra["ra"][row]) and np.isfinite(extra["dec"][row]))

    def _draw(self, ctx: dict) -> None:
        lam, lf, err = sed_points(ctx["sed"])
        ok = np.isfinite(lf) & (lf > 0) & np.isfinite(lam)
        pi = self.pw.getPlotItem()
        refusal = fit_refusal(ctx, self.state.catalog.text("class", self.row))
        other = [p for p in str(ctx.get("message") or "").split(";") if "fit" not in p]
        notes = [short_message(";".join(other)), refusal]
        if ctx.get("synthetic"):
            notes.append("synthetic context (demo data)")
        if not ok.any():
            self.box.say(" · ".join(n for n in notes + ["no photometry"] if n))
            return
        lx, ly = np.log10(lam[ok]), np.log10(lf[ok])
        # errors in dex for the log axes: d log10 f = err / (f ln 10)
        dy = np.nan_to_num(err[ok] / (lf[ok] * np.log(10)))
        pi.addItem(pg.ErrorBarItem(x=lx, y=ly, height=2 * dy, beam=0, pen=pg.mkPen("#bbbbbb")))
        pi.plot(lam[ok], lf[ok], pen=None, symbol="o", symbolSize=8, symbolBrush="#f28e2b",
                symbolPen=pg.mkPen("k"))
        self.shown = (lam[ok], lf[ok])
        fit = ctx.get("fit")
        if not refusal:
            curve = fit_curve(fit)
            if curve is not None:
                m = np.isfinite(curve[1]) & (curve[1] > 0)
                pi.plot(curve[0][m], curve[1][m], pen=pg.mkPen("#4e79a7", width=2))
                self.fit_shown = True
            self.params.setText(fit_text(fit, ctx.get("alpha_ir")))
        else:
            a = ctx.get("alpha_ir")
            if a is not None and np.isfinite(a):
                self.params.setText(f"α<sub>IR</sub> = {a:.2f}")
        # frame the photometry (the model grid runs from 0.01 to 10^4 micron and would
        # squash the points into a corner of a 20-decade axis)
        pi.setXRange(min(lx.min(), np.log10(0.3)) - 0.1, max(lx.max(), np.log10(30)) + 0.1,
                     padding=0)
        pi.setYRange(ly.min() - 1.5, ly.max() + 0.7, padding=0)
        self.box.say(" · ".join(n for n in notes if n))
