"""IOM Displacement Tracking Matrix API v3: IDP figures at admin 0, 1 or 2.

GET /v3/displacement/admin{0,1,2}?Admin0Pcode=ISO3&FromReportingDate=... with the subscription key
in the Ocp-Apim-Subscription-Key header. Response {"isSuccess", "result": [...], "errorMessages"},
one response per query (no pages that we know of). The API needs a country (or an operation).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.fetch import core

BASE_ENV = "DISPLACEMENT_DTM_BASE_URL"
DEFAULT_BASE = "https://dtmapi.iom.int"
CREDENTIAL = "DTM_SUBSCRIPTION_KEY"
HOW = "the API-V3 primary key from https://dtm-apim-portal.iom.int/"
LEVELS = {"dtm": "admin0", "dtm-admin1": "admin1", "dtm-admin2": "admin2"}


def fetch(dataset: str = "dtm", country: str | None = None, since: str | None = None, *,
          settings: core.Settings | None = None, base_url: str | None = None,
          inbox: Path | None = None, snapshots: Path | None = None, **_) -> core.FetchResult:
    if not country:
        raise core.FetchError(f"{dataset}: the DTM API needs a country: add --country ISO3")
    key = core.credential(CREDENTIAL, "IOM DTM", HOW)
    url = core.base_url(BASE_ENV, DEFAULT_BASE, base_url) + f"/v3/displacement/{LEVELS[dataset]}"
    params = {"Admin0Pcode": country, "FromReportingDate": since,
              "ToReportingDate": core.utc_now().date().isoformat() if since else None}
    with core.Session("dtm", dataset, settings, headers={"Ocp-Apim-Subscription-Key": key},
                      snapshots=snapshots, credential_vars=(CREDENTIAL,)) as session:
        payload = session.get_json(url, page=1, params=params)
        if isinstance(payload, dict) and payload.get("isSuccess") is False:
            messages = payload.get("errorMessages") or ["no message"]
            raise core.FetchError(f"{dataset}: the DTM API refused the query from {session.pages[-1].url}: "
                                  f"{'; '.join(map(str, messages))[:300]}")
        rows = core.expect_list(session, payload, "result", 1)
        combined = {"isSuccess": True, "result": rows, "errorMessages": []}
        return session.finish(core.file_stem(dataset, country, since), combined, len(rows), inbox)
