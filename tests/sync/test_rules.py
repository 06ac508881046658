"""The pure rules: normalisation and matching, fixes for Xero's texts, codes, the zero tax rate."""

from __future__ import annotations

import pytest

from flask_xerosync.sync.invoices import zero_rate_tax_type
from flask_xerosync.sync.items import generate_code
from flask_xerosync.sync.outcomes import GENERIC_FIX, fix_for
from flask_xerosync.sync.rules import Candidate, Keys, decide, email_key, name_key


def test_name_keys_fold_case_spacing_accents_punctuation_and_legal_forms() -> None:
    same = ["Coastal Cafe", "  coastal   CAFÉ ", "Coastal Cafe Ltd", "Coastal Café Limited", "The Coastal Cafe",
            "Coastal Cafe, Ltd.", "COASTAL CAFE LLC"]
    assert {name_key(name) for name in same} == {"coastal cafe"}
    assert name_key("Harper & Sons") == name_key("Harper and Sons")
    assert name_key("Coastal Café Group") != name_key("Coastal Cafe")
    assert name_key("Ltd") == "ltd", "a name that is only a legal form keeps it"
    assert name_key("!!!") == ""
    assert email_key("  Manager@CoastalCafe.Example ") == "manager@coastalcafe.example"


def _keys(record_id: str, email: str = "", name: str = "", **state: object) -> Keys:
    return Keys(record_id, email_key(email), name_key(name), **state)  # type: ignore[arg-type]


def test_a_record_without_any_candidate_is_created() -> None:
    assert decide(_keys("1", "a@x.example", "Alpha"), [], {}).action == "create"


def test_one_candidate_that_has_only_this_record_is_linked_by_the_strongest_rule() -> None:
    me = _keys("1", "a@x.example", "Alpha")
    them = Candidate(_keys("X1", "A@X.example", "Alpha Ltd"), ("email", "name"))
    verdict = decide(me, [them], {"X1": [Candidate(me, ("email", "name"))]})
    assert (verdict.action, verdict.partner, verdict.rule) == ("link", "X1", "email")


def test_several_candidates_need_review_whatever_the_rules() -> None:
    me = _keys("1", "shared@x.example", "Gamma")
    by_email = Candidate(_keys("X1", "shared@x.example", "Other"), ("email",))
    by_name = Candidate(_keys("X2", "", "gamma"), ("name",))
    assert decide(me, [by_email, by_name], {"X1": [], "X2": []}).action == "review"


def test_a_candidate_claimed_by_several_records_needs_review() -> None:
    me = _keys("1", "", "Acme")
    rival = _keys("2", "", "ACME")
    them = Candidate(_keys("X1", "", "acme"), ("name",))
    assert decide(me, [them], {"X1": [Candidate(me, ("name",)), Candidate(rival, ("name",))]}).action == "review"


def test_linked_or_archived_candidates_and_different_e_mails_need_review() -> None:
    me = _keys("1", "a@x.example", "Acme")
    linked = Candidate(_keys("X1", "", "Acme", linked_to="9"), ("name",))
    archived = Candidate(_keys("X2", "", "Acme", archived=True), ("name",))
    other_email = Candidate(_keys("X3", "b@x.example", "Acme"), ("name",))
    for candidate in (linked, archived, other_email):
        claims = {candidate.record_id: [Candidate(me, ("name",))]}
        assert decide(me, [candidate], claims).action == "review", candidate


def test_the_contact_code_links_even_with_other_candidates_when_name_or_e_mail_agree() -> None:
    me = _keys("7", "a@x.example", "Acme")
    ours = Candidate(_keys("X1", "a@x.example", "Acme Ltd", number="7"), ("number", "email", "name"))
    other = Candidate(_keys("X2", "a@x.example", "Different"), ("email",))
    verdict = decide(me, [ours, other], {}, number_partner="X1")
    assert (verdict.action, verdict.partner, verdict.rule) == ("link", "X1", "number")
    stranger = Candidate(_keys("X3", "z@x.example", "Someone Else", number="7"), ("number",))
    assert decide(me, [stranger], {}, number_partner="X3").action == "review"


def test_the_owner_s_decision_comes_first_while_it_can_be_followed() -> None:
    me = _keys("1", "shared@x.example", "Gamma")
    first = Candidate(_keys("X1", "shared@x.example", "A"), ("email",))
    second = Candidate(_keys("X2", "shared@x.example", "B"), ("email",))
    assert decide(me, [first, second], {}, decision=("link", "X2")).partner == "X2"
    assert decide(me, [first, second], {}, decision=("create", None)).action == "create"
    assert decide(me, [first, second], {}, decision=("leave_out", None)).action == "leave_out"
    taken = Candidate(_keys("X2", "shared@x.example", "B", linked_to="5"), ("email",))
    assert decide(me, [first, taken], {}, decision=("link", "X2")).action == "review"


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
