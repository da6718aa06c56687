"""IDMC Internal Displacement Updates, from the Helix external API.

GET /external-api/idus/all/?client_id=... returns one JSON list of every IDU record (no pages).
The API has no country or date filter that we know of, so the raw snapshot keeps everything and the
combined file keeps the rows of the country (`iso3`) and those displaced on or after --since.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.fetch import core

BASE_ENV = "DISPLACEMENT_IDMC_BASE_URL"
DEFAULT_BASE = "https://helix-tools-api.idmcdb.org"
PATH = "/external-api/idus/all/"
CREDENTIAL = "IDMC_CLIENT_ID"
HOW = "the client id IDMC issues for its Helix external API"


def _row_date(row: dict) -> str:
    for key in ("displacement_end_date", "displacement_date", "displacement_start_date"):
        value = row.get(key)
        if value:
            return str(value)[:10]
    return ""


def fetch(dataset: str = "idmc", country: str | None = None, since: str | None = None, *,
          settings: core.Settings | None = None, base_url: str | None = None,
          inbox: Path | None = None, snapshots: Path | None = None, **_) -> core.FetchResult:
    client_id = core.credential(CREDENTIAL, "IDMC", HOW)
    url = core.base_url(BASE_ENV, DEFAULT_BASE, base_url) + PATH
    with core.Session("idmc", dataset, settings, snapshots=snapshots, credential_vars=(CREDENTIAL,)) as session:
        payload = session.get_json(url, page=1, params={"client_id": client_id})
        rows = core.expect_list(session, payload, None, 1)
        kept = [r for r in rows if isinstance(r, dict)
                and (not country or str(r.get("iso3", "")).upper() == country.upper())
                and (not since or _row_date(r) >= since)]
        notes = []
        if len(kept) != len(rows):
            notes.append(f"kept {len(kept)} of {len(rows)} records (country/date filter applied locally)")
        return session.finish(core.file_stem(dataset, country, since), kept, len(kept), inbox, notes)
