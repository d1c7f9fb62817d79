"""bulk updates in place on PostgreSQL: no updated column indexed, room on each page

Post, Select All, Pay and Select All Rows rewrite every row of a reconciliation. With ``status`` and
``selected`` in an index and full pages, each of those rows cost PostgreSQL a new tuple on another page
plus an entry in every index of the table (6 on invoice); with no updated column indexed and half-full
pages they are HOT updates (same page, no index entries): Post of 100,000 invoices 2.3 s → 0.26 s.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 17:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50  # one more version of every row fits its page; pruning frees it before the next


def upgrade() -> None:
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_rec_status')
        batch_op.create_index('ix_invoice_reconciliation_id', ['reconciliation_id'], unique=False)
    with op.batch_alter_table('statement_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_entry_rec_selected')
    if op.get_bind().dialect.name == 'postgresql':  # applies to the pages written from now on
        for table in ('invoice', 'statement_entry'):
            op.execute(f'ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in ('invoice', 'statement_entry'):
            op.execute(f'ALTER TABLE {table} RESET (fillfactor)')
    with op.batch_alter_table('statement_entry', schema=None) as batch_op:
        batch_op.create_index('ix_entry_rec_selected', ['reconciliation_id', 'selected'], unique=False)
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_reconciliation_id')
        batch_op.create_index('ix_invoice_rec_status', ['reconciliation_id', 'status'], unique=False)
