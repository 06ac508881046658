"""The name key reads a name the same way whatever the text: accents and case folded, "&" as
"and", punctuation dropped, a trailing legal form and a leading "The" left out."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from flask_xerosync.sync.rules import LEGAL_FORMS, name_key


def accents_folded(text: str) -> str:
    """Accents removed and case folded, character by character (what the key must amount to)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_plain_ascii_names_are_keyed_as_any_other_text(text: str) -> None:
    assert name_key(text) == name_key(text + "\u0301")  # a trailing accent on nothing adds nothing
    assert name_key(text) == name_key(accents_folded(text))


@given(st.sampled_from(["Coastal Cafe", "Coastal Café", "COASTAL  CAFÉ", "coastal-cafe"]),
       st.sampled_from(sorted(LEGAL_FORMS) + [""]))
def test_accents_case_punctuation_and_legal_forms_do_not_tell_names_apart(name: str, legal_form: str) -> None:
    assert name_key(f"{name} {legal_form}".strip()) == "coastal cafe"


def test_ampersand_and_the() -> None:
    assert name_key("The Smith & Jones Co.") == name_key("Smith and Jones") == "smith and jones"
