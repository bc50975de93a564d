"""Write the recorded VizieR answers used by tests/engine/test_context_crossmatch.py.

VizieR's VOTable 1.4 output (``-out.form=mini``) for the five catalogues of the context
stage, with their real column names, units and UCDs, for three synthetic stars whose
photometry comes from DESK grid models (so the end-to-end fit has a known answer).
Run from the repository root: ``python tests/data/context/make_votables.py``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from engine.context import dusty, sed

HERE = Path(__file__).parent
HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<VOTABLE version="1.4" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns="http://www.ivoa.net/xml/VOTable/v1.3"
  xsi:schemaLocation="http://www.ivoa.net/xml/VOTable/v1.3 http://www.ivoa.net/xml/VOTable/v1.3">
 <DESCRIPTION>
   VizieR Astronomical Server vizier.cds.unistra.fr
    Date: 2024-05-02T10:11:12 [V7.33.3]
   In case of problem, please report to:	cds-question@unistra.fr
 </DESCRIPTION>
<!-- VOTable description at http://www.ivoa.net/Documents/latest/VOT.html -->
<INFO ID="VERSION" name="votable-version" value="1.99+ (14-Oct-2013)"/>
<INFO ID="Ref" name="-ref" value="VOTx12345"/>
<INFO name="-out.form" value="mini"/>
<INFO name="MaxTuples" value="50000" />
<INFO name="queryParameters" value="6">
-oc.form=dec
-out.max=20
-source={source}
-c={c}
-c.rs=2.0
-out.form=mini
</INFO>
"""
F = ('<FIELD name="{n}" ucd="{u}" datatype="{t}"{w}{unit}>\n'
     '  <DESCRIPTION>{d}</DESCRIPTION>\n</FIELD>\n')

# catalogue -> (resource ID, table name, description, [(name, ucd, datatype, unit, width/prec)])
POS_ICRS = [("RA_ICRS", "pos.eq.ra;meta.main", "double", "deg", ' width="15" precision="11"'),
            ("DE_ICRS", "pos.eq.dec;meta.main", "double", "deg", ' width="15" precision="11"')]
POS_J2000 = [("RAJ2000", "pos.eq.ra;meta.main", "double", "deg", ' width="10" precision="6"'),
             ("DEJ2000", "pos.eq.dec;meta.main", "double", "deg", ' width="10" precision="6"')]


def _mag(name, band_ucd, prec=4):
    w = f' width="7" precision="{prec}"'
    return [(name, f"phot.mag;{band_ucd}", "double", "mag", w),
            (f"e_{name}", f"stat.error;phot.mag", "double", "mag", w)]


CATS = {
    "I/355/gaiadr3": ("yCat_1355", "I/355/gaiadr3", "Gaia DR3 Part 1. Main source",
                      POS_ICRS + [("Source", "meta.id;meta.main", "long", "", ' width="19"'),
                                  ("Plx", "pos.parallax.trig", "double", "mas", ' width="9" precision="4"'),
                                  ("e_Plx", "stat.error;pos.parallax.trig", "float", "mas", ' width="7" precision="4"')]
                      + _mag("Gmag", "em.opt") + _mag("BPmag", "em.opt.B") + _mag("RPmag", "em.opt.R")),
    "I/352/gedr3dis": ("yCat_1352", "I/352/gedr3dis", "Distances to 1.47 billion stars in Gaia EDR3",
                       POS_ICRS + [("Source", "meta.id;meta.main", "long", "", ' width="19"'),
                                   ("rgeo", "pos.distance;stat.median", "double", "pc", ' width="15" precision="8"'),
                                   ("b_rgeo", "pos.distance;stat.min", "double", "pc", ' width="15" precision="8"'),
                                   ("B_rgeo", "pos.distance;stat.max", "double", "pc", ' width="15" precision="8"')]),
    "II/349/ps1": ("yCat_2349", "II/349/ps1", "Pan-STARRS release 1 (PS1) Survey - DR1",
                   POS_J2000 + [("objID", "meta.id;meta.main", "long", "", ' width="18"')]
                   + sum((_mag(f"{b}mag", u) for b, u in zip("grizy", (
                       "em.opt.B", "em.opt.R", "em.opt.I", "em.opt.I", "em.IR.NIR"))), [])),
    "II/246/out": ("yCat_2246", "II/246/out", "2MASS All-Sky Catalog of Point Sources",
                   POS_J2000 + [("2MASS", "meta.id;meta.main", "char", "", ' arraysize="17"')]
                   + _mag("Jmag", "em.IR.J", 3) + _mag("Hmag", "em.IR.H", 3) + _mag("Kmag", "em.IR.K", 3)),
    "II/328/allwise": ("yCat_2328", "II/328/allwise", "AllWISE Data Release",
                       POS_J2000 + [("AllWISE", "meta.id;meta.main", "char", "", ' arraysize="19"')]
                       + _mag("W1mag", "em.IR.3-4um", 3) + _mag("W2mag", "em.IR.4-8um", 3)
                       + _mag("W3mag", "em.IR.8-15um", 3) + _mag("W4mag", "em.IR.15-30um", 3)),
}

#: The recorded stars: name, ra, dec, DESK model (grid, index), L (L_sun), distance (pc).
STARS = [("star_a", 286.2525, 10.0781, "oxygen", 502, 8000.0, 2000.0),
         ("star_b", 300.5951, 29.8611, "carbon", 201, 15000.0, 3500.0),
         ("star_c", 45.1234, -12.5, "oxygen", 1201, 3000.0, 900.0)]


def _photometry(grid, index, lum, dist):
    g = dusty.load_grid(grid)
    lf = g.at(sed.WAVELENGTH_UM)[index] * lum * dusty.flux_scale(dist)
    return dict(zip(sed.BAND_NAMES, sed.jy_to_mag(sed.lam_flam_to_jy(lf))))


def _rows(cat, star, mags, rng):
    name, ra, dec, _, _, _, dist = star
    src = 4300000000000000000 + int(ra * 1e4)
    near = {"RA_ICRS": ra, "DE_ICRS": dec, "RAJ2000": ra + 2e-6, "DEJ2000": dec - 1e-6,
            "Source": src, "Plx": 1000.0 / dist, "e_Plx": 0.05, "rgeo": dist,
            "b_rgeo": 0.9 * dist, "B_rgeo": 1.1 * dist, "objID": 120000000000000000 + int(ra * 1e3),
            "2MASS": f"{ra:08.4f}{dec:+08.4f}"[:17], "AllWISE": f"J{ra:09.5f}{dec:+09.5f}"[:19],
            "Gmag": mags["r"] + 0.2, "BPmag": mags["g"] - 0.1, "RPmag": mags["i"] - 0.3,
            "Kmag": mags["Ks"]}
    for b in sed.BAND_NAMES:
        near.setdefault(f"{b}mag", mags[b])
    far = dict(near, RA_ICRS=ra + 4e-4, DE_ICRS=dec + 1e-4, RAJ2000=ra + 4e-4, DEJ2000=dec + 1e-4,
               Source=src + 7, rgeo=dist * 0.3, b_rgeo=dist * 0.25, B_rgeo=dist * 0.35,
               objID=near["objID"] + 7, **{k: v + 3.0 for k, v in near.items() if k.endswith("mag")})
    out = []
    for rec in (far, near) if cat != "II/246/out" else (near,):   # nearest is not always first
        cells = []
        for fname, _, _, _, width in CATS[cat][3]:
            prec = re.search(r'precision="(\d+)"', width)
            if fname.startswith("e_") and fname.endswith("mag"):
                val = "" if fname == "e_W4mag" and name == "star_c" else f"{0.03:.3f}"
            elif fname in rec:
                v = rec[fname]
                val = f"{v:.{prec.group(1) if prec else 8}f}" if isinstance(v, float) else str(v)
            else:
                val = ""
            cells.append(f"<TD>{val}</TD>")
        out.append("<TR>" + "".join(cells) + "</TR>")
    return out


def votable(cat, star, rows):
    rid, tname, desc, fields = CATS[cat]
    c = f"{star[1]:.8f}{star[2]:+.8f}"
    body = HEADER.format(source=cat, c=c)
    body += f'<RESOURCE ID="{rid}" name="{cat.split("/")[0]}/{cat.split("/")[1]}">\n'
    body += f"  <DESCRIPTION>{desc}</DESCRIPTION>\n"
    body += f'  <TABLE ID="{tname.replace("/", "_")}" name="{tname}">\n'
    body += f"    <DESCRIPTION>{desc}</DESCRIPTION>\n"
    for n, u, t, unit, w in fields:
        body += F.format(n=n, u=u, t=t, w=w, unit=f' unit="{unit}"' if unit else "", d=n)
    body += "<DATA><TABLEDATA>\n" + "\n".join(rows) + "\n</TABLEDATA></DATA>\n"
    body += "</TABLE>\n</RESOURCE>\n</VOTABLE>\n"
    return body


EMPTY = HEADER + ('<INFO name="Warning" value="No object found around the position"/>\n'
                  '<RESOURCE ID="yCat_empty" name="empty">\n</RESOURCE>\n</VOTABLE>\n')


def main():
    rng = np.random.default_rng(0)
    index = []
    for star in STARS:
        mags = _photometry(star[3], star[4], star[5], star[6])
        for cat in CATS:
            if star[0] == "star_c" and cat == "II/349/ps1":
                continue                      # no PS1 source: the "no match" case
            path = HERE / f"{star[0]}__{cat.replace('/', '_')}.vot.xml"
            path.write_text(votable(cat, star, _rows(cat, star, mags, rng)))
        index.append({"name": star[0], "ra": star[1], "dec": star[2], "grid": star[3],
                      "model": star[4], "lum_lsun": star[5], "distance_pc": star[6]})
    (HERE / "empty.vot.xml").write_text(EMPTY.format(source="none", c="0+0"))
    (HERE / "stars.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main()
