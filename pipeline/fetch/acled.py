"""ACLED events API: an OAuth password-grant token, then /api/acled/read pages of 5,000 events.

POST /oauth/token (username, password, grant_type=password, client_id=acled) -> {"access_token"};
GET /api/acled/read?_format=json&country=NAME&event_date=FROM|TO&event_date_where=BETWEEN&page=N&limit=5000
with "Authorization: Bearer <token>"; response {"status", "success", "count", "data": [...]}; pages
until one returns fewer rows than the limit. The token response is never stored (manifest line only).
The pages are combined into one CSV in the layout of ACLED's event export, which the ACLED reader reads.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.fetch import core

BASE_ENV = "DISPLACEMENT_ACLED_BASE_URL"
DEFAULT_BASE = "https://acleddata.com"
CREDENTIALS = ("ACLED_USERNAME", "ACLED_PASSWORD")
PAGE_SIZE = 5_000

# ACLED filters by country name; a few ISO3 codes are translated, any other name is passed through.
COUNTRY_NAMES = {
    "AFG": "Afghanistan", "COD": "Democratic Republic of Congo", "ETH": "Ethiopia", "HTI": "Haiti",
    "IRQ": "Iraq", "LBN": "Lebanon", "LBY": "Libya", "MLI": "Mali", "MMR": "Myanmar", "NGA": "Nigeria",
    "PSE": "Palestine", "SDN": "Sudan", "SOM": "Somalia", "SSD": "South Sudan", "SYR": "Syria",
    "TCD": "Chad", "TUR": "Turkey", "UKR": "Ukraine", "YEM": "Yemen", "BFA": "Burkina Faso",
    "NER": "Niger", "CAF": "Central African Republic", "MOZ": "Mozambique", "JOR": "Jordan",
}


def country_name(country: str) -> str:
    if len(country) == 3 and country.isalpha():
        name = COUNTRY_NAMES.get(country.upper())
        if not name:
            raise core.FetchError(f"acled: no country name known for {country!r}; ACLED filters by name, "
                                  "so give it, e.g. --country Syria")
        return name
    return country


def token(session: core.Session, base: str) -> str:
    username = core.credential("ACLED_USERNAME", "ACLED", "the e-mail of your ACLED account")
    password = core.credential("ACLED_PASSWORD", "ACLED", "the password of your ACLED account")
    rec = session.request("POST", base + "/oauth/token", page="token", store_body=False,
                          data={"username": username, "password": password,
                                "grant_type": "password", "client_id": "acled"})
    try:
        access = json.loads(rec.raw).get("access_token")
    except (ValueError, AttributeError):
        access = None
    if not isinstance(access, str) or not access:
        raise core.FetchError(f"acled: the token response from {rec.url} has no access_token")
    core.register_secret(access)
    return access


def fetch(dataset: str = "acled", country: str | None = None, since: str | None = None, *,
          settings: core.Settings | None = None, base_url: str | None = None,
          inbox: Path | None = None, snapshots: Path | None = None, **_) -> core.FetchResult:
    missing = [v for v in CREDENTIALS if not os.environ.get(v, "").strip()]
    if missing:
        raise core.MissingCredential(f"ACLED needs credentials: set the environment variable"
                                     f"{'s' if len(missing) > 1 else ''} {' and '.join(missing)}")
    name = country_name(country) if country else None
    base = core.base_url(BASE_ENV, DEFAULT_BASE, base_url)
    settings = settings or core.Settings.from_env()
    limit = settings.page_size or PAGE_SIZE
    params: dict = {"_format": "json", "country": name, "limit": limit}
    if since:
        params.update(event_date=f"{since}|{core.utc_now().date().isoformat()}", event_date_where="BETWEEN")
    rows: list = []
    with core.Session("acled", dataset, settings, snapshots=snapshots, credential_vars=CREDENTIALS) as session:
        bearer = {"Authorization": f"Bearer {token(session, base)}"}
        page = 1
        while True:
            params["page"] = page
            payload = session.get_json(base + "/api/acled/read", page=page, params=params, headers=bearer)
            if isinstance(payload, dict) and payload.get("success") is False:
                error = payload.get("error") or payload.get("messages") or "no message"
                raise core.FetchError(f"acled: the API refused page {page} from {session.pages[-1].url}: {str(error)[:300]}")
            batch = core.expect_list(session, payload, "data", page)
            rows.extend(batch)
            if len(batch) < limit:
                break
            page += 1
        # The combined file is ACLED's event export CSV (same column names as the API's JSON rows),
        # the form the ACLED reader recognises; the JSON pages stay in the snapshots.
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise core.FetchError(f"acled: row {i + 1} of the combined pages is not a JSON object")
        return session.finish(core.file_stem(dataset, country, since, "csv"), None, len(rows), inbox,
                              csv_rows=rows)
