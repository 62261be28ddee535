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
import operator
import re
import struct
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import timedelta
from itertools import chain, repeat

from service.rules import normalise

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
# The affine permutations h -> a·h + b (mod 2³², a odd) of datasketch 2.0's "affine32" MinHash with
# 128 permutations and this seed, as numpy's RandomState(20251122) draws them; kept as numbers so
# that a fingerprint needs neither datasketch (and its scipy) nor numpy.
_A = (
    0xAE83FF95,
    0x2BB322ED,
    0x87A3AC63,
    0x1299FA99,
    0x663F0B6B,
    0x39E30105,
    0x246A7B91,
    0x867D5519,
    0xEEC5E523,
    0x5FA8AB35,
    0xC3E59263,
    0x19D83169,
    0xBE77925B,
    0x4A42FEDF,
    0x1C866971,
    0x919670D7,
    0xE5EF76B9,
    0x69F66725,
    0xF5DD3F59,
    0x0A32F21F,
    0xC072E52F,
    0x74A4D60D,
    0x74FFF7CD,
    0x9E19EF43,
    0xC0CAAF2B,
    0x1BBB9D8B,
    0x47E98209,
    0x07194981,
    0xD4576495,
    0x7901073F,
    0x5C8E4E63,
    0x5B81F7B7,
    0x536BA1F9,
    0x77BE4809,
    0xED98E74B,
    0x447D873F,
    0xF26E6D3D,
    0x264204C5,
    0x9E038769,
    0x22612FD3,
    0xBC576A23,
    0x97A8F01D,
    0x61F1D5D3,
    0x3A1A9B4B,
    0x9E48E079,
    0x3C578531,
    0x89EBD963,
    0x36E33F79,
    0x69C692DF,
    0xC9631971,
    0x6AAAC383,
    0xE4AA7D31,
    0xD0242939,
    0x67469A95,
    0x69B3E0E9,
    0x15DD0B23,
    0x674203BD,
    0x0A8DDB21,
    0xD4F91FA1,
    0xF5926663,
    0xB3ED248F,
    0x880D0F25,
    0x745A33C5,
    0x28DD0A85,
    0xB8298CCF,
    0x3CFD78BF,
    0x8154A3F3,
    0xC746D17D,
    0x3E977AB9,
    0x013614B7,
    0xE922C0BB,
    0x9C1D0491,
    0x2B426D2D,
    0x1E52238F,
    0xF3BD32C9,
    0x71E90A33,
    0x05EC4141,
    0xA6E00541,
    0xCE124D93,
    0x7B2D944D,
    0xBD53E8E3,
    0xD94ADFC5,
    0x615437B3,
    0x338E65E9,
    0x0F41373B,
    0x3D4936FB,
    0xEE68179B,
    0x1D247E55,
    0xEAC1AF87,
    0x36EC6943,
    0xF1E3B331,
    0x8B6A7E8D,
    0x73252191,
    0x40F48019,
    0xBC7D30E9,
    0xD312705D,
    0xBC55DC7F,
    0x34DCBF3B,
    0x31438217,
    0x84C48A49,
    0x6DBB97CB,
    0xE982AFC5,
    0x47E0AEA5,
    0x38BCFB8F,
    0x6D84ECB5,
    0x2F5A073F,
    0x7950138F,
    0xD2AA8245,
    0x83BA26D1,
    0x535A16AF,
    0x233BC5F3,
    0x21644A99,
    0x29805EDB,
    0x149695DD,
    0x0BBA0207,
    0x8E391D9B,
    0xDF35CBE1,
    0x79125F1B,
    0x28EA05CF,
    0x7ADE2AD7,
    0x92408F37,
    0x0C6F5AD9,
    0x130F8851,
    0x6C9CE99B,
    0xECE7A963,
    0xF9F16BBF,
    0x60360C03,
    0x4F2EFABB,
)
_B = (
    0x3A673F11,
    0x9902610A,
    0x23CA84B0,
    0x00E1B0C8,
    0xCFD20713,
    0x6D722286,
    0x7D14303F,
    0x78541A46,
    0x044AABA9,
    0xFE58C3C6,
    0x6B86D545,
    0xDB65DE3A,
    0x01E92287,
    0x0160BD34,
    0xF27740A7,
    0xFCF97267,
    0x14966C5F,
    0x4490B813,
    0x69F78A05,
    0x5FCEE7C7,
    0x878F5340,
    0x2A3E2784,
    0x320443D9,
    0xD3E7AA87,
    0x35E98B03,
    0xD8AE7653,
    0xFC184BB6,
    0x97B4CCB8,
    0xBF9E5D14,
    0x63EEAEB8,
    0xA5DED3D7,
    0x3BA91ACF,
    0xAB6565D9,
    0x5B09A5FC,
    0x820CF547,
    0xB4A6BB27,
    0xCAD0D6F5,
    0x09568309,
    0x8E6AFD21,
    0x900202D1,
    0xE85B1E4C,
    0x7B520E9D,
    0x66070C20,
    0xAE980920,
    0x4575FFAB,
    0xFB2B7699,
    0xF29ACCC6,
    0x9F128A94,
    0xB02A5555,
    0xBB1B519F,
    0x61663670,
    0x79D9F9B0,
    0xA71EDFCC,
    0xDB971003,
    0xC0200B22,
    0xE2A47529,
    0xF3C43217,
    0xBD86A181,
    0xD7C57881,
    0xFE6ABEC2,
    0x0B97C268,
    0x9A00B4C7,
    0xD8D2612A,
    0x0560F0E7,
    0x4E530E8A,
    0x1CFDD356,
    0xB2A79B16,
    0x50466D6C,
    0x3E82C3C8,
    0x658E0CD9,
    0xD0BF51CA,
    0xF48715CF,
    0x85028AC0,
    0xE68F8DCA,
    0xEB9CA7DC,
    0x85EDB283,
    0x98FF8E50,
    0xC7EA64E5,
    0x21CCF82D,
    0x2127EB4D,
    0x6FFCA783,
    0x2BE3E500,
    0x95CF61B1,
    0xE51DA5FC,
    0x0156EC1E,
    0x649DC383,
    0xC4CC73C6,
    0x9BF726A1,
    0x88A4E176,
    0xBD09022E,
    0xAD57A410,
    0x1AC51F9C,
    0x0A9FB8FD,
    0x43ADED64,
    0x48020D44,
    0x549EBB10,
    0xD19C95C8,
    0xF50D1ECB,
    0x399E1CD1,
    0x781B19F8,
    0x402DEB9F,
    0x18907085,
    0x3C5519FE,
    0xB983E156,
    0xA65A16EB,
    0x60C2E780,
    0x0BA607EC,
    0x773C5D37,
    0xBB03508E,
    0xE30A91C4,
    0x1D1F2E11,
    0xD4B305AE,
    0xF3AA1215,
    0x83FC2178,
    0xE43BB71A,
    0x1C27847A,
    0xA598DAD3,
    0x0EAB2B57,
    0x80C16DBE,
    0xA2F3F57B,
    0xBD506C63,
    0x95ACF264,
    0x01B0FFDD,
    0x7D8052BA,
    0xED2FD619,
    0x05563D5C,
    0x501526AB,
    0x873ED079,
)
_MASK = 0xFFFFFFFF
_CAPTION = re.compile(r"\((?:photo|ảnh|nguồn|source)\b[^)]*\)\W*$", re.IGNORECASE)
_HEADER = struct.Struct("<I")


def _fmix32(h: int) -> int:
    """MurmurHash3's 32-bit finalizer: spreads the input hash before the permutations."""
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    return h ^ (h >> 16)


def minhash(shingles: Collection[bytes]) -> list[int]:
    """The MinHash values of a set of shingles, bit for bit those of datasketch 2.0's MinHash(scheme="affine32").

    Each shingle is hashed to 32 bits (the first four bytes of its SHA-1, little-endian), mixed
    once, then put through every permutation; the minimum per permutation is kept.
    """
    mixed = [_fmix32(int.from_bytes(hashlib.sha1(s, usedforsecurity=False).digest()[:4], "little")) for s in shingles]
    return [min((a * h + b) & _MASK for h in mixed) for a, b in zip(_A, _B, strict=True)]


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
    return f"minhash-{SCHEME}-{NUM_PERM}-seed{_SEED}-shingle{SHINGLE}-lead{LEAD_WORDS}-min{MIN_BODY_WORDS}-captions"


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
