"""Topic names: ``<owner>.<entity>.v<major>``; each has a dead-letter topic ``<topic>.dlt``."""

from __future__ import annotations

# Upstream systems (carrier feeds, the policy-administration system, the CRM).
UPSTREAM_CARRIER_STATEMENTS = "upstream.carrier-statements.v1"
UPSTREAM_INDIVIDUALS = "upstream.individuals.v1"
UPSTREAM_POLICY_JOBS = "upstream.policy-jobs.v1"
UPSTREAM_ACTIVITIES = "upstream.activities.v1"

# intake
INTAKE_POLICIES = "intake.policies.v1"
INTAKE_STATEMENTS = "intake.statements.v1"
INTAKE_POLICY_SESSIONS = "intake.policy-sessions.v1"
INTAKE_SALES_RECORDS = "intake.sales-records.v1"
INTAKE_CARRIERS = "intake.carriers.v1"

# invoicing
INVOICING_RECONCILIATIONS = "invoicing.reconciliations.v1"
INVOICING_POSTINGS = "invoicing.postings.v1"

# appointments
APPOINTMENTS_TRANSACTION_BATCHES = "appointments.transaction-batches.v1"
APPOINTMENTS_TRANSACTIONS = "appointments.transactions.v1"
APPOINTMENTS_LICENSE_SYNC_REQUESTS = "appointments.license-sync-requests.v1"
APPOINTMENTS_PORTAL_INVITES = "appointments.portal-invites.v1"

# NIPR gateway answers
NIPR_TRANSACTION_RESULTS = "nipr.transaction-results.v1"
NIPR_LICENSES = "nipr.licenses.v1"

# reporting
REPORTING_TEAM_SCREENS = "reporting.team-screens.v1"

ALL_TOPICS: tuple[str, ...] = (
    UPSTREAM_CARRIER_STATEMENTS,
    UPSTREAM_INDIVIDUALS,
    UPSTREAM_POLICY_JOBS,
    UPSTREAM_ACTIVITIES,
    INTAKE_POLICIES,
    INTAKE_STATEMENTS,
    INTAKE_POLICY_SESSIONS,
    INTAKE_SALES_RECORDS,
    INTAKE_CARRIERS,
    INVOICING_RECONCILIATIONS,
    INVOICING_POSTINGS,
    APPOINTMENTS_TRANSACTION_BATCHES,
    APPOINTMENTS_TRANSACTIONS,
    APPOINTMENTS_LICENSE_SYNC_REQUESTS,
    APPOINTMENTS_PORTAL_INVITES,
    NIPR_TRANSACTION_RESULTS,
    NIPR_LICENSES,
    REPORTING_TEAM_SCREENS,
)

DLT_SUFFIX = ".dlt"


def dlt(topic: str) -> str:
    return topic + DLT_SUFFIX


def all_topics_with_dlt() -> list[str]:
    return [t for topic in ALL_TOPICS for t in (topic, dlt(topic))]
