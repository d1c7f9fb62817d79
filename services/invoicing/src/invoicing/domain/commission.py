"""Commission arithmetic of direct-bill statement entry (seed 003): pure functions, no I/O.

Money is ``Decimal`` rounded half-up to cents with ``round_money`` at the points defined here:
every computed premium, commission and people-commission amount. Rates are decimals (0.15 = 15 %)
for "% of premium"; with "flat" the rate *is* the commission amount in dollars.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal

from agency_common.money import round_money

RateType = Literal["percent", "flat"]
BillType = Literal["audit", "cancellation", "endorsement", "installment", "term_policy"]
RATE_TYPES: tuple[str, ...] = ("percent", "flat")
BILL_TYPES: tuple[str, ...] = ("audit", "cancellation", "endorsement", "installment", "term_policy")
ZERO = Decimal("0.00")


class EntryError(ValueError):
    """A value a statement-entry row cannot take (reported on its row, by field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- parsing ------------------------------------------------------------------------------------
def parse_money(value: object, field: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        raise EntryError(field, "send money as a string or integer, never a float")
    try:
        text = str(value).strip().replace(",", "").replace("$", "")
        amount = Decimal(text)
    except (InvalidOperation, ValueError):
        raise EntryError(field, f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise EntryError(field, f"not an amount: {value!r}")
    if amount != round_money(amount):
        raise EntryError(field, "at most two decimals (cents)")
    if abs(amount) >= Decimal("1e15"):
        raise EntryError(field, "amount too large")
    return amount


def rate_fraction(rate: Decimal | None) -> Decimal | None:
    """A commission rate from intake as a fraction of six places: a rate above 1 means percent (15
    meaning 15 %), one at most 1 is already a fraction."""
    if rate is None:
        return None
    return (rate / 100 if rate > 1 else rate).quantize(Decimal("0.000001"))


def parse_rate(value: object, rate_type: str, field: str = "rate") -> Decimal | None:
    """Percent rates are accepted as ``15%`` or ``0.15``; a flat rate is a dollar amount."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):
        raise EntryError(field, "send rates as a string, never a float")
    text = str(value).strip()
    if rate_type == "flat":
        return parse_money(text.removesuffix("%"), field) if not text.endswith("%") else _bad_flat(field)
    try:
        rate = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except (InvalidOperation, ValueError):
        raise EntryError(field, f"not a rate: {value!r}") from None
    if not rate.is_finite() or rate < 0 or rate > 1:
        raise EntryError(field, "a percent rate is between 0% and 100% (0 to 1)")
    if rate != rate.quantize(Decimal("0.000001")):
        raise EntryError(field, "at most six decimals (0.0001 %)")
    return rate


def _bad_flat(field: str) -> Decimal:
    raise EntryError(field, "a flat rate is a dollar amount, not a percentage")


# -- the two directions -------------------------------------------------------------------------
def commission_from_premium(premium: Decimal, rate_type: str, rate: Decimal) -> Decimal:
    """% of premium: commission = premium × rate; flat: the commission is the flat amount."""
    if rate_type == "flat":
        return round_money(rate)
    return round_money(premium * rate)


def premium_from_commission(commission: Decimal, rate: Decimal) -> Decimal:
    """% of premium only: premium = commission ÷ rate (a zero rate cannot give a premium)."""
    if rate == 0:
        raise EntryError("commission_paid", "rate is 0%: cannot derive the premium from a commission")
    return round_money(commission / rate)


@dataclass(frozen=True)
class Amounts:
    """The editable money of one statement-entry row."""

    premium: Decimal | None
    rate_type: str
    rate: Decimal | None
    commission: Decimal | None


def apply_amount_edit(current: Amounts, *, premium: Decimal | None = None, rate_type: str | None = None,
                      rate: Decimal | None = None, commission: Decimal | None = None,
                      premium_given: bool = False, rate_given: bool = False,
                      commission_given: bool = False) -> Amounts:
    """One save of one row's amounts, by what the operator entered (``*_given``):

    - % of premium: a commission entered (without a premium) recomputes the premium from the rate;
      otherwise a new premium, rate or rate type recomputes the commission. Premium and commission
      entered together are both kept as entered (an explicit override).
    - flat: the commission is the flat amount (rate and commission are the same figure; whichever
      was entered sets both) and the premium is never touched by the rate.
    """
    new_type = rate_type or current.rate_type
    if new_type not in RATE_TYPES:
        raise EntryError("rate_type", f"must be one of {', '.join(RATE_TYPES)}")
    row = replace(current, rate_type=new_type)
    if premium_given:
        row = replace(row, premium=premium)
    if rate_given:
        row = replace(row, rate=rate)
    if commission_given:
        row = replace(row, commission=commission)
    type_changed = new_type != current.rate_type

    if new_type == "flat":
        if commission_given and commission is not None:
            return replace(row, rate=round_money(commission))
        if (rate_given or type_changed) and row.rate is not None:
            if type_changed and not rate_given:
                # switching to flat without a new rate: the current commission is the flat amount
                return replace(row, rate=row.commission)
            return replace(row, commission=round_money(row.rate))
        return row

    # % of premium
    if commission_given and not premium_given:
        if row.commission is None or row.rate is None:
            return row
        return replace(row, premium=premium_from_commission(row.commission, row.rate))
    if commission_given and premium_given:
        return row
    if (premium_given or rate_given or type_changed) and row.premium is not None and row.rate is not None:
        return replace(row, commission=commission_from_premium(row.premium, "percent", row.rate))
    return row


def people_commission_amount(base: Decimal, rate_type: str, rate: Decimal) -> Decimal:
    """A person's commission: % of the base (the production credit) or a flat amount."""
    if rate_type == "flat":
        return round_money(rate)
    return round_money(base * rate)


def percent_of_agency(people_total: Decimal, agency_commission: Decimal) -> Decimal | None:
    """People commission as a percentage of the agency commission (two decimals), None when 0."""
    if agency_commission == 0:
        return None
    return round_money(people_total / agency_commission * 100)


# -- production-credit discrepancy --------------------------------------------------------------
@dataclass(frozen=True)
class CreditLine:
    production_credit: Decimal
    amount: Decimal


def production_credit_discrepancy(commission: Decimal | None, lines: list[CreditLine]) -> list[str]:
    """The reasons a row cannot be invoiced by Create/Pay All (empty: no discrepancy).

    A row with other (people) commission lines must credit its agency commission exactly:
    1. ``credit_total``: the production-credit amounts of its lines add up to the commission paid
       (to the cent);
    2. ``credit_sign``: no line credits against the commission's sign (a positive credit on a
       charge-back, or the reverse);
    3. ``people_exceed_agency``: the people commissions together do not exceed the agency commission
       in absolute value (the agency cannot pay out more than it received).
    A row without other-commission lines has nothing to credit and no discrepancy.
    """
    if not lines:
        return []
    c = commission if commission is not None else ZERO
    opposite = any((line.production_credit > 0 > c) or (line.production_credit < 0 < c) for line in lines)
    return discrepancy_reasons(c, sum((ln.production_credit for ln in lines), ZERO),
                               sum((ln.amount for ln in lines), ZERO), opposite)


def discrepancy_reasons(commission: Decimal | None, credit_total: Decimal, people_total: Decimal,
                        opposite_sign: bool) -> list[str]:
    """The same rule on a row's totals (what the database aggregates for a whole statement)."""
    commission = commission if commission is not None else ZERO
    reasons = []
    if round_money(credit_total) != round_money(commission):
        reasons.append("credit_total")
    if opposite_sign:
        reasons.append("credit_sign")
    if abs(people_total) > abs(commission):
        reasons.append("people_exceed_agency")
    return reasons


DISCREPANCY_TEXT = {
    "credit_total": "production credit total differs from the commission paid",
    "credit_sign": "a production credit has the opposite sign to the commission paid",
    "people_exceed_agency": "people commissions exceed the agency commission",
}


# -- bill type ----------------------------------------------------------------------------------
TRANSACTION_BILL_TYPES = {
    "NBS": "term_policy", "RWL": "term_policy", "RIX": "term_policy",
    "REN": "term_policy", "NEW": "term_policy",
    "PCH": "endorsement", "END": "endorsement", "ADJ": "endorsement",
    "XLC": "cancellation", "CAN": "cancellation",
    # a reinstatement reverses a cancellation's return premium: like it, it adds to billed only; as a
    # term policy it would replace the term's totals (the same as intake's default profile)
    "REI": "cancellation",
    "AUD": "audit",
    "INS": "installment", "INST": "installment",
}


def default_bill_type(bill_type: str | None, transaction_type: str | None) -> str:
    """A statement line's own bill type, else from its carrier transaction code, else term policy."""
    if bill_type in BILL_TYPES:
        return bill_type
    code = (transaction_type or "").strip().upper()
    return TRANSACTION_BILL_TYPES.get(code, "term_policy")


# -- one row's validation -----------------------------------------------------------------------
def row_errors(*, policy_known: bool, effective_date: date | None, expiration_date: date | None,
               premium: Decimal | None, rate_type: str | None, rate: Decimal | None,
               commission: Decimal | None, bill_type: str | None) -> dict[str, str]:
    """Every problem of one row, by field (empty: the row can be invoiced)."""
    errors: dict[str, str] = {}
    if not policy_known:
        errors["policy"] = "no policy matched (or not yet known to invoicing)"
    if effective_date is None:
        errors["effective_date"] = "required"
    if effective_date and expiration_date and expiration_date < effective_date:
        errors["expiration_date"] = "before the effective date"
    if rate_type not in RATE_TYPES:
        errors["rate_type"] = f"must be one of {', '.join(RATE_TYPES)}"
    if premium is None and rate_type != "flat":
        errors["premium_paid"] = "required"
    if rate is None:
        errors["rate"] = "required"
    elif rate_type == "percent" and not (0 <= rate <= 1):
        errors["rate"] = "a percent rate is between 0% and 100%"
    if commission is None:
        errors["commission_paid"] = "required"
    if bill_type not in BILL_TYPES:
        errors["bill_type"] = f"must be one of {', '.join(BILL_TYPES)}"
    return errors


# -- the reconciliation's stage -----------------------------------------------------------------
def derive_status(current: str, *, unposted: int, posted_unpaid: int, paid: int) -> str:
    """open (no invoices) → invoiced (unposted invoices) → posted (posted, not all paid) → paid
    (every posted invoice paid); aborted and closed are final and kept."""
    if current in ("aborted", "closed"):
        return current
    if unposted:
        return "invoiced"
    if posted_unpaid:
        return "posted"
    if paid:
        return "paid"
    return "open"
