"""Time expressions in news prose, resolved against the publication date P.

Conventions (each mirrors how the project's seed facts were coded by hand):
- "in the last/past N days" = the N whole days before P: P-N .. P-1, basis `flow`, precision `day`
  ("in the last four days" published 2019-08-21 = 2019-08-17 .. 2019-08-20). Weeks count 7 days
  (precision `week`), months calendar months back (precision `month`); "the past 24 hours" = P-1 .. P.
- "since April" = from the first of the latest April not after P to P, basis `cumulative`, precision
  `month`; "since 29 April" precision `day`; "since the beginning/start of / early December" = 1 Dec,
  precision `week` (a start known to within days); "mid-" = the 15th, "late / the end of" = the 21st,
  also `week`; "since 2019" = 1 Jan 2019, precision `year`; "since Monday" = that day, `day`.
- "on Monday" / "Monday's" = the latest such weekday on or before P; "last Monday" strictly before P.
- "yesterday" = P-1; "today", "this morning" = P; "overnight", "last night" = P-1 .. P.
- "this week" / "this month" / "this year" / "so far this ..." = start of the week (Monday), month or
  year to P, `cumulative`; "last week" / "last month" / "last year" = that whole calendar period, `flow`.
- "in April" / "in early April" / "in 2019" = that month or year (cut at P), `flow`.
- "on 19 August" / "August 19" = that day, `flow`; "between 1 and 15 December" = those days.
- "N days/weeks ago", "a week ago" = that day, `flow`.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
MONTHS["sept"] = 9
WEEKDAYS = {d.lower(): i for i, d in enumerate(calendar.day_name)}
SMALL = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15,
         "twenty": 20, "thirty": 30, "few": None, "several": None}

# month names only when capitalised ("may" and "march" are also verbs)
_MONTH = r"(?P<month>(?-i:" + "|".join(sorted((m.capitalize() for m in MONTHS), key=len, reverse=True)) + r"))\b\.?"
_MONTH_PLAIN = _MONTH.replace("(?P<month>", "(?:")
_DAYNUM = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_N = r"(?P<n>\d+|" + "|".join(k for k in SMALL if SMALL[k]) + r")"
_PART = r"(?:(?P<part>early|late|mid)[- ]?|the\s+(?P<part2>beginning|start|end|middle)\s+of\s+)?"


@dataclass
class Period:
    start: int  # character span of the wording
    end: int
    text: str
    period_start: date
    period_end: date
    precision: str  # day | week | month | year
    basis: str  # flow | cumulative
    kind: str  # since | window | day | month | year | week


def _n(word: str) -> int | None:
    word = word.lower()
    return int(word) if word.isdigit() else SMALL.get(word)


def _month_start_before(month: int, pub: date, year: int | None) -> date:
    if year is not None:
        return date(year, month, 1)
    y = pub.year if month <= pub.month else pub.year - 1
    return date(y, month, 1)


def _part_day(part: str | None, year: int, month: int) -> tuple[int, str]:
    part = (part or "").lower()
    if part in ("early", "beginning", "start"):
        return 1, "week"
    if part in ("mid", "middle"):
        return 15, "week"
    if part in ("late", "end"):
        return 21, "week"
    return 1, "month"


def _months_back(pub: date, n: int) -> date:
    y, m = pub.year, pub.month - n
    while m <= 0:
        m += 12
        y -= 1
    return date(y, m, min(pub.day, calendar.monthrange(y, m)[1]))


def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _rules(pub: date):
    """(priority, regex, resolver) - lower priority wins when two wordings overlap."""
    P = pub
    rules = []

    def rule(priority: int, pattern: str):
        def deco(fn):
            rules.append((priority, re.compile(pattern, re.IGNORECASE), fn))
            return fn
        return deco

    @rule(0, rf"\bsince\s+(?:the\s+(?:beginning|start)\s+of\s+)?(?:the\s+year|this\s+year)\b")
    def _since_year_start(m):
        return date(P.year, 1, 1), P, "day", "cumulative", "since"

    @rule(0, rf"\bsince\s+{_DAYNUM}\s+{_MONTH}(?:,?\s+{_YEAR})?")
    def _since_day_month(m):
        mon = MONTHS[m["month"].lower()]
        year = int(m["year"]) if m["year"] else None
        start = _month_start_before(mon, P, year)
        d = _safe_date(start.year, mon, int(m["day"]))
        return (d, P, "day", "cumulative", "since") if d else None

    @rule(0, rf"\bsince\s+{_MONTH}\s+{_DAYNUM}\b(?:,?\s+{_YEAR})?")
    def _since_month_day(m):
        return _since_day_month(m)

    @rule(1, rf"\bsince\s+{_PART}{_MONTH}(?:,?\s+{_YEAR})?\b")
    def _since_month(m):
        mon = MONTHS[m["month"].lower()]
        start = _month_start_before(mon, P, int(m["year"]) if m["year"] else None)
        day, precision = _part_day(m["part"] or m["part2"], start.year, mon)
        if (m["part2"] or "").lower() == "end":
            day = max(1, calendar.monthrange(start.year, mon)[1] - 6)
        return date(start.year, mon, day), P, precision, "cumulative", "since"

    @rule(1, rf"\bsince\s+(?:the\s+(?:beginning|start)\s+of\s+)?{_YEAR}\b")
    def _since_year(m):
        return date(int(m["year"]), 1, 1), P, "year", "cumulative", "since"

    @rule(1, r"\bsince\s+(?:last\s+)?(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b")
    def _since_weekday(m):
        d = P - timedelta(days=(P.weekday() - WEEKDAYS[m["wd"].lower()]) % 7 or 7)
        return d, P, "day", "cumulative", "since"

    @rule(1, r"\bsince\s+last\s+(?P<unit>week|month|year)\b")
    def _since_last(m):
        start = _last_period(P, m["unit"].lower())[0]
        return start, P, {"week": "week", "month": "month", "year": "year"}[m["unit"].lower()], "cumulative", "since"

    @rule(2, rf"\bsince\b[^.;]{{0,60}}?\b(?:in|on)\s+{_PART}{_MONTH}(?:,?\s+{_YEAR})?\b")
    def _since_event_month(m):
        return _since_month(m)

    @rule(2, rf"\bsince\b[^.;]{{0,60}}?\bin\s+{_YEAR}\b")
    def _since_event_year(m):
        return _since_year(m)

    @rule(3, rf"\b(?:between|from)\s+(?P<d1>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:and|to|-|–)\s+{_DAYNUM}\s+{_MONTH}(?:,?\s+{_YEAR})?")
    def _day_range(m):
        mon = MONTHS[m["month"].lower()]
        year = int(m["year"]) if m["year"] else _month_start_before(mon, P, None).year
        a, b = _safe_date(year, mon, int(m["d1"])), _safe_date(year, mon, int(m["day"]))
        return (a, b, "day", "flow", "day") if a and b and a <= b else None

    @rule(4, rf"\b(?:in|over|during|within|for)?\s*the\s+(?:last|past|previous)\s+(?:{_N}\s+)?(?P<unit>days?|weeks?|months?|hours|years?)\b")
    def _window(m):
        n = _n(m["n"]) if m["n"] else 1
        if n is None:
            return None
        unit = m["unit"].lower().rstrip("s")
        if unit == "hour":
            return P - timedelta(days=max(1, -(-n // 24))), P, "day", "flow", "window"
        if unit == "day":
            return P - timedelta(days=n), P - timedelta(days=1), "day", "flow", "window"
        if unit == "week":
            return P - timedelta(days=7 * n), P - timedelta(days=1), "week", "flow", "window"
        if unit == "month":
            return _months_back(P, n), P - timedelta(days=1), "month", "flow", "window"
        return _months_back(P, 12 * n), P - timedelta(days=1), "year", "flow", "window"

    @rule(4, rf"\b{_N}\s+(?P<unit>days?|weeks?)\s+ago\b")
    def _ago(m):
        n = _n(m["n"])
        if n is None:
            return None
        d = P - timedelta(days=n * (7 if m["unit"].lower().startswith("week") else 1))
        return d, d, "day", "flow", "day"

    @rule(5, r"\b(?:so\s+far\s+|earlier\s+)?this\s+(?P<unit>week|month|year)\b")
    def _this(m):
        unit = m["unit"].lower()
        start = {"week": P - timedelta(days=P.weekday()), "month": P.replace(day=1), "year": P.replace(month=1, day=1)}[unit]
        return start, P, "day", "cumulative", "week"

    @rule(5, r"\blast\s+(?P<unit>week|month|year)\b")
    def _last(m):
        unit = m["unit"].lower()
        a, b = _last_period(P, unit)
        return a, b, unit, "flow", "week"

    @rule(6, rf"\b(?:on\s+)?{_DAYNUM}\s+{_MONTH}(?:,?\s+{_YEAR})?")
    def _day_month(m):
        mon = MONTHS[m["month"].lower()]
        year = int(m["year"]) if m["year"] else _month_start_before(mon, P, None).year
        d = _safe_date(year, mon, int(m["day"]))
        if d and not m["year"] and d > P:
            d = _safe_date(year - 1, mon, int(m["day"]))
        return (d, d, "day", "flow", "day") if d else None

    @rule(6, rf"\b(?:on\s+)?{_MONTH}\s+{_DAYNUM}\b(?:,?\s+{_YEAR})?")
    def _month_day(m):
        return _day_month(m)

    @rule(7, r"\b(?:(?P<last>last)\s+|on\s+)?(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)(?:'s)?\b")
    def _weekday(m):
        back = (P.weekday() - WEEKDAYS[m["wd"].lower()]) % 7
        if m["last"] and back == 0:
            back = 7
        d = P - timedelta(days=back)
        return d, d, "day", "flow", "day"

    @rule(7, r"\byesterday\b")
    def _yesterday(m):
        return P - timedelta(days=1), P - timedelta(days=1), "day", "flow", "day"

    @rule(7, r"\b(?:today|this\s+morning|this\s+afternoon|this\s+evening)\b")
    def _today(m):
        return P, P, "day", "flow", "day"

    @rule(7, r"\b(?:overnight|last\s+night)\b")
    def _overnight(m):
        return P - timedelta(days=1), P, "day", "flow", "day"

    @rule(8, rf"\b(?:in|during|throughout)\s+{_PART}{_MONTH}(?:,?\s+{_YEAR})?\b")
    def _in_month(m):
        mon = MONTHS[m["month"].lower()]
        start = _month_start_before(mon, P, int(m["year"]) if m["year"] else None)
        day, precision = _part_day(m["part"] or m["part2"], start.year, mon)
        end = min(_month_end(start.year, mon), P)
        a = date(start.year, mon, day)
        if precision == "week":
            end = min(end, a + timedelta(days=9))
        return a, end, precision, "flow", "month"

    @rule(9, rf"\b(?:in|during|throughout)\s+{_YEAR}\b")
    def _in_year(m):
        y = int(m["year"])
        return date(y, 1, 1), min(date(y, 12, 31), P), "year", "flow", "year"

    return rules


def _last_period(P: date, unit: str) -> tuple[date, date]:
    if unit == "week":
        monday = P - timedelta(days=P.weekday())
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if unit == "month":
        first = P.replace(day=1)
        prev_end = first - timedelta(days=1)
        return prev_end.replace(day=1), prev_end
    return date(P.year - 1, 1, 1), date(P.year - 1, 12, 31)


def find_periods(text: str, published: date) -> list[Period]:
    """Every time expression in `text`, resolved; overlapping wordings keep the most specific rule."""
    hits: list[tuple[int, int, int, Period]] = []
    for priority, regex, fn in _rules(published):
        for m in regex.finditer(text):
            got = fn(m)
            if not got:
                continue
            a, b, precision, basis, kind = got
            if a is None or b is None or a > published or b < a:
                continue
            b = min(b, published)
            hits.append((priority, m.start(), m.end(),
                         Period(m.start(), m.end(), m.group(0).strip(), a, b, precision, basis, kind)))
    hits.sort(key=lambda h: (h[0], h[1]))
    chosen: list[Period] = []
    for _, s, e, p in hits:
        if all(e <= c.start or s >= c.end for c in chosen):
            chosen.append(p)
    return sorted(chosen, key=lambda p: p.start)
