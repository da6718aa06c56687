"""HDX HAPI (OCHA's Humanitarian API), v2: IDPs, refugees and persons of concern, conflict events.

Auth: the app identifier (base64 of "application:email", made at /api/v2/encode_app_identifier) from
HDX_HAPI_APP_IDENTIFIER, sent as the X-HDX-HAPI-APP-IDENTIFIER header (never in the URL).
Pages: `limit` + `offset`, until a page returns fewer rows than `limit`. Response: {"data": [...]}.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.fetch import core

BASE_ENV = "DISPLACEMENT_HAPI_BASE_URL"
DEFAULT_BASE = "https://hapi.humdata.org"
CREDENTIAL = "HDX_HAPI_APP_IDENTIFIER"
HOW = "base64 of 'app_name:email', from https://hapi.humdata.org/docs encode_app_identifier"
PAGE_SIZE = 10_000  # the API's maximum

# dataset -> (path, the parameter that filters by country)
DATASETS = {
    "hapi-idps": ("/api/v2/affected-people/idps", "location_code"),
    "hapi-refugees": ("/api/v2/affected-people/refugees-persons-of-concern", "origin_location_code"),
    "hapi-conflict-events": ("/api/v2/coordination-context/conflict-events", "location_code"),
}


def fetch(dataset: str, country: str | None = None, since: str | None = None, *,
          settings: core.Settings | None = None, base_url: str | None = None,
          inbox: Path | None = None, snapshots: Path | None = None, **_) -> core.FetchResult:
    path, country_param = DATASETS[dataset]
    app_id = core.credential(CREDENTIAL, "HDX HAPI", HOW)
    url = core.base_url(BASE_ENV, DEFAULT_BASE, base_url) + path
    settings = settings or core.Settings.from_env()
    limit = settings.page_size or PAGE_SIZE
    params = {"output_format": "json", "limit": limit, "offset": 0,
              country_param: country, "reference_period_start_min": since}
    rows: list = []
    with core.Session("hapi", dataset, settings, headers={"X-HDX-HAPI-APP-IDENTIFIER": app_id},
                      snapshots=snapshots, credential_vars=(CREDENTIAL,)) as session:
        page = 1
        while True:
            payload = session.get_json(url, page=page, params=params)
            batch = core.expect_list(session, payload, "data", page)
            rows.extend(batch)
            if len(batch) < limit:
                break
            page += 1
            params["offset"] += limit
        return session.finish(core.file_stem(dataset, country, since), {"data": rows}, len(rows), inbox)
