"""Named places in news prose: a small gazetteer of north-west Syria (a hint, not an authority) and
capitalised names after "in / near / from / around" as a fallback.

Admin-1 p-codes are OCHA's COD-AB codes (SY02 Aleppo, SY05 Hama, SY06 Lattakia, SY07 Idleb), as in
HDX HAPI's Syria rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# canonical name -> (spellings as published, admin1 code, admin1 name, country iso3, level)
GAZETTEER: dict[str, tuple[tuple[str, ...], str, str, str, str]] = {
    "Maarat al-Numan": (("Maarat al-Numan", "Maaret al-Numan", "Maarat al-Nouman", "Maarat al-Noman",
                         "Ma'arrat al-Nu'man", "Maarrat al-Numan", "Ma'arat al-Numan", "Maaret al-Noaman",
                         "Ma'arrat an-Nu'man", "Maarat al Numan", "Maarat Al-Numan"), "SY07", "Idleb", "SYR", "town"),
    "Khan Sheikhoun": (("Khan Sheikhoun", "Khan Shaykhun", "Khan Sheikhun", "Khan Shaikhoun"), "SY07", "Idleb", "SYR", "town"),
    "Saraqib": (("Saraqib", "Saraqeb"), "SY07", "Idleb", "SYR", "town"),
    "Ariha": (("Ariha",), "SY07", "Idleb", "SYR", "town"),
    "Jisr al-Shughur": (("Jisr al-Shughur", "Jisr al-Shughour", "Jisr ash-Shughur", "Jisr al-Shugur",
                         "Jisr Al-Shughur"), "SY07", "Idleb", "SYR", "town"),
    "Dana": (("Dana",), "SY07", "Idleb", "SYR", "town"),
    "Atmeh": (("Atmeh", "Atma"), "SY07", "Idleb", "SYR", "town"),
    "Sarmada": (("Sarmada",), "SY07", "Idleb", "SYR", "town"),
    "Kafranbel": (("Kafranbel", "Kafr Nabl", "Kafranbel"), "SY07", "Idleb", "SYR", "town"),
    "Binnish": (("Binnish", "Binnsh"), "SY07", "Idleb", "SYR", "town"),
    "Sarmin": (("Sarmin",), "SY07", "Idleb", "SYR", "town"),
    "Harim": (("Harim", "Harem"), "SY07", "Idleb", "SYR", "town"),
    "Salqin": (("Salqin",), "SY07", "Idleb", "SYR", "town"),
    "Idlib": (("Idlib", "Idleb"), "SY07", "Idleb", "SYR", "governorate"),
    "Aleppo": (("Aleppo",), "SY02", "Aleppo", "SYR", "governorate"),
    "Atarib": (("al-Atarib", "Al-Atarib", "Atarib", "Atareb"), "SY02", "Aleppo", "SYR", "town"),
    "Azaz": (("Azaz", "A'zaz", "Aazaz"), "SY02", "Aleppo", "SYR", "town"),
    "Afrin": (("Afrin",), "SY02", "Aleppo", "SYR", "town"),
    "Hama": (("Hama",), "SY05", "Hama", "SYR", "governorate"),
    "Kafr Zita": (("Kafr Zita", "Kafr Zeita", "Kafrzita"), "SY05", "Hama", "SYR", "town"),
    "Latamneh": (("Latamneh", "al-Latamneh", "Al-Latamneh"), "SY05", "Hama", "SYR", "town"),
    "Morek": (("Morek", "Murak"), "SY05", "Hama", "SYR", "town"),
    "Lattakia": (("Latakia", "Lattakia"), "SY06", "Lattakia", "SYR", "governorate"),
    "Turkish border": (("Turkish border", "border with Turkey", "Syrian-Turkish border", "Turkey border"),
                       "", "", "SYR", "border"),
    "North-west Syria": (("north-west Syria", "North-west Syria", "northwest Syria", "Northwest Syria",
                          "north-western Syria", "northwestern Syria", "Northwestern Syria", "NW Syria"),
                         "", "", "SYR", "region"),
    "Syria": (("Syria",), "", "", "SYR", "country"),
}

_ALIASES = sorted(((alias, name) for name, (aliases, *_rest) in GAZETTEER.items() for alias in aliases),
                  key=lambda kv: len(kv[0]), reverse=True)
_GAZ_RE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(a) for a, _ in _ALIASES) + r")(?![\w-])")
_ALIAS_TO_NAME = dict(_ALIASES)

# words that look like places after "in"/"from" but are not
_NOT_PLACES = {
    "the", "a", "an", "this", "that", "his", "her", "their", "its", "our", "russian", "turkish", "syrian",
    "government", "president", "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "un", "united", "reuters", "afp", "ap", "ocha", "unicef", "unhcr", "who",
    "islamic", "assad", "moscow", "ankara", "geneva", "washington", "new", "january's",
}
_CAP_RE = re.compile(
    r"\b(?P<prep>in|near|from|around|outside|fled|town of|village of|city of|province of)\s+"
    r"(?P<name>(?:al-|el-)?[A-Z][a-z'’]+(?:-[A-Za-z'’]+)*(?:\s+(?:(?:al|el|ash|as|an|ar|ad|at|az)-)?[A-Z][a-z'’]+(?:-[A-Za-z'’]+)*){0,2})"
)


@dataclass
class Place:
    start: int
    end: int
    name: str
    as_published: str
    admin1_code: str
    admin1_name: str
    country_iso3: str
    level: str
    destination: bool  # "to/towards/into X": where people went, not where the figure happened
    near: bool


_SPECIFICITY = {"town": 0, "border": 1, "governorate": 1, "region": 2, "country": 3, "other": 1}


def find_places(text: str) -> list[Place]:
    """Gazetteer places first; capitalised names after a preposition where no gazetteer name is."""
    out: list[Place] = []
    for m in _GAZ_RE.finditer(text):
        name = _ALIAS_TO_NAME[m.group(1)]
        aliases, code, admin1, iso3, level = GAZETTEER[name]
        out.append(_place(text, m.start(), m.end(), name, code, admin1, iso3, level))
    for m in _CAP_RE.finditer(text):
        s, e = m.start("name"), m.end("name")
        if any(not (e <= p.start or s >= p.end) for p in out):
            continue
        name = m.group("name")
        first = name.split()[0].lower()
        if first in _NOT_PLACES or name.lower() in _NOT_PLACES:
            continue
        out.append(_place(text, s, e, name, "", "", "", "other"))
    return sorted(out, key=lambda p: p.start)


def _place(text, s, e, name, code, admin1, iso3, level) -> Place:
    before = text[max(0, s - 30) : s]
    destination = re.search(r"\b(?:to|towards|toward|into|reached|reach|reaching)\s+(?:the\s+)?$", before, re.I) is not None
    near = re.search(r"\b(?:near|outside|around)\s+(?:the\s+)?$", before, re.I) is not None
    shown = text[s:e]
    if near:
        shown = re.search(r"(?:near|outside|around)\s+(?:the\s+)?$", before, re.I).group(0) + shown
    return Place(s, e, name, shown, code, admin1, iso3, level, destination, near)


def nearest_place(places: list[Place], pos: int, end: int, *, destinations: bool = False) -> Place | None:
    """The place a figure at [pos, end) is about: the first non-destination place after it in the
    sentence, else the nearest one before it (regions only when no town is near). With
    `destinations`, only the places people went to ("towards the Turkish border")."""
    usable = [p for p in places if p.destination == destinations]
    if not usable:
        return None
    after = [p for p in usable if p.start >= end]
    before = [p for p in usable if p.end <= pos]
    candidates = []
    if after:
        candidates.append((after[0].start - end, after[0]))
    if before:
        candidates.append((pos - before[-1].end, before[-1]))
    candidates.sort(key=lambda c: (_SPECIFICITY.get(c[1].level, 1) >= 2, c[0]))
    return candidates[0][1]


def main_place(places: list[Place], *, broad: bool = False) -> Place | None:
    """A place carried over from another sentence: the most specific non-destination place (for a
    one-day event), or with `broad` the widest one short of the whole country (for a total over weeks)."""
    usable = [p for p in places if not p.destination]
    if not usable:
        return None
    if broad:
        below_country = [p for p in usable if p.level != "country"] or usable
        widest = max(_SPECIFICITY.get(p.level, 1) for p in below_country)
        return [p for p in below_country if _SPECIFICITY.get(p.level, 1) == widest][0]
    best = min(_SPECIFICITY.get(p.level, 1) for p in usable)
    return [p for p in usable if _SPECIFICITY.get(p.level, 1) == best][-1]
