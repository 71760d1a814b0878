"""Duplicate work across repos: pull requests that build the same thing, judged by what they change.

Each PR becomes a set of content tokens: the words of its title (ticket ids, conventional-commit
prefixes and punctuation dropped, plural and -ing endings trimmed, camelCase split), the words of
its changed file paths (generated, vendored and lock files left out), and the identifiers its
patches write (the sketch `ingest` keeps, hashed). Tokens weigh by their rarity among the window's
PRs (inverse document frequency), so a shared `readme` or `update` says little and a shared
`backoff` a lot. Two PRs are duplicate work when, opened within a week of each other in different
repos (the same request made for similar repos; two people in one repo are usually splitting one
piece of work), their weighted token sets are closer (cosine) than the org's own
random pairs of PRs by a robust margin (median + `duplicate_z` x MAD of sampled pairs), and at
least `duplicate_min_similarity`; they share at least `duplicate_min_shared_tokens` tokens that
are not among the window's commonest; and, when both show their patches, the patches write some
of the same words (identical titles over unrelated changes, like two "Update README.md", are not
duplicate work).

Left out before comparing: PRs by bots (GitHub's user type, or a login in `bot_logins`),
dependency bumps (by title, by a `dependencies` label, or because every changed file is a
manifest or lock file), and reverts, which GitHub titles after the PR they undo.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import pandas as pd

from ..params import PatternRules

WINDOW_DAYS = 7
REVERT_TITLE = re.compile(r'^\s*Revert\b', re.IGNORECASE)
BUMP_TITLE = re.compile(r"^\s*(?:\w+(?:\([\w./-]*\))?!?:\s*)?(?:bump|upgrade|update dependency|update [\w@./-]+ to v?\d)\b"
                        r"|\bfrom v?\d[\w.-]* to v?\d", re.IGNORECASE)
TICKET = re.compile(r"\(?\b[A-Z][A-Z0-9]+-\d+\b\)?|#\d+")
PREFIX = re.compile(r"^\s*\w+(?:\([^)]*\))?!?:\s*")  # conventional commits: "feat(api): ..."
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
WORD = re.compile(r"[a-z][a-z0-9]+")
STOP = frozenset("a an and as at be by for from in into is it of on or the this to with via when".split())
COMMON_SHARE = 0.05  # tokens in more than this share of the window's PRs do not count as shared content
PAIR_SAMPLE = 20_000
WORK_PER_PRODUCT = 4_000_000  # multiply-adds of one block product in the duplicate search (bounds its memory)


@lru_cache(maxsize=1 << 17)
def stem(word: str) -> str:
    """Trim common English endings so 'retries', 'retrying' and 'retry' meet."""
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if len(word) > len(suffix) + 2 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def words(text: str) -> list[str]:
    """Content words of free text or a path: camelCase split, lower-cased, stop words dropped, stemmed."""
    return [stem(w) for w in WORD.findall(CAMEL.sub(" ", text or "").lower()) if w not in STOP]


def title_words(title: str) -> list[str]:
    return words(TICKET.sub(" ", PREFIX.sub("", title or "")))


def generated(path: str, rules: PatternRules) -> bool:
    lowered = path.lower()
    return any(lowered.endswith(g) or f"/{g}" in f"/{lowered}" for g in rules.generated_paths)


def dependency_bump(title: str, labels, files: list[str], rules: PatternRules) -> bool:
    """A PR that only moves dependencies: its title says so, it carries a `dependencies` label, or every file is a manifest."""
    if BUMP_TITLE.search(title or ""):
        return True
    if labels is not None and len(labels) and any(str(x).lower() in ("dependencies", "deps") for x in labels):
        return True
    manifests = _names(tuple(rules.dependency_files))
    return bool(files) and all(f.rsplit("/", 1)[-1].lower() in manifests for f in files)


@lru_cache(maxsize=8)
def _names(names: tuple[str, ...]) -> frozenset[str]:
    """A list of params' names as a set (a month's PRs test thousands of file names against it)."""
    return frozenset(names)


def bot(login: str | None, author_type: str | None, rules: PatternRules) -> bool:
    name = (login or "").lower()
    return (author_type or "").lower() == "bot" or name.endswith("[bot]") or name in {b.lower() for b in rules.bot_logins}


def content_tokens(prs: pd.DataFrame, files: pd.DataFrame, rules: PatternRules) -> pd.DataFrame:
    """The PRs that can be duplicate work, each with its `tokens` (a set); bots, bumps and reverts left out.

    `prs`: repo, number, author_login, author_type, title, labels, created_at. `files`: repo, number,
    filename, patch_sketch (list of ints or None); may be empty.
    """
    by_pr: dict[tuple, list] = {}
    sketches = files["patch_sketch"].tolist() if "patch_sketch" in files else [None] * len(files)
    for repo, number, filename, sketch in zip(files["repo"].tolist(), files["number"].tolist(),
                                              files["filename"].tolist(), sketches):
        by_pr.setdefault((repo, number), []).append((filename, sketch))
    paths: dict[str, frozenset | None] = {}  # a path's words, or None for a generated file: paths repeat

    def of_path(filename: str) -> frozenset | None:
        if filename not in paths:
            paths[filename] = (None if generated(filename, rules)  # the extension says the language, not the work
                               else frozenset(words(filename.rsplit(".", 1)[0])))
        return paths[filename]

    titles: dict[str, tuple[bool, frozenset]] = {}  # (a revert or a bump by its title, its words): titles repeat
    bots: dict[tuple, bool] = {}
    n = len(prs)
    author_types = prs["author_type"].tolist() if "author_type" in prs else [None] * n
    labels = prs["labels"].tolist() if "labels" in prs else [None] * n
    keep, tokens = [], []
    for repo, number, title, author, author_type, label in zip(prs["repo"].tolist(), prs["number"].tolist(),
                                                                prs["title"].tolist(), prs["author_login"].tolist(),
                                                                author_types, labels):
        if title not in titles:
            titles[title] = (bool(REVERT_TITLE.match(title or "")) or dependency_bump(title, None, [], rules),
                             frozenset(title_words(title)))
        left_out, found_in_title = titles[title]
        if (author, author_type) not in bots:
            bots[(author, author_type)] = bot(author, author_type, rules)
        changed = by_pr.get((repo, number), [])
        if (left_out or bots[(author, author_type)]
                or dependency_bump(None, label, [name for name, _ in changed], rules)):  # the title was judged above
            keep.append(False)
            tokens.append(set())
            continue
        found = set(found_in_title)
        for filename, sketch in changed:
            path = of_path(filename)
            if path is None:
                continue
            found |= path
            if isinstance(sketch, (list, tuple, np.ndarray)) and len(sketch):  # NULL reads as None, NaN or NA
                # ints: the patch's hashed words, a namespace apart from the words of titles and paths
                found.update(sketch.tolist() if isinstance(sketch, np.ndarray) else map(int, sketch))
        keep.append(bool(found))
        tokens.append(found)
    out = prs.assign(tokens=tokens)[keep]
    return out.reset_index(drop=True)


def _weighted(token_sets: list[set]):
    """(rows of L2-normalised IDF weights of binary term presence, each token's document frequency, the tokens)."""
    from scipy import sparse

    flat = np.empty(sum(len(t) for t in token_sets), dtype=object)
    flat[:] = [t for toks in token_sets for t in toks]
    cols, uniques = pd.factorize(flat, sort=False)  # codes in order of first appearance
    rows = np.repeat(np.arange(len(token_sets)), [len(t) for t in token_sets])
    vocab = list(uniques)
    n = len(token_sets)
    df = np.bincount(cols, minlength=len(vocab)) if len(cols) else np.zeros(0, dtype=int)
    idf = np.log((1 + n) / (1 + df)) + 1.0
    x = sparse.csr_matrix((idf[cols], (rows, cols)), shape=(n, len(vocab)))
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x = sparse.diags(1 / np.where(norms > 0, norms, 1.0)) @ x
    return x.tocsr(), df, vocab


def similarity_threshold(x, eligible_pair, rules: PatternRules, random_state: int = 0) -> float:
    """The cosine two PRs must reach: the org's random pairs' median + duplicate_z MADs, at least the floor."""
    n = x.shape[0]
    rng = np.random.default_rng(random_state)
    i, j = rng.integers(0, n, PAIR_SAMPLE), rng.integers(0, n, PAIR_SAMPLE)
    ok = (i != j) & eligible_pair(i, j)
    if ok.sum() < 30:
        return rules.duplicate_min_similarity
    sims = np.asarray(x[i[ok]].multiply(x[j[ok]]).sum(axis=1)).ravel()
    median = float(np.median(sims))
    mad = float(np.median(np.abs(sims - median))) * 1.4826
    return max(rules.duplicate_min_similarity, median + rules.duplicate_z * mad)


def duplicate_pairs(prs: pd.DataFrame, files: pd.DataFrame, rules: PatternRules,
                    window_days: int = WINDOW_DAYS, random_state: int = 0) -> pd.DataFrame:
    """Pairs of PRs that are duplicate work (see the module docstring).

    Returns one row per pair (each pair once): repo_a, number_a, author_a, repo_b, number_b, author_b,
    similarity (cosine), shared (content tokens in common, the window's commonest left out).
    """
    columns = ["repo_a", "number_a", "author_a", "repo_b", "number_b", "author_b", "similarity", "shared"]
    cand = content_tokens(prs, files, rules)
    if len(cand) < 2:
        return pd.DataFrame(columns=columns)
    x, df, vocab = _weighted(list(cand["tokens"]))
    created = pd.to_datetime(cand["created_at"], utc=True).dt.tz_convert(None).to_numpy().astype("datetime64[ns]")
    repos = pd.factorize(cand["repo"])[0]

    def eligible(i, j):
        return repos[i] != repos[j]

    threshold = similarity_threshold(x, eligible, rules, random_state)
    common = df > max(2, COMMON_SHARE * len(cand))
    patch = np.array([isinstance(t, int) for t in vocab], dtype=bool)
    window = np.timedelta64(window_days, "D").astype("timedelta64[ns]").astype(np.int64)
    i, j, sims, shared = qualifying_pairs(x, common, created.astype(np.int64), repos, threshold,
                                          rules.duplicate_min_shared_tokens, window)
    # What changed must agree: when both PRs show their patches, they write some of the same words.
    present = (x != 0).tocsr().astype(np.float64)
    has_patch = np.asarray(present[:, patch].sum(axis=1)).ravel() > 0
    shared_patch = _row_dots(present[:, patch & ~common].tocsr(), i, j)
    keep = ~has_patch[i] | ~has_patch[j] | (shared_patch > 0)
    i, j, sims, shared = i[keep], j[keep], sims[keep], shared[keep]
    a, b = cand.iloc[i], cand.iloc[j]
    return pd.DataFrame({"repo_a": a["repo"].to_numpy(), "number_a": a["number"].to_numpy(),
                         "author_a": a["author_login"].to_numpy(), "repo_b": b["repo"].to_numpy(),
                         "number_b": b["number"].to_numpy(), "author_b": b["author_login"].to_numpy(),
                         "similarity": np.round(sims.astype(float), 4), "shared": shared.astype(int)}, columns=columns)


def _row_dots(m, i: np.ndarray, j: np.ndarray, chunk: int = 200_000, right=None) -> np.ndarray:
    """The dot products of rows i[k] of the sparse matrix `m` and j[k] of `right` (default `m`), in chunks
    (memory stays flat)."""
    right = m if right is None else right
    if not len(i):
        return np.zeros(0)
    return np.concatenate([np.asarray(m[i[k:k + chunk]].multiply(right[j[k:k + chunk]]).sum(axis=1)).ravel()
                           for k in range(0, len(i), chunk)])


def qualifying_pairs(x, common: np.ndarray, created: np.ndarray, repos: np.ndarray, threshold: float,
                     min_shared: int, window: int, block: int = 512):
    """Every pair of rows (i < j) that can be duplicate work, found exactly without comparing every pair.

    A pair qualifies when its rows (unit vectors in `x`) have dot product >= `threshold`, lie in different
    `repos`, were `created` within `window` of each other (integers, same unit), and share at least
    `min_shared` (>= 1) tokens that are not `common` (a mask over x's columns). Returns i, j, similarity, shared.

    How, so that 30,000 developers' month of PRs fits in memory and time: rows are taken in creation
    order, a block at a time, against the rows created up to `window` later (each pair once). Within a
    block two sparse products over the non-common tokens only give every pair's shared-token count and
    the non-common part of its cosine; the common tokens (a few dozen, shared by thousands of PRs, which
    would make a full product huge) add at most the product of the two rows' norms over them
    (Cauchy-Schwarz), so their part is computed exactly only for the pairs that could still reach the
    threshold.
    """
    from scipy import sparse

    n = x.shape[0]
    empty = (np.zeros(0, dtype=np.int64),) * 2 + (np.zeros(0), np.zeros(0, dtype=np.int64))
    if n < 2:
        return empty
    common = np.asarray(common, dtype=bool)
    by_time = np.argsort(created, kind="stable")
    x = x[by_time].tocsr()
    when, repo = np.asarray(created)[by_time], np.asarray(repos)[by_time]
    rare = x[:, np.flatnonzero(~common)].tocsr()
    rare.sort_indices()
    ones = sparse.csr_matrix((np.ones(rare.nnz), rare.indices, rare.indptr), shape=rare.shape)
    alive = np.diff(rare.indptr) >= min_shared  # fewer non-common tokens than a pair must share: no partner
    keep_rows = sparse.diags(alive.astype(np.float64))
    rare, ones = (keep_rows @ rare).tocsr(), (keep_rows @ ones).tocsr()
    rare.eliminate_zeros()
    ones.eliminate_zeros()
    # Each token's rows, in creation order; a block's partners are a contiguous run of each of its tokens' rows.
    by_token = rare.T.tocsr()
    by_token.sort_indices()
    token_of = np.repeat(np.arange(by_token.shape[0], dtype=np.int64), np.diff(by_token.indptr))
    position = token_of * n + by_token.indices  # increasing: one binary search finds a token's run in a window
    frequent = x[:, np.flatnonzero(common)].tocsr()
    frequent_norm = np.sqrt(np.asarray(frequent.multiply(frequent).sum(axis=1)).ravel())

    def pairs_of_block(start: int) -> list[tuple]:
        stop = min(start + block, n)
        last = int(np.searchsorted(when, when[stop - 1] + window, side="right"))
        left_ones, left_rare = ones[start:stop], rare[start:stop]
        tokens = np.unique(left_ones.indices).astype(np.int64)  # (token * n overflows 32 bits)
        lo = np.searchsorted(position, tokens * n + start)
        run = np.searchsorted(position, tokens * n + last) - lo
        take = np.repeat(lo - np.r_[0, np.cumsum(run)[:-1]], run) + np.arange(run.sum())
        right_ptr = np.r_[0, np.cumsum(run)]
        right_ones = sparse.csr_matrix((np.ones(len(take)), by_token.indices[take] - start, right_ptr),
                                       shape=(len(tokens), last - start))
        right_rare = sparse.csr_matrix((by_token.data[take], by_token.indices[take] - start, right_ptr),
                                       shape=(len(tokens), last - start))
        local = np.searchsorted(tokens, left_ones.indices)  # each token's row in right_*: tokens is sorted
        left_ones = sparse.csr_matrix((left_ones.data, local, left_ones.indptr), shape=(stop - start, len(tokens)))
        left_rare = sparse.csr_matrix((left_rare.data, local, left_rare.indptr), shape=(stop - start, len(tokens)))
        right_rows = right_ones.T.tocsr()  # (the right block's rows, to count a surviving pair's shared tokens)
        # Rows whose tokens are busy have many partners: cut the block so one product stays within WORK_PER_PRODUCT.
        work = np.cumsum(left_ones @ run.astype(np.float64))
        cuts = np.r_[0, np.flatnonzero(np.diff(work // WORK_PER_PRODUCT)) + 1, stop - start]
        return [_block_pairs(left_ones[first:end], left_rare[first:end], right_rows, right_rare, start, start + first,
                             when, repo, frequent, frequent_norm, threshold, min_shared, window)
                for first, end in zip(cuts[:-1], cuts[1:]) if end > first]

    # Blocks are independent, and SciPy's products and NumPy's array work release the GIL: a thread per core.
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        out = [part for parts in pool.map(pairs_of_block, range(0, n, block)) for part in parts]
    i, j, sims, shared = (np.concatenate(parts) for parts in zip(*out))
    i, j = by_time[i], by_time[j]
    swap = i > j
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    order_out = np.lexsort((j, i))
    return i[order_out], j[order_out], sims[order_out], np.rint(shared[order_out]).astype(np.int64)


def _block_pairs(left_ones, left_rare, right_rows, right_rare, right_start: int, left_start: int, when, repo,
                 frequent, frequent_norm, threshold: float, min_shared: int, window: int):
    """The qualifying pairs between rows from `left_start` on and the rows from `right_start` on (see qualifying_pairs).

    One sparse product, of the non-common weights: its pattern is the pairs that share a non-common token
    (weights are positive: nothing cancels). The bound on the cosine leaves few of them; only those are placed
    (row, column) and have their shared tokens counted (`right_rows`: the right rows' tokens, as 1s)."""
    weights = left_rare @ right_rare
    bound = np.repeat(frequent_norm[left_start:left_start + weights.shape[0]], np.diff(weights.indptr))
    bound *= frequent_norm[right_start:][weights.indices]
    bound += weights.data
    keep = np.flatnonzero(bound >= threshold - 1e-12)
    a = np.searchsorted(weights.indptr, keep, side="right") - 1 + left_start
    b = weights.indices[keep].astype(np.int64) + right_start
    partial = weights.data[keep]
    ok = (b > a) & (repo[a] != repo[b]) & (when[b] - when[a] <= window)
    a, b, partial = a[ok], b[ok], partial[ok]
    shared = _row_dots(left_ones, a - left_start, b - right_start, right=right_rows)
    ok = shared >= min_shared - 1e-9
    a, b, shared, partial = a[ok], b[ok], shared[ok], partial[ok]
    sims = partial + _row_dots(frequent, a, b)
    ok = sims >= threshold - 1e-12
    return a[ok], b[ok], sims[ok], shared[ok]


def near_duplicate_prs(prs: pd.DataFrame, files: pd.DataFrame | None = None, rules: PatternRules | None = None,
                       window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """Pull requests that repeat other work (see the module docstring), one row per PR with a match.

    Columns: author_login, repo, created_at, week_start (the Monday of its week, a date), similarity
    (its best match's cosine), match_repo.
    """
    rules = rules or PatternRules()
    files = files if files is not None else pd.DataFrame(columns=["repo", "number", "filename", "patch_sketch"])
    prs = prs.copy()
    if "number" not in prs:
        prs["number"] = range(len(prs))
    columns = ["author_login", "repo", "created_at", "week_start", "similarity", "match_repo"]
    pairs = duplicate_pairs(prs, files, rules, window_days)
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    both = pd.concat([
        pairs.rename(columns={"repo_a": "repo", "number_a": "number", "repo_b": "match_repo"})[
            ["repo", "number", "match_repo", "similarity"]],
        pairs.rename(columns={"repo_b": "repo", "number_b": "number", "repo_a": "match_repo"})[
            ["repo", "number", "match_repo", "similarity"]]], ignore_index=True)
    best = both.sort_values(["similarity", "match_repo"], ascending=[False, True]).drop_duplicates(["repo", "number"])
    out = best.merge(prs[["repo", "number", "author_login", "created_at"]], on=["repo", "number"], how="left")
    out["week_start"] = pd.to_datetime(out["created_at"]).dt.to_period("W-SUN").dt.start_time.dt.date
    return out[columns].sort_values(["created_at", "repo"]).reset_index(drop=True)
