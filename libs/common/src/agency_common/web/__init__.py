from agency_common.web.routes import DashboardUser, dashboard_user, render
from agency_common.web.runtime import ServiceRuntime

__all__ = ["DashboardUser", "ServiceRuntime", "dashboard_user", "render"]
