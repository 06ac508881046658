"""Xero's error bodies and the exact validation texts the sandbox uses.

Texts marked *assumed* in docs/sandbox.md are not quoted in the facts sheet or
the OpenAPI examples; the others are Xero's own wording.
"""

from __future__ import annotations

import uuid
from typing import Any

# Quoted by Xero (facts sheet / OpenAPI examples).
CONTACT_NAME_TAKEN = (
    "The contact name {name} is already assigned to another contact. "
    "The contact name must be unique across all active contacts."
)
ITEM_CODE_TAKEN = "Price List Item with Code '{code}' already exists"
INVOICE_NUMBER_TAKEN = "Invoice # must be unique."
TAX_TYPE_INVALID = "The TaxType code '{code}' is not valid."
CONTACT_IDENTIFIER_MISSING = (
    "The Contact must contain at least 1 of the following elements to identify the contact: "
    "Name, ContactID, ContactNumber"
)
INVOICE_STATUS_INVALID = "Invoice not of valid status for modification"
INVOICE_HAS_PAYMENT = (
    "This document cannot be edited as it has a payment or credit note allocated to it."
)

# Quoted by third parties (integrators' code and help pages), not by Xero's own documents.
PAYMENT_NOT_AUTHORISED = "Payments can only be made against Authorised documents"
PAYMENT_EXCEEDS_DUE = "Payment amount exceeds the amount outstanding on this document."

# Assumed (Xero style, wording not confirmed by a stored source).
PAYMENT_AMOUNT_INVALID = "The payment amount must be greater than zero."
ITEM_CODE_INVALID = "Item code '{code}' is not valid"
ACCOUNT_CODE_INVALID = "Account code '{code}' is not a valid code for this document."
ACCOUNT_CODE_REQUIRED = "An Account Code is required for line items on submitted or approved invoices."
CONTACT_NAME_REQUIRED = "The contact name must be specified."
CONTACT_NOT_FOUND = "The contact with ContactID '{id}' could not be found."
CONTACT_NUMBER_NOT_FOUND = "The contact with ContactNumber '{number}' could not be found."
CONTACT_ID_ON_CREATE = "ContactID cannot be specified when creating a contact."
ITEM_CODE_REQUIRED = "Item Code is required."
ITEM_NOT_FOUND = "The item with ItemID '{id}' could not be found."
ITEM_ID_ON_CREATE = "ItemID cannot be specified when creating an item."
INVOICE_NOT_FOUND = "The invoice with InvoiceID '{id}' could not be found."
INVOICE_ID_ON_CREATE = "InvoiceID cannot be specified when creating an invoice."
INVOICE_TYPE_INVALID = "Invoice Type '{type}' is not supported by the sandbox; use ACCREC or ACCPAY."
INVOICE_STATUS_CREATE = "Invoice not of valid status for creation"
LINE_ITEMS_REQUIRED = "At least one line item must be specified."
LINE_AMOUNT_TYPES_INVALID = "LineAmountTypes '{value}' is not valid; use Exclusive, Inclusive or NoTax."
CONTACT_STATUS_INVALID = "ContactStatus '{value}' is not valid."
PHONE_TYPE_INVALID = "PhoneType '{value}' is not valid; use DEFAULT, DDI, MOBILE, FAX or OFFICE."
PHONE_INVALID = "A phone must be a JSON object."
MERGE_INTO_ITSELF = "A contact cannot be merged into itself."
MERGE_INTO_ARCHIVED = "Contacts can only be merged into an active contact."
MERGE_ALREADY_MERGED = "This contact has already been merged into another contact."
PHONE_TYPE_REQUIRED = "A PhoneType must be specified for each phone."
MAX_LENGTH = "{field} must not be more than {limit} characters long."
DATE_INVALID = "{field} '{value}' is not a valid date."
NUMBER_INVALID = "{field} must be a number."


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    """The RFC 7807-like body Xero uses for auth, scope, tenant and limit errors."""
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
    }


def validation_exception(elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": elements,
    }


def query_parse_exception(message: str) -> dict[str, Any]:
    """Body for an unsupported ``where``/``order`` (Xero's ErrorNumber 16; wording assumed)."""
    return {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}


class ApiError(Exception):
    """Raised inside handlers to return an error response with a JSON body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("Detail") or body.get("Message") or str(status))
        self.status = status
        self.body = body
        self.headers = headers or {}


def not_found(what: str) -> ApiError:
    return ApiError(404, problem(404, "Not Found", f"The resource you're looking for cannot be found: {what}"))
