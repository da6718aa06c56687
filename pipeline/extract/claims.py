"""Sentence-level rules that turn article text into candidate figures (claims).

A number becomes a figure only when the wording says it counts people displaced, killed, injured or
returned: a people noun after it ("60,000 people", "three civilians", "2,000 families") or a verb
right next to it ("killed 12", "12 were killed"), and a verb of displacement / death / injury / return
that governs it. Everything else (checkpoints, air strikes, hospitals, years, ages, temperatures,
percentages, durations, dates, money, distances) is not a figure. Precision comes first: a missed
figure costs a reviewer a minute; a wrong one can reach a chart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from pipeline import schema
from pipeline.extract.attribution import find_attribution
from pipeline.extract.dates import MONTHS, Period, find_periods
from pipeline.extract.numbers import Number, find_numbers, qualifier_for
from pipeline.extract.places import Place, find_places, main_place, nearest_place

PEOPLE: dict[str, tuple[str, str]] = {}  # noun -> (population, unit)
for _w in ("people", "persons", "person", "residents", "resident", "inhabitants", "individuals", "syrians",
           "villagers", "idps", "refugees", "returnees", "others", "other", "civilians", "civilian", "children",
           "child", "kids", "boys", "girls", "boy", "girl", "minors", "infants", "babies", "baby", "women",
           "woman", "families", "family", "households", "household"):
    PEOPLE[_w] = ("all", "people")
for _w in ("civilians", "civilian"):
    PEOPLE[_w] = ("civilians", "people")
for _w in ("children", "child", "kids", "boys", "girls", "boy", "girl", "minors", "infants", "babies", "baby"):
    PEOPLE[_w] = ("children", "people")
for _w in ("women", "woman"):
    PEOPLE[_w] = ("women", "people")
for _w in ("families", "family", "households", "household"):
    PEOPLE[_w] = ("all", "households")
DEATH_NOUNS = {"deaths", "dead", "fatalities"}
_MODIFIERS = (r"more|other|additional|new|further|innocent|syrian|local|unarmed|young|elderly|"
              r"internally\s+displaced|displaced|civilian|of")
_NP = re.compile(rf"^(?P<mods>(?:\s+(?:{_MODIFIERS})\b)*)\s+(?P<noun>[A-Za-z]+)\b")
_SUBSET_AFTER = re.compile(r"^\s*(?:of\s+them|of\s+whom)\s+(?:were\s+|are\s+)?(?P<noun>children|women|civilians)\b", re.I)
_WERE_NOUN = re.compile(r"^\s+(?:were|are)\s+(?P<noun>children|women|civilians)\b", re.I)
_BARE_OK = re.compile(
    r"^\s*(?:more\b\s*)?(?:[,.;)]|$|have\b|has\b|had\b|were\b|was\b|are\b|is\b|killed\b|dead\b|died\b|injured\b|"
    r"wounded\b|hurt\b|displaced\b|fled\b|returned\b|since\b|in\b|on\b|from\b|and\b|during\b|over\b|last\b|"
    r"this\b|so\b|across\b|near\b|around\b|after\b|when\b)",
    re.I,
)
_BARE_VERB = re.compile(
    r"^\s*(?:more\s+)?(?:(?:have|has|had|were|was|are|is)\s+)?(?:(?:been|now|reportedly|also|already)\s+)*"
    r"(?:killed|dead|died|injured|wounded|hurt|displaced|fled|returned|evacuated|uprooted)\b",
    re.I,
)
_MONTH_NAMES = "|".join(m.capitalize() for m in MONTHS)

_POST = [
    ("killed", r"killed|died|dead|perished|lost\s+their\s+lives|massacred|slain|executed"),
    ("injured", r"injured|wounded|hurt"),
    ("displaced", r"fled|flee|fleeing|flees|displaced|uprooted|evacuated|escaped|"
                  r"driven\s+(?:from|out\s+of)\s+their\s+homes|driven\s+out|"
                  r"forced\s+(?:to\s+(?:leave|flee)|from\s+their\s+homes|out)|left\s+their\s+homes|on\s+the\s+move|"
                  r"made\s+homeless|sought\s+(?:refuge|shelter)"),
    ("returned", r"returned|returning|went\s+back|gone\s+back|come\s+back|came\s+back"),
]
_POST_RE = re.compile(r"\b(?:" + "|".join(f"(?P<{m}>{p})" for m, p in _POST) + r")\b", re.I)
_PRE_RE = re.compile(
    r"\b(?P<verb>killed|killing|kills|kill|wounded|wounding|injured|injuring|displaced|displacing|displace|"
    r"uprooted|uprooting|evacuated|evacuating|forced|forcing|drove|driving|left|leaving|sent|sending|"
    r"claimed\s+the\s+lives\s+of|claiming\s+the\s+lives\s+of)\s+"
    r"(?:(?:another|a\s+further|an\s+additional|the|a\s+total\s+of)\s+)?$",
    re.I,
)
_TOLL_RE = re.compile(
    r"(?:\b(?:death\s+)?toll\b|\bnumber\s+of\s+(?:people\s+|civilians\s+)?(?P<what>killed|dead|deaths|displaced|"
    r"wounded|injured|returnees|displaced\s+people|people\s+displaced))[^.;]{0,40}?\b"
    r"(?:to|of|at|reached|hit|stands\s+at|stood\s+at|is|was|rose\s+to|climbed\s+to)\s+(?:(?:about|around|some|nearly|almost|at\s+least|more\s+than|over)\s+)?$",
    re.I,
)
_INCLUDING = re.compile(r"(?:\b(?:including|among\s+them|among\s+whom|of\s+whom|of\s+them|among\s+those)|\()\s*$", re.I)
_MODAL = re.compile(
    r"\b(?:could|may|might|would|will|risk|risks|threaten|threatens|threatened|expected|feared|fear|fears|"
    r"warned|warns|plan|plans|planned|projected|likely)\b",
    re.I,
)
_NEGATION = re.compile(r"\b(?:not|no|never|n't)\b", re.I)
_POST_STOP = re.compile(r"[;:]|\b(?:which|where|while|whereas|but)\b|,\s+and\b|\band\s+(?=[A-Z])", re.I)


_SIZE_WORDS = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_SIZE = r"(\d{1,2}|three|four|five|six|seven|eight|nine|ten)"
_HOUSEHOLD_SIZE = re.compile(
    rf"\b(?:families|households)\s+of\s+(?P<n1>{_SIZE[1:-1]})\b|"
    rf"\b(?:an\s+average\s+of\s+|averaging\s+)?(?P<n2>{_SIZE[1:-1]})\s+(?:people|persons|members)\s+(?:per|a|each)\s+(?:family|household)\b",
    re.I,
)


@dataclass
class Claim:
    value_best: float
    value_low: float | None
    value_high: float | None
    metric: str
    basis: str
    population: str
    unit: str
    qualifier: str
    period_start: date
    period_end: date
    date_precision: str
    published_on: date
    place: str
    place_as_published: str
    admin1_code: str
    admin1_name: str
    country_iso3: str
    source_org: str
    source_title: str
    source_url: str
    evidence: str
    evidence_start: int
    evidence_end: int
    number_text: str
    number_start: int
    number_end: int
    household_size: float | None = None
    role: str = "triangulation"
    subset_of: int | None = None  # index of the total this row is part of ("including 196 children")
    notes: list[str] = field(default_factory=list)
    fact_id: str = ""
    subset_of_id: str = ""


@dataclass
class Sentence:
    start: int
    end: int
    text: str
    paragraph: int


_ABBREV = {"mr", "mrs", "ms", "dr", "st", "gen", "col", "lt", "sgt", "capt", "prof", "no", "vs", "jan", "feb",
           "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.n", "u.s", "e.g", "i.e",
           "approx", "est", "inc", "co", "ltd"}
_BOUNDARY = re.compile(r"[.!?]+[\"”’')\]]*(?=\s+[\"“‘(]?[A-Z0-9])")


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with their character offsets in `text`; paragraphs are separated by blank lines, and
    a first line without closing punctuation (a headline) is a sentence of its own."""
    out: list[Sentence] = []
    para = 0
    for pm in re.finditer(r"\S(?:.|\n(?!\s*\n))*", text):
        p_start = pm.start()
        chunk = pm.group(0)
        cuts = [0]
        first_nl = chunk.find("\n")
        if first_nl > 0 and not re.search(r"[.!?:;,\"”]\s*$", chunk[:first_nl]) and re.match(r"\s*[\"“]?[A-Z0-9]", chunk[first_nl:]):
            cuts.append(first_nl)
        for bm in _BOUNDARY.finditer(chunk):
            word = re.search(r"([\w.]+)[.!?]*$", chunk[: bm.start() + 1])
            w = (word.group(1) if word else "").rstrip(".").lower()
            if w in _ABBREV or re.fullmatch(r"[a-z]", w):
                continue
            cuts.append(bm.end())
        cuts = sorted(set(cuts)) + [len(chunk)]
        for a, b in zip(cuts, cuts[1:]):
            piece = chunk[a:b]
            lead = len(piece) - len(piece.lstrip())
            s, e = p_start + a + lead, p_start + a + len(piece.rstrip())
            if e > s:
                out.append(Sentence(s, e, text[s:e], para))
        para += 1
    return out


@dataclass
class _Found:
    number: Number
    qualifier: str
    metric: str
    population: str
    unit: str
    subset: bool
    notes: list[str]


def _classify(sent: str, n: Number, prev_end: int, next_start: int, last_population: str | None,
              *, probe: bool = False):
    """Is this number a count of people displaced / killed / injured / returned? None when not.
    With `probe`, only whether it could count people at all (True / None), before any verb is sought."""
    before, after = sent[:n.start], sent[n.end:]
    # --- traps: things that are not counts of people
    if re.search(r"[$€£]\s*$|\b(?:US|USD|EUR|SYP)\s*$", before):
        return None
    if re.search(r"\b(?:aged|age|ages|age\s+of|aged\s+between)\s+$", before, re.I):
        return None
    if re.search(rf"\b(?:{_MONTH_NAMES})\.?\s+$", before) or re.match(rf"^\s+(?:of\s+)?(?:{_MONTH_NAMES})\b", after):
        return None
    if re.match(r"^(?:[A-Za-z]|-\w|\s*(?:%|per\s?cent|percent|percentage)|\s*(?:-|\s)?years?[- ]old|:\d|\s*(?:am|pm)\b)", after, re.I):
        return None
    if re.search(r"\b(?:resolution|route|highway|article|number|no\.)\s+$", before, re.I):
        return None
    if re.match(r"^\s+(?:people|persons|members)\s+(?:per|a|each|in\s+each)\s+(?:family|household)", after, re.I):
        return None  # "five people per family" is a household size, not a figure
    qualifier, qstart = qualifier_for(sent, n)
    pre_window = sent[prev_end:qstart]
    subset = bool(_INCLUDING.search(pre_window))
    notes: list[str] = []
    if n.vague:
        notes.append(f"vague quantity '{n.vague}' coded as at least {int(n.value):,} (smallest value the plural allows)")
    if n.value_high is not None:
        notes.append(f"stated range {n.text!r}: value is the low end, high end {int(n.value_high):,}")

    # --- what is counted
    population = unit = None
    noun_metric = None
    np_end = n.end
    displaced_adj = False
    m = _SUBSET_AFTER.match(after)
    if m:
        population, unit, subset, np_end = PEOPLE[m["noun"].lower()][0], "people", True, n.end + m.end()
    elif (m := _WERE_NOUN.match(after)) and subset:
        population, unit, np_end = PEOPLE[m["noun"].lower()][0], "people", n.end + m.end()
    else:
        m = _NP.match(after)
        noun = m["noun"].lower() if m else ""
        mods = (m["mods"] or "").lower() if m else ""
        if re.search(r"\bof\b", mods) and not (n.vague or n.kind != "digits" or n.value >= 1_000_000):
            m = None  # "3 of the ..." - a part of something else
            noun = ""
        if noun in PEOPLE:
            population, unit = PEOPLE[noun]
            if noun in ("others", "other") and last_population:
                population = last_population
            if "civilian" in mods and population == "all":
                population = "civilians"
            displaced_adj = "displaced" in mods
            np_end = n.end + m.end()
        elif noun in DEATH_NOUNS:
            population, unit, noun_metric = ("civilians" if "civilian" in mods else "all"), "people", "killed"
            np_end = n.end + m.end()
        elif (_BARE_OK.match(after) and not (n.is_year_like or (n.kind == "words" and n.value == 1))
              and not re.search(r"\bof\s+$", before, re.I)):  # "families of six", "one of"
            population, unit = "all", "people"
        else:
            return None  # "40 air strikes", "three hospitals", "four days", "a nine-year war"
    if probe:
        return True

    # --- which metric governs it
    metric = None
    pre = _PRE_RE.search(pre_window)
    toll = _TOLL_RE.search(sent[prev_end:qstart])
    tail = sent[np_end:next_start]
    if pre:
        verb = pre["verb"].lower()
        if verb.startswith(("kill", "claim")):
            metric = "killed"
        elif verb.startswith(("wound", "injur")):
            metric = "injured"
        elif verb.startswith(("displac", "uproot", "evacuat")):
            metric = "displaced"
        elif verb.startswith(("left", "leav")):
            follow = re.match(r"^\s*(?:\w+\s+){0,2}?(?P<w>dead|killed|injured|wounded|homeless|displaced)\b", tail, re.I)
            if follow:
                w = follow["w"].lower()
                metric = {"dead": "killed", "killed": "killed", "injured": "injured", "wounded": "injured"}.get(w, "displaced")
        elif re.match(r"^\s*(?:\w+\s+){0,3}?(?:to\s+(?:flee|leave)|from\s+their\s+homes|out\s+of\s+their\s+homes|fleeing)\b", tail, re.I):
            metric = "displaced"
        if metric and _MODAL.search(sent[max(prev_end, pre.start() - 25):pre.start()]):
            return None  # "could displace up to 2 million": a projection
    elif toll:
        what = (toll["what"] or "killed").lower()
        metric = ("displaced" if "displaced" in what else "injured" if what in ("wounded", "injured")
                  else "returned" if what == "returnees" else "killed")
    if metric is None:
        stop = _POST_STOP.search(tail)
        window = tail[: stop.start()] if stop else tail
        window = window[:140]
        hits = list(_POST_RE.finditer(window))
        if hits:
            hit = hits[-1] if re.search(r"\bwho\b", window[: hits[-1].start()], re.I) else hits[0]
            metric = hit.lastgroup
            between = window[: hit.start()]
            if _MODAL.search(between) or _NEGATION.search(between):
                return None
        elif noun_metric:
            metric = noun_metric
        elif displaced_adj:
            metric = "displaced"
    if metric is None and subset:
        metric = "inherit"  # "including 196 children": the total's verb governs it
    if metric is None:
        return None
    if population is None or unit is None:
        return None
    return _Found(n, qualifier, metric, population, unit, subset, notes)


def _bounds(n: Number, qualifier: str) -> tuple[float | None, float | None]:
    low, high = schema.bounds_for(n.value, qualifier)
    if n.value_high is not None:
        high = n.value_high
    return low, high


_CLAUSE_BREAK = re.compile(r";|,\s+(?:and|while|but|as|whereas)\b|\bwhile\b|\bwhereas\b", re.I)


def _nearest_period(sent: str, periods: list[Period], n: Number) -> Period | None:
    """The time wording nearest the number, preferring one in the same clause."""
    if not periods:
        return None

    def key(p: Period):
        between = sent[n.end : p.start] if p.start >= n.end else sent[p.end : n.start]
        return (bool(_CLAUSE_BREAK.search(between)), len(between), p.start < n.start)

    return min(periods, key=key)


def extract_claims(
    text: str,
    published: date,
    *,
    publisher: str | None = None,
    title: str | None = None,
    url: str | None = None,
    country_iso3: str | None = None,
    article_id: str = "article",
) -> list[Claim]:
    """Candidate figures in an article, in reading order, with ids `<article_id[:8]>-NN`."""
    sentences = split_sentences(text)
    sent_places = [find_places(s.text) for s in sentences]
    # "the UN said on Friday": the day of the statement, not of the figure
    sent_periods = [[p for p in find_periods(s.text, published)
                     if not re.search(r"\b(?:said|says|reported|announced|stated|told\s+\w+)\s+$", s.text[:p.start])]
                    for s in sentences]
    article_country = country_iso3 or ""
    if not article_country and (any(p.country_iso3 == "SYR" for ps in sent_places for p in ps)
                                or re.search(r"\bSyria[n]?\b", (title or "") + " " + text)):
        article_country = "SYR"
    title_places = find_places(title or "")
    claims: list[Claim] = []
    for si, sent in enumerate(sentences):
        nums = find_numbers(sent.text)
        attribution = find_attribution(sent.text)
        # numbers that cannot count people (years, "12 checkpoints") do not cut the verb windows
        nums = [n for n in nums if _classify(sent.text, n, 0, len(sent.text), "all", probe=True)]
        found: list[_Found] = []
        prev_end = 0
        last_pop = None
        def is_part(m: Number) -> bool:  # "including seven children": does not cut the total's window
            return bool(_INCLUDING.search(sent.text[: qualifier_for(sent.text, m)[1]]))

        for i, n in enumerate(nums):
            later = [m for m in nums[i + 1 :] if not is_part(m)]
            nxt = later[0].start if later else len(sent.text)
            f = _classify(sent.text, n, prev_end, nxt, last_pop)
            prev_end = n.end
            if f is None:
                continue
            found.append(f)
            if not f.subset:
                last_pop = f.population
        parent: Claim | None = None
        for f in found:
            n = f.number
            notes = list(f.notes)
            if f.subset and parent is not None:
                if f.population == parent.population:
                    continue  # "including 30 people in Saraqib": part of the same total, not a new population
                period = None
                metric, basis = parent.metric, parent.basis
            else:
                if f.subset:
                    notes.append("'including' without a total in the sentence: read as a figure of its own")
                period = _nearest_period(sent.text, sent_periods[si], n)
                metric = f.metric if f.metric != "inherit" else "killed"
            # --- period
            if f.subset and parent is not None:
                p_start, p_end, precision = parent.period_start, parent.period_end, parent.date_precision
            elif period is not None:
                p_start, p_end, precision, basis = period.period_start, period.period_end, period.precision, period.basis
            else:
                inherited = next(
                    (p for j in range(si - 1, -1, -1) if sentences[j].paragraph == sent.paragraph
                     for p in sent_periods[j] if p.kind == "day"),
                    None,
                )
                if inherited is not None:
                    p_start, p_end, precision, basis = (inherited.period_start, inherited.period_end,
                                                        inherited.precision, inherited.basis)
                    notes.append(f"period from the previous sentence ('{inherited.text}')")
                else:
                    p_start = p_end = published
                    precision = "day"
                    basis = "cumulative" if metric in ("displaced", "returned") else "flow"
                    notes.append("no period in the sentence: dated to publication, review")
            # --- place
            place: Place | None = None
            if metric == "returned":  # "returned to Hama": where they went is the place
                place = nearest_place(sent_places[si], n.start, n.end, destinations=True)
            place = place or nearest_place(sent_places[si], n.start, n.end)
            if f.subset and parent is not None:
                place_name, place_pub, a1c, a1n, iso3 = (parent.place, parent.place_as_published, parent.admin1_code,
                                                         parent.admin1_name, parent.country_iso3)
            else:
                # a one-day event happened at a spot; a total over weeks is about the area
                broad = not (precision == "day" and p_start == p_end and "dated to publication" not in " ".join(notes))
                if place is None:
                    for j in range(si - 1, -1, -1):
                        place = main_place(sent_places[j], broad=broad)
                        if place:
                            notes.append("place from an earlier sentence")
                            break
                if place is None:
                    place = nearest_place(sent_places[si], n.start, n.end, destinations=True)
                    if place:
                        notes.append("place is where people went")
                if place is None and title_places:
                    place = main_place(title_places, broad=broad)
                    if place:
                        notes.append("place from the title")
                if place is not None:
                    place_name, place_pub = place.name, place.as_published
                    a1c, a1n, iso3 = place.admin1_code, place.admin1_name, place.country_iso3 or article_country
                else:
                    place_name = place_pub = a1c = a1n = ""
                    iso3 = article_country
            # --- source
            attr = attribution if not (f.subset and parent is not None) else None
            if f.subset and parent is not None:
                source_org = parent.source_org
            elif attr and publisher:
                source_org = f"{attr}, via {publisher}"
            else:
                source_org = attr or publisher or "unattributed news report"
            household_size = None
            if f.unit == "households":
                hs = _HOUSEHOLD_SIZE.search(sent.text)
                if hs:
                    word = hs["n1"] or hs["n2"]
                    household_size = float(word) if word.isdigit() else float(_SIZE_WORDS[word.lower()])
                    notes.append(f"household size stated: {household_size:g} people")
            low, high = _bounds(n, f.qualifier)
            claim = Claim(
                value_best=n.value, value_low=low, value_high=high, metric=metric, basis=basis,
                population=f.population, unit=f.unit, qualifier=f.qualifier,
                period_start=p_start, period_end=p_end, date_precision=precision, published_on=published,
                place=place_name, place_as_published=place_pub, admin1_code=a1c, admin1_name=a1n,
                country_iso3=iso3, source_org=source_org, source_title=title or "", source_url=url or "",
                evidence=sent.text, evidence_start=sent.start, evidence_end=sent.end,
                number_text=n.text, number_start=sent.start + n.start, number_end=sent.start + n.end, notes=notes,
                household_size=household_size,
            )
            if f.subset and parent is not None:
                claim.subset_of = claims.index(parent)
            else:
                parent = claim
            claims.append(claim)
    prefix = article_id[:8]
    for i, c in enumerate(claims, 1):
        c.fact_id = f"{prefix}-{i:02d}"
    for c in claims:
        if c.subset_of is not None:
            c.subset_of_id = claims[c.subset_of].fact_id
            c.notes.insert(0, f"part of {c.subset_of_id} (a subset, not a second total)")
    return claims
