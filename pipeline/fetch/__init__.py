"""Fetch the sources' APIs into raw snapshots and one inbox file per query.

    from pipeline.fetch import fetch, configured_sources
    fetch("hapi-idps", country="SYR", since="2019-01-01")   # -> FetchResult
    configured_sources()                                     # which sources can run, and why not

One small client per source (hapi, unhcr, idmc, dtm, acled); what they share lives in `core`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline.fetch import acled, dtm, hapi, idmc, unhcr
from pipeline.fetch.core import FetchError, FetchResult, MissingCredential, Settings, redact, redact_url

__all__ = ["SOURCES", "Source", "SourceStatus", "FetchError", "FetchResult", "MissingCredential", "Settings",
           "configured_sources", "fetch", "redact", "redact_url"]


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    credentials: tuple[str, ...]
    base_env: str
    run: Callable[..., FetchResult]
    needs_country: bool = False


SOURCES: dict[str, Source] = {
    "hapi-idps": Source("hapi-idps", "HDX HAPI affected-people/idps (IOM DTM via OCHA)",
                        (hapi.CREDENTIAL,), hapi.BASE_ENV, hapi.fetch),
    "hapi-refugees": Source("hapi-refugees", "HDX HAPI affected-people/refugees-persons-of-concern (UNHCR via OCHA)",
                            (hapi.CREDENTIAL,), hapi.BASE_ENV, hapi.fetch),
    "hapi-conflict-events": Source("hapi-conflict-events", "HDX HAPI coordination-context/conflict-events (ACLED via OCHA)",
                                   (hapi.CREDENTIAL,), hapi.BASE_ENV, hapi.fetch),
    "unhcr": Source("unhcr", "UNHCR population statistics API (no key)", (), unhcr.BASE_ENV, unhcr.fetch),
    "idmc": Source("idmc", "IDMC Internal Displacement Updates (Helix external API)",
                   (idmc.CREDENTIAL,), idmc.BASE_ENV, idmc.fetch),
    "dtm": Source("dtm", "IOM DTM API v3, admin 0 IDP figures", (dtm.CREDENTIAL,), dtm.BASE_ENV, dtm.fetch, True),
    "dtm-admin1": Source("dtm-admin1", "IOM DTM API v3, admin 1 IDP figures",
                         (dtm.CREDENTIAL,), dtm.BASE_ENV, dtm.fetch, True),
    "dtm-admin2": Source("dtm-admin2", "IOM DTM API v3, admin 2 IDP figures",
                         (dtm.CREDENTIAL,), dtm.BASE_ENV, dtm.fetch, True),
    "acled": Source("acled", "ACLED events API (OAuth)", acled.CREDENTIALS, acled.BASE_ENV, acled.fetch),
}


@dataclass(frozen=True)
class SourceStatus:
    name: str
    ready: bool
    reason: str  # "" when ready; otherwise which environment variable to set


def configured_sources() -> list[SourceStatus]:
    """Every source, whether its credentials are set, and for the others why they would be skipped."""
    out = []
    for src in SOURCES.values():
        missing = [v for v in src.credentials if not os.environ.get(v, "").strip()]
        reason = f"set {' and '.join(missing)}" if missing else ""
        out.append(SourceStatus(src.name, not missing, reason))
    return out


def fetch(name: str, country: str | None = None, since: str | None = None, *,
          settings: Settings | None = None, base_url: str | None = None,
          inbox: Path | None = None, snapshots: Path | None = None) -> FetchResult:
    """Fetch one source's dataset: raw snapshots + manifest, then one combined file in the inbox."""
    if name not in SOURCES:
        raise FetchError(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}")
    return SOURCES[name].run(name, country=country, since=since, settings=settings, base_url=base_url,
                             inbox=inbox, snapshots=snapshots)
