"""Bulk terminate: the termination file and manual tasks."""
