"""The patch sketch ingest keeps of a pull request file: what its added lines write, as a bottom-k set of hashes.

Duplicate-work detection (`patterns.duplicates`) compares these sketches, so the patch text itself never has to be
stored in the warehouse.
"""
from __future__ import annotations

import hashlib
import re

IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
ADDED_LINE = re.compile(r"^\+(?!\+\+).*", re.MULTILINE)
OTHER_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # str.splitlines splits there too
SKETCH_SIZE = 64
_word_hashes: dict[str, int] = {}


def _word_hash(word: str) -> int:
    """A word's 64-bit blake2b hash (signed), remembered: code repeats its words across patches."""
    h = _word_hashes.get(word)
    if h is None:
        if len(_word_hashes) > 1_000_000:
            _word_hashes.clear()
        h = _word_hashes[word] = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big",
                                                signed=True)
    return h


def patch_sketch(patch: str | None) -> list[int] | None:
    """The SKETCH_SIZE smallest 64-bit hashes of the distinct words on a patch's added lines (None: no patch).

    Words are the parts of identifiers (camelCase and snake_case split, lower-cased, three letters or
    more), so `retryWithBackoff` and `retry_with_backoff` write the same words. A bottom-k sketch: two
    patches that write much the same code share most of their smallest hashes. Added lines are those
    starting with one `+` (not the `+++` file header), lines as `str.splitlines` cuts them.
    """
    if not patch or not isinstance(patch, str):
        return None
    # (`in` finds an ASCII character many times faster than the regular expression)
    if (("\r" in patch or "\x0b" in patch or "\x0c" in patch or "\x1c" in patch or "\x1d" in patch or "\x1e" in patch)
            if patch.isascii() else OTHER_LINE_BREAKS.search(patch)):
        added = "\n".join(line for line in patch.splitlines() if line[:1] == "+" and line[:3] != "+++")
    else:
        added = "\n".join(ADDED_LINE.findall(patch))
    identifiers = " ".join(set(IDENTIFIER.findall(added)))  # each once; the space keeps them apart for CAMEL
    words = [w for w in set(CAMEL.sub("_", identifiers).lower().replace(" ", "_").split("_")) if len(w) >= 3]
    hashes = list(map(_word_hashes.get, words))  # (one call for all the words remembered)
    if None in hashes:
        hashes = [_word_hash(w) if h is None else h for w, h in zip(words, hashes)]
    hashes.sort()
    return hashes[:SKETCH_SIZE]
