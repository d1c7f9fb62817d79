"""intake's tables, one module per aggregate, all on one metadata (``base``) so migrations see
them together. Import them from here: ``from intake.models import Policy``."""

from intake.models.base import IntakeModel, messaging, metadata
from intake.models.carriers import Carrier, CarrierAlias
from intake.models.individuals import (
    Individual,
    IndividualAudit,
    IndividualImport,
    IndividualImportRow,
    SalesRecord,
    SalesRecordJob,
    SavedSearch,
)
from intake.models.policies import Client, Policy, PolicyPosting, PolicyTerm, PolicyUpdateAudit
from intake.models.policy_sessions import CreatePoliciesJob, PolicySession
from intake.models.statements import CarrierProfile, Statement, StatementLineRow

__all__ = [
    "Carrier",
    "CarrierAlias",
    "CarrierProfile",
    "Client",
    "CreatePoliciesJob",
    "Individual",
    "IndividualAudit",
    "IndividualImport",
    "IndividualImportRow",
    "IntakeModel",
    "Policy",
    "PolicyPosting",
    "PolicySession",
    "PolicyTerm",
    "PolicyUpdateAudit",
    "SalesRecord",
    "SalesRecordJob",
    "SavedSearch",
    "Statement",
    "StatementLineRow",
    "messaging",
    "metadata",
]
