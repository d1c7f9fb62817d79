from agency_common.web.pages import DashboardUser, dashboard_user, page_permission, render
from agency_common.web.runtime import ServiceRuntime

__all__ = ["DashboardUser", "ServiceRuntime", "dashboard_user", "page_permission", "render"]
