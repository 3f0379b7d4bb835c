"""Exact ROUGE-L novelty filter for self-instruct, indexed so it does not scan the pool.

Self-instruct keeps a generated instruction only if its ROUGE-L F1 against every
instruction already in the pool is at most a threshold (0.7): a candidate whose score
against *any* pool entry exceeds the threshold is rejected. Scoring a candidate against the
whole pool costs one LCS per pool entry; :class:`NoveltyFilter` makes the same decisions
while computing the LCS for only the few entries that could possibly exceed the threshold.

Same scores as rouge-score
--------------------------
A score here is the ``fmeasure`` of
``rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False).score(candidate, pool_entry)``:
texts are tokenized by rouge-score's own default tokenizer (lowercase, non-alphanumerics
to spaces, split) and the F-measure is computed by rouge-score's own
``scoring.fmeasure(lcs / len(pool_entry), lcs / len(candidate))``, so even float rounding
agrees. That matters at the boundary: lengths 8 and 12 with an LCS of 7 give exactly 0.7 in
real arithmetic but 0.7000000000000001 in rouge-score, so rouge-score (and this filter)
reject that pair at 0.7, while lengths 10 and 10 with an LCS of 7 give 0.7 and are kept.
A text with no tokens scores 0.0 against everything (as in rouge-score), so it is always
accepted and never matches anything once in the pool.

Why skipping is safe
--------------------
With ``c`` the size of the multiset intersection of the two token lists,
``LCS <= c <= min(|a|, |b|)``, so ``F = 2·LCS/(|a|+|b|) <= 2c/(|a|+|b|)``. A pair is looked
at only if ``2c > (threshold - 1e-9)·(|a|+|b|)``, i.e. ``c >= alpha(|a|, |b|)``. The 1e-9
margin is millions of times larger than the float error of rouge-score's expression, so a
skipped pair always has a rouge-score F <= threshold and can never cause a rejection.

How the pairs are found
-----------------------
Postings map an element, (token, occurrence number), to the entries holding it, grouped by
entry length; occurrence numbers turn multiset overlap into set overlap, and the grouping
applies the length bound ``2·min(|a|,|b|)/(|a|+|b|)`` for free (only lengths where
``alpha <= min(|a|, |b|)`` are looked at).

If ``c >= alpha`` then ``b`` holds at least one of *any* ``|a| - alpha + 1`` elements of ``a``
(pigeonhole). So the candidate's elements are ordered rarest first (elements the pool has
never seen come first and cost nothing), and the element in position ``i`` probes only the
length buckets whose ``alpha <= |a| - i`` (prefix filtering); only entries found this way can
exceed the threshold. Then, while it stays cheap, a few more elements are probed in every
bucket: an entry must share ``alpha`` minus the number of unprobed elements among the probed
ones, which removes most entries that share only a rare word. The hits are counted with
numpy. The few survivors are visited in order of an optimistic bound (as if they held every
unprobed element), best first; each gets its exact overlap (hits plus the unprobed elements
it holds, a handful of dict lookups), and, if that still allows exceeding the threshold, its
LCS (bit-parallel: one big-int pass per entry). Once a rejection is found, the visit stops
at the first entry whose bound cannot reach the best score so far, which still yields the
exact maximum (and the lowest index among equal maxima).

The work per candidate is proportional to the postings of its rarer elements, not to the
pool size (one exception: when those postings are numerous compared with the pool they are
counted into a pool-sized numpy array, about a nanosecond per entry).
"""
from __future__ import annotations

import math
from typing import Iterable, NamedTuple

from bioharness import MissingDependency

#: Margin on the upper bound; far above float rounding, far below any score difference.
BOUND_EPSILON = 1e-9

# Element key for the k-th occurrence (k >= 0) of token id t: multisets become sets.
_OCCURRENCE_SHIFT = 32

# After the required prefix, keep probing elements (rarest first) while the postings they
# add stay under this many times those of the prefix, or under the minimum. Postings are
# counted by numpy (nanoseconds each); each survivor costs a microsecond of Python.
_EXTENSION_FACTOR = 4
_EXTENSION_MIN = 4096

# Count hits with a sort when they are few compared with the pool, else with a pool-sized
# bincount (whichever touches less memory).
_SPARSE_RATIO = 8


class Verdict(NamedTuple):
    """Outcome of :meth:`NoveltyFilter.check` (a tuple: ``accepted, best, nearest = ...``).

    ``accepted``: False when the ROUGE-L F1 against some pool entry exceeds the threshold.

    ``best_score`` / ``nearest``: when rejected, the exact maximum score over the whole pool
    and the index of the first pool entry reaching it (what ``max``/``argmax`` over a full
    rouge-score scan give). When accepted, every pool entry scores at most the threshold, and
    ``best_score`` is the exact maximum over the entries whose upper bound could not rule
    them out; entries ruled out by the bound were not scored, so the true maximum may be
    higher (but still <= threshold). With nothing left to score (empty pool, no entry close
    enough to need scoring, a text without tokens) it is ``0.0`` and ``nearest`` is ``None``.
    """

    accepted: bool
    best_score: float
    nearest: int | None


def _lcs_length(masks: dict, full: int, length: int, other: tuple) -> int:
    """LCS length of the text whose per-token position bitmasks are ``masks`` with ``other``.

    Bit-parallel LCS (Allison-Dix / Hyyrö): one bit per position of the first text, a zero
    bit marks a position where the LCS grew; each token of ``other`` costs a few big-int ops.
    """
    v = full
    for token in other:
        m = masks.get(token)
        if m is not None:
            u = v & m
            v = ((v + u) | (v - u)) & full
    return length - v.bit_count()


class _IntArray:
    """An append-only int32 numpy array (capacity doubles); ``view`` is the filled part."""

    __slots__ = ("array", "size", "view")

    def __init__(self, np, capacity: int = 4):
        self.array = np.empty(capacity, dtype=np.int32)
        self.size = 0
        self.view = self.array[:0]

    def append(self, value: int, np) -> None:
        if self.size == len(self.array):
            grown = np.empty(2 * self.size, dtype=np.int32)
            grown[: self.size] = self.array
            self.array = grown
        self.array[self.size] = value
        self.size += 1
        self.view = self.array[: self.size]


class NoveltyFilter:
    """A pool of instructions and an exact "is this new one too similar?" test.

    ``threshold``: a candidate is rejected when its ROUGE-L F1 against any pool entry is
    strictly greater than this (self-instruct's rule; 0.7 there). ``texts``: initial pool.
    Pool entries are numbered from 0 in the order they were added.
    """

    def __init__(self, threshold: float = 0.7, texts: Iterable[str] = ()):
        threshold = float(threshold)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        try:
            import numpy
            from rouge_score import scoring, tokenizers
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingDependency("the self-instruct novelty filter", "bionlp", exc.name) from exc
        self.threshold = threshold
        self._np = numpy
        self._tokenize = tokenizers.DefaultTokenizer(use_stemmer=False).tokenize
        self._fmeasure = scoring.fmeasure
        self._texts: list[str] = []
        self._sequences: list[tuple[int, ...]] = []  # token ids of each entry
        self._counts: list[dict[int, int]] = []  # token id -> count, per entry
        self._lengths = _IntArray(numpy, 1024)  # token count of each entry
        self._vocab: dict[str, int] = {}
        self._exact: dict[tuple[int, ...], int] = {}  # token ids -> first entry with them
        self._postings: dict[int, dict[int, _IntArray]] = {}  # element -> length -> entries
        self._frequency: dict[int, int] = {}  # element -> number of entries holding it
        self._length_counts: dict[int, int] = {}  # entry length -> number of entries
        self._alpha_cache: dict[tuple[int, int], int] = {}
        for text in texts:
            self.add(text)

    # -- the pool --------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._texts)

    def text(self, index: int) -> str:
        """The pool entry numbered ``index``."""
        return self._texts[index]

    @property
    def texts(self) -> list[str]:
        """A copy of the pool, in order."""
        return list(self._texts)

    def tokenize(self, text: str) -> list[str]:
        """rouge-score's tokens for ``text`` (what every score here is computed on)."""
        return self._tokenize(text)

    def add(self, text: str) -> int:
        """Add ``text`` to the pool unconditionally; return its index."""
        return self._add_tokens(text, self._tokenize(text))

    def _add_tokens(self, text: str, tokens: list[str]) -> int:
        np = self._np
        index = len(self._texts)
        vocab = self._vocab
        ids = []
        for token in tokens:
            token_id = vocab.get(token)
            if token_id is None:
                token_id = vocab[token] = len(vocab)
            ids.append(token_id)
        sequence = tuple(ids)
        counts: dict[int, int] = {}
        for token_id in sequence:
            counts[token_id] = counts.get(token_id, 0) + 1
        length = len(sequence)
        self._texts.append(text)
        self._sequences.append(sequence)
        self._counts.append(counts)
        self._lengths.append(length, np)
        if length:  # a text without tokens scores 0 against everything: nothing to index
            self._exact.setdefault(sequence, index)
            self._length_counts[length] = self._length_counts.get(length, 0) + 1
            postings, frequency = self._postings, self._frequency
            for token_id, count in counts.items():
                for occurrence in range(count):
                    key = (occurrence << _OCCURRENCE_SHIFT) | token_id
                    buckets = postings.get(key)
                    if buckets is None:
                        buckets = postings[key] = {}
                    entries = buckets.get(length)
                    if entries is None:
                        entries = buckets[length] = _IntArray(np)
                    entries.append(index, np)
                    frequency[key] = frequency.get(key, 0) + 1
        return index

    # -- the test --------------------------------------------------------------------

    def check(self, text: str) -> Verdict:
        """Would ``text`` be rejected against the current pool? (The pool is not changed.)"""
        return self._check_tokens(self._tokenize(text))

    def check_and_add(self, text: str) -> Verdict:
        """:meth:`check`, then add ``text`` to the pool if it was accepted (its index is
        then ``len(self) - 1``)."""
        tokens = self._tokenize(text)
        verdict = self._check_tokens(tokens)
        if verdict.accepted:
            self._add_tokens(text, tokens)
        return verdict

    def _alpha(self, la: int, lb: int) -> int:
        """Smallest multiset overlap with which lengths ``la``, ``lb`` could exceed the threshold."""
        key = (la, lb)
        alpha = self._alpha_cache.get(key)
        if alpha is None:
            # A pair without a common token scores 0, which never exceeds a threshold >= 0.
            alpha = max(1, math.floor((self.threshold - BOUND_EPSILON) * (la + lb) / 2) + 1)
            self._alpha_cache[key] = alpha
        return alpha

    def _check_tokens(self, tokens: list[str]) -> Verdict:
        np = self._np
        la = len(tokens)
        if la == 0 or not self._length_counts:
            return Verdict(True, 0.0, None)
        threshold = self.threshold
        vocab = self._vocab
        ids = [vocab.get(token) for token in tokens]

        # Exact duplicate (same token sequence): F = 1.0, and no other entry can score 1.0.
        if threshold < 1.0 and None not in ids:
            first = self._exact.get(tuple(ids))
            if first is not None:
                return Verdict(False, 1.0, first)

        # Entry lengths that could exceed the threshold at all, with their required overlap.
        alpha_by_length = {}
        for lb in self._length_counts:
            alpha = self._alpha(la, lb)
            if alpha <= (la if la < lb else lb):
                alpha_by_length[lb] = alpha
        if not alpha_by_length:
            return Verdict(True, 0.0, None)
        last_required = la - min(alpha_by_length.values())

        # The candidate's elements, rarest first; unseen ones fill the first positions.
        counts: dict[int, int] = {}
        for token_id in ids:
            if token_id is not None:
                counts[token_id] = counts.get(token_id, 0) + 1
        postings, frequency = self._postings, self._frequency
        elements = []
        for token_id, count in counts.items():
            for occurrence in range(count):
                key = (occurrence << _OCCURRENCE_SHIFT) | token_id
                buckets = postings.get(key)
                if buckets:
                    elements.append((frequency[key], token_id, occurrence, buckets))
        elements.sort(key=lambda element: element[:3])
        unseen = la - len(elements)

        # Probe: the required prefix (bucket by bucket), then the cheap extension.
        parts = []
        required_cost = extension_cost = 0
        extended_to = last_required  # positions last_required+1..extended_to: all buckets
        for k, (df, _, _, buckets) in enumerate(elements):
            position = unseen + k
            if position <= last_required:
                required_cost += df
                limit = la - position
                for lb, entries in buckets.items():
                    alpha = alpha_by_length.get(lb)
                    if alpha is not None and alpha <= limit:
                        parts.append(entries.view)
            else:
                if extension_cost + df > max(_EXTENSION_MIN, _EXTENSION_FACTOR * required_cost):
                    break
                extension_cost += df
                extended_to = position
                for lb, entries in buckets.items():
                    if lb in alpha_by_length:
                        parts.append(entries.view)
        if not parts:
            return Verdict(True, 0.0, None)

        # Per length: the elements not probed for it, and the hits a survivor needs.
        max_length = max(self._length_counts)
        need_by_length = np.full(max_length + 1, la + 1, dtype=np.int64)
        unprobed_count = np.zeros(max_length + 1, dtype=np.int64)
        unprobed_of = {}
        unprobed_by_end: dict[int, list] = {}
        for lb, alpha in alpha_by_length.items():
            end = la - alpha  # last position probed for this length by the prefix
            unprobed = unprobed_by_end.get(end)
            if unprobed is None:
                unprobed = unprobed_by_end[end] = [
                    (token_id, occurrence)
                    for k, (_, token_id, occurrence, _) in enumerate(elements)
                    if unseen + k > end and not (last_required < unseen + k <= extended_to)
                ]
            unprobed_of[lb] = unprobed
            need_by_length[lb] = alpha - len(unprobed)
            unprobed_count[lb] = len(unprobed)

        # Count the hits per entry; keep the entries with enough of them.
        hits = np.concatenate(parts) if len(parts) > 1 else parts[0]
        pool_size = len(self._texts)
        if len(hits) * _SPARSE_RATIO < pool_size:
            entries, shared = np.unique(hits, return_counts=True)
        else:
            tally = np.bincount(hits, minlength=pool_size)
            entries = np.flatnonzero(tally >= max(1, int(need_by_length.min())))
            shared = tally[entries]
        lengths = self._lengths.array[entries]
        keep = shared >= need_by_length[lengths]
        if not keep.any():
            return Verdict(True, 0.0, None)
        entries, shared, lengths = entries[keep], shared[keep], lengths[keep]

        # Order the survivors by an optimistic bound (every unprobed element shared), best
        # first, lowest index first among equals.
        optimistic = np.minimum(shared + unprobed_count[lengths], np.minimum(lengths, la))
        bounds = 2.0 * optimistic / (la + lengths)
        order = np.lexsort((entries, -bounds))

        # Exact overlap, then the exact score. Once a rejection is found, stop when no
        # remaining bound can reach the best score (ties go to the lowest index, as argmax).
        masks: dict[int, int] = {}
        for position, token_id in enumerate(ids):
            if token_id is not None:
                masks[token_id] = masks.get(token_id, 0) | (1 << position)
        full = (1 << la) - 1
        fmeasure = self._fmeasure
        sequences = self._sequences
        entry_counts = self._counts
        best, nearest, rejected = -1.0, None, False
        for index, overlap, lb, bound in zip(
            entries[order].tolist(), shared[order].tolist(), lengths[order].tolist(), bounds[order].tolist()
        ):
            if rejected and bound + BOUND_EPSILON < best:
                break
            other_counts = entry_counts[index]
            for token_id, occurrence in unprobed_of[lb]:
                if other_counts.get(token_id, 0) > occurrence:
                    overlap += 1
            if overlap < alpha_by_length[lb]:
                continue
            lcs = _lcs_length(masks, full, la, sequences[index])
            score = fmeasure(lcs / lb, lcs / la)
            if score > best or (score == best and index < nearest):
                best, nearest = score, index
            if score > threshold:
                rejected = True
        if nearest is None:
            return Verdict(True, 0.0, None)
        return Verdict(not rejected, float(best), nearest)
