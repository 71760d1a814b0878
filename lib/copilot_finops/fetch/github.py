"""GitHub REST client for `fetch`: ghapi underneath, with retries, rate-limit waits and clear errors.

ghapi 2.x (`GhApi(sync=True)`) builds the requests; it neither retries nor waits on rate
limits, and raises `APIError` for any status >= 400. This module adds what a long fetch
needs: exponential backoff with jitter on 5xx and broken connections, waits until
`x-ratelimit-reset` on the primary limit, `retry-after` on secondary limits and 429, a
bounded total wait, and errors that say which permission is missing. The clock and the
sleep are injectable so tests can run hours of waiting in milliseconds.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import httpx2
from ghapi.core import GhApi
from ghapi.page import parse_link_hdr
from fasttransport.errors import APIError

from .. import __version__
from ..errors import UserError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"  # pinned: the 2026-03-10 version changes nothing we read, but defaults move
USER_AGENT = f"copilot-finops/{__version__}"
TOKEN_ENV_VARS = ("GITHUB_TOKEN", "GH_TOKEN")
MAX_PAGES = 10_000  # a list longer than a million items is a bug, not an org

# What a 403/404 means is missing, per family of endpoints (github_api.md §2.1, §4, §5, §6).
NEEDS_ORG_METRICS = ('the "Organization Copilot metrics" organization permission (read) on a fine-grained token '
                     'or GitHub App, or a classic token with read:org, held by an org owner or a member with '
                     '"View Organization Copilot Metrics"')
NEEDS_ENTERPRISE_METRICS = ('a classic token with manage_billing:copilot or read:enterprise, or a GitHub App with the '
                            '"Enterprise Copilot metrics" permission (read); fine-grained PATs are not supported')
NEEDS_SEATS = ('a classic token with manage_billing:copilot or read:org (org owner), or the "GitHub Copilot '
               'Business" or "Administration" organization permission (read)')
NEEDS_BILLING = ('a classic token with billing rights (admin:org or manage_billing:copilot, as an org admin or '
                 'billing manager), or the "Administration" organization permission (read)')
NEEDS_TEAMS = 'a classic token with read:org, or the "Members" organization permission (read)'
NEEDS_REPO = ('a classic token with repo, or the "Pull requests", "Deployments", "Issues" and "Metadata" '
              'repository permissions (read)')


class GitHubError(UserError):
    """GitHub refused or failed a request; the message names the request and the fix."""


class GitHubAuthError(GitHubError):
    """401: the token itself was rejected; nothing else can succeed, so the run stops."""


class GitHubAccessError(GitHubError):
    """403 (not a rate limit) or 404: the token lacks a permission or the resource is not visible."""


class GitHubUnavailable(GitHubError):
    """A request still failed after every retry (5xx, broken connections, rate-limited without end)."""


class WaitBudgetExceeded(GitHubError):
    """The next wait would pass --max-wait; the run stops with a raw zone a rerun completes."""


class DownloadFailed(GitHubError):
    """A report link expired or its download came back truncated: request fresh links."""


def token_from_env(environ: dict | None = None) -> tuple[str, str]:
    """The GitHub token and the name of the variable it came from.

    Tokens come from the environment only (never a flag or a params file) so they stay out of
    shell history, notebooks and logs.
    """
    environ = os.environ if environ is None else environ
    for name in TOKEN_ENV_VARS:
        value = environ.get(name, "").strip()
        if value:
            return value, name
    raise UserError("no GitHub token: set GITHUB_TOKEN or GH_TOKEN in the environment "
                    "(for example `export GITHUB_TOKEN=$(gh auth token)`); fetch never takes a token as a flag")


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class RetryPolicy:
    """How hard the client tries. Seconds everywhere; tests shrink them to milliseconds."""

    max_attempts: int = 8  # per request, for 5xx, timeouts and broken connections
    backoff_base: float = 1.0  # first backoff; doubles per attempt, with jitter
    backoff_cap: float = 60.0
    max_wait: float = 3600.0  # total sleep allowed for one run (one primary-limit window)
    reset_margin: float = 1.0  # GitHub's reset is whole seconds: wait a little past it
    secondary_wait: float = 60.0  # secondary limit without retry-after: GitHub says wait >= 1 min
    max_rate_limited: int = 100  # rate-limit answers to one request before giving up
    timeout: float = 60.0  # seconds per request (connect and each read)


class GitHubClient:
    """Blocking GitHub client with retries, rate-limit waits and a wait budget.

    Parameters
    ----------
    token : the token (from `token_from_env`); kept only in the ghapi auth header.
    api_url : REST base URL: https://api.github.com, or https://api.SUBDOMAIN.ghe.com for data residency.
    policy : retry and wait settings.
    clock, sleep : `time.time` and `time.sleep` unless a test injects a virtual clock.
    seed : seeds the jitter, for reproducible tests.
    """

    def __init__(self, token: str, api_url: str = DEFAULT_API_URL, policy: RetryPolicy | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 seed: int | None = None, token_source: str = "GITHUB_TOKEN"):
        self.policy = policy or RetryPolicy()
        self.api_url = api_url.rstrip("/")
        self.clock, self._sleep = clock, sleep
        self.rng = random.Random(seed)
        self._token, self.token_source = token, token_source
        # gh_host is passed explicitly: ghapi would otherwise read GH_HOST, which the gh CLI uses for a bare hostname.
        # authenticate=False and our own header: ghapi would otherwise prefer a GITHUB_JWT_TOKEN from the environment.
        self.api = GhApi(gh_host=self.api_url, sync=True, authenticate=False, timeout=self.policy.timeout)
        self.api.transport.base_headers.update({
            "Authorization": f"token {token}", "X-GitHub-Api-Version": API_VERSION, "User-Agent": USER_AGENT})
        self.api.transport.retries = 0  # fasttransport retries connects with real sleeps; we retry ourselves
        # One pooled connection instead of a new client (and TLS context) per request.
        self.api.transport.client = httpx2.Client(timeout=self.policy.timeout, follow_redirects=True)
        # Report links are pre-signed: a separate client that never carries the GitHub auth header.
        self.downloads = httpx2.Client(timeout=self.policy.timeout, follow_redirects=True,
                                       headers={"User-Agent": USER_AGENT})
        self.requests = self.download_count = self.retries = 0
        self.waited = self._budget_start = 0.0
        self._quota_reset = 0.0  # set when a response says the primary quota is spent

    def start_run(self) -> None:
        """A new run gets the whole wait budget again (a client may serve several runs)."""
        self._budget_start = self.waited

    def close(self) -> None:
        self.api.transport.client.close()
        self.downloads.close()

    # -- safety ---------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        """`text` without the token or any signed query string, for messages and logs."""
        text = str(text).replace(self._token, "***") if self._token else str(text)
        return re.sub(r"(https?://[^\s?\"']+)\?[^\s\"']*", r"\1?…", text)

    # -- waiting --------------------------------------------------------------------------
    def wait(self, seconds: float, reason: str, resume_hint: str = "") -> None:
        """Sleep `seconds`, or stop the run if that would pass the wait budget."""
        seconds = max(0.0, seconds)
        spent = self.waited - self._budget_start
        if spent + seconds > self.policy.max_wait:
            raise WaitBudgetExceeded(
                f"stopped: {reason}, which needs another {seconds:.0f} s, but this run already waited "
                f"{spent:.0f} s of its --max-wait {self.policy.max_wait:.0f} s. Everything fetched so far is "
                f"complete in the raw zone; rerun the same command{resume_hint} to fetch the rest.")
        self.waited += seconds
        self._sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        step = min(self.policy.backoff_cap, self.policy.backoff_base * 2 ** (attempt - 1))
        return step / 2 + self.rng.uniform(0, step / 2)  # "equal jitter": never zero, never in lockstep

    def _wait_for_quota(self) -> None:
        now = self.clock()
        if self._quota_reset > now:
            self.wait(self._quota_reset - now + self.policy.reset_margin,
                      f"the primary rate limit is spent until {_utc(self._quota_reset)}",
                      f" after {_utc(self._quota_reset)}")

    # -- requests -------------------------------------------------------------------------
    def request(self, op: Callable, *, what: str, needs: str, **params: Any) -> httpx2.Response:
        """Call a ghapi operation (e.g. `api.copilot.list_copilot_seats`) until it succeeds.

        Parameters
        ----------
        op : a generated ghapi operation of this client's `api`.
        what : the request in words, for messages ("the users-1-day report for 2026-10-01").
        needs : the permission a 403/404 means is missing.
        params : the operation's parameters.

        Returns
        -------
        The `httpx2.Response` (status 2xx; 204 included), body as served.
        """
        attempts = rate_limited = 0
        while True:
            self._wait_for_quota()
            self.requests += 1
            try:
                resp = op(**params, raw_=True)
            except APIError as exc:
                resp = exc.response
                if resp is None:  # no answer at all: timeout, refused or reset connection
                    attempts += 1
                    self._retry_or_give_up(attempts, what, f"{type(exc.raw).__name__ if exc.raw else 'connection error'}")
                    continue
            self._note_quota(resp.headers)
            if resp.status_code < 300:
                return resp
            delay, reason, hint = self._rate_limit_delay(resp)
            if delay is not None:
                rate_limited += 1
                if rate_limited > self.policy.max_rate_limited:
                    raise GitHubUnavailable(f"{what}: still rate-limited after {rate_limited - 1} waits; rerun later")
                self.retries += 1
                self.wait(delay, f"GitHub's {reason} for {what}", hint)
                continue
            if resp.status_code >= 500 or resp.status_code == 408:
                attempts += 1
                self._retry_or_give_up(attempts, what, f"HTTP {resp.status_code}", resp.headers.get("retry-after"))
                continue
            raise self._refusal(resp, what, needs)

    def _retry_or_give_up(self, attempts: int, what: str, problem: str, retry_after: str | None = None) -> None:
        if attempts >= self.policy.max_attempts:
            raise GitHubUnavailable(f"{what}: GitHub kept failing ({problem}) after {attempts} attempts; "
                                    "rerun later to fetch the rest")
        self.retries += 1
        delay = self._backoff(attempts)
        if retry_after and retry_after.strip().isdigit():
            delay = max(delay, float(retry_after))
        self.wait(delay, f"retrying {what} after {problem}")

    def _note_quota(self, headers) -> None:
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset", "").isdigit():
            self._quota_reset = float(headers["x-ratelimit-reset"])

    def _rate_limit_delay(self, resp: httpx2.Response) -> tuple[float | None, str, str]:
        """(seconds to wait, which limit, when to rerun) if `resp` is a rate limit, else (None, "", "")."""
        status, h = resp.status_code, resp.headers
        if status not in (403, 429):
            return None, "", ""
        if h.get("x-ratelimit-remaining") == "0" and h.get("x-ratelimit-reset", "").isdigit():
            reset = float(h["x-ratelimit-reset"])
            return (max(0.0, reset - self.clock()) + self.policy.reset_margin,
                    f"primary rate limit (resets {_utc(reset)})", f" after {_utc(reset)}")
        retry_after = h.get("retry-after", "").strip()
        if retry_after.isdigit():
            return max(float(retry_after), 0.001), f"rate limit (retry-after {retry_after} s)", " in a few minutes"
        if status == 429 or "secondary rate limit" in _message(resp).lower():
            return self.policy.secondary_wait, "secondary rate limit", " in a few minutes"
        return None, "", ""

    def _refusal(self, resp: httpx2.Response, what: str, needs: str) -> GitHubError:
        status = resp.status_code
        said = self.redact(_message(resp))[:300]
        endpoint = f"GET {resp.request.url.path}" if resp.request is not None else what
        if status == 401:
            return GitHubAuthError(
                f"GitHub rejected the token from {self.token_source} (401: {said}) on {endpoint}: it is wrong, expired "
                f"or revoked. Create a new token with {needs}, and export it as GITHUB_TOKEN or GH_TOKEN.")
        if status == 403:
            return GitHubAccessError(f"{what}: GitHub refused {endpoint} (403: {said}). The token needs {needs}.")
        if status == 404:
            return GitHubAccessError(
                f"{what}: GitHub answered 404 for {endpoint} ({said}). Either the name is wrong (check --org, "
                f"--enterprise, --repos and --api-url) or the token cannot see it: GitHub answers 404 rather than 403 "
                f"when a token lacks access. The token needs {needs}.")
        return GitHubError(f"{what}: GitHub answered {status} for {endpoint} ({said}).")

    # -- pagination -----------------------------------------------------------------------
    def list_all(self, op: Callable, *, what: str, needs: str, per_page: int = 100,
                 stop: Callable[[list], bool] | None = None, **params: Any) -> list:
        """Every item of a list endpoint, following `Link: rel="next"` (as served, in order).

        `stop(page_items)` ends the walk early, e.g. once a page sorted newest-first passes `--since`.
        """
        items: list = []
        for page in range(1, MAX_PAGES + 1):
            resp = self.request(op, what=f"{what} (page {page})", needs=needs, per_page=per_page, page=page, **params)
            batch = response_json(resp, what)
            if not isinstance(batch, list):
                raise GitHubError(f"{what}: expected a JSON array from {resp.request.url.path}, got {type(batch).__name__}")
            items.extend(batch)
            link = resp.headers.get("link")
            more = "next" in parse_link_hdr(link) if link else len(batch) == per_page
            if not more or not batch or (stop is not None and stop(batch)):
                return items
        raise GitHubError(f"{what}: more than {MAX_PAGES} pages; refusing to continue")

    def seat_pages(self, org: str) -> list[dict]:
        """Every page object of the seats endpoint, as served.

        The seats endpoint answers an object `{total_seats, seats}`, never an empty page, so
        ghapi's `paged` would walk 9,999 pages: stop on `total_seats` (or an empty `seats`).
        """
        pages, seen = [], 0
        for page in range(1, MAX_PAGES + 1):
            resp = self.request(self.api.copilot.list_copilot_seats, what=f"the Copilot seats of {org} (page {page})",
                                needs=NEEDS_SEATS, org=org, per_page=100, page=page)
            doc = response_json(resp, "the Copilot seats")
            pages.append(doc)
            seen += len(doc.get("seats") or [])
            if not doc.get("seats") or seen >= int(doc.get("total_seats") or 0):
                return pages
        raise GitHubError(f"the Copilot seats of {org}: more than {MAX_PAGES} pages; refusing to continue")

    # -- report downloads -----------------------------------------------------------------
    def download(self, url: str, dest: Path, what: str) -> tuple[str, int]:
        """Stream one signed report link into `dest`, without the GitHub auth header.

        Returns (sha256, rows). Transient failures (5xx, refused or reset before the body) are
        retried on the same link; an expired link (4xx) or a truncated body raises
        `DownloadFailed`, and the caller asks the report endpoint for fresh links.
        """
        attempts = 0
        while True:
            self.download_count += 1
            try:
                with self.downloads.stream("GET", url) as resp:
                    if resp.status_code >= 500:
                        problem = f"HTTP {resp.status_code}"
                    elif resp.status_code >= 400:
                        raise DownloadFailed(f"{what}: the download link was refused ({resp.status_code}); "
                                             "it has probably expired")
                    else:
                        return self._save(resp, dest, what)
            except httpx2.TransportError as exc:  # no answer: timeout, refused or dropped connection
                problem = type(exc).__name__
            attempts += 1
            self._retry_or_give_up(attempts, what, problem)

    def _save(self, resp: httpx2.Response, dest: Path, what: str) -> tuple[str, int]:
        digest, size = hashlib.sha256(), 0
        with open(dest, "wb") as out:
            try:
                for chunk in resp.iter_bytes():
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            except httpx2.TransportError as exc:  # the body started and broke off: truncated
                raise DownloadFailed(f"{what}: the download broke off after {size} bytes ({type(exc).__name__})") from None
        expected = resp.headers.get("content-length")
        if expected is not None and expected.isdigit() and int(expected) != size:
            raise DownloadFailed(f"{what}: got {size} of {expected} bytes")
        rows = count_records(dest)
        if rows is None:
            raise DownloadFailed(f"{what}: the file does not parse as NDJSON (truncated?)")
        return digest.hexdigest(), rows


def count_records(path: Path) -> int | None:
    """Records in an NDJSON file (or a JSON array, which GitHub's docs also show); None if it does not parse."""
    rows = 0
    with open(path, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                json.loads(line)
            except ValueError:
                break
            rows += 1
        else:
            return rows
    try:
        document = json.loads(path.read_bytes())
    except ValueError:
        return None
    return len(document) if isinstance(document, list) else 1


def _message(resp: httpx2.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:300]
    return str(body.get("message", body)) if isinstance(body, dict) else str(body)[:300]


def response_json(resp: httpx2.Response, what: str) -> Any:
    try:
        return json.loads(resp.content)
    except ValueError:
        raise GitHubError(f"{what}: GitHub answered {resp.status_code} with a body that is not JSON") from None
