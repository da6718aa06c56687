"""Shapes of country codes and P-codes, stated once: the row rules (pipeline/sources/base.py), the SQL
rules and the GX suite (pipeline/expectations/observations.py) all read them from here.

OCHA P-codes are the country's ISO 3166 alpha-2 code followed by digits, two more per admin level
for the countries we know (Syria: SY07 = Idleb governorate, SY0703 = a district of it). For other
countries only the general shape is checked: two capital letters, then letters or digits.
"""

from __future__ import annotations

from pipeline.countries import ISO3_CODES

# the shape of a country code (the validation suite's check of the stored table), and the codes a row rule
# accepts: the ISO 3166-1 list and XKX (pipeline/countries.py), so a typo such as "SRY" is set aside
ISO3 = r"[A-Z]{3}"
ISO3_KNOWN = "(?:" + "|".join(sorted(ISO3_CODES)) + ")"
GENERIC_PCODE = r"[A-Z]{2}[0-9A-Z]+"

# country -> (admin1 pattern, admin2 pattern), full match; only countries whose codes we have seen in
# real deliveries (HDX HAPI, DTM): add one when its shape is known, never guess
PCODES: dict[str, tuple[str, str]] = {
    "SYR": (r"SY\d{2}", r"SY\d{4}"),
    "HTI": (r"HT\d{2}", r"HT\d{4}"),
}


def pattern(country: str | None, level: int) -> str:
    """The full-match pattern for an admin code of `level` (1 or 2) in `country`."""
    known = PCODES.get(country or "")
    return known[level - 1] if known else GENERIC_PCODE
