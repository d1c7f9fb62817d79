from agency_common.db.migrate import run_env
from alembic import context
from appointments.gateway.models import metadata

run_env(context, metadata)
