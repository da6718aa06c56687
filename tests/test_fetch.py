"""The API fetchers against a real HTTP server on 127.0.0.1 (pytest-httpserver).

Each test serves pages in the API's own response shape and checks what the fetcher sent, what it
kept (raw snapshots + manifest), what it wrote into the inbox, and that no secret leaks anywhere.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipeline import cli
from pipeline.fetch import FetchError, MissingCredential, Settings, configured_sources, fetch
from pipeline.fetch.core import parse_retry_after, redact_url

SECRETS = {
    # base64 with padding, so the URL-encoded form (%3D) differs from the raw one
    "HDX_HAPI_APP_IDENTIFIER": "ZGlzcGxhY2VtZW50OmFuYWx5c3RAZXhhbXBsZS5vcmc=",
    "IDMC_CLIENT_ID": "IDMCCLIENT7f3a9b2c",
    "DTM_SUBSCRIPTION_KEY": "dtmkey0123456789abcdef",
    "ACLED_USERNAME": "analyst@example.org",
    "ACLED_PASSWORD": "p@ss w0rd&=?%secret",
}
TOKEN = "acled-access-token-9f8e7d6c5b"
ALL_SECRETS = [*SECRETS.values(), TOKEN]
BASE_ENVS = ["DISPLACEMENT_HAPI_BASE_URL", "DISPLACEMENT_UNHCR_BASE_URL", "DISPLACEMENT_IDMC_BASE_URL",
             "DISPLACEMENT_DTM_BASE_URL", "DISPLACEMENT_ACLED_BASE_URL"]

HAPI_IDPS = "/api/v2/affected-people/idps"
UNHCR = "/population/v1/population/"
IDMC = "/external-api/idus/all/"
DTM0 = "/v3/displacement/admin0"
ACLED_TOKEN = "/oauth/token"
ACLED_READ = "/api/acled/read"


@pytest.fixture
def env(tmp_path, monkeypatch, httpserver):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    base = httpserver.url_for("/").rstrip("/")
    for name in BASE_ENVS:
        monkeypatch.setenv(name, base)
    monkeypatch.setenv("DISPLACEMENT_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("DISPLACEMENT_SNAPSHOTS", str(tmp_path / "snapshots"))
    monkeypatch.setenv("DISPLACEMENT_FETCH_BACKOFF", "0")
    monkeypatch.setenv("DISPLACEMENT_FETCH_ATTEMPTS", "3")
    monkeypatch.setenv("DISPLACEMENT_FETCH_TIMEOUT", "5")
    for name in ("DISPLACEMENT_FETCH_PAGE_SIZE", "DISPLACEMENT_FETCH_RETRY_AFTER_MAX", "DISPLACEMENT_FETCH_MAX_PAGES"):
        monkeypatch.delenv(name, raising=False)
    return SimpleNamespace(tmp=tmp_path, inbox=tmp_path / "inbox", snapshots=tmp_path / "snapshots",
                           server=httpserver, base=base)


def json_response(payload, status=200, headers=None) -> Response:
    return Response(json.dumps(payload), status=status, headers=headers, content_type="application/json")


def manifest(env, source) -> list[dict]:
    path = env.snapshots / source / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def requests_to(env, path) -> list[Request]:
    return [req for req, _ in env.server.log if req.path == path]


def recorder() -> tuple[list[float], Settings]:
    sleeps: list[float] = []
    return sleeps, Settings(attempts=3, backoff=0, timeout=5, sleep=sleeps.append)


HAPI_ROWS = [
    {"location_code": "SYR", "admin1_code": "SY07", "admin2_code": f"SY070{i}", "operation": "Syria",
     "population": 1000 * (i + 1), "reporting_round": 3, "reference_period_start": "2019-05-01",
     "reference_period_end": "2019-05-31"}
    for i in range(3)
]


def serve_hapi(env, path=HAPI_IDPS, rows=HAPI_ROWS):
    def handler(req: Request) -> Response:
        offset, limit = int(req.args["offset"]), int(req.args["limit"])
        return json_response({"data": rows[offset:offset + limit]})

    env.server.expect_request(path).respond_with_handler(handler)


# --------------------------------------------------------------------------------------------------
# each source: the request it makes, its pagination, the snapshots and the combined file


def test_hapi_pages_until_a_short_page_and_keeps_every_response(env, monkeypatch):
    monkeypatch.setenv("DISPLACEMENT_FETCH_PAGE_SIZE", "2")
    serve_hapi(env)

    result = fetch("hapi-idps", country="SYR", since="2019-01-01")

    assert (result.rows, result.pages) == (3, 2)
    assert result.inbox_file == env.inbox / "hapi_idps_SYR_2019-01-01.json"
    assert json.loads(result.inbox_file.read_text()) == {"data": HAPI_ROWS}
    assert not [p for p in env.inbox.iterdir() if p.name.endswith(".part")]

    reqs = requests_to(env, HAPI_IDPS)
    assert [(r.args["offset"], r.args["limit"]) for r in reqs] == [("0", "2"), ("2", "2")]
    first = reqs[0]
    assert first.args["location_code"] == "SYR"
    assert first.args["reference_period_start_min"] == "2019-01-01"
    assert first.args["output_format"] == "json"
    assert first.headers["X-HDX-HAPI-APP-IDENTIFIER"] == SECRETS["HDX_HAPI_APP_IDENTIFIER"]
    assert "app_identifier" not in first.args  # the identifier travels in a header, not the URL

    lines = manifest(env, "hapi")
    assert [(m["page"], m["status"], m["dataset"]) for m in lines] == [(1, 200, "hapi-idps"), (2, 200, "hapi-idps")]
    assert "offset=2" in lines[1]["url"] and lines[0]["url"].startswith(env.base + HAPI_IDPS)
    assert len({m["run_id"] for m in lines}) == 1
    for line, snap, (_, served) in zip(lines, result.snapshots, env.server.log):
        body = snap.read_bytes()
        assert body == served.get_data()  # the raw bytes as they came
        assert hashlib.sha256(body).hexdigest() == line["sha256"]
        assert snap.name == line["snapshot"] and snap.name.endswith(f"-{line['sha256'][:12]}.json")
        assert line["fetched_at"].endswith("Z") and snap.name[:8] == line["fetched_at"][:10].replace("-", "")


@pytest.mark.parametrize("dataset, path, country_param", [
    ("hapi-refugees", "/api/v2/affected-people/refugees-persons-of-concern", "origin_location_code"),
    ("hapi-conflict-events", "/api/v2/coordination-context/conflict-events", "location_code"),
])
def test_hapi_other_endpoints(env, dataset, path, country_param):
    rows = [{"event_type": "civilian_targeting", "events": 4, "fatalities": 9}]
    serve_hapi(env, path, rows)
    result = fetch(dataset, country="SYR")
    assert result.rows == 1 and result.inbox_file.name == f"{dataset.replace('-', '_')}_SYR_all.json"
    assert json.loads(result.inbox_file.read_text()) == {"data": rows}
    (req,) = requests_to(env, path)
    assert req.args[country_param] == "SYR" and req.args["limit"] == "10000"
    assert "reference_period_start_min" not in req.args


def test_hapi_exactly_full_pages_ask_once_more(env, monkeypatch):
    monkeypatch.setenv("DISPLACEMENT_FETCH_PAGE_SIZE", "3")
    serve_hapi(env)
    result = fetch("hapi-idps")
    assert (result.rows, result.pages) == (3, 2)  # the second, empty page ends it
    assert result.inbox_file.name == "hapi_idps_all_all.json"


def test_unhcr_follows_max_pages_without_any_key(env, monkeypatch):
    for name in SECRETS:
        monkeypatch.delenv(name)
    items = [{"year": 2019 + i, "coo_iso": "SYR", "coa_iso": "TUR", "refugees": 3_500_000 + i} for i in range(3)]

    def handler(req: Request) -> Response:
        page = int(req.args["page"])
        chunk = items[:2] if page == 1 else items[2:]
        return json_response({"page": page, "maxPages": 2, "total": 3, "items": chunk})

    env.server.expect_request(UNHCR).respond_with_handler(handler)
    result = fetch("unhcr", country="SYR", since="2019-04-01")

    assert (result.rows, result.pages) == (3, 2)
    combined = json.loads(result.inbox_file.read_text())
    assert combined["items"] == items and combined["total"] == 3
    assert result.inbox_file.name == "unhcr_SYR_2019-04-01.json"
    reqs = requests_to(env, UNHCR)
    assert [r.args["page"] for r in reqs] == ["1", "2"]
    assert reqs[0].args["coo"] == "SYR" and reqs[0].args["cf_type"] == "ISO"
    assert reqs[0].args["yearFrom"] == "2019" and reqs[0].args["coa_all"] == "true"
    assert [m["page"] for m in manifest(env, "unhcr")] == [1, 2]


def test_idmc_sends_client_id_and_filters_country_and_date_locally(env):
    records = [
        {"id": 1, "iso3": "SYR", "figure": 5000, "displacement_date": "2019-05-10", "qualifier": "more than"},
        {"id": 2, "iso3": "SYR", "figure": 700, "displacement_date": "2018-01-02"},
        {"id": 3, "iso3": "TUR", "figure": 100, "displacement_date": "2019-06-01"},
    ]
    env.server.expect_request(IDMC).respond_with_json(records)
    result = fetch("idmc", country="SYR", since="2019-01-01")

    assert json.loads(result.inbox_file.read_text()) == [records[0]]
    assert result.rows == 1 and result.notes == ["kept 1 of 3 records (country/date filter applied locally)"]
    (req,) = requests_to(env, IDMC)
    assert req.args["client_id"] == SECRETS["IDMC_CLIENT_ID"]
    (line,) = manifest(env, "idmc")
    assert "client_id=REDACTED" in line["url"]
    assert json.loads(result.snapshots[0].read_bytes()) == records  # the snapshot keeps everything


def test_dtm_sends_key_header_and_needs_a_country(env):
    rows = [{"admin0Pcode": "SYR", "numPresentIdpInd": 6_800_000, "reportingDate": "2019-12-31",
             "roundNumber": 4, "operation": "Syria"}]
    env.server.expect_request(DTM0).respond_with_json({"isSuccess": True, "result": rows, "errorMessages": []})
    result = fetch("dtm", country="SYR", since="2019-01-01")

    assert json.loads(result.inbox_file.read_text())["result"] == rows
    (req,) = requests_to(env, DTM0)
    assert req.headers["Ocp-Apim-Subscription-Key"] == SECRETS["DTM_SUBSCRIPTION_KEY"]
    assert req.args["Admin0Pcode"] == "SYR" and req.args["FromReportingDate"] == "2019-01-01"

    with pytest.raises(FetchError, match="needs a country"):
        fetch("dtm")


def test_dtm_refusal_in_the_body_is_an_error(env):
    env.server.expect_request("/v3/displacement/admin1").respond_with_json(
        {"isSuccess": False, "result": [], "errorMessages": ["Admin0Pcode XXX not found"]})
    with pytest.raises(FetchError, match="refused the query.*XXX not found"):
        fetch("dtm-admin1", country="XXX")
    assert not env.inbox.exists() or not list(env.inbox.iterdir())


def serve_acled(env, rows):
    def token(req: Request) -> Response:
        form = req.form
        ok = (form.get("username"), form.get("password"), form.get("grant_type"), form.get("client_id")) == (
            SECRETS["ACLED_USERNAME"], SECRETS["ACLED_PASSWORD"], "password", "acled")
        if not ok:
            return json_response({"error": "invalid_grant"}, status=400)
        return json_response({"access_token": TOKEN, "refresh_token": "refresh-" + TOKEN, "expires_in": 86400})

    def read(req: Request) -> Response:
        if req.headers.get("Authorization") != f"Bearer {TOKEN}":
            return json_response({"message": "unauthorised"}, status=401)
        page, limit = int(req.args["page"]), int(req.args["limit"])
        chunk = rows[(page - 1) * limit: page * limit]
        return json_response({"status": 200, "success": True, "count": len(chunk), "data": chunk})

    env.server.expect_request(ACLED_TOKEN, method="POST").respond_with_handler(token)
    env.server.expect_request(ACLED_READ).respond_with_handler(read)


def test_acled_gets_a_token_then_pages(env, monkeypatch):
    monkeypatch.setenv("DISPLACEMENT_FETCH_PAGE_SIZE", "2")
    rows = [{"event_id_cnty": f"SYR{i}", "event_date": "2019-05-0%d" % (i + 1), "fatalities": i} for i in range(3)]
    serve_acled(env, rows)
    result = fetch("acled", country="SYR", since="2019-04-01")

    assert (result.rows, result.pages) == (3, 2)
    assert result.inbox_file == env.inbox / "acled_SYR_2019-04-01.csv"
    with result.inbox_file.open(newline="") as fh:
        assert list(csv.DictReader(fh)) == [{k: str(v) for k, v in r.items()} for r in rows]
    reads = requests_to(env, ACLED_READ)
    assert [r.args["page"] for r in reads] == ["1", "2"]
    assert reads[0].args["country"] == "Syria" and reads[0].args["event_date_where"] == "BETWEEN"
    assert reads[0].args["event_date"].startswith("2019-04-01|")
    lines = manifest(env, "acled")
    assert [(m["page"], m["snapshot"] is None) for m in lines] == [("token", True), (1, False), (2, False)]
    assert len(result.snapshots) == 2  # the token response is never stored

    # the token is a registered secret now; a second run must still read it from the (unstored) response
    assert fetch("acled", country="Syria").rows == 3
    assert (env.inbox / "acled_Syria_all.csv").read_text().startswith("event_id_cnty,event_date,fatalities\n")


def test_acled_rejects_unknown_iso3_with_advice(env):
    with pytest.raises(FetchError, match="--country Syria"):
        fetch("acled", country="XYZ")


def test_no_rows_writes_nothing_to_the_inbox(env, capsys):
    env.server.expect_request(HAPI_IDPS).respond_with_json({"data": []})
    result = fetch("hapi-idps", country="SYR")
    assert result.rows == 0 and result.inbox_file is None and len(result.snapshots) == 1
    assert "no rows: nothing written to the inbox" in result.notes
    assert not env.inbox.exists() or not list(env.inbox.iterdir())
    assert cli.main(["fetch", "hapi-idps", "--country", "SYR"]) == 0
    assert "hapi-idps: 0 rows from 1 page -> nothing written" in capsys.readouterr().out


def test_combined_files_are_recognised_by_the_readers(env, monkeypatch):
    """The inbox files must be picked up by `displacement build`: detect each with the readers."""
    from pipeline.sources import detect

    detect.readers()
    serve_hapi(env)
    env.server.expect_request(UNHCR).respond_with_json({"page": 1, "maxPages": 1, "total": 1, "items": [
        {"year": 2019, "coo_id": 1, "coo_name": "Syrian Arab Rep.", "coo": "SYR", "coo_iso": "SYR", "coa_id": 2,
         "coa_name": "Türkiye", "coa": "TUR", "coa_iso": "TUR", "refugees": 3576370, "asylum_seekers": 0,
         "returned_refugees": 0, "idps": 0, "returned_idps": 0, "stateless": 0, "ooc": 0, "oip": 0, "hst": 0}]})
    env.server.expect_request(IDMC).respond_with_json([
        {"id": 7, "country": "Syria", "iso3": "SYR", "latitude": 35.9, "longitude": 36.6, "centroid": "[35.9, 36.6]",
         "displacement_type": "Conflict", "qualifier": "more than", "figure": 5000, "displacement_date": "2019-05-10",
         "displacement_start_date": "2019-05-01", "displacement_end_date": "2019-05-10", "year": 2019,
         "event_name": "Idlib offensive", "event_start_date": "2019-04-29", "event_end_date": "2019-08-31",
         "category": "Conflict", "subcategory": "Violence", "type": "Armed conflict", "subtype": "Armed conflict",
         "standard_popup_text": "", "standard_info_text": "", "old_id": None, "created_at": "2019-05-12",
         "role": "Recommended figure", "event_id": 99}])
    env.server.expect_request(DTM0).respond_with_json({"isSuccess": True, "errorMessages": [], "result": [
        {"id": 1, "operation": "Syria", "admin0Name": "Syria", "admin0Pcode": "SYR", "adminLevel": 0,
         "numPresentIdpInd": 6500000, "reportingDate": "2019-12-31T00:00:00", "yearReportingDate": 2019,
         "monthReportingDate": 12, "roundNumber": 4, "displacementReason": "Conflict", "numberMales": None,
         "numberFemales": None, "idpOriginAdmin1Name": None, "idpOriginAdmin1Pcode": None,
         "assessmentType": "BA", "operationStatus": "Active"}]})
    serve_acled(env, [{"event_id_cnty": "SYR1", "event_date": "2019-05-01", "year": 2019, "time_precision": 1,
                       "disorder_type": "Political violence", "event_type": "Explosions/Remote violence",
                       "sub_event_type": "Air/drone strike", "civilian_targeting": "Civilian targeting",
                       "country": "Syria", "iso": 760, "admin1": "Idleb", "admin2": "Ariha", "admin3": "Ariha",
                       "location": "Ariha", "fatalities": 4}])
    for source in ("hapi-idps", "unhcr", "idmc", "dtm", "acled"):
        result = fetch(source, country="SYR")
        reader = detect.detect(detect.sniff(result.inbox_file))
        assert reader.__name__.rsplit(".", 1)[-1] == source.split("-")[0], source
        assert detect.read_path(result.inbox_file).rows_read == result.rows, source


# --------------------------------------------------------------------------------------------------
# retries, timeouts and errors


def test_429_with_retry_after_then_success(env):
    env.server.expect_oneshot_request(IDMC).respond_with_data("slow down", status=429, headers={"Retry-After": "0"})
    env.server.expect_request(IDMC).respond_with_json([{"id": 1, "iso3": "SYR"}])
    sleeps, settings = recorder()
    result = fetch("idmc", settings=settings)

    assert result.rows == 1 and len(requests_to(env, IDMC)) == 2
    assert sleeps == [0.0]
    lines = manifest(env, "idmc")
    assert [(m["status"], m["attempt"]) for m in lines] == [(429, 1), (200, 2)]
    assert (env.snapshots / "idmc" / lines[0]["snapshot"]).read_bytes() == b"slow down"
    assert result.snapshots == [env.snapshots / "idmc" / lines[1]["snapshot"]]


@pytest.mark.parametrize("header, cap, expected", [("7", 120.0, 7.0), ("9999", 5.0, 5.0)])
def test_retry_after_is_honoured_and_capped(env, header, cap, expected):
    env.server.expect_oneshot_request(DTM0).respond_with_data("", status=429, headers={"Retry-After": header})
    env.server.expect_request(DTM0).respond_with_json({"isSuccess": True, "result": []})
    sleeps, settings = recorder()
    settings.backoff, settings.retry_after_max = 0.25, cap
    fetch("dtm", country="SYR", settings=settings)
    assert sleeps == [expected]


def test_500s_back_off_exponentially_then_succeed(env):
    env.server.expect_ordered_request(UNHCR).respond_with_data("boom", status=500)
    env.server.expect_ordered_request(UNHCR).respond_with_data("<html>bad gateway</html>", status=502)
    env.server.expect_ordered_request(UNHCR).respond_with_json({"page": 1, "maxPages": 1, "items": [{"year": 2019}]})
    sleeps, settings = recorder()
    settings.backoff = 0.5
    result = fetch("unhcr", settings=settings)
    assert result.rows == 1
    assert sleeps == [0.5, 1.0]
    assert [m["status"] for m in manifest(env, "unhcr")] == [500, 502, 200]


def test_persistent_5xx_gives_up_after_bounded_attempts(env):
    env.server.expect_request(HAPI_IDPS).respond_with_data("unavailable", status=503)
    sleeps, settings = recorder()
    with pytest.raises(FetchError) as info:
        fetch("hapi-idps", country="SYR", settings=settings)
    message = str(info.value)
    assert "gave up after 3 attempts" in message and "HTTP 503" in message and HAPI_IDPS in message
    assert "\n" not in message
    assert len(requests_to(env, HAPI_IDPS)) == 3 and len(sleeps) == 2


def test_client_errors_are_not_retried_and_name_the_credential(env):
    env.server.expect_request(IDMC).respond_with_data("forbidden", status=403)
    with pytest.raises(FetchError) as info:
        fetch("idmc")
    assert len(requests_to(env, IDMC)) == 1
    message = str(info.value)
    assert "HTTP 403" in message and "check IDMC_CLIENT_ID" in message and "client_id=REDACTED" in message


def test_redirect_to_another_host_is_not_followed(env):
    other = env.base.replace("localhost", "127.0.0.1")
    assert other != env.base
    env.server.expect_request(DTM0).respond_with_data("", status=302, headers={"Location": other + "/elsewhere"})
    with pytest.raises(FetchError, match="redirected from http://localhost:[0-9]+ to another origin"):
        fetch("dtm", country="SYR")
    assert requests_to(env, "/elsewhere") == [] and len(requests_to(env, DTM0)) == 1


def test_redirect_to_another_port_of_the_same_host_is_not_followed(env):
    """httpx drops only Authorization when a redirect leaves the origin: a key in a header of its own (DTM's
    Ocp-Apim-Subscription-Key) would go to whatever listens on the other port."""
    other = HTTPServer(host="localhost", port=0)
    other.start()
    try:
        elsewhere = f"http://localhost:{other.port}/elsewhere"
        assert other.port != env.server.port
        env.server.expect_request(DTM0).respond_with_data("", status=307, headers={"Location": elsewhere})
        with pytest.raises(FetchError, match="to another origin"):
            fetch("dtm", country="SYR")
        assert other.log == [], "the key went to the other port"
    finally:
        other.clear()
        other.stop()


def test_redirect_on_the_same_host_is_followed(env):
    env.server.expect_request(IDMC).respond_with_data("", status=301, headers={"Location": "/moved/"})
    env.server.expect_request("/moved/").respond_with_json([{"id": 1}])
    result = fetch("idmc")
    assert result.rows == 1 and len(requests_to(env, "/moved/")) == 1
    assert [(m["status"], m["url"]) for m in manifest(env, "idmc")] == [
        (301, env.base + IDMC + "?client_id=REDACTED"), (200, env.base + "/moved/")]
    assert len(result.snapshots) == 1


def test_connection_refused_is_retried_then_one_line(env, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DISPLACEMENT_IDMC_BASE_URL", f"http://127.0.0.1:{port}")
    sleeps, settings = recorder()
    with pytest.raises(FetchError) as info:
        fetch("idmc", settings=settings)
    message = str(info.value)
    assert "gave up after 3 attempts: ConnectError" in message and f"127.0.0.1:{port}{IDMC}" in message
    assert SECRETS["IDMC_CLIENT_ID"] not in message and len(sleeps) == 2


def test_timeout_is_retried(env, monkeypatch):
    # a threaded server of its own, so the retry is served while the first request still sleeps
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    monkeypatch.setenv("DISPLACEMENT_IDMC_BASE_URL", server.url_for("/").rstrip("/"))
    calls = []

    def slow_then_fast(req: Request) -> Response:
        calls.append(time.monotonic())
        if len(calls) == 1:
            time.sleep(1.0)
        return json_response([{"id": 1}])

    server.expect_request(IDMC).respond_with_handler(slow_then_fast)
    sleeps, settings = recorder()
    settings.timeout = 0.3
    try:
        result = fetch("idmc", settings=settings)
    finally:
        server.clear()
        server.stop()
    assert result.rows == 1 and len(calls) == 2 and len(sleeps) == 1
    assert [m["status"] for m in manifest(env, "idmc")] == [200]  # the timed-out attempt had no response


def test_malformed_page_is_a_clear_error_and_its_snapshot_is_kept(env, monkeypatch):
    monkeypatch.setenv("DISPLACEMENT_FETCH_PAGE_SIZE", "2")
    truncated = b'{"data": [{"location_code": "SYR", "population": 12'

    def handler(req: Request) -> Response:
        if req.args["offset"] == "0":
            return json_response({"data": HAPI_ROWS[:2]})
        return Response(truncated, content_type="application/json")

    env.server.expect_request(HAPI_IDPS).respond_with_handler(handler)
    with pytest.raises(FetchError) as info:
        fetch("hapi-idps", country="SYR")
    message = str(info.value)
    assert message.startswith("hapi-idps: page 2 from ") and "offset=2" in message
    assert "is not valid JSON" in message and "\n" not in message
    lines = manifest(env, "hapi")
    assert [m["page"] for m in lines] == [1, 2]
    kept = env.snapshots / "hapi" / lines[1]["snapshot"]
    assert kept.read_bytes() == truncated and str(kept) in message
    assert not env.inbox.exists() or not list(env.inbox.iterdir())  # nothing half-combined in the inbox


@pytest.mark.parametrize("source, path, payload, expected", [
    ("hapi-idps", HAPI_IDPS, {"rows": []}, 'a JSON object with a "data" list'),
    ("idmc", IDMC, {"results": []}, "a JSON list"),
    ("dtm", DTM0, {"isSuccess": True, "result": {"a": 1}}, 'a JSON object with a "result" list'),
    ("unhcr", UNHCR, [1, 2], 'a JSON object with a "items" list'),
])
def test_wrong_shape_is_a_clear_error(env, source, path, payload, expected):
    env.server.expect_request(path).respond_with_json(payload)
    with pytest.raises(FetchError) as info:
        fetch(source, country="SYR")
    message = str(info.value)
    assert expected in message and path in message and "raw response kept at" in message


def test_missing_credentials_name_the_variable_and_send_nothing(env, monkeypatch):
    cases = {"hapi-idps": "HDX_HAPI_APP_IDENTIFIER", "idmc": "IDMC_CLIENT_ID", "dtm": "DTM_SUBSCRIPTION_KEY"}
    for source, var in cases.items():
        monkeypatch.delenv(var)
        with pytest.raises(MissingCredential, match=f"set the environment variable {var}"):
            fetch(source, country="SYR")
    monkeypatch.delenv("ACLED_PASSWORD")
    with pytest.raises(MissingCredential) as info:
        fetch("acled", country="SYR")
    assert "ACLED_PASSWORD" in str(info.value) and "ACLED_USERNAME" not in str(info.value)
    assert env.server.log == []


def test_configured_sources_says_why_a_source_is_skipped(env, monkeypatch):
    assert all(s.ready and s.reason == "" for s in configured_sources())
    monkeypatch.delenv("IDMC_CLIENT_ID")
    monkeypatch.delenv("ACLED_USERNAME")
    monkeypatch.setenv("DTM_SUBSCRIPTION_KEY", "  ")
    status = {s.name: s for s in configured_sources()}
    assert not status["idmc"].ready and "IDMC_CLIENT_ID" in status["idmc"].reason
    assert status["acled"].reason == "set ACLED_USERNAME"
    assert not status["dtm"].ready and not status["dtm-admin2"].ready
    assert status["unhcr"].ready and status["hapi-idps"].ready
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    assert [s.name for s in configured_sources() if s.ready] == ["unhcr"]


# --------------------------------------------------------------------------------------------------
# the command


def test_cli_fetch_prints_what_it_saved(env, monkeypatch, capsys):
    monkeypatch.setenv("DISPLACEMENT_FETCH_PAGE_SIZE", "2")
    serve_hapi(env)
    assert cli.main(["fetch", "hapi-idps", "--country", "syr", "--since", "2019-01-01"]) == 0
    out = capsys.readouterr().out
    assert "hapi-idps: 3 rows from 2 pages ->" in out
    assert str(env.inbox / "hapi_idps_SYR_2019-01-01.json") in out
    assert out.count("snapshot ") == 2 and "manifest.jsonl" in out


@pytest.mark.parametrize("argv, expected", [
    (["fetch", "hapi-idps", "--since", "2019-02-30"], "--since must be a date written YYYY-MM-DD"),
    (["fetch", "hapi-idps", "--since", "01/02/2019"], "--since must be a date written YYYY-MM-DD"),
    (["fetch", "hapi-idps", "--country", "Syria"], "--country must be an ISO3 code"),
    (["fetch", "nowhere"], "unknown source 'nowhere'"),
    (["fetch"], "fetch needs a SOURCE"),
])
def test_cli_usage_errors_are_one_line(env, capsys, argv, expected):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert env.server.log == []


def test_cli_missing_credential_and_list(env, monkeypatch, capsys):
    monkeypatch.delenv("DTM_SUBSCRIPTION_KEY")
    assert cli.main(["fetch", "dtm", "--country", "SYR"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("displacement: IOM DTM needs a credential: set the environment variable DTM_SUBSCRIPTION_KEY")
    assert err.count("\n") == 1
    assert cli.main(["fetch", "--list"]) == 0
    out = capsys.readouterr().out
    assert "dtm                    skipped: set DTM_SUBSCRIPTION_KEY" in out and "unhcr                  ready" in out


# --------------------------------------------------------------------------------------------------
# secrets


def test_redact_url_blanks_secret_parameters():
    url = "https://x.org/a?client_id=abc123&limit=5&Ocp-Apim-Subscription-Key=zz&token=t&country=Syria"
    assert redact_url(url) == ("https://x.org/a?client_id=REDACTED&limit=5&Ocp-Apim-Subscription-Key=REDACTED"
                               "&token=REDACTED&country=Syria")
    assert redact_url("https://user:pw@x.org/a") == "https://REDACTED@x.org/a"


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait


def test_no_secret_reaches_snapshots_manifests_inbox_logs_or_output(env, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DISPLACEMENT_FETCH_PAGE_SIZE", "2")
    serve_hapi(env)
    serve_acled(env, [{"event_id_cnty": "SYR1", "fatalities": 3}])
    env.server.expect_request(DTM0).respond_with_json({"isSuccess": True, "result": [{"admin0Pcode": "SYR"}]})
    env.server.expect_oneshot_request(IDMC).respond_with_data("busy", status=429, headers={"Retry-After": "0"})
    env.server.expect_request(IDMC).respond_with_json([{"id": 1, "iso3": "SYR"}])
    # a failing server that echoes the credential it was sent back in its body and in a bad page
    def echo(req: Request) -> Response:
        return Response(f"unknown client_id {req.args.get('client_id')}; key {SECRETS['DTM_SUBSCRIPTION_KEY']}",
                        status=403)

    def bad_page(req: Request) -> Response:
        return Response(f'{{"result": "{req.headers.get("Ocp-Apim-Subscription-Key")}', status=200)

    env.server.expect_request("/v3/displacement/admin1").respond_with_handler(bad_page)

    assert cli.main(["fetch", "hapi-idps", "--country", "SYR"]) == 0
    assert cli.main(["fetch", "idmc", "--since", "2019-01-01"]) == 0
    assert cli.main(["fetch", "dtm", "--country", "SYR"]) == 0
    assert cli.main(["fetch", "acled", "--country", "SYR", "--since", "2019-01-01"]) == 0
    assert cli.main(["fetch", "dtm-admin1", "--country", "SYR"]) == 2
    env.server.clear_all_handlers()
    env.server.expect_request(IDMC).respond_with_handler(echo)
    assert cli.main(["fetch", "idmc"]) == 2
    monkeypatch.setenv("DISPLACEMENT_HAPI_BASE_URL", "http://127.0.0.1:1")  # nothing listens there
    assert cli.main(["fetch", "hapi-idps"]) == 2
    captured = capsys.readouterr()

    # the secrets were really sent, so the checks below are not vacuous
    sent = " ".join(f"{r.url} {dict(r.headers)} {r.get_data(as_text=True)}" for r, _ in env.server.log)
    for name in ("HDX_HAPI_APP_IDENTIFIER", "IDMC_CLIENT_ID", "DTM_SUBSCRIPTION_KEY"):
        assert SECRETS[name] in sent or SECRETS[name].replace("=", "%3D") in sent
    assert TOKEN in sent

    files = [p for p in env.tmp.rglob("*") if p.is_file()]
    assert any(p.name == "manifest.jsonl" for p in files) and any(p.parent == env.inbox for p in files)
    # the echoed secrets were blanked in the stored bodies, and the manifest says so
    blanked = [m for m in manifest(env, "idmc") if m.get("secrets_blanked")]
    assert blanked and b"REDACTED" in (env.snapshots / "idmc" / blanked[0]["snapshot"]).read_bytes()
    # httpx logged full request URLs; the filter rewrote them
    assert any(r.name == "httpx" and "client_id=REDACTED" in r.getMessage() for r in caplog.records)

    # the test server's own access log (werkzeug) stands in for the remote API, so it is not ours
    ours = [r for r in caplog.records if not r.name.startswith(("werkzeug", "pytest_httpserver"))]
    texts = {
        "stdout": captured.out,
        "stderr": captured.err,
        "log": "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in ours),
    }
    for path in files:
        texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    for label, text in texts.items():
        for secret in ALL_SECRETS:
            forms = {secret, secret.replace("=", "%3D"), secret.replace("@", "%40")}
            for form in forms:
                assert form not in text, f"a secret leaked into {label}"
    assert "REDACTED" in captured.err


def test_a_secret_echoed_json_escaped_is_blanked_in_snapshots_and_the_inbox(env, monkeypatch):
    """A server may echo the request back as JSON with '/' escaped ('\\/', as PHP writes it): a key with a
    '/' then escaped the redaction, and parsing the stored body gave it back whole in the inbox file."""
    key = "YXBwOm1lQGV4YW1wbGUub3Jn/k+Z9="
    monkeypatch.setenv("HDX_HAPI_APP_IDENTIFIER", key)

    def echo(req: Request) -> Response:
        offset = int(req.args["offset"])
        rows = [{"location_code": "SYR", "note": req.headers.get("X-HDX-HAPI-APP-IDENTIFIER")}] if offset == 0 else []
        body = json.dumps({"data": rows}).replace("/", "\\/")
        return Response(body, status=200, content_type="application/json")

    env.server.expect_request(HAPI_IDPS).respond_with_handler(echo)
    result = fetch("hapi-idps", country="SYR")
    sent = [r.headers.get("X-HDX-HAPI-APP-IDENTIFIER") for r, _ in env.server.log]
    assert key in sent  # really sent, so the checks below are not vacuous
    for path in [p for p in env.tmp.rglob("*") if p.is_file()]:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert key not in text and key.replace("/", "\\/") not in text, path
    assert json.loads(result.inbox_file.read_text())["data"][0]["note"] == "REDACTED"


def test_a_secret_echoed_in_an_escaping_of_the_server_s_own_is_blanked_too(env, monkeypatch):
    """JSON allows any character as \\uXXXX: a server writing "+", "/" and "=" so (as .NET's encoder does) echoed
    the key past the redaction; parsing gave it back whole, in the inbox file and then on the site."""
    key = "bXlhcHA6bWVAZXhhbXBsZS5vcmc+Lw=="
    monkeypatch.setenv("HDX_HAPI_APP_IDENTIFIER", key)

    def echo(req: Request) -> Response:
        offset = int(req.args["offset"])
        sent_key = req.headers.get("X-HDX-HAPI-APP-IDENTIFIER")
        rows = [{"location_code": "SYR", "note": "E " + sent_key}] if offset == 0 else []
        body = json.dumps({"data": rows})
        for ch in "+/=":
            body = body.replace(ch, "\\u%04X" % ord(ch))
        return Response(body, status=200, content_type="application/json")

    env.server.expect_request(HAPI_IDPS).respond_with_handler(echo)
    result = fetch("hapi-idps", country="SYR")
    assert key in [r.headers.get("X-HDX-HAPI-APP-IDENTIFIER") for r, _ in env.server.log]
    for path in [p for p in env.tmp.rglob("*") if p.is_file()]:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert key not in text and "vcmc\\u002BLw" not in text, path
        if path.suffix == ".json" and text.lstrip()[:1] in "{[":
            assert key not in json.dumps(json.loads(text), ensure_ascii=False), path  # nor once parsed
    assert json.loads(result.inbox_file.read_text())["data"][0]["note"] == "E REDACTED"


def test_escaped_secrets_are_blanked_token_by_token_and_the_rest_of_the_body_kept_byte_for_byte(monkeypatch):
    """Re-serialising a whole body to blank a secret changed it (1.50 became 1.5, 1e400 Infinity) and missed
    bodies json.loads cannot read whole (a BOM, NDJSON, JSONP): only the string that holds the secret changes."""
    from pipeline.fetch import core

    monkeypatch.setattr(core, "_SECRETS", set())
    core.register_secret("abc+Secret9")
    cases = {
        b'\xef\xbb\xbf{"a": "x abc\\u002BSecret9", "n": 1.50, "e": "\\u00e9"}':
            b'\xef\xbb\xbf{"a": "x REDACTED", "n": 1.50, "e": "\\u00e9"}',
        b'cb({"a":"abc\\u002bSecret9"})': b'cb({"a":"REDACTED"})',
        b'{"q":"say \\"hi\\"","b":"\\u0041abc\\u002BSecret9"}\n{"c":"\\u00e9", "big": 1e400}\n':
            b'{"q":"say \\"hi\\"","b":"AREDACTED"}\n{"c":"\\u00e9", "big": 1e400}\n',
        b'{"abc\\u002BSecret9": 1}': b'{"REDACTED": 1}',
    }
    for body, expected in cases.items():
        assert core._redact_bytes(body) == (expected, True)
    untouched = b'{"c":"\\u00e9", "n": 1.50}'
    assert core._redact_bytes(untouched) == (untouched, False)


def test_the_escaped_secret_scan_stays_linear_on_strings_full_of_escaped_quotes():
    """A JSON document stored inside a string field (thousands of \\" and one \\u elsewhere) made the scan
    restart at every escaped quote: 100 KB took 53 s and this 1.9 MB body would take hours, for every page fetched with a
    credential set. Run apart, so that a return of it fails here instead of hanging the suite."""
    code = ("import json, sys; from pipeline.fetch import core; core.register_secret('abc+Secret9'); "
            "inner = json.dumps({f'k{i}': 'v' for i in range(100000)}); "
            "body = json.dumps({'payload': inner, 'x': '\\u00e9', 'k': 'abc+Secret9'}).encode(); "
            "body = body.replace(b'abc+Secret9', b'abc\\\\u002BSecret9'); "
            "out, changed = core._redact_bytes(body); "
            "assert changed and b'Secret9' not in out and json.loads(out)['payload'] == inner, out[-80:]; "
            "print(len(body))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout) > 1_500_000


def test_a_response_that_expands_past_the_limit_is_refused_while_it_is_read(env, monkeypatch):
    """A few compressed kilobytes (Content-Encoding: gzip) can expand to gigabytes: the body is counted as it
    is decompressed, and the fetch stops at the limit with a message, nothing written to the inbox."""
    import gzip

    from pipeline.fetch import core

    monkeypatch.setattr(core, "MAX_RESPONSE_BYTES", 1 << 20)
    bomb = gzip.compress(b'{"items": [' + b" " * (8 << 20) + b"]}")
    assert len(bomb) < 20_000
    env.server.expect_request(UNHCR).respond_with_data(bomb, headers={"Content-Encoding": "gzip",
                                                                      "Content-Type": "application/json"})
    with pytest.raises(FetchError, match="grows past 1,048,576 bytes"):
        fetch("unhcr", country="SYR")
    assert not env.inbox.exists() or not any(env.inbox.iterdir())


def test_a_redirect_whose_body_expands_past_the_limit_is_refused_too(env, monkeypatch):
    import gzip

    from pipeline.fetch import core

    monkeypatch.setattr(core, "MAX_RESPONSE_BYTES", 1 << 20)
    bomb = gzip.compress(b" " * (8 << 20))
    env.server.expect_request(UNHCR).respond_with_data(bomb, status=302, headers={
        "Location": "/moved/", "Content-Encoding": "gzip"})
    env.server.expect_request("/moved/").respond_with_json({"items": []})
    with pytest.raises(FetchError, match="grows past 1,048,576 bytes"):
        fetch("unhcr", country="SYR")
    assert requests_to(env, "/moved/") == []
    snapshots = [p for p in env.snapshots.rglob("*.json")] if env.snapshots.exists() else []
    assert all(p.stat().st_size < 1 << 20 for p in snapshots)


def test_too_many_redirects_stop_with_a_message(env):
    env.server.expect_request(IDMC).respond_with_data("", status=302, headers={"Location": IDMC})
    with pytest.raises(FetchError, match="more than 20 redirects"):
        fetch("idmc")
