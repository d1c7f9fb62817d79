from pathlib import Path

from agency_common.cli import service_main

from appointments.gateway.app import create_app
from appointments.gateway.settings import GatewaySettings

if __name__ == "__main__":
    service_main(GatewaySettings, create_app, Path(__file__).parent / "migrations")
