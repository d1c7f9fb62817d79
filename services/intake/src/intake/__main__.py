from pathlib import Path

from agency_common.cli import service_main

from intake.app import create_app
from intake.settings import IntakeSettings

if __name__ == "__main__":
    service_main(IntakeSettings, create_app, Path(__file__).parent / "migrations")
