"""Producers: onboarding, license sync, the producer view."""
