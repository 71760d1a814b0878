"""Duplicate work from what changed: hand-written pull requests, a background of ordinary work, and the edge cases.

Paraphrased duplicates in two repos are found; identical bump titles, README updates, bots,
reverts and two people in one repo are not duplicate work.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from copilot_finops.ingest.documents import patch_sketch
from copilot_finops.params import PatternRules
from copilot_finops.patterns import duplicates

START = datetime(2026, 9, 1, 9)
AREAS = ["ledger", "invoice", "cart", "checkout", "catalog", "search", "session", "pager", "alerting", "export",
         "pricing", "inventory"]
THINGS = ["handler", "worker", "parser", "query", "schema", "endpoint", "adapter", "store", "hook", "validator"]


class World:
    """Pull requests and their changed files, as `load_pull_requests` reads them from the warehouse."""

    def __init__(self):
        self.prs, self.files = [], []

    def pr(self, repo: str, author: str, title: str, files: dict[str, str], day: int, author_type: str = "User",
           labels: tuple = ()) -> int:
        number = len(self.prs) + 1
        self.prs.append({"repo": repo, "number": number, "author_login": author, "author_type": author_type,
                         "title": title, "labels": list(labels), "created_at": START + timedelta(days=day, hours=number % 7)})
        for name, patch in files.items():
            self.files.append({"repo": repo, "number": number, "filename": name, "patch_sketch": patch_sketch(patch)})
        return number

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return pd.DataFrame(self.prs), pd.DataFrame(self.files)


def ordinary_work(world: World, n: int = 240, seed: int = 1) -> None:
    """A month of everyday PRs in eight repos, each team in its own areas, some of them README chores."""
    rng = np.random.default_rng(seed)
    for k in range(n):
        team = k % 8
        area = AREAS[(team + int(rng.integers(0, 2)) * 8) % len(AREAS)]
        thing = THINGS[int(rng.integers(len(THINGS)))]
        words = [f"w{int(x)}" for x in rng.integers(0, 5000, size=4)]
        patch = "\n".join(f"+    {a}{b.title()} = {c}()" for a, b, c in zip([area] + words, [thing] + words, words))
        if rng.random() < 0.05:
            world.pr(f"org/repo{team}", f"dev{k % 40}", "Update README.md", {"README.md": f"+ {' '.join(words)}"},
                     int(rng.integers(0, 28)))
        else:
            world.pr(f"org/repo{team}", f"dev{k % 40}", f"Fix {area} {thing} for edge case (T-{k})",
                     {f"src/{area}/{thing}.go": patch}, int(rng.integers(0, 28)))


RETRY_GO = """+func RetryWithBackoff(ctx context.Context, maxAttempts int, call func() error) error {
+    for attempt := 0; attempt < maxAttempts; attempt++ {
+        if err := call(); err == nil || !isRetryable(err) { return err }
+        time.Sleep(backoffDelay(attempt))
+    }"""
RETRY_PY = """+def retry_with_backoff(call, max_attempts=5):
+    for attempt in range(max_attempts):
+        try:
+            return call()
+        except Exception as err:
+            if not is_retryable(err):
+                raise
+            time.sleep(backoff_delay(attempt))"""


@pytest.fixture(scope="module")
def world() -> World:
    w = World()
    ordinary_work(w)
    w.paraphrase = (  # type: ignore[attr-defined]
        w.pr("org/payments", "ana", "Add retry to payment client", {"internal/payments/client/retry.go": RETRY_GO}, 3),
        w.pr("org/orders", "bo", "payments: retry failed client calls",
             {"lib/payments_client/retry_policy.py": RETRY_PY}, 4))
    w.bumps = tuple(  # type: ignore[attr-defined]
        w.pr(repo, author, "Bump lodash from 4.17.20 to 4.17.21",
             {"package.json": '-  "lodash": "4.17.20"\n+  "lodash": "4.17.21"', "package-lock.json": "+ lodash 4.17.21"}, 5)
        for repo, author in (("org/web", "cy"), ("org/admin", "dee"), ("org/docs", "eve")))
    w.bot = w.pr("org/api", "dependabot[bot]", "chore(deps): bump axios from 1.7.4 to 1.7.9",  # type: ignore[attr-defined]
                 {"package.json": "+ axios 1.7.9"}, 5, author_type="Bot", labels=("dependencies",))
    w.readme = (w.pr("org/web", "cy", "Update README.md", {"README.md": "+ how to run the tests locally"}, 6),  # type: ignore[attr-defined]
                w.pr("org/admin", "dee", "Update README.md", {"README.md": "+ setup steps for new laptops"}, 6))
    w.same_repo = (w.pr("org/search", "fay", "Add fuzzy matching to search ranking",  # type: ignore[attr-defined]
                        {"src/search/fuzzy_rank.go": "+ fuzzyMatchScore := levenshteinRank(query)"}, 10),
                   w.pr("org/search", "gus", "search: fuzzy matching in ranking",
                        {"src/search/fuzzy_ranker.go": "+ fuzzyMatchScore := levenshteinRank(term)"}, 10))
    w.month_apart = (w.pr("org/billing", "hal", "Stream invoice export as CSV rows",  # type: ignore[attr-defined]
                          {"src/export/invoice_csv_stream.go": "+ csvWriter.streamRows(invoiceRows)"}, 1),
                     w.pr("org/reports", "ivy", "Export invoices as streamed CSV",
                          {"lib/export/csv_stream_invoices.py": "+ csv_writer.stream_rows(invoice_rows)"}, 25))
    return w


@pytest.fixture(scope="module")
def pairs(world) -> pd.DataFrame:
    prs, files = world.frames()
    return duplicates.duplicate_pairs(prs, files, PatternRules())


def _found(pairs: pd.DataFrame, a: int, b: int) -> bool:
    return bool(((pairs["number_a"] == min(a, b)) & (pairs["number_b"] == max(a, b))).any()
                | ((pairs["number_a"] == max(a, b)) & (pairs["number_b"] == min(a, b))).any())


def test_paraphrased_duplicates_in_two_repos_are_found(world, pairs):
    a, b = world.paraphrase
    assert _found(pairs, a, b), pairs
    row = pairs[(pairs["number_a"].isin([a, b])) & (pairs["number_b"].isin([a, b]))].iloc[0]
    assert row["shared"] >= 3 and {row["author_a"], row["author_b"]} == {"ana", "bo"}


def test_identical_bump_titles_readme_updates_and_bots_are_not_duplicate_work(world, pairs):
    found = set(pairs["number_a"]) | set(pairs["number_b"])
    assert not found & set(world.bumps)
    assert world.bot not in found
    assert not found & set(world.readme)  # same title, unrelated changes: the patches share no word


def test_two_people_in_one_repo_and_work_a_month_apart_are_not_duplicates(world, pairs):
    found = set(pairs["number_a"]) | set(pairs["number_b"])
    assert not found & set(world.same_repo) and not found & set(world.month_apart)


def test_ordinary_work_in_different_areas_is_not_flagged(world, pairs):
    """The only pair in the whole month is the paraphrased one."""
    assert len(pairs) == 1


def test_near_duplicate_prs_gives_one_row_per_pr_with_its_week(world):
    prs, files = world.frames()
    rows = duplicates.near_duplicate_prs(prs, files)
    assert sorted(rows["author_login"]) == ["ana", "bo"]
    assert set(rows["match_repo"]) == {"org/payments", "org/orders"}
    assert all(w.weekday() == 0 for w in rows["week_start"])


def test_normalised_words_meet_across_phrasings_and_languages():
    assert duplicates.title_words("feat(payments): Retrying failed calls (PAY-123)") == ["retry", "fail", "call"]
    assert duplicates.words("lib/payments_client/retryPolicy") == ["lib", "payment", "client", "retry", "policy"]
    # the patch sketch splits identifiers: camelCase in Go and snake_case in Python write the same words
    assert set(patch_sketch("+ x := retryWithBackoff(maxAttempts)")) == set(patch_sketch("+ x = retry_with_backoff(max_attempts)"))
    assert patch_sketch(None) is None and len(patch_sketch("\n".join(f"+ word{i}xyz = 1" for i in range(200)))) == 64


def test_dependency_bumps_are_recognised_by_title_label_or_files():
    rules = PatternRules()
    assert duplicates.dependency_bump("Bump lodash from 4.17.20 to 4.17.21", [], ["package.json"], rules)
    assert duplicates.dependency_bump("chore(deps): update dependency react to v19", [], [], rules)
    assert duplicates.dependency_bump("Tidy manifests", ["dependencies"], ["src/a.go"], rules)
    assert duplicates.dependency_bump("Refresh locks", [], ["go.mod", "go.sum"], rules)
    assert not duplicates.dependency_bump("Add retry to payment client", [], ["src/retry.go", "go.sum"], rules)
    assert duplicates.generated("web/package-lock.json", rules) and duplicates.generated("api/v1/user.pb.go", rules)
    assert not duplicates.generated("src/lock/manager.go", rules)



def _sketch_by_definition(patch):
    """The patch sketch as its docstring defines it, line by line and identifier by identifier."""
    import hashlib
    import re
    if not patch:
        return None
    words = {part.lower() for line in patch.splitlines() if line.startswith("+") and not line.startswith("+++")
             for ident in re.findall(r"[A-Za-z][A-Za-z0-9_]*", line)
             for part in re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", ident).split("_") if len(part) >= 3}
    return sorted(int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "big", signed=True)
                  for w in words)[:64]


def test_the_patch_sketch_is_its_definition_on_awkward_patches():
    """The sketch ingest stores (built for speed: whole-patch regexes, each identifier once, remembered hashes)
    is the line-by-line definition, on file headers, carriage returns, Unicode line breaks and random code."""
    awkward = ["+++ b/x.py\n+fooBar_baz9Qux = 0x9Abc + 9Abc\n-removedThing\n++ twoPlus\n+ kept_one",
               "-gone\r+crAdded\r\n+crlfAdded\n", "+a\u2028bcd_efg\n+\u00fcn\u00efcode wordOne\x0b+vtAdded",
               "+ABCDef ghiJKL\n+__init__ self.myVar ALLCAPS_NAME", "", "+", "\n\n+x\n"]
    rng = np.random.default_rng(5)
    alphabet = list("abcXYZ_019 +-\n\r.()") + ["retry", "Backoff", "\n+", "\n+++ ", "\n-"]
    awkward += ["".join(rng.choice(alphabet, size=int(rng.integers(1, 200)))) for _ in range(300)]
    for patch in awkward:
        assert patch_sketch(patch) == _sketch_by_definition(patch), repr(patch)


def test_the_blocked_search_finds_exactly_what_comparing_every_pair_finds(monkeypatch):
    """The blocked search (which lets a 30,000-developer org fit in memory) must find the very pairs that scoring
    every pair against every rule finds: similarity, different repos, the time window and the shared non-common
    tokens; whatever the block size, and when busy blocks are cut into smaller products."""
    rng = np.random.default_rng(3)
    vocab = [f"t{i}" for i in range(60)]
    n = 400
    token_sets = [set(rng.choice(vocab, size=int(rng.integers(2, 12)), replace=False)) for _ in range(n)]
    x, df, _ = duplicates._weighted(token_sets)
    repos = rng.integers(0, 6, n)
    created = rng.integers(0, 40, n) * 86_400  # seconds over 40 days; many ties
    dense = (x @ x.T).toarray()
    binary = (x != 0).toarray().astype(int)
    found_any = 0
    for threshold, min_shared, common_share, window_days in ((0.3, 1, 0.5, 7), (0.3, 3, 0.2, 7), (0.6, 2, 0.1, 3),
                                                             (0.9, 3, 1.0, 40), (0.2, 4, 0.15, 10)):
        common = df > common_share * n
        shared = binary[:, ~common] @ binary[:, ~common].T
        ii, jj = np.triu_indices(n, 1)
        ok = ((dense[ii, jj] >= threshold - 1e-12) & (repos[ii] != repos[jj])
              & (np.abs(created[ii] - created[jj]) <= window_days * 86_400) & (shared[ii, jj] >= min_shared))
        want = set(zip(ii[ok].tolist(), jj[ok].tolist()))
        for block, work in ((7, 4_000_000), (512, 4_000_000), (512, 40), (64, 1)):
            monkeypatch.setattr(duplicates, "WORK_PER_PRODUCT", work)
            i, j, sims, n_shared = duplicates.qualifying_pairs(x, common, created, repos, threshold, min_shared,
                                                               window_days * 86_400, block=block)
            assert set(zip(i.tolist(), j.tolist())) == want
            assert len(i) == len(want) and np.all(i < j)
            assert np.allclose(sims, dense[i, j]) and np.array_equal(n_shared, shared[i, j])
        found_any += len(want)
    assert found_any > 50  # the comparison is not vacuous


def test_a_first_month_of_few_prs_sharing_one_rare_word_gives_no_match_and_no_error():
    """A new org's first weeks hold few PRs, so one word is often all a pair shares: compared, below the
    threshold, no match (this used to raise an IndexError in the tie-break)."""
    w = World()
    w.pr("org/web", "ana", "Fix login page", {"src/login/page.ts": "+ renderLoginPage(form)"}, 0)
    w.pr("org/api", "bo", "page", {"src/paging/cursor.go": "+ nextCursor := decode(token)"}, 1)
    prs, files = w.frames()
    assert duplicates.near_duplicate_prs(prs, files).empty
    assert duplicates.near_duplicate_prs(prs.iloc[:0], files.iloc[:0]).empty


def test_files_without_patches_read_as_null_in_any_form_are_compared_on_titles_and_paths(world):
    """GitHub leaves out the patch of binary and very large files; a window where no file has one reads the
    column back from DuckDB as NA (or NaN), which must mean "no patch", not an error."""
    prs, files = world.frames()
    for missing in (pd.NA, np.nan, None):
        bare = files.assign(patch_sketch=pd.Series([missing] * len(files), dtype=object))
        rows = duplicates.near_duplicate_prs(prs, bare)
        assert set(rows.columns) >= {"author_login", "week_start"}  # compared, whatever it finds without patches
