"""appointments' tables, one module per aggregate, all on one metadata (``base``) so migrations see
them together. Reference data that states and carriers change is effective-dated: every row has an
``effective_date`` and a ``source``, and a change is a new row. Import them from here:
``from appointments import models as m`` then ``m.Producer``."""

from appointments.models.base import AppointmentsModel, messaging, metadata, new_id
from appointments.models.bulk_appoint import AppointJob, AppointJobItem
from appointments.models.bulk_files import BulkAppointCall, BulkImport, BulkImportRow
from appointments.models.portals import PortalUser
from appointments.models.producers import License, Producer, ProducerAssignment
from appointments.models.reference_data import (
    Agency,
    BusinessRule,
    Company,
    CompanyCocode,
    CompanyStateSetting,
    Portal,
    ServiceSetting,
    StateFee,
    TerminationFilingRule,
    TerminationReason,
)
from appointments.models.terminations import ManualTask
from appointments.models.transactions import AppointmentTransaction, CarrierAppointment, TransactionBatch

__all__ = ["Agency", "AppointJob", "AppointJobItem", "AppointmentTransaction", "AppointmentsModel", "BulkAppointCall", "BulkImport", "BulkImportRow", "BusinessRule", "CarrierAppointment", "Company", "CompanyCocode", "CompanyStateSetting", "License", "ManualTask", "Portal", "PortalUser", "Producer", "ProducerAssignment", "ServiceSetting", "StateFee", "TerminationFilingRule", "TerminationReason", "TransactionBatch", "messaging", "metadata", "new_id"]
