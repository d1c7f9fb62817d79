from alembic import context

from agency_common.db.migrate import run_env
from invoicing.models import metadata

run_env(context, metadata)
