"""Every INFERRED PayTrace wire detail the sandbox emits, in one place.

The reference (``docs``/``paytrace-api.md``) marks these as [I] or [U]: they are our best guess, not
confirmed by PayTrace. Keeping them here means one real sandbox call can correct them by editing this
module only; the generator and the server read every name and message from here.
"""

from __future__ import annotations

from typing import Final

# --- envelopes (§3.1, §3.5: confirmed) -----------------------------------------------------------
EXPORT_OK_MESSAGE: Final = "Your request has been successfully completed."
ERROR_MESSAGE: Final = "One or more errors has occurred."

# --- batch summary field names (§3.3: all inferred except "batches", "batch" and "number") ----------
# Key = our internal name, value = the JSON field name written on the wire.
BATCH_FIELDS: Final[dict[str, str]] = {
    "number": "number",  # [C-3p]
    "created": "created",  # [I] legacy WHEN
    "transaction_count": "transaction_count",  # [I] legacy TRANXCOUNT
    "net_amount": "net_amount",  # [I] legacy NETAMOUNT = sales - refunds
    "sales_count": "sales_count",  # [I] legacy SALESCOUNT
    "sales_amount": "sales_amount",  # [I] legacy SALESAMOUNT
    "refund_count": "refund_count",  # [I] legacy REFUNDCOUNT
    "refund_amount": "refund_amount",  # [I] legacy REFUNDAMOUNT
}
# Per-brand breakdown keys inside ``batch`` of ``export_one`` [I] (legacy VISA|MASTERCARD|AMEX|...).
BATCH_BRANDS: Final = ("visa", "mastercard", "amex", "discover", "diners", "jcb", "private")
# Whether ``batches/export`` rows also carry the per-brand breakdown (export_one always does). [I]
BATCH_LIST_INCLUDES_BRANDS: Final = False

# --- per-transaction status values (§3.2) -----------------------------------------------------------
STATUS_PENDING: Final = ("Y", "Pending Settlement")  # [C-3p]
STATUS_AUTH_ONLY: Final = ("N", "Authorization Only")  # [C-3p]
STATUS_VOIDED: Final = ("N", "Voided")  # [I] "void-ish" message
STATUS_DECLINED: Final = ("N", "Declined")  # [I]
SETTLED_STATUS_MESSAGE: Final = "Settled"  # [I] status_code is "GB<batch>" [C-3p]
UNSETTLED_SETTLED_VALUE: Final = ""  # [U] value of "settled" before settlement ("" chosen)

# --- processing responses (§3.4: confirmed texts) ----------------------------------------------------
APPROVED_MESSAGE: Final = "Your transaction was successfully approved."
DECLINED_MESSAGE: Final = "Your transaction was not approved."
CAPTURED_MESSAGE: Final = "Your transaction was successfully captured."
REFUNDED_MESSAGE: Final = "Your transaction successfully refunded."
VOIDED_MESSAGE: Final = "Your transaction was successfully voided."
CUSTOMER_CREATED_MESSAGE: Final = "Your customer profile for {customer_id} was successfully created."
SETTLED_MESSAGE: Final = "Your batch was successfully settled."  # [I] code 175 "batch settled"
MAGIC_DECLINE_AMOUNT_CENTS: Final = 29  # §7.2: $0.29 declines
MAGIC_DECLINE_APPROVAL: Final = "EXPIRED CARD - Expired card"  # [C-3p]
RANDOM_DECLINE_APPROVAL: Final = "    DECLINE - Do not honor"  # [C-3p] processor padding kept

# --- validation error codes (§4.2) ---------------------------------------------------------------------
ERR_CUSTOMER_NOT_FOUND: Final = ("30", "Customer ID, {customer_id}, was not found or is incomplete.")
ERR_CARD_NUMBER: Final = ("35", "Please provide a valid Credit Card Number.")
ERR_EXP_MONTH: Final = ("43", "Please provide a valid Expiration Month.")
ERR_EXP_YEAR: Final = ("44", "Please provide a valid Expiration Year.")
ERR_TRANSACTION_ID: Final = ("58", "Please provide a valid Transaction ID.")
ERR_DUPLICATE_CUSTOMER: Final = ("171", "Please provide a unique customer ID.")
ERR_REFUND_UNSETTLED: Final = (
    "817",
    "The Transaction ID that you provided could not be refunded. Only settled transactions can be "
    "refunded.  Please try to void the transaction instead.",
)
ERR_VOID_SETTLED: Final = (  # [C-3p weak] text invented
    "818",
    "The Transaction ID that you provided could not be voided. The transaction has already been "
    "settled.  Please try to refund the transaction instead.",
)
# INVENTED [U]: PayTrace's code for a missing/invalid export date is undocumented. Change here.
ERR_START_DATE: Final = ("901", "Please provide a valid Start Date (MM/DD/YYYY).")
ERR_END_DATE: Final = ("902", "Please provide a valid End Date (MM/DD/YYYY).")
ERR_BATCH_NUMBER: Final = ("903", "Please provide a valid Batch Number.")  # INVENTED [U]
ERR_AMOUNT: Final = ("904", "Please provide a valid Amount.")  # INVENTED [U]
ERR_TRANSACTION_TYPE: Final = ("905", "Please provide a valid Transaction Type.")  # INVENTED [U]
ERR_CAPTURE: Final = ("906", "The Transaction ID that you provided could not be captured.")  # INVENTED [U]
ERR_INTEGRATOR: Final = (
    "981",
    "Log in failed for insufficient permissions.",
)  # [C-3p] used for integrator id

# --- OAuth (§1.2) ------------------------------------------------------------------------------------
INVALID_GRANT_DESCRIPTION: Final = (
    "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI "
    "used in the authorization request, or was issued to another client."
)
INVALID_TOKEN_DESCRIPTION: Final = "The access token is invalid"  # noqa: S105 - [I] Doorkeeper wording
