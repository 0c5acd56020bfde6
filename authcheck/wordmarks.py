"""Brand names in a listing's text: registered wordmarks, near-misspellings included.

Counterfeit listings write a brand's name slightly wrong to slip past exact filters
("NIKEE", "Adidos", "A1rbnb"). Both sides are normalised first (case, accents, look-alike
characters such as 0/o and 1/l, punctuation and spaces dropped); then a run of one or more
words of a text line matches a wordmark when few enough edits separate them:

* wordmarks of 3 characters or fewer: exact match only (too many real words are one edit away);
* 4 characters: one extra or look-alike character, but no plain substitution or missing
  letter ("nike" is one substitution from "nice", "getx" one deletion from "get");
* 5 to 7 characters: one edit; 8 or more: two.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vision.text_reading import TextLine

# Characters counterfeiters (and OCR) swap for letters that look alike.
_LOOKALIKE = str.maketrans(
    {"0": "o", "1": "l", "i": "l", "|": "l", "!": "l", "3": "e", "5": "s", "$": "s", "@": "a"}
)
_WORD = re.compile(r"[^\W_]+|[$@|!]+", re.UNICODE)


def normalise(text: str) -> str:
    """Lower case, accents and punctuation removed, look-alike characters unified, no spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.replace("rn", "m").replace("vv", "w")
    plain = plain.translate(_LOOKALIKE)
    return "".join(c for c in plain if c.isalnum())


def allowed_edits(length: int) -> int:
    """Edits tolerated for a normalised wordmark of ``length`` characters."""
    if length <= 3:
        return 0
    if length <= 7:
        return 1
    return 2


def edit_distance(mark: str, text: str, substitution: int = 1, deletion: int = 1, insertion: int = 1) -> int:
    """Weighted Levenshtein distance turning ``mark`` into ``text``.

    ``deletion`` is the cost of a mark character missing from the text, ``insertion`` of an
    extra text character, ``substitution`` of one character written as another.
    """
    previous = [j * insertion for j in range(len(text) + 1)]
    for i, cm in enumerate(mark, 1):
        current = [i * deletion]
        for j, ct in enumerate(text, 1):
            swap = previous[j - 1] + (0 if cm == ct else substitution)
            current.append(min(previous[j] + deletion, current[j - 1] + insertion, swap))
        previous = current
    return previous[-1]


def mark_distance(mark: str, text: str) -> int:
    """Edits between a normalised wordmark and a normalised text (see the module rules)."""
    if len(mark) == 4:  # one extra character only: "nike" is one change from "nice", "getx" from "get"
        return edit_distance(mark, text, substitution=2, deletion=2)
    return edit_distance(mark, text)


@dataclass(frozen=True)
class WordmarkHit:
    """A brand's wordmark found in a line of text."""

    brand: str
    wordmark: str  # as registered
    text: str  # the words read in the listing
    similarity: float  # 1 - edits / wordmark length
    ocr_score: float
    box: tuple[float, float, float, float]  # of the whole text line, listing pixels


def _windows(line: str, max_words: int) -> list[tuple[int, str, str]]:
    """Runs of 1..max_words consecutive words of ``line``: (words, as written, normalised)."""
    spans = [m.span() for m in _WORD.finditer(line)]
    out = []
    for i in range(len(spans)):
        for j in range(i, min(len(spans), i + max_words)):
            window = line[spans[i][0] : spans[j][1]]
            out.append((j - i + 1, window, normalise(window)))
    return out


def find_wordmarks(
    lines: Iterable[TextLine], wordmarks: Mapping[str, Iterable[str]], min_ocr_score: float = 0.6
) -> list[WordmarkHit]:
    """Each brand's best wordmark hit in ``lines`` (brand -> its registered wordmarks), best first."""
    marks = [
        (brand, mark, normalise(mark), len(mark.split()))
        for brand, texts in wordmarks.items()
        for mark in texts
        if normalise(mark)
    ]
    most_words = 1 + max((words for *_, words in marks), default=0)
    best: dict[str, WordmarkHit] = {}
    for line in lines:
        if line.score < min_ocr_score:
            continue
        windows = _windows(line.text, most_words)  # normalised once, tried against every mark
        for brand, mark, norm, words in marks:
            for n_words, window, text in windows:
                if n_words > words + 1 or abs(len(text) - len(norm)) > allowed_edits(len(norm)):
                    continue
                edits = mark_distance(norm, text)
                if edits > allowed_edits(len(norm)):
                    continue
                sim = 1.0 - edits / len(norm)
                hit = WordmarkHit(brand, mark, window, sim, line.score, line.box)
                old = best.get(brand)
                if old is None or (sim, line.score) > (old.similarity, old.ocr_score):
                    best[brand] = hit
    return sorted(best.values(), key=lambda h: (-h.similarity, -h.ocr_score))


__all__ = ["WordmarkHit", "allowed_edits", "edit_distance", "find_wordmarks", "mark_distance", "normalise"]
