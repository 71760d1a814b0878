"""A loopback fake GitHub for the fetch tests: serves an org from a raw zone and injects faults.

It speaks the wire format `fetch` depends on: report envelopes with signed, expiring download
links (checked, and refused when an Authorization header comes along), 204 days, Link headers
with rel="next"/"last", rate-limit headers with a real quota, seats paged as objects, and the
billing (AI credits, premium requests, the org's billing usage), enterprise cost centers, teams and repo
endpoints. Faults are drawn from a seeded RNG: 5xx, dropped
connections, slow answers, primary and secondary rate limits, 429, links that are already
expired, and truncated shards (with and without Content-Length).

Time comes from an injectable clock, so a test can share a `VirtualClock` with the client and
wait out rate limits without sleeping.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit


class VirtualClock:
    """`time()` and `sleep()` for client and server: sleeping advances time instantly."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start
        self.slept = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)
            self.slept += max(0.0, seconds)


@dataclass
class Faults:
    """Which faults to inject on what share of requests (seeded, so a run is reproducible)."""

    rate: float = 0.0
    seed: int = 0
    api: tuple = ("500", "502", "503", "reset", "slow", "primary", "secondary", "429")
    envelope: tuple = ("expired-links",)  # extra faults for report envelopes
    download: tuple = ("500", "reset", "slow", "truncated", "truncated-unsized")
    slow_seconds: float = 0.02
    retry_after: int = 2


DELIVERY = ("pulls", "reviews", "pull-files", "deployments", "deployment-statuses", "issues")


def _load_json(path: Path):
    return json.loads(path.read_bytes())


class FakeGitHub:
    """Serve the org in `raw_dir` (a raw zone, e.g. from `generate_org`) on 127.0.0.1.

    Parameters
    ----------
    raw_dir : raw zone to serve: metrics days, the latest seats and teams snapshots, billing, delivery.
    org, enterprise, token : names the server answers for and the token it accepts.
    faults : what to inject; None for a clean server.
    clock : a `VirtualClock` shared with the client, or None for real time.
    shard_lines : split each day's report into shards of this many lines (None: serve files as they are).
    quota : requests per rate-limit window (an hour of the clock).
    deny : {regex on the path: status} to refuse (403/404), e.g. missing permissions.
    leak_token : quote the received Authorization header in error messages (to prove clients redact).
    link_ttl : seconds a signed download link stays valid.
    latency : seconds added to every answer (real time), to let a test kill a client mid-run.

    Attributes: `log` (one entry per request: path, query, status, fault, auth), `errors`
    (tracebacks of the fake's own bugs), `script` (faults for the next requests, per channel).
    """

    def __init__(self, raw_dir, org: str = "demo-corp", token: str = "ghp_test", enterprise: str | None = None,
                 faults: Faults | None = None, clock: VirtualClock | None = None, shard_lines: int | None = None,
                 quota: int = 5000, deny: dict | None = None, leak_token: bool = False, link_ttl: float = 3600,
                 latency: float = 0.0):
        self.raw, self.org, self.token, self.enterprise = Path(raw_dir), org, token, enterprise
        self.faults = faults or Faults()
        self.rng = random.Random(self.faults.seed)
        self.clock = clock.time if clock else time.time
        self.shard_lines, self.quota, self.deny = shard_lines, quota, deny or {}
        self.leak_token, self.link_ttl, self.latency = leak_token, link_ttl, latency
        self.secret = b"fake-signing-key"
        self.lock = threading.Lock()
        self.log: list[dict] = []
        self.used, self.window_reset = 0, int(self.clock()) + 3600
        self.blocked_until = 0.0  # primary limit spent
        self.backoff_until, self.backoff_status = 0.0, 403  # secondary limit / 429
        self._load()
        self.script: dict[str, list[str]] = {"api": [], "download": []}  # faults for the next requests, in order
        self.clients: dict = {}  # GitHubClients made by `make_client`, closed with the server
        self.httpd = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.httpd.errors = self.errors = []
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "FakeGitHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for client in self.clients.values():
            client.close()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def count(self, pattern: str = "", **match) -> int:
        with self.lock:
            return sum(1 for e in self.log if re.search(pattern, e["path"]) and all(e.get(k) == v for k, v in match.items()))

    # -- data ------------------------------------------------------------------------------
    def _load(self) -> None:
        raw = self.raw
        self.metrics: dict[str, dict[str, list[bytes]]] = {}
        for day_dir in sorted(raw.glob("metrics/*/*")):
            parts = sorted(day_dir.glob("part-*.ndjson"), key=lambda p: int(re.findall(r"\d+", p.name)[0]))
            shards = [p.read_bytes() for p in parts]
            if self.shard_lines:
                lines = b"".join(shards).splitlines(keepends=True)
                shards = [b"".join(lines[i:i + self.shard_lines]) for i in range(0, max(1, len(lines)), self.shard_lines)]
            self.metrics.setdefault(day_dir.parent.name, {})[day_dir.name] = shards
        latest = lambda pattern: max(raw.glob(pattern), default=None)  # noqa: E731 - snapshots sort by date
        seats = latest("seats/*.json")
        self.seats = [s for page in _load_json(seats) for s in page["seats"]] if seats else []
        teams = _load_json(latest("teams/*.json")) if latest("teams/*.json") else []
        self.members = {t["slug"]: t.get("members", []) for t in teams}
        self.teams = [{k: v for k, v in t.items() if k != "members"} for t in teams]
        self.billing: dict[tuple, dict] = {}
        for path in sorted(raw.glob("billing/*/*.json")):  # <month>.json and <month>-<more>.json add up per user
            for resp in _load_json(path):
                key = (path.parent.name, path.stem[:7], resp.get("user"))
                if key in self.billing:
                    self.billing[key] = {**self.billing[key], "usageItems": self.billing[key]["usageItems"]
                                         + resp.get("usageItems", [])}
                else:
                    self.billing[key] = resp
        centers = latest("cost-centers/*.json")
        self.cost_centers = _load_json(centers) if centers else {"costCenters": []}
        self.delivery: dict[str, dict[str, list]] = {}
        for path in sorted(raw.glob("delivery/*/*/*.json")):  # <kind>.json and <kind>-<more>.json add up
            repo = f"{path.parent.parent.name}/{path.parent.name}"
            kind = next(k for k in sorted(DELIVERY, key=len, reverse=True) if path.stem == k or path.stem.startswith(k + "-"))
            self.delivery.setdefault(repo, {}).setdefault(kind, []).extend(_load_json(path))

    def _report_28(self, kind: str) -> tuple[list[bytes], str, str] | None:
        source = "users-1-day" if kind == "users-28-day" else "organization-1-day"
        days = sorted(self.metrics.get(source, {}))
        if not days:
            return None
        window = days[-28:]
        start, end = window[0], window[-1]
        if kind == "users-28-day":
            lines = [json.dumps({**json.loads(line), "report_start_day": start, "report_end_day": end}).encode() + b"\n"
                     for d in window for shard in self.metrics[source][d] for line in shard.splitlines() if line.strip()]
            return [b"".join(lines)], start, end
        totals = [json.loads(line) for d in window for shard in self.metrics[source][d] for line in shard.splitlines() if line.strip()]
        doc = {"report_start_day": start, "report_end_day": end, "organization_id": (totals or [{}])[0].get("organization_id"),
               "day_totals": totals}
        return [json.dumps(doc).encode() + b"\n"], start, end

    # -- signing ---------------------------------------------------------------------------
    def sign(self, key: str, expires: int) -> str:
        return hmac.new(self.secret, f"{key}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def links(self, kind: str, day: str, n: int, expired: bool, base: str) -> list[str]:
        expires = int(self.clock() + (-5 if expired else self.link_ttl))
        return [f"{base}/download/{kind}/{day}/{i}?" + urlencode({"se": expires, "sig": self.sign(f"{kind}/{day}/{i}", expires)})
                for i in range(n)]

    def draw(self, channel: str, choices: tuple) -> str | None:
        """The fault for this request: the next scripted one for the channel, else a seeded draw."""
        with self.lock:
            if self.script[channel]:
                return self.script[channel].pop(0)
            if self.faults.rate and choices and self.rng.random() < self.faults.rate:
                return self.rng.choice(choices)
        return None


class _QuietServer(ThreadingHTTPServer):
    errors: list[str]

    def handle_error(self, request, client_address):
        """A client hanging up is routine here; anything else is a bug in the fake, kept for the tests to see."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, TimeoutError)):
            self.errors.append(traceback.format_exc())


def _paged(handler, items: list, default_per_page: int = 30):
    q = handler.query
    per_page = min(100, int(q.get("per_page", default_per_page)))
    page = max(1, int(q.get("page", 1)))
    last = max(1, -(-len(items) // per_page))
    links = []
    for rel, p in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
        if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
            links.append(f'<{handler.base}{handler.path_only}?{urlencode({**q, "page": p})}>; rel="{rel}"')
    return items[(page - 1) * per_page: page * per_page], ({"Link": ", ".join(links)} if links else {})


def _handler(gh: FakeGitHub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as GitHub; every answer carries its length
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
        timeout = 10

        def log_message(self, *args):  # quiet: tests read gh.log instead
            pass

        # -- plumbing ----------------------------------------------------------------------
        def send(self, status: int, body=b"", headers: dict | None = None, ctype="application/json; charset=utf-8"):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.entry["status"] = status  # before the answer leaves: the client may read the log at once
            self.send_response(status)
            if status != 204:
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if data:
                self.wfile.write(data)

        def error(self, status: int, message: str, headers: dict | None = None):
            if gh.leak_token:  # a badly behaved proxy quoting the credentials back
                message += f" (credentials seen: {self.headers.get('Authorization', '')})"
            self.send(status, {"message": message, "documentation_url": "https://docs.github.com/rest"}, headers)

        def rate_headers(self) -> dict:
            return {"x-ratelimit-limit": str(gh.quota), "x-ratelimit-remaining": str(max(0, gh.quota - gh.used)),
                    "x-ratelimit-used": str(gh.used), "x-ratelimit-reset": str(gh.window_reset),
                    "x-ratelimit-resource": "core"}

        def do_GET(self):
            split = urlsplit(self.path)
            self.path_only = split.path
            self.query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            self.base = f"http://{self.headers.get('Host')}"
            self.entry = {"path": split.path, "query": self.query, "status": None, "fault": None,
                          "auth": "Authorization" in self.headers}
            with gh.lock:
                gh.log.append(self.entry)
            if gh.latency:
                time.sleep(gh.latency)
            try:
                if split.path.startswith("/download/"):
                    self.download(split.path)
                else:
                    self.api(split.path)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        # -- faults ------------------------------------------------------------------------
        def inject(self, fault: str | None) -> bool:
            """Answer with `fault` (True) or do nothing (False)."""
            self.entry["fault"] = fault
            if fault is None:
                return False
            if fault == "slow":
                time.sleep(gh.faults.slow_seconds)
                return False  # slow, then the real answer (or the client timed out meanwhile)
            if fault == "reset":
                self.close_connection = True  # hang up without a word
                return True
            if fault in ("500", "502", "503"):
                self.error(int(fault), "Server Error")
                return True
            now = gh.clock()
            if fault == "primary":
                gh.blocked_until = int(now) + 1
                self.primary()
                return True
            if fault in ("secondary", "429"):
                gh.backoff_until, gh.backoff_status = now + gh.faults.retry_after, 429 if fault == "429" else 403
                self.backoff()
                return True
            return False

        def primary(self):
            self.error(403, "API rate limit exceeded for user ID 1.",
                       {**self.rate_headers(), "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(gh.blocked_until))})

        def backoff(self):
            left = max(1, int(-(-(gh.backoff_until - gh.clock()) // 1)))
            msg = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
                   if gh.backoff_status == 403 else "Too many requests")
            self.error(gh.backoff_status, msg, {"retry-after": str(left)})

        # -- API ---------------------------------------------------------------------------
        def api(self, path: str):
            auth = self.headers.get("Authorization", "")
            if auth not in (f"token {gh.token}", f"Bearer {gh.token}"):
                return self.error(401, "Bad credentials")
            now = gh.clock()
            with gh.lock:
                if now >= gh.window_reset:
                    gh.used, gh.window_reset = 0, int(now) + 3600
                gh.used += 1
                over_quota = gh.used > gh.quota
            if now < gh.blocked_until:
                return self.primary()
            if over_quota:
                gh.blocked_until = gh.window_reset
                return self.primary()
            if now < gh.backoff_until:
                return self.backoff()
            for pattern, status in gh.deny.items():
                if re.search(pattern, path):
                    return self.error(status, "Resource not accessible by personal access token" if status == 403 else "Not Found")
            parts = path.split("/")
            if parts[1] in ("orgs", "organizations") and parts[2] != gh.org:
                return self.error(404, "Not Found")
            is_report = "/copilot/metrics/reports/" in path
            fault = gh.draw("api", gh.faults.api + (gh.faults.envelope if is_report else ()))
            if self.inject(fault):
                return
            for pattern, method in ROUTES:
                m = re.fullmatch(pattern, path)
                if m:
                    return getattr(self, method)(*m.groups(), expired=fault == "expired-links")
            self.error(404, "Not Found")

        def ok(self, body, headers: dict | None = None):
            self.send(200, body, {**self.rate_headers(), **(headers or {})})

        def report(self, scope, name, kind, latest, expired=False):
            if name != (gh.org if scope == "orgs" else gh.enterprise):
                return self.error(404, "Not Found")
            served = {"enterprise-1-day": "organization-1-day", "enterprise-28-day": "organization-28-day"}.get(kind, kind)
            if latest:
                got = gh._report_28(served)
                if got is None:
                    return self.send(204, b"", self.rate_headers())
                shards, start, end = got
                key = f"{kind}@{end}"
                with gh.lock:
                    gh.metrics.setdefault(key, {})[end] = shards
                return self.ok({"download_links": gh.links(key, end, len(shards), expired, self.base),
                                "report_start_day": start, "report_end_day": end})
            day = self.query.get("day")
            if not day:
                return self.error(422, "Invalid request: day is required")
            shards = gh.metrics.get(served, {}).get(day)
            if shards is None:
                return self.send(204, b"", self.rate_headers())
            self.ok({"download_links": gh.links(served, day, len(shards), expired, self.base), "report_day": day})

        def seats(self, org, expired=False):
            page, headers = _paged(self, gh.seats, 50)
            self.ok({"total_seats": len(gh.seats), "seats": page}, headers)

        def billing(self, org, unit, expired=False):
            kind = {"ai_credit": "ai-credit-usage", "premium_request": "premium-request-usage"}[unit]
            year, month, user = int(self.query["year"]), int(self.query["month"]), self.query.get("user")
            found = gh.billing.get((kind, f"{year:04d}-{month:02d}", user))
            self.ok(found or {"timePeriod": {"year": year, "month": month}, "organization": org, "user": user,
                              "usageItems": []})

        def billing_usage(self, org, expired=False):
            """The org's billing usage of a month (or a day of it): the usage items of billing/billing-usage/."""
            year, month, day = int(self.query.get("year", 0)), int(self.query.get("month", 0)), self.query.get("day")
            found = gh.billing.get(("billing-usage", f"{year:04d}-{month:02d}", None)) or {"usageItems": []}
            items = [i for i in found.get("usageItems", [])
                     if not day or str(i.get("date", ""))[8:10] == f"{int(day):02d}"]
            self.ok({"usageItems": items})

        def cost_centers(self, enterprise, expired=False):
            if enterprise != gh.enterprise:
                return self.error(404, "Not Found")
            state = self.query.get("state")
            self.ok({"costCenters": [c for c in gh.cost_centers.get("costCenters", [])
                                     if not state or c.get("state", "active") == state]})

        def teams(self, org, expired=False):
            self.ok(*_paged(self, gh.teams))

        def members(self, org, slug, expired=False):
            if slug not in gh.members:
                return self.error(404, "Not Found")
            self.ok(*_paged(self, gh.members[slug]))

        def org_repos(self, org, expired=False):
            repos = [{"id": i, "name": r.split("/")[1], "full_name": r, "owner": {"login": r.split("/")[0]}, "archived": False}
                     for i, r in enumerate(sorted(gh.delivery)) if r.split("/")[0] == org]
            self.ok(*_paged(self, repos))

        def repo_data(self, repo):
            if repo not in gh.delivery:
                self.error(404, "Not Found")
                return None
            return gh.delivery[repo]

        def pulls(self, repo, expired=False):
            data = self.repo_data(repo)
            if data is None:
                return
            state = self.query.get("state", "open")
            items = [p for p in data.get("pulls", []) if state == "all" or p.get("state") == state]
            key = "updated_at" if self.query.get("sort") == "updated" else "created_at"
            items.sort(key=lambda p: (p.get(key) or "", p["number"]), reverse=self.query.get("direction", "desc") == "desc")
            self.ok(*_paged(self, items))

        def reviews(self, repo, number, expired=False):
            data = self.repo_data(repo)
            if data is not None:
                self.ok(*_paged(self, [r for r in data.get("reviews", [])
                                       if r.get("pull_request_url", "").rsplit("/", 1)[-1] == number]))

        def files(self, repo, number, expired=False):
            data = self.repo_data(repo)
            if data is not None:
                found = [f["files"] for f in data.get("pull-files", []) if str(f["number"]) == number]
                self.ok(*_paged(self, found[0] if found else []))

        def deployments(self, repo, expired=False):
            data = self.repo_data(repo)
            if data is not None:
                self.ok(*_paged(self, sorted(data.get("deployments", []), key=lambda d: d["id"], reverse=True)))

        def statuses(self, repo, dep_id, expired=False):
            data = self.repo_data(repo)
            if data is not None:
                self.ok(*_paged(self, [s for s in data.get("deployment-statuses", [])
                                       if s.get("deployment_url", "").rsplit("/", 1)[-1] == dep_id]))

        def issues(self, repo, expired=False):
            data = self.repo_data(repo)
            if data is None:
                return
            want = {label for label in self.query.get("labels", "").split(",") if label}
            state, since = self.query.get("state", "open"), self.query.get("since", "")
            items = [i for i in data.get("issues", [])
                     if want <= {label["name"] for label in i.get("labels", [])}
                     and (state == "all" or i.get("state") == state)
                     and (i.get("updated_at") or i.get("closed_at") or i.get("created_at") or "") >= since]
            self.ok(*_paged(self, sorted(items, key=lambda i: i["number"], reverse=True)))

        # -- signed downloads --------------------------------------------------------------
        def download(self, path: str):
            m = re.fullmatch(r"/download/(.+)/(\d{4}-\d{2}-\d{2})/(\d+)", path)
            expires = int(self.query.get("se", "0"))
            if not m or not hmac.compare_digest(self.query.get("sig", ""), gh.sign(f"{m[1]}/{m[2]}/{m[3]}", expires)):
                return self.send(403, b"<Error><Code>AuthenticationFailed</Code></Error>", ctype="application/xml")
            if "Authorization" in self.headers:  # blob storage refuses a second credential next to the signature
                return self.send(400, b"<Error><Code>InvalidAuthenticationInfo</Code></Error>", ctype="application/xml")
            if gh.clock() > expires:
                return self.send(403, b"<Error><Code>AuthenticationFailed</Code><Message>Signed expiry time has "
                                      b"passed</Message></Error>", ctype="application/xml")
            body = gh.metrics[m[1]][m[2]][int(m[3])]
            fault = gh.draw("download", gh.faults.download)
            if fault in ("truncated", "truncated-unsized") and len(body) <= 2:
                fault = None  # nothing to cut: serve it whole
            if fault in ("truncated", "truncated-unsized"):
                first_line = body.find(b"\n") if b"\n" in body else len(body)
                cut = max(1, first_line // 2)  # inside the first record: never a clean line boundary
                self.entry["fault"], self.entry["status"] = fault, 200
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                if fault == "truncated":
                    self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[:cut])
                self.close_connection = True
                return
            if self.inject(fault):
                return
            self.send(200, body, ctype="application/x-ndjson")

    return Handler


ROUTES = [
    (r"/(orgs|enterprises)/([^/]+)/copilot/metrics/reports/([a-z0-9-]+?)(/latest)?", "report"),
    (r"/orgs/([^/]+)/copilot/billing/seats", "seats"),
    (r"/organizations/([^/]+)/settings/billing/(ai_credit|premium_request)/usage", "billing"),
    (r"/organizations/([^/]+)/settings/billing/usage", "billing_usage"),
    (r"/enterprises/([^/]+)/settings/billing/cost-centers", "cost_centers"),
    (r"/orgs/([^/]+)/teams", "teams"),
    (r"/orgs/([^/]+)/teams/([^/]+)/members", "members"),
    (r"/orgs/([^/]+)/repos", "org_repos"),
    (r"/repos/([^/]+/[^/]+)/pulls", "pulls"),
    (r"/repos/([^/]+/[^/]+)/pulls/(\d+)/reviews", "reviews"),
    (r"/repos/([^/]+/[^/]+)/pulls/(\d+)/files", "files"),
    (r"/repos/([^/]+/[^/]+)/deployments", "deployments"),
    (r"/repos/([^/]+/[^/]+)/deployments/(\d+)/statuses", "statuses"),
    (r"/repos/([^/]+/[^/]+)/issues", "issues"),
]


# -- helpers the fetch tests share ---------------------------------------------------------------
TEST_POLICY = dict(backoff_base=0.01, backoff_cap=0.2, max_wait=1e9, timeout=2.0, max_attempts=10,
                   reset_margin=0.5, secondary_wait=5.0)


def make_client(gh: FakeGitHub, clock: VirtualClock, token: str | None = None, **policy):
    """A real `GitHubClient` (ghapi underneath) pointed at `gh`, waiting on the virtual clock.

    Clients are reused per server and settings (building ghapi's ~1,000 operations takes 0.15 s),
    which also proves a client carries over from one run to the next.
    """
    from copilot_finops.fetch.github import GitHubClient, RetryPolicy
    key = (token, id(clock), tuple(sorted(policy.items())))
    if key not in gh.clients:
        gh.clients[key] = GitHubClient(token or gh.token, gh.url, RetryPolicy(**{**TEST_POLICY, **policy}),
                                       clock=clock.time, sleep=clock.sleep, seed=1)
    return gh.clients[key]


def write_tiny_zone(root, days: list[str], users: int = 3, seats: int | None = None, shards: int = 1,
                    org_login: str = "tiny-org") -> Path:
    """A hand-written raw zone in the generator's formats, for cases the demo org does not cover."""
    root = Path(root)
    for day in days:
        records = [{"user_id": 100 + u, "user_login": f"user{u}", "day": day, "organization_id": "1",
                    "user_initiated_interaction_count": u + 1} for u in range(users)]
        for kind, rows in (("users-1-day", records),
                           ("user-teams-1-day", [{"user_id": r["user_id"], "user_login": r["user_login"], "day": day,
                                                  "organization_id": "1", "team_id": 7, "slug": "core"} for r in records]),
                           ("organization-1-day", [{"day": day, "organization_id": "1", "daily_active_users": users}])):
            folder = root / "metrics" / kind / day
            folder.mkdir(parents=True, exist_ok=True)
            step = max(1, -(-len(rows) // shards))
            for i, lo in enumerate(range(0, max(1, len(rows)), step)):
                (folder / f"part-{i}.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows[lo:lo + step]))
    n = users if seats is None else seats
    seat_list = [{"created_at": "2026-01-01T00:00:00Z", "plan_type": "business",
                  "assignee": {"login": f"user{u}", "id": 100 + u}} for u in range(n)]
    (root / "seats").mkdir(parents=True, exist_ok=True)
    (root / "seats" / f"{days[-1]}.json").write_text(json.dumps([{"total_seats": n, "seats": seat_list}]))
    (root / "teams").mkdir(parents=True, exist_ok=True)
    (root / "teams" / f"{days[-1]}.json").write_text(json.dumps(
        [{"id": 7, "slug": "core", "name": "Core", "members": [{"login": f"user{u}", "id": 100 + u} for u in range(users)]}]))
    return root
