"""The seed's wording for transaction statuses and eligibility reasons (002, Eligibility Reasons
Dictionary), in one place so the API, the dashboard, the events and the tests say the same thing."""

from __future__ import annotations

# Transaction statuses.
READY = "Ready to Submit"
JIT_HELD = "JIT Held"  # "All eligible appts created as JIT appt and held for submission"
NOT_ELIGIBLE = "Not Eligible"
SUBMITTED = "Submitted"  # pending at NIPR ("Dependent on NIPR response")
APPOINTED = "Appointed"
TERMINATED = "Terminated"
REJECTED = "Rejected"  # NIPR answered no (its reason is kept)
CLOSED = "Closed"

OPEN_STATUSES = (READY, JIT_HELD, SUBMITTED)
SENDABLE = (READY, JIT_HELD)
BILLABLE_STATUSES = (READY, JIT_HELD, SUBMITTED, APPOINTED, TERMINATED, REJECTED)

# Eligibility reasons (transaction level).
IN_GOOD_STANDING = "In Good Standing"
LICENSE_NOT_FOUND = "Required License Not Found"
LICENSE_NOT_ACTIVE = "Required License Not Active (Found)"
NO_ACTIVE_RESIDENT = "No Active Resident License"
COMPANY_NO_LOAS = "Company Does Not Appoint for requested loas"
COCODE_NOT_FOUND = "CoCode Not Found"


def company_not_in_state(company: str, state: str) -> str:
    return f"{company} does not appoint in the requested State: {state}"


# Request-level rejections: no transaction is created.
NPN_NOT_FOUND = "NPN Not Found"
NPN_NOT_SYNCED = "NPN Not Synced with NIPR"
NPN_NOT_ACTIVE = "NPN Not Active"
OUTSIDE_ASSIGNMENT = "Outside Producer Assignment (Appointment Producer Assignment Required)"
DUPLICATE_PENDING = "Identical transaction already pending at NIPR"
DUPLICATE_OPEN = "Identical transaction already open (Ready to Submit or JIT Held)"
DUPLICATE_NOT_ELIGIBLE = "Identical Not Eligible transaction already on record (same reason)"
ALREADY_APPOINTED = "Already Appointed"


def termination_already_open(npn: str, state: str, line: str, cocode: str) -> str:
    return f"a termination for NPN {npn} in {state}, {line}, CoCode {cocode} is already open"


def unsupported_line(value: str) -> str:
    return f"Unsupported line of authority or LOA category: {value}"


def line_not_in_state(line: str, state: str) -> str:
    return f"Line of authority {line} is not an active line in the requested State: {state}"


# Why a batch closed by itself (it never sent anything and nothing in it can be sent).
BATCH_NOT_ELIGIBLE = "Not Eligible — nothing to submit"
BATCH_NOTHING_LEFT = "Nothing left to submit: every transaction is Not Eligible or closed"
CLOSED_NOT_ELIGIBLE = "Not Eligible: closed in bulk from the batch"

# Setting names.
ASSIGNMENT_REQUIRED = "appointment_producer_assignment_required"
