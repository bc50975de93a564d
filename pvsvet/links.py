"""Link-outs per object: the web pages astronomers already use, as URLs (no Qt).

The GUI opens these in a browser (the table's context menu, Object ▸ Open in); the URLs
are built here so they are tested without a window. Coordinates are ICRS degrees; a ZTF
data-release object id (15–16 digits, as IRSA and SNAD's viewer number them) is used
where the object has one, else a cone around the coordinates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote, urlencode

#: Cone radius for the coordinate look-ups, arcsec: ZTF's seeing is ~2", its astrometry
#: better than 0.1"; 2" finds the object without its neighbours in most fields.
CONE_ARCSEC = 2.0
#: Aladin Lite's field of view, degrees (about 2 arcmin: the star and its surroundings).
ALADIN_FOV = 0.033
ALADIN_SURVEY = "P/PanSTARRS/DR1/color-z-zg-g"


@dataclass(frozen=True)
class Target:
    """What a link needs of an object: its id and ICRS position (degrees; NaN unknown)."""

    object_id: str
    ra: float
    dec: float

    @property
    def has_position(self) -> bool:
        return all(math.isfinite(v) for v in (self.ra, self.dec)) and -90 <= self.dec <= 90

    @property
    def ztf_oid(self) -> str:
        """The ZTF DR object id, '' when the id is not one (a catalogue id, a name)."""
        s = self.object_id.strip()
        return s if s.isdigit() and 15 <= len(s) <= 16 else ""


def _coords(t: Target, sep: str = " ") -> str:
    return f"{t.ra:.6f}{sep}{t.dec:+.6f}"


def simbad(t: Target) -> str:
    """SIMBAD's coordinate query (a cone of :data:`CONE_ARCSEC`)."""
    return "https://simbad.cds.unistra.fr/simbad/sim-coo?" + urlencode(
        {"Coord": _coords(t), "CooFrame": "ICRS", "CooEpoch": "2000", "CooEqui": "2000",
         "Radius": f"{CONE_ARCSEC:g}", "Radius.unit": "arcsec", "submit": "submit query"})


def snad_viewer(t: Target) -> str:
    """SNAD's ZTF viewer: the object's page for a ZTF DR id, else its cone search
    (``/search/<coordinates>/<radius arcsec>``, the viewer's own URL scheme)."""
    if t.ztf_oid:
        return f"https://ztf.snad.space/view/{t.ztf_oid}"
    return f"https://ztf.snad.space/search/{quote(_coords(t), safe='')}/{CONE_ARCSEC:g}"


def irsa_lightcurve(t: Target) -> str:
    """IRSA's ZTF light-curve service (the API pvsvet fetches from), as a table a browser
    shows: by ZTF DR id where known, else a cone."""
    if t.ztf_oid:
        query = {"ID": t.ztf_oid}
    else:
        query = {"POS": f"CIRCLE {_coords(t)} {CONE_ARCSEC / 3600:.6f}"}
    return ("https://irsa.ipac.caltech.edu/cgi-bin/ZTF/nph_light_curves?"
            + urlencode({**query, "FORMAT": "HTML"}))


def aladin_lite(t: Target) -> str:
    """Aladin Lite centred on the object (PanSTARRS colour, ~2 arcmin field)."""
    return "https://aladin.cds.unistra.fr/AladinLite/?" + urlencode(
        {"target": _coords(t), "fov": f"{ALADIN_FOV:g}", "survey": ALADIN_SURVEY})


#: (menu text, builder, needs a position) in menu order.
LINKS = (
    ("SIMBAD", simbad, True),
    ("SNAD ZTF viewer", snad_viewer, False),
    ("IRSA ZTF light curve", irsa_lightcurve, False),
    ("Aladin Lite", aladin_lite, True),
)


def links(t: Target) -> list[tuple[str, str | None]]:
    """``(name, url)`` for every link; url None where the object lacks what the link needs
    (no coordinates and no ZTF id), so a menu shows the entry disabled with a reason."""
    out = []
    for name, build, needs_position in LINKS:
        usable = t.has_position or (not needs_position and t.ztf_oid)
        out.append((name, build(t) if usable else None))
    return out
