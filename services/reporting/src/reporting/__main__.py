from pathlib import Path

from agency_common.cli import service_main

from reporting.app import create_app
from reporting.settings import ReportingSettings

if __name__ == "__main__":
    service_main(ReportingSettings, create_app, Path(__file__).parent / "migrations")
