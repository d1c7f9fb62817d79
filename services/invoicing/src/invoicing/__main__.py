from pathlib import Path

from agency_common.cli import service_main

from invoicing.app import create_app
from invoicing.settings import InvoicingSettings

if __name__ == "__main__":
    service_main(InvoicingSettings, create_app, Path(__file__).parent / "migrations")
