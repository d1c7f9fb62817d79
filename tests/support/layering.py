"""A service's layering read from its source (pure, no service running): the rules each service's
``test_layering_rules.py`` states with its own capability order."""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass, field
from pathlib import Path

NOT_IN_DOMAIN = ("sqlalchemy", "sqlmodel", "fastapi", "starlette", "aiokafka", "faststream", "agency_common.db",
                 "agency_common.outbox", "agency_common.messaging", "agency_common.web")
TOP = frozenset({"app", "__main__", "consumers"})


@dataclass(frozen=True)
class Layering:
    package: str
    order: list[str]  # capabilities, highest first: one may import those after it
    floor: frozenset[str]  # below every capability; imports only the floor
    independent: frozenset[frozenset[str]] = frozenset()  # pairs that never import each other
    apart: frozenset[str] = frozenset()  # parts that share nothing with the rest (a process of its own)
    top: frozenset[str] = field(default=TOP)

    def modules(self) -> dict[str, ast.Module]:
        root = Path(importlib.import_module(self.package).__file__).parent  # type: ignore[arg-type]
        out = {}
        for path in root.rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__")
            out[name] = ast.parse(path.read_text())
        return out

    def imported(self, tree: ast.Module) -> set[str]:
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                if node.module == self.package:  # from <package> import models
                    names.update(f"{self.package}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        return names

    def own(self, name: str) -> bool:
        return name.startswith(self.package + ".")

    @staticmethod
    def part(module: str) -> str:
        """<package>.statements.imports → statements; <package>.app → app."""
        return module.split(".")[1] if "." in module else ""

    def may_import(self, src: str, dst: str) -> bool:
        if src in self.apart or dst in self.apart:
            return src == dst
        if src == dst or dst in self.floor or src in self.top:
            return True
        if src in self.floor:
            return dst in self.floor
        if dst in self.top or dst not in self.order:
            return False
        if frozenset({src, dst}) in self.independent:
            return False
        return self.order.index(dst) > self.order.index(src)

    def upward_imports(self) -> list[str]:
        return sorted(f"{m} imports {i}" for m, tree in self.modules().items() for i in self.imported(tree)
                      if self.own(i) and not self.may_import(self.part(m), self.part(i)))

    def router_imports(self) -> list[str]:
        """Imports of an ``api`` or ``dashboard`` module by anything but the app."""
        app = f"{self.package}.app"
        return sorted(f"{m} imports {i}" for m, tree in self.modules().items() for i in self.imported(tree)
                      if self.own(i) and i.rsplit(".", 1)[-1] in ("api", "dashboard") and m != app)

    def impure_domain_imports(self) -> list[str]:
        banned = (*NOT_IN_DOMAIN, f"{self.package}.models")
        return sorted(f"{m} imports {i}" for m, tree in self.modules().items() if ".domain" in m
                      for i in self.imported(tree) if i.startswith(banned) or (self.own(i) and ".domain" not in i))

    def imports_inside_functions(self) -> list[str]:
        wrong = []
        for m, tree in self.modules().items():
            for fn in ast.walk(tree):
                if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                    wrong += [f"{m}.{fn.name}" for node in ast.walk(fn) if isinstance(node, ast.ImportFrom)
                              and (node.module or "").startswith(self.package)]
        return wrong
