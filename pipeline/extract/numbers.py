"""Numbers in news prose: digits ("60,000", "1.2 million"), words ("three", "twenty-five", "a dozen")
and vague plurals ("tens of thousands", "hundreds"), each with its character span and the qualifier
words in front of it ("about", "at least", "more than" ...).

Convention for vague plurals (stated once, here): a plural of a unit is coded as the smallest number
the plural allows, as a lower bound: "dozens" = at least 24, "hundreds" = at least 200, "thousands" = at
least 2,000, "tens of thousands" = at least 20,000, "hundreds of thousands" = at least 200,000. The
qualifier is `at_least`, so value_low = value_best and there is no upper bound. (ACLED codes "dozens"
as 12 and "hundreds" as 100, i.e. one unit; we take two, the least a plural can mean, and say so in
the row's notes so a reviewer can see the coding.)

Nothing here decides whether a number is a count of people: that is claims.py's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from text_to_num import text2num

UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}
SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
VAGUE = {"dozens": 12, "scores": 20, "tens": 10, "hundreds": 100, "thousands": 1_000, "millions": 1_000_000}

_WORD = "|".join(sorted(list(UNITS) + list(SCALES), key=len, reverse=True))
WORD_NUMBER = re.compile(
    rf"\b(?:(?:a|one|half\s+a)\s+(?=(?:hundred|thousand|million|dozen)\b))?(?:{_WORD}|dozen)"
    rf"(?:(?:\s+and\s+|[\s-]+)(?:{_WORD}|dozen)\b)*\b",
    re.IGNORECASE,
)
# digits, not glued on the left to a letter, currency sign or decimal point, nor to "COVID-"
DIGIT_NUMBER = re.compile(
    r"(?<![\w$€£.,/:])(?<![A-Za-z]-)(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\d,]\d)"
    r"(?:\s*(million|billion|thousand|dozen|mn|bn)\b)?",
    re.IGNORECASE,
)
VAGUE_NUMBER = re.compile(
    r"\b(?:(tens|hundreds|dozens|scores)\s+of\s+)?(dozens|scores|tens|hundreds|thousands|millions)\b",
    re.IGNORECASE,
)
RANGE_JOIN = re.compile(r"^\s*(?:-|–|—|to)\s*$", re.IGNORECASE)
RANGE_AND = re.compile(r"^\s*and\s*$", re.IGNORECASE)

# qualifier words directly in front of a number, longest first; value = canonical qualifier
QUALIFIER_BEFORE: list[tuple[str, str]] = sorted(
    [
        ("about", "approximately"), ("around", "approximately"), ("some", "approximately"),
        ("nearly", "approximately"), ("almost", "approximately"), ("roughly", "approximately"),
        ("approximately", "approximately"), ("close to", "approximately"), ("an estimated", "estimated"),
        ("estimated", "estimated"), ("at least", "at_least"), ("no fewer than", "at_least"),
        ("no less than", "at_least"), ("more than", "more_than"), ("over", "more_than"),
        ("well over", "more_than"), ("just over", "more_than"), ("upwards of", "more_than"),
        ("in excess of", "more_than"), ("up to", "up_to"), ("as many as", "up_to"),
        ("less than", "less_than"), ("fewer than", "less_than"), ("under", "less_than"),
        ("just under", "less_than"), ("nearly", "approximately"),
    ],
    key=lambda kv: len(kv[0]),
    reverse=True,
)
_QUAL_RE = re.compile(
    r"\b(" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w, _ in QUALIFIER_BEFORE) + r")\s+$",
    re.IGNORECASE,
)
_QUAL_AFTER = re.compile(r"^\s*(or more|or so|\+)", re.IGNORECASE)


@dataclass
class Number:
    start: int
    end: int
    text: str
    value: float
    value_high: float | None = None  # a stated range "3,000 to 5,000"
    vague: str | None = None  # "tens of thousands": coded by the convention above
    kind: str = "digits"  # digits | words | vague

    @property
    def is_year_like(self) -> bool:
        return self.kind == "digits" and re.fullmatch(r"(1[89]|20)\d\d", self.text) is not None


def _words_value(phrase: str) -> float | None:
    tokens = re.split(r"[\s-]+", phrase.lower().strip())
    if tokens[:2] == ["half", "a"]:
        rest = _words_value(" ".join(["one"] + tokens[2:]))
        return rest / 2 if rest else None
    if tokens and tokens[0] == "a":
        tokens[0] = "one"
    if tokens and tokens[-1] == "dozen":
        head = tokens[:-1] or ["one"]
        base = _words_value(" ".join(head))
        return base * 12 if base else None
    if "dozen" in tokens:
        return None
    try:
        return float(text2num(" ".join(tokens), "en"))
    except ValueError:
        return None


def find_numbers(text: str) -> list[Number]:
    """Every number in `text`, left to right, without overlaps; ranges joined into one Number."""
    found: list[Number] = []
    taken: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    for m in VAGUE_NUMBER.finditer(text):
        outer, inner = m.group(1), m.group(2)
        if outer is None and inner.lower() == "tens":
            continue  # "tens" alone is not how numbers are written in prose
        unit = VAGUE[inner.lower()] * (VAGUE[outer.lower()] if outer else 1)
        found.append(Number(m.start(), m.end(), m.group(0), 2.0 * unit, vague=m.group(0).lower(), kind="vague"))
        taken.append((m.start(), m.end()))
    for m in DIGIT_NUMBER.finditer(text):
        if not free(m.start(), m.end()):
            continue
        raw = m.group(1)
        value = float(raw.replace(",", ""))
        scale = (m.group(2) or "").lower()
        value *= {"million": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9, "thousand": 1e3, "dozen": 12}.get(scale, 1)
        found.append(Number(m.start(), m.end(), m.group(0), round(value, 6)))
        taken.append((m.start(), m.end()))
    for m in WORD_NUMBER.finditer(text):
        if not free(m.start(), m.end()):
            continue
        phrase = re.sub(r"[\s-]+(and)?\s*$", "", m.group(0))
        value = _words_value(phrase)
        if value is None:  # "three four": take the first word alone
            first = re.match(r"\w+", phrase)
            value = _words_value(first.group(0)) if first else None
            phrase = first.group(0) if first else phrase
        if value is None:
            continue
        found.append(Number(m.start(), m.start() + len(phrase), phrase, value, kind="words"))
        taken.append((m.start(), m.start() + len(phrase)))
    found.sort(key=lambda n: n.start)
    return _join_ranges(text, found)


def _join_ranges(text: str, nums: list[Number]) -> list[Number]:
    out: list[Number] = []
    i = 0
    while i < len(nums):
        n = nums[i]
        if i + 1 < len(nums) and not n.vague and not nums[i + 1].vague:
            nxt = nums[i + 1]
            gap = text[n.end : nxt.start]
            between = re.search(r"\bbetween\s+$", text[max(0, n.start - 12) : n.start], re.IGNORECASE)
            if (RANGE_JOIN.match(gap) or (between and RANGE_AND.match(gap))) and nxt.value > n.value:
                low = n.value
                # "1.2 to 1.5 million": the scale written once applies to both ends
                if nxt.value >= 1000 and n.value < 1000 and n.kind == "digits" and not re.search(r"\d{4}|,", n.text):
                    written = float(re.sub(r"[^\d.]", "", nxt.text.split()[0]) or 0) or 1.0
                    low = n.value * (nxt.value / written)
                out.append(Number(n.start, nxt.end, text[n.start : nxt.end], low, value_high=nxt.value, kind=n.kind))
                i += 2
                continue
        out.append(n)
        i += 1
    return out


def qualifier_for(text: str, num: Number) -> tuple[str, int]:
    """The canonical qualifier in front of (or just after) a number, and where its words begin."""
    if num.vague:
        return "at_least", num.start
    if num.value_high is not None:
        return "at_least", num.start
    m = _QUAL_RE.search(text[max(0, num.start - 30) : num.start])
    if m:
        word = re.sub(r"\s+", " ", m.group(1).lower())
        return dict(QUALIFIER_BEFORE)[word], num.start - (len(text[max(0, num.start - 30) : num.start]) - m.start())
    after = _QUAL_AFTER.match(text[num.end :])
    if after:
        return ("approximately" if "so" in after.group(1).lower() else "at_least"), num.start
    return "exact", num.start
