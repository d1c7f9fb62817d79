"""individual imports: background imports of individuals (a job row with progress and counts) and
their rows' outcomes (invalid rows' cells encrypted)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 21:14:07.184012
"""
from collections.abc import Sequence

import agency_common.db.types
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('individual_imports',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('stored_path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('header', sa.Text(), nullable=True),
    sa.Column('pii_columns', sa.Text(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('line_done', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('invalid', sa.Integer(), nullable=False),
    sa.Column('blank', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', agency_common.db.types.UTCDateTime(), nullable=False),
    sa.Column('started_at', agency_common.db.types.UTCDateTime(), nullable=True),
    sa.Column('finished_at', agency_common.db.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    op.create_table('individual_import_rows',
    sa.Column('import_id', sa.String(length=36), nullable=False),
    sa.Column('line', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('individual_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('cells_enc', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('import_id', 'line')
    )
    with op.batch_alter_table('individual_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_individual_imports_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('individual_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_individual_imports_status'))

    op.drop_table('individual_import_rows')
    op.drop_table('individual_imports')
