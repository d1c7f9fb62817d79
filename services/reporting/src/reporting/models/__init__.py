"""reporting's tables, one module per aggregate, on one metadata (``migrations/env.py`` imports
``metadata`` from here; ``from reporting.models import X`` works for every table)."""

from reporting.models.base import ReportingModel, messaging, metadata
from reporting.models.operations import (
    DeadLetterCount,
    EventCount,
    OpsInvoice,
    OpsNiprResult,
    OpsPayment,
    OpsPolicy,
    OpsPolicySession,
    OpsReconciliation,
    OpsStatement,
    OpsTransaction,
)
from reporting.models.team_screens import (
    BatchLock,
    TeamScreenCount,
    TeamScreenItem,
    TeamScreenSnapshot,
    TeamScreenWindow,
)
from reporting.models.upstream import Activity, PolicyJob

__all__ = [
    "Activity",
    "BatchLock",
    "DeadLetterCount",
    "EventCount",
    "OpsInvoice",
    "OpsNiprResult",
    "OpsPayment",
    "OpsPolicy",
    "OpsPolicySession",
    "OpsReconciliation",
    "OpsStatement",
    "OpsTransaction",
    "PolicyJob",
    "ReportingModel",
    "TeamScreenCount",
    "TeamScreenItem",
    "TeamScreenSnapshot",
    "TeamScreenWindow",
    "messaging",
    "metadata",
]
