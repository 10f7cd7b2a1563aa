"""Relevance: does the answer address the question?

Empty answers and refusals are recognised first, by their text ("I can't help with that",
"As an AI language model ..."), and score 0 with their own verdicts.

Otherwise the cosine similarity of question and answer is compared with the similarity of the
same answer to unrelated questions (a fixed pool of everyday questions, minus any close to the
asked one). An answer to the question is much closer to it than to the pool; an off-topic
answer is about as close to the question as to any other. The z-score
z = (sim(q, a) - mean(sim(pool, a))) / std(sim(pool, a)) calibrates away answers that are
generically similar to everything (short or vague texts), and the score is
logistic(z; Z_MID, Z_SCALE), times a ramp from SIM_FLOOR to SIM_FULL on the raw similarity.

Terse answers ("In 1989.", "Guido van Rossum.") are too short for embeddings to place; a
short answer that gives what the question asks for (a new number for "how many"/"when"/"compute",
a name for "who") counts as relevant with score TYPED_SHORT_SCORE.
The verdict is "relevant" when the score is >= THRESHOLD.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from infersight.quality.scorers import text
from infersight.quality.scorers.base import (
    Embed,
    ScoreInput,
    ScoreResult,
    batch_score,
    cosine_matrix,
    fmt,
    logistic,
    ramp,
)

THRESHOLD = 0.5
SHORT_ANSWER_TOKENS = 6
TYPED_SHORT_SCORE = 0.6
TYPED_MIN_Z = 0.5
Z_MID = 2.5
Z_SCALE = 0.6
SIM_FLOOR = 0.15
SIM_FULL = 0.3
# Pool members this close to the asked question are not "unrelated" and are left out.
NEAR_DUPLICATE = 0.6

UNRELATED_QUESTIONS = (
    "What is the capital of Peru?",
    "How do I bake sourdough bread?",
    "Who painted The Starry Night?",
    "What is the best way to train a puppy?",
    "How does compound interest work?",
    "Why do leaves change colour in autumn?",
    "How do I change a flat tyre?",
    "What are the rules of chess castling?",
    "How many players are on a football team?",
    "What is the plot of Hamlet?",
    "How do I write a cover letter?",
    "What causes earthquakes?",
    "How do I sort a dictionary by value in Python?",
    "What is the difference between TCP and UDP?",
    "How do I grow tomatoes on a balcony?",
    "What should I see in Rome in two days?",
    "How do vaccines train the immune system?",
    "What is a good beginner running plan?",
    "How do I fix a leaking tap?",
    "Who was the first emperor of Rome?",
    "What is the speed of sound in air?",
    "How do I make a budget spreadsheet?",
    "What are black holes?",
    "How do I meditate?",
    "What does a product manager do?",
    "How do solar panels generate electricity?",
    "What is the tallest mountain in Africa?",
    "How do I negotiate a higher salary?",
    "Which wine goes with fish?",
    "How do I clean a cast iron pan?",
    "What is machine learning?",
    "When was the printing press invented?",
    "How do I improve my credit score?",
    "What is the population of Brazil?",
    "How do bees make honey?",
    "What is a haiku?",
    "How do I set up a home Wi-Fi network?",
    "What are the symptoms of dehydration?",
    "How do I learn to play the guitar?",
    "What is the Pythagorean theorem?",
    "How do airplanes stay in the air?",
    "What is the GDP of Germany?",
    "Why do we dream?",
    "How do I write a unit test?",
    "What is the history of the Olympic Games?",
    "How should I store coffee beans?",
    "What is quantum computing?",
    "How do I remove rust from metal?",
)

_REFUSAL = re.compile(
    r"^\W*(?:"
    r"(?:i'?m|i am)\s+(?:really\s+|very\s+)?sorry,?\s+(?:but\s+)?i\s+(?:can(?:no|')?t|cannot|am\s+"
    r"(?:not\s+able|unable))"
    r"|i\s+(?:can(?:no|')?t|cannot|won'?t|will\s+not|am\s+(?:not\s+able|unable))\s+"
    r"(?:help|assist|answer|provide|do\s+that|comply|respond|share|give|fulfil)"
    r"|as\s+an?\s+(?:ai|artificial\s+intelligence|language\s+model|large\s+language\s+model)\b"
    r"|(?:sorry|unfortunately),?\s+(?:but\s+)?i\s+(?:can(?:no|')?t|cannot|am\s+unable|don'?t)"
    r"|i\s+(?:don'?t|do\s+not)\s+(?:have\s+(?:access|the\s+ability|information)|know)\b"
    r"|i'?m\s+(?:not\s+able|unable)\s+to"
    r")",
    re.IGNORECASE,
)
_EMPTY = re.compile(r"^[\W_]*$")
_NUMERIC_QUESTION = re.compile(
    r"\bhow\s+(?:many|much|long|far|old|hot|cold|fast|big|tall|heavy)\b|\bwhat\s+(?:year|number|"
    r"percentage|temperature|date)\b|\bwhen\b|\bwhich\s+year\b|\b(?:calculate|compute|convert)\b"
    r"|\d\s*[-+×x*/%]\s*\d|\d\s*%",
    re.IGNORECASE,
)
_PERSON_QUESTION = re.compile(r"\bwho(?:m|se)?\b", re.IGNORECASE)


def is_empty(answer: str) -> bool:
    """Nothing but whitespace and punctuation."""
    return bool(_EMPTY.match(answer))


def is_refusal(answer: str) -> bool:
    """The answer opens with a refusal or a disclaimer instead of an answer."""
    return bool(_REFUSAL.match(answer.strip().replace("’", "'")))


def short_typed_answer(question: str, answer: str) -> bool:
    """A terse answer of the type the question asks for: a new number for "how many", "when",
    "compute ..."; a name for "who"; at most one other content word (a unit). Embeddings
    cannot place "In 1989." or "Guido van Rossum." near their questions."""
    words = text.tokens(answer)
    if not words or len(words) > SHORT_ANSWER_TOKENS:
        return False
    names = text.names(answer, ignore=text.tokens(question))
    new_numbers = text.numbers(answer) - text.numbers(question)
    other = [
        w
        for w in text.content_tokens(answer)
        if w not in names and not re.fullmatch(r"[-\d.,/]+", w) and not text.numbers(w)
    ]
    if len(other) > 1:
        return False
    if _NUMERIC_QUESTION.search(question) and new_numbers and len(other) + len(names) <= 1:
        return True
    return bool(_PERSON_QUESTION.search(question) and names)


def _texts(item: ScoreInput) -> list[str]:
    return [item.question, item.answer, *UNRELATED_QUESTIONS]


def score_relevance(item: ScoreInput, embed: Embed) -> ScoreResult:
    if is_empty(item.answer):
        return ScoreResult(0.0, "empty", "the answer is empty", False, {})
    if is_refusal(item.answer):
        return ScoreResult(0.0, "refusal", "the answer refuses or disclaims", False, {})
    vectors = embed([item.question, item.answer, *UNRELATED_QUESTIONS])
    question, answer, pool = vectors[:1], vectors[1:2], vectors[2:]
    sim = float(cosine_matrix(question, answer)[0, 0])
    pool_to_question = cosine_matrix(pool, question)[:, 0]
    pool_to_answer = cosine_matrix(pool, answer)[:, 0][pool_to_question < NEAR_DUPLICATE]
    mu = float(np.mean(pool_to_answer))
    sd = max(float(np.std(pool_to_answer)), 0.03)
    z = (sim - mu) / sd
    score = logistic(z, Z_MID, Z_SCALE) * ramp(sim, SIM_FLOOR, SIM_FULL)
    details = {"similarity": sim, "unrelated_mean": mu, "unrelated_std": sd, "z": z}
    if score < THRESHOLD and z >= TYPED_MIN_Z and short_typed_answer(item.question, item.answer):
        reason = "a short answer of the kind the question asks for (a number or a name)"
        return ScoreResult(TYPED_SHORT_SCORE, "relevant", reason, True, details)
    passed = score >= THRESHOLD
    if passed:
        reason = (
            f"the answer is close to the question (cosine {fmt(sim)}, {z:.1f} standard "
            f"deviations above unrelated questions)"
        )
    else:
        reason = (
            f"the answer is no closer to the question than to unrelated ones (cosine "
            f"{fmt(sim)}, z {z:.1f} < {Z_MID})"
        )
    return ScoreResult(score, "relevant" if passed else "irrelevant", reason, passed, details)


class RelevanceScorer:
    name = "relevance"
    higher_is_better = True

    def applies(self, item: ScoreInput) -> bool:
        return bool(item.question.strip())

    def score(self, item: ScoreInput, embed: Embed) -> ScoreResult:
        return score_relevance(item, embed)

    def score_many(self, items: Sequence[ScoreInput], embed: Embed) -> list[ScoreResult]:
        return batch_score(score_relevance, items, embed, _texts)
