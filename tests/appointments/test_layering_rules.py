"""appointments' layering (issue 14), read from the source (pure, no service): capabilities import only
lower ones, nothing imports a router but the app, domain modules import no database, web or
messaging code, the gateway (its own process) and the service share nothing, and no import of appointments hides inside a function (the old way round a cycle)."""

from __future__ import annotations

from tests.support.layering import Layering

LAYERS = Layering(
    "appointments",
    order=["bulk_appoint", "batches", "terminations", "transactions", "producers", "portals", "report",
           "reference_data"],
    independent=frozenset(frozenset(p) for p in (
        ("bulk_appoint", "batches"), ("bulk_appoint", "terminations"), ("batches", "terminations"),
        ("portals", "report"), ("portals", "reference_data"), ("report", "reference_data"))),
    floor=frozenset({"models", "errors", "sql", "bulk_files", "domain", "responses", "web", "settings"}),
    apart=frozenset({"gateway"}),  # the NIPR gateway: its own process, sharing nothing with the service
)


def test_capabilities_import_only_lower_ones() -> None:
    assert LAYERS.upward_imports() == []


def test_only_the_app_imports_a_router() -> None:
    assert LAYERS.router_imports() == []


def test_domain_modules_are_pure() -> None:
    assert LAYERS.impure_domain_imports() == []


def test_no_import_of_appointments_inside_a_function() -> None:
    assert LAYERS.imports_inside_functions() == []
