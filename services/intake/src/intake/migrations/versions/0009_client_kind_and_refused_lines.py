"""clients classified as person or organisation; the lines a Create Policies session refused

Clients created before have no kind (NULL): nothing here guesses it for them.

Revision ID: 0009
Revises: 0008
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))

    with op.batch_alter_table('policy_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refused', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('policy_sessions', schema=None) as batch_op:
        batch_op.drop_column('refused')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('kind')

