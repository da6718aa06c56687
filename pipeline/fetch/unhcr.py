"""UNHCR Refugee Data Finder API, population statistics (no key).

GET /population/v1/population/?page=N&limit=L ; response {"page", "maxPages", "total", "items"}.
`cf_type=ISO` makes `coo` take ISO3 codes (UNHCR's own codes differ for some countries, e.g. LEB);
with a country, `coa_all=true` asks for one row per country of asylum. `--since` sets yearFrom.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.fetch import core

BASE_ENV = "DISPLACEMENT_UNHCR_BASE_URL"
DEFAULT_BASE = "https://api.unhcr.org"
PATH = "/population/v1/population/"
PAGE_SIZE = 10_000


def fetch(dataset: str = "unhcr", country: str | None = None, since: str | None = None, *,
          settings: core.Settings | None = None, base_url: str | None = None,
          inbox: Path | None = None, snapshots: Path | None = None, **_) -> core.FetchResult:
    url = core.base_url(BASE_ENV, DEFAULT_BASE, base_url) + PATH
    settings = settings or core.Settings.from_env()
    limit = settings.page_size or PAGE_SIZE
    params: dict = {"limit": limit, "page": 1, "cf_type": "ISO"}
    if country:
        params.update(coo=country, coa_all="true")
    if since:
        params.update(yearFrom=int(since[:4]), yearTo=core.utc_now().year)
    items: list = []
    with core.Session("unhcr", dataset, settings, snapshots=snapshots) as session:
        page = 1
        while True:
            params["page"] = page
            payload = session.get_json(url, page=page, params=params)
            batch = core.expect_list(session, payload, "items", page)
            items.extend(batch)
            max_pages = payload.get("maxPages")
            if max_pages is not None and not isinstance(max_pages, int):
                raise session.bad_shape(page, 'a page with a whole-number "maxPages"')
            if not batch or (max_pages is not None and page >= max_pages) or (max_pages is None and len(batch) < limit):
                break
            page += 1
        combined = {"page": 1, "maxPages": 1, "total": len(items), "items": items}
        return session.finish(core.file_stem(dataset, country, since), combined, len(items), inbox)
