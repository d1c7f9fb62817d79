"""explanations of Not Eligible transactions; producers' contact details, addresses, agent type; onboarding row outcomes and pages

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 01:40:00.000000
"""
from collections.abc import Sequence

import agency_common.db.types
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('appointment_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('explanation', sa.JSON(), nullable=True))
        batch_op.create_index('ix_transaction_created', ['created_at', 'id'], unique=False)

    with op.batch_alter_table('producers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True))
        batch_op.add_column(sa.Column('business_address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
        batch_op.add_column(sa.Column('mailing_address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
        batch_op.add_column(sa.Column('agent_type', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True))
        batch_op.add_column(sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column('updated_at', agency_common.db.types.UTCDateTime(), nullable=True))

    with op.batch_alter_table('bulk_import_rows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
        batch_op.create_index('ix_bulk_import_rows_import_line', ['import_id', 'line'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('bulk_import_rows', schema=None) as batch_op:
        batch_op.drop_index('ix_bulk_import_rows_import_line')
        batch_op.drop_column('outcome')

    with op.batch_alter_table('producers', schema=None) as batch_op:
        for column in ('updated_at', 'updated_by', 'agent_type', 'mailing_address', 'business_address', 'phone'):
            batch_op.drop_column(column)

    with op.batch_alter_table('appointment_transactions', schema=None) as batch_op:
        batch_op.drop_index('ix_transaction_created')
        batch_op.drop_column('explanation')
