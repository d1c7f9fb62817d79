from alembic import context

from agency_common.db.migrate import run_env
from appointments.gateway.models import metadata

run_env(context, metadata)
