"""Privacy in the library: pseudonymous ids, k-anonymity and incident-only identity access.

Every report applies these the same way, so a promise made in docs/PRIVACY.md is kept in one place:

- pseudonyms: a keyed HMAC-SHA256 of the login (case-folded, as GitHub logins are case-insensitive).
  The key comes from `COPILOT_FINOPS_PSEUDONYM_KEY` or a key file created 0600 on first use; the same
  key gives the same pseudonym on every run, and without it a pseudonym cannot be linked to a login.
- k-anonymity: a figure over fewer than k users (1 .. k-1; 0 is no group) is suppressed, and so is a
  total or a difference from which a suppressed group could be recovered by subtraction.
- access: identities only in incident mode, which needs an incident id and a reason and leaves an
  `access_audit` grant scoped to a period and teams; a notebook shows a login only within a recent
  grant that covers it, and every such render has its own `access_audit` row.
- files: what holds identities (the warehouse and its memo, the raw zone, incident outputs) is the
  owner's alone (files 0600, folders 0700), or also `privacy.readers_group`'s (0640, 0750); team reports
  stay readable.
- retention: see `retention.purge` (user-level rows and raw files past their retention are deleted,
  team aggregates archived first).
"""
from __future__ import annotations

import contextlib
import getpass
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator

import duckdb
import pandas as pd

from . import formatting
from .errors import UserError

KEY_ENV = "COPILOT_FINOPS_PSEUDONYM_KEY"
MIN_KEY_CHARS = 16
PSEUDONYM_PREFIX = "dev-"
PSEUDONYM_HEX = 12  # 48 bits: no collisions to speak of in an org, nothing to brute-force without the key
INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
AUDIT_TOKEN_ENV = "COPILOT_FINOPS_AUDIT_TOKEN"  # a detail run's secret, in its kernels' environment only
GRANT, RENDER = "grant", "render"  # access_audit.access: a detail run's authorisation / one notebook shown


# -- pseudonymous ids -----------------------------------------------------------------------------------------
def _read_key_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UserError(f"pseudonym key file {path} is readable by others (mode {mode:o}): run `chmod 600 {path}`")
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_CHARS:
        raise UserError(f"pseudonym key file {path} holds fewer than {MIN_KEY_CHARS} characters: delete it to have "
                        "a new one created (pseudonyms then change), or restore the old file")
    return key


def _create_key_file(path: Path) -> None:
    """Write a new random key with 0600 permissions; a concurrent creator wins cleanly (link fails, we read theirs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode() + b"\n")
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic and never overwrites: readers never see a half-written key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def pseudonym_key(key_file: str | Path = ".pseudonym.key", environ: dict | None = None) -> bytes:
    """The pseudonym key: `COPILOT_FINOPS_PSEUDONYM_KEY` if set, else `key_file`, created 0600 on first use.

    Raises UserError when the key is too short or the key file is readable by group or others.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(KEY_ENV)
    if value:
        if len(value) < MIN_KEY_CHARS:
            raise UserError(f"{KEY_ENV} is shorter than {MIN_KEY_CHARS} characters: use a long random value, "
                            "e.g. `openssl rand -hex 32`")
        return value.encode()
    path = Path(key_file)
    if not path.exists():
        _create_key_file(path)
    return _read_key_file(path)


def key_for(params, params_dir: str | Path, environ: dict | None = None) -> bytes:
    """The key for an org: a relative `privacy.pseudonym_key_file` is taken from the folder holding the params folder.

    So reports run from the project folder and a notebook opened in `notebooks/` use the same key.
    """
    key_file = Path(params.privacy.pseudonym_key_file)
    if not key_file.is_absolute():
        key_file = Path(params_dir).resolve().parent / key_file
    return pseudonym_key(key_file, environ)


def pseudonym(login: str, key: bytes | None = None) -> str:
    """'dev-' + 12 hex digits of HMAC-SHA256(key, login case-folded): stable per key, unlinkable without it.

    `key` defaults to `pseudonym_key()` (the environment, else `.pseudonym.key` in the working folder).
    """
    key = key or pseudonym_key()
    digest = hmac.new(key, str(login).casefold().encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX]


def person_labels(logins: pd.Series, key: bytes, detail: bool = False) -> pd.Series:
    """How a report names people: pseudonyms by default, logins only in (audited) incident mode."""
    if detail:
        return logins.astype("string")
    return logins.map(lambda login: pseudonym(login, key) if isinstance(login, str) and login else pd.NA).astype("string")


# -- k-anonymity ----------------------------------------------------------------------------------------------
def small_group(users, k: int):
    """True where a count of users is a group too small to show (1 .. k-1); works on scalars and Series."""
    return (users > 0) & (users < k)


def small_team_notice(team: str, period: str, k: int) -> str:
    """The one notice a team under k gets on a page, instead of sections of suppressed figures."""
    return (f"**{team}, {period}: fewer than {int(k)} developers.** The team had fewer members or active developers "
            f"than the privacy minimum ({int(k)}) this month, so its figures are not shown on this page, to protect "
            "individuals. They count in the org's and the segment's totals where those do not reveal them.")


def all_suppressed(frame: pd.DataFrame, k: int, keys: int = 1) -> bool:
    """True when a display table has rows and every figure cell of every row reads suppressed (the cells after
    its first `keys` label columns; empty and 'n/a' cells count as nothing to show): better said in one sentence."""
    if frame is None or frame.empty or frame.shape[1] <= keys:
        return False
    label = suppressed_label(k)
    cells = frame.iloc[:, keys:].astype(str).to_numpy().ravel()
    shown = [c for c in cells if c not in ("", "n/a", "nan", "None")]
    return bool(shown) and all(c == label for c in shown)


def minimum_note(k: int) -> str:
    """The sentence every page opens with: the privacy minimum, with its value (pages' prose refers to it by name)."""
    return (f"Figures computed from fewer than {int(k)} developers (the privacy minimum) are suppressed and say so; "
            "no login appears.")


def suppressed_label(k: int) -> str:
    """What a suppressed cell reads (formatting.suppressed_label)."""
    return formatting.suppressed_label(k)


def suppress(frame: pd.DataFrame, users_column: str, k: int, columns: list[str] | None = None,
             also: pd.Series | None = None) -> pd.DataFrame:
    """Blank (NaN) the figures of rows over fewer than `k` users, and mark them in a `suppressed` column.

    Parameters
    ----------
    frame : one row per group, with a count of users in `users_column`.
    columns : the figures to blank (default: every numeric column); the users column is always blanked.
    also : extra rows to suppress (boolean Series aligned to `frame`), e.g. totals that would reveal a group.
    """
    out = frame.copy()
    hide = small_group(out[users_column].fillna(0), k)
    if "suppressed" in out:
        hide = hide | out["suppressed"].fillna(False).astype(bool)
    if also is not None:
        hide = hide | also.reindex(out.index).fillna(False).astype(bool)
    if columns is None:
        columns = [c for c in out.columns if pd.api.types.is_numeric_dtype(out[c]) and not pd.api.types.is_bool_dtype(out[c])]
    for c in dict.fromkeys(list(columns) + [users_column]):
        out[c] = out[c].astype("float64")
        out.loc[hide, c] = float("nan")
    out["suppressed"] = hide.astype(bool)
    return out


def change(current, previous):
    """Difference between two figures; unknown (NaN) when either side is suppressed, so it reveals nothing."""
    if isinstance(current, pd.Series) or isinstance(previous, pd.Series):
        return current - previous  # NaN propagates element-wise
    if current is None or previous is None or current != current or previous != previous:
        return float("nan")
    return current - previous


USER_COUNT_COLUMN = re.compile(r"(users|developers|members|people|seats|joiners|leavers)", re.IGNORECASE)


def k_violations(frame: pd.DataFrame, k: int, columns: list[str] | None = None) -> list[tuple[str, object, float]]:
    """Cells of user-count columns holding 1 .. k-1: (column, row label, value). Empty when the frame is safe."""
    columns = columns if columns is not None else [c for c in frame.columns if USER_COUNT_COLUMN.search(str(c))]
    found = []
    for c in columns:
        values = pd.to_numeric(frame[c], errors="coerce")
        for idx, v in values[small_group(values.fillna(0), k)].items():
            found.append((str(c), idx, float(v)))
    return found


# -- incident-only access to identities -----------------------------------------------------------------------
@dataclass(frozen=True)
class IncidentAccess:
    """A request to see identities: which incident, why, and who asked (the OS user)."""

    incident_id: str
    reason: str
    actor: str

    @property
    def notice(self) -> str:
        """The banner on every page of the output."""
        return (f"incident {self.incident_id}: identities shown for incident response only; "
                f"access by {self.actor} recorded in access_audit")


def incident_access(incident: str | None, reason: str | None, actor: str | None = None) -> IncidentAccess:
    """Validate an incident-mode request. Raises UserError when the incident id or the reason is missing."""
    if not incident or not INCIDENT_ID.match(str(incident)) or ".." in str(incident):
        raise UserError(f"--incident {incident!r}: give the incident id identities are needed for "
                        "(letters, digits, '.', '_' and '-', e.g. INC-2031)")
    if not reason or len(str(reason).strip()) < 10:
        raise UserError("--reason is required in incident mode: say in a sentence why identities are needed "
                        "(at least 10 characters); it is kept in the access_audit table")
    return IncidentAccess(str(incident), str(reason).strip(), actor or getpass.getuser())


def record_access(con: duckdb.DuckDBPyConnection, access: IncidentAccess, scope: str, output: str | None,
                  at: datetime | None = None, *, kind: str = GRANT, period: str | None = None,
                  teams: list[str] | None = None, notebook: str | None = None, run_token: str | None = None) -> None:
    """Write one `access_audit` row (needs a writable connection).

    `kind` GRANT authorises a detail run for `period` and `teams` (None: every team and the org overview);
    RENDER records one notebook shown with identities. `run_token`: the secret a report run hands its
    kernels; only its hash is kept, so the row can be matched to that run's renders and no other.
    """
    at = at or _utc_now()
    con.execute("INSERT INTO access_audit (accessed_at, actor, incident_id, reason, scope, output, access, period, "
                "teams, notebook, run_token_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [at, access.actor, access.incident_id, access.reason, scope, output, kind, period, teams, notebook,
                 _token_hash(run_token) if run_token else None])


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class DetailAccess:
    """The gate's answer for one render: show identities or not, and whether the render must record itself."""

    allowed: bool
    grant: IncidentAccess | None = None  # the grant that covers it, for the render's own row
    must_record: bool = False  # no row of the report run covers this render: it writes its own first


def detail_access(con: duckdb.DuckDBPyConnection, detail, incident, team: str, period: str,
                  hours: float = 12.0, run_token: str | None = None, now: datetime | None = None) -> DetailAccess:
    """May this render (a team's or the org's notebook for a month) show logins?

    Only with detail on, an incident id, and an `access_audit` grant for that incident whose scope holds
    the team (or, for the org overview `__org__`, every team) and the period, recorded within `hours`.
    A render of `report --detail` finds the row the command wrote for it (matched by the run's token, from
    the environment of its kernels); any other render, papermill by hand included, must record its own
    row before it shows anything (`must_record`; notebooks do so through `ReportContext.identities_allowed`).
    Raises UserError, one line naming the fix, otherwise.
    """
    if not detail:
        return DetailAccess(False)
    if not incident:
        raise UserError("detail mode needs an incident id: use `copilot-finops report --detail --incident ID --reason TEXT`")
    now = now or _utc_now()
    covers = ("incident_id = ? AND period = ? AND accessed_at BETWEEN ? AND ? "
              "AND (teams IS NULL OR (? <> '__org__' AND list_contains(teams, ?)))")
    args = [str(incident), str(period), now - timedelta(hours=hours), now + timedelta(minutes=5), team, team]
    try:
        if run_token and con.execute(f"SELECT count(*) FROM access_audit WHERE access = '{RENDER}' AND "
                                     f"run_token_sha256 = ? AND {covers}", [_token_hash(run_token), *args]).fetchone()[0]:
            return DetailAccess(True)
        grant = con.execute(f"SELECT actor, reason FROM access_audit WHERE access = '{GRANT}' AND {covers} "
                            "ORDER BY accessed_at DESC LIMIT 1", args).fetchone()
    except duckdb.Error:  # a warehouse whose access_audit predates scoped grants
        grant = None
    if grant is None:
        what = "the org overview (every team)" if team == "__org__" else f"team {team}"
        raise UserError(f"no access_audit grant for incident {incident!r} covers {what} in {period} within the last "
                        f"{hours:g} hours: identities are shown only through `copilot-finops report --period {period} "
                        "--detail --incident ID --reason TEXT` (with --teams for one team), which records the access")
    return DetailAccess(True, IncidentAccess(str(incident), grant[1], getpass.getuser()), must_record=True)


# -- who may read the files that hold identities --------------------------------------------------------------
@contextlib.contextmanager
def owner_only_files() -> Iterator[None]:
    """While writing what holds identities, every file and folder made (the warehouse's WAL and spill files
    included) is the owner's alone: umask 077. `restrict` then opens it to the readers group, if any."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def readers_gid(group: str | None) -> int | None:
    """The id of `privacy.readers_group`, None when no group is set; UserError when the machine has no such group."""
    if not group:
        return None
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise UserError(f"privacy.readers_group {group!r} is not a group on this machine: name an existing group "
                        "(getent group), or remove the setting to keep these files to their owner") from None


def restrict(paths: Iterable[str | Path], group: str | None = None) -> None:
    """Owner-only (files 0600, folders 0700, folders walked) or, with `group`, also that group's to read
    (0640, 0750, group changed). Missing paths and symbolic links are left alone."""
    gid = readers_gid(group)
    file_mode, dir_mode = (0o640, 0o750) if gid is not None else (0o600, 0o700)
    for root in map(Path, paths):
        if root.is_symlink() or not root.exists():
            continue
        entries = [(root, root.is_dir())]
        if root.is_dir():
            for folder, dirs, files in os.walk(root):
                entries += [(Path(folder, d), True) for d in dirs] + [(Path(folder, f), False) for f in files]
        for path, is_dir in entries:
            if path.is_symlink():
                continue
            try:
                if gid is not None and path.stat().st_gid != gid:
                    os.chown(path, -1, gid)
                os.chmod(path, dir_mode if is_dir else file_mode)
            except PermissionError as exc:
                who = f"you and group {group}" if group else "you"
                raise UserError(f"cannot make {path} readable by {who} only ({exc.strerror}): run as its owner, and "
                                "set privacy.readers_group to a group you are in") from None


def warehouse_files(warehouse: str | Path) -> list[Path]:
    """The warehouse file and what beside it holds its rows: the WAL and the memo folder."""
    path = Path(warehouse)
    return [path, Path(f"{path}.wal"), Path(f"{path}.cache")]
