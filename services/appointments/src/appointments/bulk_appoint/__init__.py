"""Bulk appoint: requests or a file, now or as a background job."""
