"""Who a figure is attributed to: "according to X", "X said", "said X", "rescuers said", "a monitor".

Known organisations are named by their usual short name (SOHR, SNHR, OCHA ...); anything else keeps
the wording of the article ("rescuers", "a war monitor", "local officials"). Pronouns give nothing.
"""

from __future__ import annotations

import re

KNOWN_ORGS: list[tuple[str, str]] = [
    (r"syrian observatory(?: for human rights)?|\bsohr\b|britain-based (?:war )?monitor|uk-based (?:war )?monitor", "SOHR"),
    (r"syrian network for human rights|\bsnhr\b", "SNHR"),
    (r"office for the coordination of humanitarian affairs|\bocha\b|un humanitarian office|u\.n\. humanitarian office", "OCHA"),
    (r"\bunhcr\b|un refugee agency|u\.n\. refugee agency", "UNHCR"),
    (r"\bunicef\b|un children's agency", "UNICEF"),
    (r"world health organization|\bwho\b(?= said| says| reported)", "WHO"),
    (r"\biom\b|international organization for migration", "IOM"),
    (r"white helmets|syria civil defen[cs]e|syrian civil defen[cs]e|civil defen[cs]e", "White Helmets (Syria Civil Defence)"),
    (r"response coordination group|syria response coordinators|response coordinators", "Response Coordination Group"),
    (r"save the children", "Save the Children"),
    (r"doctors without borders|m[ée]decins sans fronti[èe]res|\bmsf\b", "MSF"),
    (r"\bunited nations\b|\bthe un\b|^un$|\bu\.n\.", "UN"),
]
_VERBS = r"(?:said|says|say|reported|reports|told\s+\w+|stated|estimated|estimates|documented|recorded|counted|confirmed)"
_PATTERNS = [
    re.compile(r"\baccording to\s+(?P<org>[^,.;:()]{2,90})", re.IGNORECASE),
    re.compile(r"(?:^|,\s*|\"\s*|”\s*)(?P<org>(?:the\s+|a\s+|an\s+)?[^,;:.\"“”]{2,80}?)\s+(?:has\s+|have\s+|had\s+)?"
               + _VERBS + r"\b", re.IGNORECASE),
    re.compile(r"\b" + _VERBS + r"\s+(?P<org>(?:the\s+|a\s+)?[^,.;:]{2,80}?)\s*[.!?\"”]*\s*$", re.IGNORECASE),
    re.compile(r"\b(?:reported|documented|recorded|counted)\s+by\s+(?P<org>[^,.;:]{2,80})", re.IGNORECASE),
]
_ROLE_WORDS = {"rescuers", "residents", "officials", "activists", "medics", "witnesses", "local", "aid", "doctors",
               "volunteers", "monitors", "sources"}
_PRONOUNS = {"a", "an", "the", "some", "he", "she", "they", "it", "we", "i", "you", "officials said", "who", "which", "that"}
_TRAILING = re.compile(
    r"\s+(?:on|in|late|early|this|last|earlier|yesterday|today|told|to|via)\b.*$|\s+(?:said|says|reported)$", re.IGNORECASE
)


def _clean(org: str) -> str | None:
    org = _TRAILING.sub("", org.strip())
    org = re.sub(r"^(?:figures|data|numbers|estimates)\s+(?:from|by)\s+", "", org, flags=re.IGNORECASE)
    org = re.sub(r"^the\s+", "", org, flags=re.IGNORECASE).strip(" \"'“”")
    if not org or org.lower() in _PRONOUNS or len(org.split()) > 10:
        return None
    if any(ch.isdigit() for ch in org):  # "60,000 people said" is a figure, not a source
        return None
    for pattern, short in KNOWN_ORGS:
        if re.search(pattern, org, re.IGNORECASE):
            return short
    if re.search(r"\bmonitor\b", org, re.IGNORECASE):
        return "a war monitor"
    # a lower-case common noun phrase ("rescuers", "local officials") or a proper name: keep as written
    return org[0].lower() + org[1:] if org.split()[0].lower() in _ROLE_WORDS else org


def find_attribution(sentence: str) -> str | None:
    """The source a sentence attributes its figures to, or None."""
    for i, pattern in enumerate(_PATTERNS):
        for m in pattern.finditer(sentence):
            raw = re.sub(r"^(?:the|a|an)\s+", "", m.group("org").strip(), flags=re.IGNORECASE)
            if i == 2 and not (raw[:1].isupper() or raw.split()[0].lower() in _ROLE_WORDS
                               or re.search(r"\bmonitor\b", raw, re.IGNORECASE)):
                continue  # "said the situation was dire": not a source
            org = _clean(m.group("org"))
            if org:
                return org
    # a bare mention of a known organisation or a monitor with a verb of counting
    if re.search(r"\b(?:a|the)\s+(?:war\s+)?monitor\b", sentence, re.IGNORECASE):
        for pattern, short in KNOWN_ORGS:
            if re.search(pattern, sentence, re.IGNORECASE):
                return short
        return "a war monitor"
    return None
