"""invoicing's layering (issue 14), read from the source (pure, no service): capabilities import only
lower ones, nothing imports a router but the app, domain modules import no database, web or
messaging code, and no import of invoicing hides inside a function (the old way round a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import invoicing

ROOT = Path(invoicing.__file__).parent
# highest first; a capability may import those after it (the floor below them all)
# (by the life of a reconciliation: opened, its statement entry, invoiced, paid, the stages over them)
ORDER = ["reports", "stages", "payments", "invoices", "statement_entry", "reconciliations", "policy_view"]
INDEPENDENT: set[frozenset[str]] = set()
FLOOR = {"models", "errors", "tables", "domain", "web", "responses", "settings"}
TOP = {"app", "__main__", "consumers"}
NOT_IN_DOMAIN = ("sqlalchemy", "sqlmodel", "fastapi", "starlette", "aiokafka", "faststream", "agency_common.db",
                 "agency_common.outbox", "agency_common.messaging", "agency_common.web", "invoicing.models")


def modules() -> dict[str, ast.Module]:
    out = {}
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        out[name] = ast.parse(path.read_text())
    return out


def imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def part(module: str) -> str:
    """invoicing.stages.jobs → stages; invoicing.app → app."""
    return module.split(".")[1] if "." in module else ""


def may_import(src: str, dst: str) -> bool:
    if src == dst or dst in FLOOR or src in TOP:
        return True
    if src in FLOOR:
        return dst in FLOOR
    if dst in TOP or dst not in ORDER:
        return False
    if frozenset({src, dst}) in INDEPENDENT:
        return False
    return ORDER.index(dst) > ORDER.index(src)


def test_capabilities_import_only_lower_ones() -> None:
    wrong = sorted(f"{m} imports {i}" for m, tree in modules().items() for i in imported(tree)
                   if i.startswith("invoicing.") and not may_import(part(m), part(i)))
    assert wrong == []


def test_only_the_app_imports_a_router() -> None:
    def router(name: str) -> bool:
        return name.rsplit(".", 1)[-1] in ("api", "dashboard")
    wrong = sorted(f"{m} imports {i}" for m, tree in modules().items() for i in imported(tree)
                   if i.startswith("invoicing.") and router(i) and m != "invoicing.app")
    assert wrong == []


def test_domain_modules_are_pure() -> None:
    wrong = sorted(f"{m} imports {i}" for m, tree in modules().items() if ".domain" in m
                   for i in imported(tree) if i.startswith(NOT_IN_DOMAIN)
                   or (i.startswith("invoicing.") and ".domain" not in i))
    assert wrong == []


def test_no_import_of_invoicing_inside_a_function() -> None:
    wrong = []
    for m, tree in modules().items():
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                wrong += [f"{m}.{fn.name}" for node in ast.walk(fn) if isinstance(node, ast.ImportFrom)
                          and (node.module or "").startswith("invoicing")]
    assert wrong == []
