"""What every API client shares: settings, secret redaction, HTTP with retries, snapshots, the inbox.

A fetch run of one dataset goes: request a page (retrying 429, 5xx, timeouts and connection errors
with exponential backoff, honouring a capped Retry-After) -> save the raw body as a snapshot file and
append a manifest line -> only then parse it -> combine all pages into one file in the source's own
response shape, written atomically into the inbox, where the readers pick it up.

Secrets (API keys, app identifiers, passwords, tokens) are registered here once they are read from
the environment; every URL, log message, manifest line, snapshot and error message goes through
`redact`, and the loggers of httpx/httpcore get a filter that does the same.
"""

from __future__ import annotations

import csv
import email.utils
import hashlib
import io
import json
import logging
import os
import re
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

import pipeline

log = logging.getLogger("pipeline.fetch")

REPO_ROOT = Path(pipeline.__file__).resolve().parents[1]
USER_AGENT = "displacement-pipeline/0.1 (httpx)"
REDACTED = "REDACTED"

# Query parameters and headers whose names say they carry a secret.
SECRET_NAME_WORDS = (
    "app_identifier", "client_id", "key", "token", "password", "passwd", "secret",
    "authorization", "subscription", "auth", "signature", "session",
)


class FetchError(Exception):
    """A fetch that failed: one line, no secrets, naming the URL (redacted) where there is one."""

    def __init__(self, message: str):
        super().__init__(redact(" ".join(str(message).split())))


class MissingCredential(FetchError):
    """A source's credential is not set: the message names the environment variable to set."""


# --------------------------------------------------------------------------------------------------
# secrets and redaction

# the most a run's responses may hold together, decompressed: as much as a reader takes in from one file
# (pipeline/sources/textio.MAX_BYTES), which the combined inbox file must fit in
MAX_RESPONSE_BYTES = 512 * 1024 * 1024
MAX_REDIRECTS = 20

_SECRETS: set[str] = set()
_MIN_SECRET_LEN = 4


def register_secret(value: str | None) -> None:
    """Remember a secret value so it is blanked out wherever it would be written or shown."""
    if value and len(value) >= _MIN_SECRET_LEN:
        _SECRETS.add(value)


def _secret_forms(value: str) -> set[str]:
    """The ways a secret can appear in a URL, a form body or a JSON echo of either: as is, percent-encoded
    (either case of hex digits), and JSON-escaped (quotes, backslashes, "\\/", "\\uXXXX"): a response that
    echoes a key escaped would otherwise keep it, and give it back whole once parsed."""
    encoded = {quote(value, safe=""), quote_plus(value, safe="")}
    encoded |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), e) for e in encoded}
    escaped = {json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    escaped |= {e.replace("/", "\\/") for e in escaped}
    return {value} | encoded | escaped


def redact(text: object) -> str:
    """`text` with every registered secret value (also URL-encoded) replaced by REDACTED."""
    out = str(text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        for form in _secret_forms(secret):
            if form in out:
                out = out.replace(form, REDACTED)
    return out


# a JSON string token, matched possessively (no backtracking: a failed match restarting at every escaped quote
# of a long string made the scan quadratic, minutes for a 100 KB body)
_STRING_TOKEN = re.compile(rb'"(?:[^"\\\n]++|\\.)*+"')


def _redact_bytes(body: bytes) -> tuple[bytes, bool]:
    changed = False
    for secret in sorted(_SECRETS, key=len, reverse=True):
        for form in _secret_forms(secret):
            raw = form.encode("utf-8")
            if raw in body:
                body = body.replace(raw, REDACTED.encode())
                changed = True
    if _SECRETS and b"\\u" in body:
        body, escaped = _redact_json_escapes(body)
        changed = changed or escaped
    return body, changed


def _redact_json_escapes(body: bytes) -> tuple[bytes, bool]:
    """A JSON string that holds a secret in an escaping of its own (any character as \\uXXXX: "+" as \\u002B,
    as .NET writes it) passes the scan for the forms above, and parsing gives the secret back whole. Each
    string token holding a \\u escape is decoded on its own and, if it holds a secret, written again without
    it; every other byte stays as it came (numbers, spacing, a BOM; NDJSON and JSONP bodies too)."""
    forms = {f for secret in _SECRETS for f in _secret_forms(secret) if "\\" not in f}
    found = False

    def token(m: re.Match) -> bytes:
        nonlocal found
        if b"\\u" not in m.group():
            return m.group()
        try:
            text = json.loads(m.group())
        except (UnicodeDecodeError, ValueError):
            return m.group()
        if not any(f in text for f in forms):
            return m.group()
        found = True
        # as ASCII: a lone surrogate escape in the string (\\ud83d) cannot be written as UTF-8
        return json.dumps(redact(text)).encode("ascii")

    out = _STRING_TOKEN.sub(token, body)
    return (out, True) if found else (body, False)


def is_secret_name(name: str) -> bool:
    low = name.lower().replace("-", "_")
    return any(word in low for word in SECRET_NAME_WORDS)


def redact_url(url: object) -> str:
    """A URL with secret-named query parameters and any userinfo blanked, then value-redacted."""
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return redact(text)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, REDACTED if is_secret_name(k) else v) for k, v in pairs], safe="|,:")
    return redact(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))


class _RedactingFilter(logging.Filter):
    """Rewrites records of third-party loggers (httpx logs full request URLs) without secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS or "?" in str(record.msg):
            try:
                message = record.getMessage()
            except Exception:  # a record that cannot format itself: leave it to logging
                return True
            cleaned = _redact_urls_in_text(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return True


def _redact_urls_in_text(message: str) -> str:
    words = message.split(" ")
    for i, word in enumerate(words):
        stripped = word.strip("\"'<>()[],;.")
        if stripped.startswith(("http://", "https://")) and "?" in stripped:
            words[i] = word.replace(stripped, redact_url(stripped))
    return redact(" ".join(words))


_FILTER = _RedactingFilter()
# Logger filters apply only to records made on that exact logger, so name each one.
for _name in ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2",
              "httpcore.proxy", "pipeline.fetch"):
    _logger = logging.getLogger(_name)
    if _FILTER not in _logger.filters:
        _logger.addFilter(_FILTER)


def credential(var: str, what: str, how: str = "") -> str:
    """The value of a credential environment variable, registered as a secret; one clear line if unset."""
    value = os.environ.get(var, "").strip()
    if not value:
        hint = f" ({how})" if how else ""
        raise MissingCredential(f"{what} needs a credential: set the environment variable {var}{hint}")
    register_secret(value)
    return value


# --------------------------------------------------------------------------------------------------
# settings and places


def _env_number(name: str, default: float, kind: type = float, minimum: float = 0) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise FetchError(f"{name} must be a {'whole ' if kind is int else ''}number, not {raw!r}") from None
    if value < minimum:
        raise FetchError(f"{name} must be at least {minimum}, not {raw!r}")
    return value


@dataclass
class Settings:
    """How patient a fetch is. Every field can be set from the environment (see `from_env`)."""

    timeout: float = 60.0            # seconds, per request (connect, read, write, pool)
    attempts: int = 5                # per request, the first included
    backoff: float = 1.0             # exponential backoff base: backoff * 2**(n-1) seconds
    backoff_max: float = 60.0        # longest wait computed from the backoff
    retry_after_max: float = 120.0   # longest wait a server's Retry-After can impose
    page_size: int | None = None     # None: each API's own page size
    max_pages: int = 10_000          # a runaway pager stops here with an error
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @classmethod
    def from_env(cls) -> "Settings":
        page_size = _env_number("DISPLACEMENT_FETCH_PAGE_SIZE", 0, int, 0)
        return cls(
            timeout=_env_number("DISPLACEMENT_FETCH_TIMEOUT", cls.timeout, float, 0.001),
            attempts=_env_number("DISPLACEMENT_FETCH_ATTEMPTS", cls.attempts, int, 1),
            backoff=_env_number("DISPLACEMENT_FETCH_BACKOFF", cls.backoff),
            backoff_max=_env_number("DISPLACEMENT_FETCH_BACKOFF_MAX", cls.backoff_max),
            retry_after_max=_env_number("DISPLACEMENT_FETCH_RETRY_AFTER_MAX", cls.retry_after_max),
            page_size=page_size or None,
            max_pages=_env_number("DISPLACEMENT_FETCH_MAX_PAGES", cls.max_pages, int, 1),
        )


def _dir_from_env(var: str, default: str) -> Path:
    raw = os.environ.get(var, "").strip()
    path = Path(raw).expanduser() if raw else REPO_ROOT / default
    return path if path.is_absolute() else (Path.cwd() / path)


def inbox_dir() -> Path:
    return _dir_from_env("DISPLACEMENT_INBOX", "data/inbox")


def snapshots_dir() -> Path:
    return _dir_from_env("DISPLACEMENT_SNAPSHOTS", "data/snapshots")


def base_url(env_var: str, default: str, override: str | None = None) -> str:
    url = (override or os.environ.get(env_var, "").strip() or default).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise FetchError(f"{env_var} must be an http(s) URL, not {url!r}")
    return url


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a hidden temporary file in the same folder, then rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------------
# one HTTP exchange, retried, snapshotted


class _Redirected(FetchError):
    pass


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None when absent/odd."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - utc_now()).total_seconds())


@dataclass
class Page:
    """One response, as saved: where its snapshot is and what the manifest says about it."""

    url: str            # redacted
    status: int
    sha256: str
    fetched_at: str
    page: int | str
    snapshot: Path | None
    body: bytes         # the stored bytes (secret values, if a server echoed any, blanked)
    raw: bytes = field(default=b"", repr=False)  # as received; only the token exchange reads it


@dataclass
class FetchResult:
    dataset: str
    source: str
    inbox_file: Path | None  # None when the query returned no rows
    rows: int
    pages: int
    snapshots: list[Path]
    manifest: Path
    notes: list[str] = field(default_factory=list)


class Session:
    """One run of one dataset: an httpx client with retries, its snapshot folder and manifest."""

    def __init__(self, source: str, dataset: str, settings: Settings | None = None,
                 headers: dict[str, str] | None = None, snapshots: Path | None = None,
                 credential_vars: tuple[str, ...] = (), transport: httpx.BaseTransport | None = None):
        self.source = source
        self.dataset = dataset
        self.settings = settings or Settings.from_env()
        self.headers = dict(headers or {})
        for name, value in self.headers.items():
            if is_secret_name(name):
                register_secret(value.split(" ", 1)[-1] if name.lower() == "authorization" else value)
        self.folder = (snapshots or snapshots_dir()) / source
        self.manifest = self.folder / "manifest.jsonl"
        self.credential_vars = credential_vars
        self.run_id = uuid.uuid4().hex[:12]
        self.pages: list[Page] = []
        self._kept_bytes = 0  # the bodies of self.pages, together (a fetch may keep thousands of pages)
        self.client = httpx.Client(
            timeout=httpx.Timeout(self.settings.timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,  # followed in `request`, each hop read within the size limit
            transport=transport,
            event_hooks={"request": [self._same_host_only]},
        )
        self._origin: tuple[str, str, int | None] | None = None  # scheme, host, port of the first request

    def _same_host_only(self, request: httpx.Request) -> None:
        """Credentials ride in headers, query strings and form bodies: never follow a redirect to another
        origin (another host, port or scheme: httpx keeps custom key headers on those), nor from https to
        http."""
        if self._origin is None:
            return
        origin = (request.url.scheme, request.url.host, request.url.port)
        if origin != self._origin:
            scheme, host, port = self._origin
            raise _Redirected(f"{self.dataset}: redirected from {scheme}://{host}{f':{port}' if port else ''} to "
                              f"another origin ({redact_url(request.url)}); not following it with credentials")

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.client.close()

    # ---- the request loop

    def _wait(self) -> Callable[[RetryCallState], float]:
        expo = wait_exponential(multiplier=self.settings.backoff, max=self.settings.backoff_max)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                return min(retry_after, self.settings.retry_after_max)
            return expo(state)

        return wait

    def _before_sleep(self, url: str) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0
            log.warning("%s: %s from %s; retrying in %.1fs (attempt %d of %d)", self.dataset, exc, url,
                        wait, state.attempt_number, self.settings.attempts)

        return before_sleep

    def request(self, method: str, url: str, *, page: int | str, params: dict | None = None,
                data: dict | None = None, headers: dict | None = None, store_body: bool = True) -> Page:
        """One request with retries; every response is recorded (body snapshotted) before it is used."""
        params = {k: v for k, v in (params or {}).items() if v is not None}
        shown = redact_url(httpx.URL(url, params=params))
        first = httpx.URL(url)
        self._origin = (first.scheme, first.host, first.port)
        attempt_box = {"n": 0}

        def attempt() -> Page:
            attempt_box["n"] += 1
            hops: list[tuple[httpx.Response, bytes]] = []
            try:
                request = self.client.build_request(method, url, params=params, data=data,
                                                    headers={**self.headers, **(headers or {})})
                while True:
                    # redirects are followed here, one hop at a time (httpx builds the next request; the
                    # request hook refuses another origin), so every body is read within the size limit
                    resp = self.client.send(request, stream=True)
                    try:
                        body = self._read_capped(resp, shown, sum(len(b) for _, b in hops))
                    finally:
                        resp.close()
                    if resp.next_request is None:
                        break
                    hops.append((resp, body))
                    if len(hops) > MAX_REDIRECTS:
                        raise FetchError(f"{self.dataset}: more than {MAX_REDIRECTS} redirects from {shown}")
                    request = resp.next_request
            except httpx.TimeoutException as exc:
                raise _Retryable(f"{type(exc).__name__} after {self.settings.timeout:g}s") from None
            except httpx.TransportError as exc:
                raise _Retryable(f"{type(exc).__name__}: {redact(exc) or 'connection failed'}") from None
            for hop, hop_body in hops:  # redirects within the origin: recorded too
                self._record(hop, page, attempt_box["n"], store_body, hop_body)
            record = self._record(resp, page, attempt_box["n"], store_body, body)
            status = resp.status_code
            if status == 429 or status >= 500:
                raise _Retryable(f"HTTP {status} {resp.reason_phrase}".strip(),
                                 parse_retry_after(resp.headers.get("Retry-After")) if status in (429, 503) else None)
            if status >= 400:
                hint = ""
                if status in (401, 403) and self.credential_vars:
                    hint = f"; check {' and '.join(self.credential_vars)}"
                where = f"; response kept at {record.snapshot}" if record.snapshot else ""
                raise FetchError(f"{self.dataset}: HTTP {status} {resp.reason_phrase} from {record.url}{hint}{where}")
            return record

        retrying = Retrying(
            stop=stop_after_attempt(self.settings.attempts),
            wait=self._wait(),
            retry=retry_if_exception_type(_Retryable),
            before_sleep=self._before_sleep(shown),
            sleep=self.settings.sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Retryable as exc:
            n = self.settings.attempts
            raise FetchError(f"{self.dataset}: gave up after {n} attempt{'s' if n != 1 else ''}: "
                             f"{exc} from {shown}") from None

    def _read_capped(self, resp: httpx.Response, shown: str, read_before: int = 0) -> bytes:
        """The response's body, decompressed, read no further than what the run's pages (and this request's
        redirects, `read_before` bytes) may hold together, MAX_RESPONSE_BYTES: a few compressed megabytes can
        expand to fill the memory."""
        room = MAX_RESPONSE_BYTES - self._kept_bytes - read_before
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > room:
                raise FetchError(f"{self.dataset}: the response from {shown} (HTTP {resp.status_code}) grows past "
                                 f"{MAX_RESPONSE_BYTES:,} bytes with the pages before it, decompressed; refused")
            chunks.append(chunk)
        return b"".join(chunks)

    def _record(self, resp: httpx.Response, page: int | str, attempt: int, store_body: bool,
                content: bytes | None = None) -> Page:
        fetched = utc_now()
        url = redact_url(resp.url)
        content = resp.content if content is None else content
        body, blanked = _redact_bytes(content)
        sha = hashlib.sha256(body).hexdigest()
        snapshot = None
        if store_body:
            stamp = fetched.strftime("%Y%m%dT%H%M%S.%fZ")
            snapshot = self.folder / f"{stamp}-{sha[:12]}.json"
            atomic_write(snapshot, body)
        line = {
            "source": self.source,
            "dataset": self.dataset,
            "run_id": self.run_id,
            "page": page,
            "attempt": attempt,
            "method": resp.request.method,
            "url": url,
            "status": resp.status_code,
            "fetched_at": fetched.isoformat().replace("+00:00", "Z"),
            "sha256": sha,
            "bytes": len(body),
            "content_type": resp.headers.get("content-type"),
            "snapshot": snapshot.name if snapshot else None,
        }
        if blanked:
            line["secrets_blanked"] = True
        if not store_body:
            line["note"] = "body not stored: it holds a credential"
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.manifest, "a", encoding="utf-8") as fh:
            fh.write(redact(json.dumps(line, ensure_ascii=False)) + "\n")
        log.info("%s page %s: HTTP %d, %d bytes from %s", self.dataset, page, resp.status_code, len(body), url)
        page_rec = Page(url, resp.status_code, sha, line["fetched_at"], page, snapshot, body, content)
        if store_body and 200 <= resp.status_code < 300:
            self.pages.append(page_rec)
            self._kept_bytes += len(body)
        return page_rec

    # ---- JSON pages

    def get_json(self, url: str, *, page: int | str, params: dict | None = None,
                 headers: dict | None = None) -> Any:
        if isinstance(page, int) and page > self.settings.max_pages:
            raise FetchError(f"{self.dataset}: more than {self.settings.max_pages} pages from {redact_url(url)}; "
                             "stopping (raise DISPLACEMENT_FETCH_MAX_PAGES if this is expected)")
        rec = self.request("GET", url, page=page, params=params, headers=headers)
        return self.parse_json(rec)

    def parse_json(self, rec: Page) -> Any:
        try:
            return json.loads(rec.body.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            reason = f"{exc.msg} at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) \
                else type(exc).__name__
            raise FetchError(f"{self.dataset}: page {rec.page} from {rec.url} is not valid JSON ({reason}); "
                             f"raw response kept at {rec.snapshot}") from None

    def bad_shape(self, rec_or_page: int | str, expected: str) -> FetchError:
        rec = self.pages[-1] if self.pages else None
        url = rec.url if rec else "?"
        where = f"; raw response kept at {rec.snapshot}" if rec and rec.snapshot else ""
        return FetchError(f"{self.dataset}: page {rec_or_page} from {url} is not {expected}{where}")

    # ---- the combined file

    def finish(self, filename: str, payload: Any, rows: int, inbox: Path | None = None,
               notes: list[str] | None = None, *, csv_rows: list[dict] | None = None) -> FetchResult:
        """Write the combined pages into the inbox (JSON `payload`, or `csv_rows` as a CSV export).

        Nothing is written when there are no rows: an empty file tells the readers nothing and some
        shapes (an empty {"data": []}) cannot even be recognised.
        """
        notes = list(notes or [])
        target: Path | None = None
        if rows:
            target = (inbox or inbox_dir()) / filename
            if csv_rows is not None:
                data = rows_to_csv(csv_rows)
            else:
                data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            atomic_write(target, data)
        else:
            notes.append("no rows: nothing written to the inbox")
        log.info("%s: %d rows from %d pages -> %s", self.dataset, rows, len(self.pages), target or "nothing")
        return FetchResult(self.dataset, self.source, target, rows, len(self.pages),
                           [p.snapshot for p in self.pages if p.snapshot], self.manifest, notes)


def rows_to_csv(rows: list[dict]) -> bytes:
    """Rows (dicts of scalars) as CSV with a header of every key in first-seen order."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
                         for k, v in row.items()})
    return buffer.getvalue().encode("utf-8")


def expect_list(session: Session, payload: Any, key: str | None, page: int | str) -> list:
    """The rows of one page: payload[key] (or the payload itself when key is None), which must be a list."""
    rows = payload if key is None else (payload.get(key) if isinstance(payload, dict) else None)
    if not isinstance(rows, list):
        expected = "a JSON list" if key is None else f'a JSON object with a "{key}" list'
        raise session.bad_shape(page, expected)
    return rows


def file_stem(dataset: str, country: str | None, since: str | None, ext: str = "json") -> str:
    safe_country = "".join(ch for ch in (country or "all") if ch.isalnum() or ch in "-_") or "all"
    return f"{dataset.replace('-', '_')}_{safe_country}_{since or 'all'}.{ext}"
