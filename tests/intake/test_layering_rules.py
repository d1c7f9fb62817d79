"""intake's layering (issue 14), read from the source (pure, no service): capabilities import only
lower ones, nothing imports a router but the app, domain modules import no database, web or
messaging code, and no import of intake hides inside a function (the old way round a cycle)."""

from __future__ import annotations

from tests.support.layering import Layering

LAYERS = Layering(
    "intake",
    order=["policy_sessions", "policies", "statements", "individuals", "carriers"],
    independent=frozenset({frozenset({"statements", "individuals"})}),  # neither imports the other
    floor=frozenset({"models", "errors", "chunking", "domain", "responses", "web", "settings"}),
)


def test_capabilities_import_only_lower_ones() -> None:
    assert LAYERS.upward_imports() == []


def test_only_the_app_imports_a_router() -> None:
    assert LAYERS.router_imports() == []


def test_domain_modules_are_pure() -> None:
    assert LAYERS.impure_domain_imports() == []


def test_no_import_of_intake_inside_a_function() -> None:
    assert LAYERS.imports_inside_functions() == []
