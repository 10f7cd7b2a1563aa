"""Pure text helpers for the scorers: normalisation, token F1, exact match, sentences, numbers
and names.

Normalisation follows the SQuAD evaluation convention: lower case, punctuation removed, the
articles a/an/the dropped, whitespace collapsed. Numbers are compared as values ("1,000" ==
"1000" == "1000.0"; number words up to twenty and "hundred"/"thousand"/"million" included).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b")
# Punctuation goes, except between two digits (3.14, 1/2); thousands separators go first.
_PUNCT = re.compile(r"(?<!\d)[^\w\s]|[^\w\s](?!\d)|_")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


STOPWORDS = _wordset(
    """a an the of in on at to for from by with and or but is are was were be been being it its
    this that these those as into than then there their they he she his her we you your i me my
    our us do does did done has have had not no so such which who whom whose what when where why
    how also about over under up down out can could would should will shall may might must
    very just only one"""
)

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATION = re.compile(
    r"\b(?:e\.g\.|i\.e\.|etc\.|vs\.|mr\.|mrs\.|ms\.|dr\.|st\.|approx\.|no\.|(?<![\w°])[A-Z]\.)(?=\s)",
    re.IGNORECASE,
)

_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
    "thousand": 1000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
}
_NUMBER = re.compile(r"(?<![\w.])[-−]?\d[\d,]*(?:\.\d+)?(?![\d])")
_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_NAME = re.compile(r"\b[A-Z][A-Za-z0-9'\-]*[A-Za-z0-9]|\b[A-Z]\b")


def fold(text: str) -> str:
    """Unicode-compatible form without accents (é -> e), for comparisons."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize(text: str) -> str:
    """SQuAD-style normal form: lower case, no punctuation or articles, single spaces."""
    text = fold(text).lower()
    text = _PUNCT.sub(" ", _THOUSANDS.sub("", text))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return normalize(text).split()


def stem(token: str) -> str:
    """Crude plural folding for comparisons: "avocados" -> "avocado", "boxes" -> "box"."""
    if len(token) > 4 and token.endswith(("ches", "shes", "xes", "sses")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def stems(text: str) -> list[str]:
    """Normalised tokens with plurals folded: what token comparisons use."""
    return [stem(t) for t in tokens(text)]


def content_tokens(text: str) -> list[str]:
    """Normalised, plural-folded tokens without stop words."""
    return [stem(t) for t in tokens(text) if t not in STOPWORDS]


def exact_match(answer: str, reference: str) -> bool:
    return normalize(answer) == normalize(reference)


def token_f1(answer: str, reference: str) -> float:
    """Harmonic mean of token precision and recall over normalised tokens (bag of words)."""
    a, r = stems(answer), stems(reference)
    if not a or not r:
        return float(a == r)
    common = sum((Counter(a) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(r)
    return 2 * precision * recall / (precision + recall)


def contains_phrase(answer: str, reference: str) -> bool:
    """True when the normalised reference occurs in the normalised answer on word boundaries."""
    ref = " ".join(stems(reference))
    if not ref:
        return False
    return f" {ref} " in f" {' '.join(stems(answer))} "


def token_recall(answer: str, reference: str) -> float:
    """Share of the reference's content tokens that appear in the answer."""
    ref = content_tokens(reference) or stems(reference)
    if not ref:
        return 0.0
    present = set(stems(answer))
    return sum(1 for t in ref if t in present) / len(ref)


def without_tokens(text: str, remove: Iterable[str]) -> str:
    """The normalised text without the given tokens (plural-folded, e.g. the question's words)."""
    drop = set(remove)
    return " ".join(t for t in tokens(text) if stem(t) not in drop)


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph: split after . ! ? before a capital or digit; also on newlines.

    Common abbreviations (e.g., i.e., Dr.) and decimal numbers do not end a sentence.
    """
    out: list[str] = []
    for line in re.split(r"\n+", text):
        line = line.strip().lstrip("-*• ").strip()
        if not line:
            continue
        protected = _ABBREVIATION.sub(lambda m: m.group().replace(".", "\x01"), line)
        for part in _SENTENCE_END.split(protected):
            part = part.replace("\x01", ".").strip()
            if part:
                out.append(part)
    return out


def _parse_number(raw: str) -> float | None:
    cleaned = raw.replace(",", "").replace("−", "-")
    try:
        return float(cleaned)
    except ValueError:
        return None


def numbers(text: str) -> set[float]:
    """Numeric values in the text, from digits ("1,000", "3.14", "-40") and number words."""
    found: set[float] = set()
    for match in _NUMBER.finditer(fold(text)):
        value = _parse_number(match.group())
        if value is not None:
            found.add(value)
    words = [w.lower() for w in _WORD.findall(text)]
    i = 0
    while i < len(words):
        if words[i] in _NUMBER_WORDS:
            value = float(_NUMBER_WORDS[words[i]])
            # "two hundred", "three thousand": one multiplier after a small number.
            if i + 1 < len(words) and words[i + 1] in ("hundred", "thousand", "million", "billion"):
                value *= _NUMBER_WORDS[words[i + 1]]
                i += 1
            if not (words[i] == "one" and value == 1.0):  # "one" is mostly a pronoun
                found.add(value)
        i += 1
    return found


def names(text: str, *, ignore: Iterable[str] = ()) -> set[str]:
    """Capitalised words that look like names (lower-cased, accents folded).

    A capitalised word is a name unless it is a stop word or a common sentence opener
    ("The", "It", "However"), so the first word of a sentence counts only when it is not one of
    those. Words in `ignore` (already normalised) are left out.
    """
    skip = set(ignore)
    found: set[str] = set()
    for match in _NAME.finditer(fold(text)):
        # "Kestrel-3" -> "kestrel", "Retry-After" -> "retry", "after": digits are numbers.
        for part in re.split(r"[^a-z]+", match.group().lower()):
            if len(part) < 2 or part in STOPWORDS or part in _OPENERS or part in skip:
                continue
            found.add(part)
    return found


_OPENERS = _wordset(
    """however therefore thus yes sure certainly well also although because if while since
    after before during here today in on at for its it's there's that's i'm i'd i'll i've
    answer note approximately about around roughly yes no first second finally overall"""
)


def ngram_overlap(answer_tokens: Sequence[str], source_tokens: Sequence[str], n: int = 2) -> float:
    """Share of the answer's n-grams found in the source (1.0 when the answer has none)."""
    if len(answer_tokens) < n:
        return 1.0
    grams = {tuple(source_tokens[i : i + n]) for i in range(len(source_tokens) - n + 1)}
    answer_grams = [tuple(answer_tokens[i : i + n]) for i in range(len(answer_tokens) - n + 1)]
    return sum(1 for g in answer_grams if g in grams) / len(answer_grams)
