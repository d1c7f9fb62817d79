"""The appointments report and its export."""
