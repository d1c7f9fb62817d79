"""policy terms with their own totals; agency commission estimated and billed; a carrier's default rate

Every existing policy gets its terms: the per-term premiums postings left (policy_term_premiums,
which this replaces), or else one term of its own dates and totals. Each term's estimated agency
commission is its annualized premium (the policy's estimated premium when none) times the
policy's commission rate; the billed commission of earlier postings was never kept (NULL). The
policy then shows its current (latest) term: its dates and totals. Done in chunks of policies, in
Python (money is integer cents on SQLite, NUMERIC on PostgreSQL: the column types convert).

Revision ID: 0010
Revises: 0009
"""
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import agency_common.db.types
import sqlalchemy as sa
import sqlmodel
from agency_common.money import round_money
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 5000


def _money(name: str) -> sa.ColumnClause:
    return sa.column(name, agency_common.db.types.ExactDecimal(scale=2, precision=18))


POLICIES = sa.table(
    'policies', sa.column('id', sa.String()), sa.column('effective_date', sa.Date()),
    sa.column('expiration_date', sa.Date()), _money('estimated_premium'), _money('annualized_premium'),
    _money('billed_premium'), sa.column('commission_rate', agency_common.db.types.ExactDecimal(scale=6, precision=18)),
    _money('estimated_agency_commission'))
OLD_TERMS = sa.table(
    'policy_term_premiums', sa.column('id', sa.Integer()), sa.column('policy_id', sa.String()),
    sa.column('term_start', sa.Date()), sa.column('term_end', sa.Date()), _money('annualized'), _money('billed'))
TERMS = sa.table(
    'policy_terms', sa.column('policy_id', sa.String()), sa.column('effective_date', sa.Date()),
    sa.column('expiration_date', sa.Date()), _money('annualized_premium'), _money('billed_premium'),
    _money('estimated_agency_commission'), _money('billed_agency_commission'))


def _estimate(premium: Decimal | None, rate: Decimal | None) -> Decimal | None:
    return None if premium is None or rate is None else round_money(premium * rate)


def _move_policies_to_terms(conn: sa.Connection) -> None:
    last = ''
    while True:
        policies = conn.execute(sa.select(POLICIES).where(POLICIES.c.id > last).order_by(POLICIES.c.id)
                                .limit(CHUNK)).mappings().all()
        if not policies:
            return
        last = policies[-1]['id']
        ids = [p['id'] for p in policies]
        old: dict[str, list[dict]] = {}
        for row in conn.execute(sa.select(OLD_TERMS).where(OLD_TERMS.c.policy_id.in_(ids))
                                .order_by(OLD_TERMS.c.id)).mappings():
            old.setdefault(row['policy_id'], []).append(dict(row))
        terms, updates = [], []
        for p in policies:
            rate = p['commission_rate']
            mine = [{'policy_id': p['id'], 'effective_date': t['term_start'], 'expiration_date': t['term_end'],
                     'annualized_premium': t['annualized'], 'billed_premium': t['billed'],
                     'estimated_agency_commission': _estimate(t['annualized'], rate),
                     'billed_agency_commission': None} for t in old.get(p['id'], [])]
            if not mine:
                basis = p['annualized_premium'] if p['annualized_premium'] is not None else p['estimated_premium']
                mine = [{'policy_id': p['id'], 'effective_date': p['effective_date'],
                         'expiration_date': p['expiration_date'], 'annualized_premium': p['annualized_premium'],
                         'billed_premium': p['billed_premium'], 'estimated_agency_commission': _estimate(basis, rate),
                         'billed_agency_commission': None}]
            terms += mine
            current = max(mine, key=lambda t: (t['effective_date'] or date.min, t['expiration_date'] or date.min))
            updates.append({'b_id': p['id'], 'b_effective_date': current['effective_date'],
                            'b_expiration_date': current['expiration_date'],
                            'b_annualized_premium': current['annualized_premium'],
                            'b_billed_premium': current['billed_premium'],
                            'b_estimated_agency_commission': current['estimated_agency_commission']})
        conn.execute(sa.insert(TERMS), terms)
        conn.execute(sa.update(POLICIES).where(POLICIES.c.id == sa.bindparam('b_id')).values(
            {c: sa.bindparam(f'b_{c}', type_=POLICIES.c[c].type) for c in (
                'effective_date', 'expiration_date', 'annualized_premium', 'billed_premium',
                'estimated_agency_commission')}), updates)


def upgrade() -> None:
    op.create_table('policy_terms',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('policy_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=True),
    sa.Column('expiration_date', sa.Date(), nullable=True),
    sa.Column('annualized_premium', agency_common.db.types.ExactDecimal(scale=2, precision=18), nullable=True),
    sa.Column('billed_premium', agency_common.db.types.ExactDecimal(scale=2, precision=18), nullable=True),
    sa.Column('estimated_agency_commission', agency_common.db.types.ExactDecimal(scale=2, precision=18), nullable=True),
    sa.Column('billed_agency_commission', agency_common.db.types.ExactDecimal(scale=2, precision=18), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('carrier_profiles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('default_commission_rate', agency_common.db.types.ExactDecimal(scale=6, precision=18), nullable=True))

    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('estimated_agency_commission', agency_common.db.types.ExactDecimal(scale=2, precision=18), nullable=True))
        batch_op.add_column(sa.Column('billed_agency_commission', agency_common.db.types.ExactDecimal(scale=2, precision=18), nullable=True))

    _move_policies_to_terms(op.get_bind())
    # the index after the rows: one build instead of one update per row
    with op.batch_alter_table('policy_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_terms_policy_id'), ['policy_id'], unique=False)

    with op.batch_alter_table('policy_term_premiums', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_term_premiums_policy_id'))

    op.drop_table('policy_term_premiums')


def downgrade() -> None:
    op.create_table('policy_term_premiums',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('policy_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('term_start', sa.Date(), nullable=True),
    sa.Column('term_end', sa.Date(), nullable=True),
    sa.Column('annualized', agency_common.db.types.ExactDecimal(scale=2, precision=18), nullable=False),
    sa.Column('billed', agency_common.db.types.ExactDecimal(scale=2, precision=18), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('policy_term_premiums', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_term_premiums_policy_id'), ['policy_id'], unique=False)
    # the terms postings touched (the same storage per database on both sides)
    op.execute("INSERT INTO policy_term_premiums (policy_id, term_start, term_end, annualized, billed) "
               "SELECT policy_id, effective_date, expiration_date, COALESCE(annualized_premium, 0), "
               "COALESCE(billed_premium, 0) FROM policy_terms "
               "WHERE annualized_premium IS NOT NULL OR billed_premium IS NOT NULL ORDER BY id")

    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_column('billed_agency_commission')
        batch_op.drop_column('estimated_agency_commission')

    with op.batch_alter_table('carrier_profiles', schema=None) as batch_op:
        batch_op.drop_column('default_commission_rate')

    with op.batch_alter_table('policy_terms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_terms_policy_id'))

    op.drop_table('policy_terms')
