"""invoicing's layering (issue 14), read from the source (pure, no service): capabilities import only
lower ones, nothing imports a router but the app, domain modules import no database, web or
messaging code, and no import of invoicing hides inside a function (the old way round a cycle)."""

from __future__ import annotations

from tests.support.layering import Layering

# by the life of a reconciliation: opened, its statement entry, invoiced, paid, the stages over them
LAYERS = Layering(
    "invoicing",
    order=["reports", "stages", "payments", "invoices", "statement_entry", "reconciliations", "policy_view"],
    floor=frozenset({"models", "errors", "tables", "domain", "web", "responses", "settings"}),
)


def test_capabilities_import_only_lower_ones() -> None:
    assert LAYERS.upward_imports() == []


def test_only_the_app_imports_a_router() -> None:
    assert LAYERS.router_imports() == []


def test_domain_modules_are_pure() -> None:
    assert LAYERS.impure_domain_imports() == []


def test_no_import_of_invoicing_inside_a_function() -> None:
    assert LAYERS.imports_inside_functions() == []
