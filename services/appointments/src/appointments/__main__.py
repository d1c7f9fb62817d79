from pathlib import Path

from agency_common.cli import service_main

from appointments.app import create_app
from appointments.settings import AppointmentsSettings

if __name__ == "__main__":
    service_main(AppointmentsSettings, create_app, Path(__file__).parent / "migrations")
