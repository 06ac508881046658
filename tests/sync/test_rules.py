"""The pure rules: normalisation and matching, fixes for Xero's texts, codes, the zero tax rate."""

from __future__ import annotations

import pytest

from flask_xerosync.sync.invoices import zero_rate_tax_type
from flask_xerosync.sync.items import generate_code
from flask_xerosync.sync.matching import MatchIndex, match_record, normalise_name
from flask_xerosync.sync.outcomes import GENERIC_FIX, fix_for


def test_names_are_case_folded_and_whitespace_collapsed_but_accents_kept() -> None:
    assert normalise_name("  Café   DU  Port ") == "café du port"
    assert normalise_name("Cafe du Port") != normalise_name("Café du Port")


def _index(*records: tuple[str, str, str]) -> MatchIndex:
    index = MatchIndex()
    for record in records:
        index.add(*record)
    return index


def test_match_rules_in_order_number_email_name() -> None:
    host = _index(("7", "a@x.example", "Alpha"), ("8", "shared@x.example", "Beta"), ("9", "shared@x.example", "Gamma"))
    xero = _index(("X1", "A@X.example", "Something Else"), ("X2", "shared@x.example", "gamma"), ("X3", "", "Alpha"))
    assert match_record(record_id="X3", email="", name="Alpha", own_side=xero, other_side=host,
                        number_hint="9").candidates == ("9",)
    by_email = match_record(record_id="X1", email="A@X.example", name="Something Else", own_side=xero, other_side=host)
    assert (by_email.rule, by_email.candidates) == ("email", ("7",))
    # The e-mail is shared by two host clients, so the name decides.
    by_name = match_record(record_id="X2", email="shared@x.example", name="gamma", own_side=xero, other_side=host)
    assert (by_name.rule, by_name.candidates, by_name.rivals) == ("name", ("9",), ())


def test_several_candidates_or_rivals_make_a_match_ambiguous() -> None:
    host = _index(("1", "", "Acme"), ("2", "", "ACME"))
    xero = _index(("X1", "", "Acme"))
    found = match_record(record_id="X1", email="", name="Acme", own_side=xero, other_side=host)
    assert set(found.candidates) == {"1", "2"}
    rivals = match_record(record_id="1", email="", name="Acme", own_side=_index(("1", "", "Acme"), ("3", "", "acme")),
                          other_side=xero)
    assert rivals.candidates == ("X1",) and rivals.rivals == ("3",)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("The contact name Buzz Lightyear is already assigned to another contact. The contact name must be "
         "unique across all active contacts.", "A different Xero contact is already called Buzz Lightyear."),
        ("Price List Item with Code ''abc'' already exists", "already uses the code abc"),
        ("The TaxType code 'GST15' is not valid.", "Xero does not know the tax type GST15"),
        ("Account code '999' is not a valid code for this document.", "the account 999"),
        ("Invoice # must be unique.", "different invoice with this number"),
        ("This document cannot be edited as it has a payment or credit note allocated to it.", "has a payment"),
        ("Invoice not of valid status for modification", "no longer allows changes"),
        ("The contact with ContactID 'abc' could not be found.", "no longer exists"),
        ("EmailAddress must not be more than 255 characters long.", "at most 255 characters in EmailAddress"),
        ("Something new from Xero", GENERIC_FIX),
    ],
)
def test_each_known_xero_text_has_a_plain_fix(message: str, expected: str) -> None:
    assert expected in fix_for([message])


def test_generated_codes_are_upper_case_slugs_of_at_most_30_characters_and_unique() -> None:
    assert generate_code("Annual boiler service", set()) == "ANNUAL-BOILER-SERVICE"
    long_name = "Supply and install a very long named smoke alarm unit"
    code = generate_code(long_name, set())
    assert len(code) <= 30 and code == code.upper()
    assert generate_code(long_name, {code.casefold()}).endswith("-2")
    assert len(generate_code(long_name, {code.casefold()})) <= 30
    assert generate_code("!!!", set()) == "ITEM"


def test_the_zero_rate_prefers_none_then_any_zero_revenue_rate() -> None:
    nz = [{"TaxType": "OUTPUT2", "EffectiveRate": "15", "Status": "ACTIVE"},
          {"TaxType": "ZERORATEDOUTPUT", "EffectiveRate": "0", "Status": "ACTIVE"},
          {"TaxType": "NONE", "EffectiveRate": "0", "Status": "ACTIVE"}]
    assert zero_rate_tax_type(nz) == "NONE"
    au = [{"TaxType": "OUTPUT", "EffectiveRate": "10"},
          {"TaxType": "EXEMPTEXPENSES", "EffectiveRate": "0", "CanApplyToRevenue": False},
          {"TaxType": "EXEMPTOUTPUT", "EffectiveRate": "0"}]
    assert zero_rate_tax_type(au) == "EXEMPTOUTPUT"
    assert zero_rate_tax_type([{"TaxType": "OUTPUT", "EffectiveRate": "10"}]) is None
