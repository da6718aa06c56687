"""Turn news text into candidate observations: numbers, dates, places, attribution, sentence rules.

Plain functions, deterministic and offline (regular expressions and small word lists):
`extract_article(text, published, ...)` -> list of claims; `output` renders them as JSON records or
as the project's facts CSV.
"""

from __future__ import annotations

from datetime import date

from pipeline.extract.claims import Claim, extract_claims, split_sentences
from pipeline.extract.output import article_hash, to_csv_text, to_records, write_inbox


def extract_article(text: str, published: date, *, publisher: str | None = None, title: str | None = None,
                    url: str | None = None, country_iso3: str | None = None) -> list[Claim]:
    """Candidate figures of one article; fact ids are the article's hash prefix and a sequence."""
    return extract_claims(text, published, publisher=publisher, title=title, url=url,
                          country_iso3=country_iso3, article_id=article_hash(text))


__all__ = ["Claim", "extract_article", "extract_claims", "split_sentences", "to_csv_text", "to_records",
           "write_inbox", "article_hash"]
