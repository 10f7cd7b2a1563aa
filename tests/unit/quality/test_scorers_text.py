"""Pure text helpers: normalisation, token F1, sentences, numbers, names."""

from __future__ import annotations

import pytest

from infersight.quality.scorers import text


def test_normalize_squad_style_keeps_numbers_whole() -> None:
    assert text.normalize("The answer is 3.14, or 1,000,000 — “Paris”! Café") == (
        "answer is 3.14 or 1000000 paris cafe"
    )
    assert text.exact_match("  the Pacific Ocean. ", "Pacific ocean")


def test_token_f1_and_containment() -> None:
    assert text.token_f1("Paris", "Paris") == 1.0
    assert text.token_f1("The capital is Paris", "Paris") == pytest.approx(2 / 3 * 1 / (1 + 1 / 3))
    assert text.token_f1("Lyon", "Paris") == 0.0
    assert text.contains_phrase("It is the Pacific Ocean.", "pacific ocean")
    assert not text.contains_phrase("Parisian food", "Paris")
    assert text.contains_phrase("made from avocados", "avocado")  # plurals fold


def test_split_sentences_respects_abbreviations_and_decimals() -> None:
    got = text.split_sentences(
        "Water boils at 100 °C. Dr. Smith said so, e.g. in 1999. It is 3.5 km away!\n- next"
    )
    assert got == [
        "Water boils at 100 °C.",
        "Dr. Smith said so, e.g. in 1999.",
        "It is 3.5 km away!",
        "next",
    ]
    assert text.split_sentences("   ") == []


def test_numbers_from_digits_and_words() -> None:
    assert text.numbers("3.5 km, two hundred metres, 1,000 people, -40 degrees, twelve") == {
        3.5,
        200.0,
        1000.0,
        -40.0,
        12.0,
    }
    assert text.numbers("one of them") == set()


def test_names_skip_sentence_openers_and_split_codes() -> None:
    got = text.names("The Eiffel Tower is in Paris. However, Kestrel-3 uses Retry-After.")
    assert got == {"eiffel", "tower", "paris", "kestrel", "retry"}
    assert text.names("Paris is nice", ignore=["paris"]) == set()
