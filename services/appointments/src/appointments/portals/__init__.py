"""Portals: seats and invites, the invite mail."""
