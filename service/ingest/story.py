"""Story fingerprints: tell when two items are the same story, across outlets and updates.

An item's fingerprint is a MinHash of the word 3-grams of its lead: the first
`LEAD_WORDS` words of its summary (or content), folded like rule matching folds text
(case, diacritics), plus the title when the body is too short to say much. Titles are
otherwise left out: outlets rewrite headlines, while a syndicated wire story keeps its lead.

Similarity is the estimated containment of the smaller shingle set in the larger, so a
feed that carries only the first paragraph still matches one that carries the whole lead.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any

import numpy as np

from service.rules import text

NUM_PERM = 128
SHINGLE = 3
LEAD_WORDS = 80
MIN_BODY_WORDS = 15  # below this the title joins the lead
CLUSTER_WINDOW = 4  # characters per unit in scripts written without spaces
CLUSTER_LEAD = 4 * LEAD_WORDS
MIN_SHINGLES = 4  # fewer says too little to call two items one story
THRESHOLD = 0.5  # estimated containment at or above this: the same story
BOILERPLATE = 2  # an item alike to this many others in its own feed has boilerplate text, not a story
WINDOW = timedelta(hours=72)  # a story's thread stays open this long after its first alert
SCHEME = "affine32"
_SEED = 20251122
_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))  # MurmurHash3's finalizer


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray[Any, np.dtype[np.uint32]], np.ndarray[Any, np.dtype[np.uint32]]]:
    """The affine permutations h -> a·h + b (mod 2³², a odd) of datasketch 2.0's "affine32" scheme, drawn the same way."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_A, _B = _permutations(NUM_PERM, _SEED)


def minhash(shingles: Collection[bytes]) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """The MinHash values of a set of shingles, bit for bit those of datasketch 2.0's MinHash(scheme="affine32").

    Each shingle is hashed to 32 bits (SHA-1), mixed once by MurmurHash3's finalizer, then put
    through every permutation; the minimum per permutation is kept. numpy alone does this,
    without datasketch's import of scipy (215 MB of the image, a second of start-up).
    """
    digests = (hashlib.sha1(s, usedforsecurity=False).digest() for s in shingles)  # a hash to spread shingles, not a secret
    hv = np.array([struct.unpack_from("<I", d)[0] for d in digests], dtype=np.uint32).reshape(-1, 1)
    s1, m1, s2, m2, s3 = _FMIX32
    with np.errstate(over="ignore"):  # multiplication wraps around: arithmetic modulo 2³² is the point
        hv = hv ^ (hv >> s1)
        hv = hv * m1
        hv = hv ^ (hv >> s2)
        hv = hv * m2
        hv = hv ^ (hv >> s3)
        values: np.ndarray[Any, np.dtype[np.uint32]] = (hv * _A + _B).min(axis=0)
    return values


_CAPTION = re.compile(r"\((?:photo|ảnh|nguồn|source)\b[^)]*\)\W*$", re.IGNORECASE)
_HEADER = struct.Struct("<I")


def lead(title: str, summary: str, content: str) -> list[str]:
    """The folded words a fingerprint is made of."""
    body = _units(_story_lines(title, summary or content))
    if len(body) < MIN_BODY_WORDS:
        body = _units(title) + body
    return body


def _units(raw: str) -> list[str]:
    """The first `LEAD_WORDS` folded words; a script written without spaces (Chinese, Thai, Khmer) gives
    overlapping windows of `CLUSTER_WINDOW` characters instead, `CLUSTER_LEAD` of them.

    Latin-script text gives the same words as before windows existed, so stored fingerprints of
    English and Vietnamese items stay comparable.
    """
    words: list[str] = []
    windows: list[str] = []
    for word in text.tokens(text.fold(raw)):
        if len(words) >= LEAD_WORDS or len(windows) >= CLUSTER_LEAD:
            break
        if len(word) > CLUSTER_WINDOW and text.unsegmented(word):
            windows += [word[i : i + CLUSTER_WINDOW] for i in range(len(word) - CLUSTER_WINDOW + 1)]
        else:
            words.append(word)
    return (windows + words)[:CLUSTER_LEAD] if windows else words[:LEAD_WORDS]


def _story_lines(title: str, body: str) -> str:
    """The body without what outlets add around a wire story: photo captions, the headline again, stray labels.

    Captions name the same officials in full ("Deputy Prime Minister and Minister of Foreign
    Affairs and International Cooperation ...") across different stories; left in, they made
    two meetings months apart look alike and one story from two outlets look different.
    """
    headline = text.fold(title).strip()
    kept = []
    for line in body.split("\n"):
        words = line.split()
        short = len(words) < 3 and not (text.unsegmented(line) and len(line) >= 12)  # a Chinese sentence is one "word"
        if short or _CAPTION.search(line) or text.fold(line).strip() == headline:
            continue
        kept.append(line)
    return "\n".join(kept)


def version() -> str:
    """What a stored fingerprint depends on; fingerprints of another version are not comparable."""
    return f"minhash-{SCHEME}-{NUM_PERM}-seed{_SEED}-shingle{SHINGLE}-lead{LEAD_WORDS}-min{MIN_BODY_WORDS}-captions"


def signature(title: str, summary: str, content: str) -> bytes | None:
    """The item's fingerprint (shingle count + MinHash values), or None if its text is too short."""
    words = lead(title, summary, content)
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    if len(shingles) < MIN_SHINGLES:
        return None
    values: bytes = minhash([s.encode() for s in shingles]).astype("<u4").tobytes()
    return _HEADER.pack(len(shingles)) + values


def similarity(a: bytes, b: bytes) -> float:
    """Estimated containment of the smaller item's shingles in the other's, from 0 to 1."""
    size_a: int = _HEADER.unpack_from(a)[0]
    size_b: int = _HEADER.unpack_from(b)[0]
    values_a, values_b = _values(a), _values(b)
    if len(values_a) != len(values_b):
        return 0.0
    # MinHash's Jaccard estimate: the share of permutations whose minima agree.
    jaccard = float(np.count_nonzero(values_a == values_b)) / len(values_a)
    shared = jaccard * (size_a + size_b) / (1.0 + jaccard)  # |A ∩ B| from J = |A ∩ B| / |A ∪ B|
    return min(1.0, shared / min(size_a, size_b))


def _values(blob: bytes) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """The MinHash values of a stored fingerprint."""
    return np.frombuffer(blob, dtype="<u4", offset=_HEADER.size)


def fingerprints(documents: Sequence[tuple[str, str, str, str]], wanted: Collection[str]) -> dict[str, bytes]:
    """Fingerprints of the `wanted` keys among one feed's (key, title, summary, content) items.

    Text that three or more items of one feed share is boilerplate ("Read the full story at
    ..."), not a story: those items get no fingerprint, so they are never threaded together.
    Two items alike are kept: a story and its updated version.
    """
    if not wanted:
        return {}
    signatures = {key: signature(title, summary, content) for key, title, summary, content in documents}
    found = {}
    for key in wanted:
        own = signatures.get(key)
        if own is None:
            continue
        alike = sum(1 for other, sig in signatures.items() if other != key and same_story(own, sig))
        if alike < BOILERPLATE:
            found[key] = own
    return found


def same_story(a: bytes | None, b: bytes | None) -> bool:
    """Whether two fingerprints are one story."""
    return a is not None and b is not None and similarity(a, b) >= THRESHOLD
