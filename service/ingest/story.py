"""Story fingerprints: tell when two items are the same story, across outlets and updates.

An item's fingerprint is a MinHash of the word 3-grams of its lead: the first
`LEAD_WORDS` words of its summary (or content), folded like rule matching folds text
(case, diacritics), plus the title when the body is too short to say much. Titles are
otherwise left out: outlets rewrite headlines, while a syndicated wire story keeps its lead.

Similarity is the estimated containment of the smaller shingle set in the larger, so a
feed that carries only the first paragraph still matches one that carries the whole lead.
"""

from __future__ import annotations

import operator
import re
import struct
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import timedelta
from itertools import chain, repeat

from service.ingest.minhash import NUM_PERM, SCHEME, SEED, minhash
from service.rules import normalise

SHINGLE = 3
LEAD_WORDS = 80
MIN_BODY_WORDS = 15  # below this the title joins the lead
CLUSTER_WINDOW = 4  # characters per unit in scripts written without spaces
CLUSTER_LEAD = 4 * LEAD_WORDS
MIN_SHINGLES = 4  # fewer says too little to call two items one story
THRESHOLD = 0.5  # estimated containment at or above this: the same story
BOILERPLATE = 2  # an item alike to this many others in its own feed has boilerplate text, not a story
WINDOW = timedelta(hours=72)  # a story's thread stays open this long after its first alert
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
    for word in normalise.tokens(normalise.fold(raw)):
        if len(words) >= LEAD_WORDS or len(windows) >= CLUSTER_LEAD:
            break
        if len(word) > CLUSTER_WINDOW and normalise.unsegmented(word):
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
    headline = normalise.fold(title).strip()
    kept = []
    for line in body.split("\n"):
        words = line.split()
        short = len(words) < 3 and not (normalise.unsegmented(line) and len(line) >= 12)  # a Chinese sentence is one "word"
        if short or _CAPTION.search(line) or normalise.fold(line).strip() == headline:
            continue
        kept.append(line)
    return "\n".join(kept)


def version() -> str:
    """What a stored fingerprint depends on; fingerprints of another version are not comparable."""
    return f"minhash-{SCHEME}-{NUM_PERM}-seed{SEED}-shingle{SHINGLE}-lead{LEAD_WORDS}-min{MIN_BODY_WORDS}-captions"


def signature(title: str, summary: str, content: str) -> bytes | None:
    """The item's fingerprint (shingle count + MinHash values), or None if its text is too short."""
    words = lead(title, summary, content)
    shingles = {" ".join(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
    if len(shingles) < MIN_SHINGLES:
        return None
    values = minhash([s.encode() for s in shingles])
    return _HEADER.pack(len(shingles)) + struct.pack(f"<{len(values)}I", *values)


def similarity(a: bytes, b: bytes) -> float:
    """Estimated containment of the smaller item's shingles in the other's, from 0 to 1."""
    size_a: int = _HEADER.unpack_from(a)[0]
    size_b: int = _HEADER.unpack_from(b)[0]
    values_a, values_b = _values(a), _values(b)
    if len(values_a) != len(values_b):
        return 0.0
    # MinHash's Jaccard estimate: the share of permutations whose minima agree.
    jaccard = float(sum(map(operator.eq, values_a, values_b))) / len(values_a)
    shared = jaccard * (size_a + size_b) / (1.0 + jaccard)  # |A ∩ B| from J = |A ∩ B| / |A ∪ B|
    return min(1.0, shared / min(size_a, size_b))


def _values(blob: bytes) -> memoryview:
    """The MinHash values of a stored fingerprint, as unsigned 32-bit integers (little-endian, as stored)."""
    return memoryview(blob)[_HEADER.size :].cast("I")


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


BAND = 2  # MinHash values per band when looking for candidate pairs: containment 0.5 shares a band with near certainty


def clusters(signed: Sequence[tuple[int, bytes]]) -> list[list[int]]:
    """Group items (id, fingerprint) into stories: one list of ids per story, in the order given.

    Two items are one story when `same_story` says so, and stories are joined through shared
    items. Candidate pairs come from bands of MinHash values (locality-sensitive hashing), so
    the cost grows with the items, not with their pairs.
    """
    parent = list(range(len(signed)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    buckets: dict[int, list[int]] = {}
    for i, (_, blob) in enumerate(signed):
        for band in _bands(blob):
            buckets.setdefault(band, []).append(i)
    compared: set[tuple[int, int]] = set()
    for members in buckets.values():
        if len(members) > 1 and len({root(i) for i in members}) > 1:  # else one story already, joined through another band
            _join(members, signed, parent, root, compared)
    groups: dict[int, list[int]] = {}
    for i, (key, _) in enumerate(signed):
        groups.setdefault(root(i), []).append(key)
    return list(groups.values())


def _join(
    members: list[int], signed: Sequence[tuple[int, bytes]], parent: list[int], root: Callable[[int], int], compared: set[tuple[int, int]]
) -> None:
    """Join the stories of a bucket's members that `same_story` says are one, each pair compared once."""
    for a, b in ((a, b) for j, a in enumerate(members) for b in members[j + 1 :]):
        if (a, b) in compared or root(a) == root(b):
            continue
        compared.add((a, b))
        if same_story(signed[a][1], signed[b][1]):
            parent[root(b)] = root(a)


def alike(wanted: Mapping[int, bytes], candidates: Iterable[tuple[int, bytes]]) -> dict[int, list[int]]:
    """For each wanted item (id: fingerprint), the candidates that tell the same story as it, in the order given.

    Candidates are looked up by bands of MinHash values in an index of the wanted items only, and
    confirmed by `same_story`: the cost grows with the candidates, not with their pairs.
    """
    index: dict[int, list[int]] = {}
    for key, blob in wanted.items():
        for band in _bands(blob):
            index.setdefault(band, []).append(key)
    out: dict[int, list[int]] = {key: [] for key in wanted}
    for key, blob in candidates:
        for w in set(chain.from_iterable(map(index.get, _bands(blob), repeat(())))):
            if w != key and same_story(wanted[w], blob):
                out[w].append(key)
    return out


_BAND_TAGS = [band << 64 for band in range(NUM_PERM // BAND)]  # one key space per band


def _bands(blob: bytes) -> Iterable[int]:
    """A fingerprint's band keys: each band's BAND values as one 64-bit number, tagged with the band's number."""
    values = memoryview(blob)[_HEADER.size :]
    if BAND != 2 or len(values) != 4 * NUM_PERM:  # another version's fingerprint: never alike
        return ()
    return map(operator.add, values.cast("Q"), _BAND_TAGS)
