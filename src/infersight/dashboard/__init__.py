"""The web dashboard served by the gateway process: JSON API under /api/v1 and pages at /."""

from infersight.dashboard.app import create_dashboard
from infersight.dashboard.auth import DashboardAccessError, check_dashboard_access

__all__ = ["DashboardAccessError", "check_dashboard_access", "create_dashboard"]
