"""The platform as one application: the launcher behind ``make run``, the demo dataset and the AsyncAPI
export. It knows every service; ``agency_common`` knows none."""
