"""Producers' JSON: a license sync asked for, an onboarding file processed."""

from __future__ import annotations

from appointments.responses import Out


class SyncRequested(Out):
    npn: str
    sync: str


class ImportProcessed(Out):
    """``onboarding.process_producer_import``'s result, with the import."""

    import_id: str
    producers_created: int
    producers_existing: int
    assignments_added: int
    license_syncs_requested: int
    invalid_rows_skipped: int
