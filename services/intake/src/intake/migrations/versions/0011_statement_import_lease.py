"""statement import lease: one importer at a time among replicas

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from agency_common.db.types import UTCDateTime
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statements") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("lease_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("statements") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")
