"""One ``do_*`` per change, whoever asks for it: the store's writers listed
(``store/changes.py``) against the functions the store has, each writing the table it
names, and no change (nor audit action) written by two of them."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from collections import Counter
from types import ModuleType

import store
from store.changes import CHANGES
from store.models import Base


def _modules() -> dict[str, ModuleType]:
    names = [m.name for m in pkgutil.iter_modules(store.__path__) if m.name != "migrations"]
    return {name: importlib.import_module(f"store.{name}") for name in names}


MODULES = _modules()


def _writers() -> set[str]:
    """Every ``do_*`` the store defines (a change made from outside the store)."""
    return {
        f"{name}.{attribute}"
        for name, module in MODULES.items()
        for attribute, value in vars(module).items()
        if attribute.startswith("do_")
        and inspect.isfunction(value)
        and value.__module__ == module.__name__
    }


def _reach(module: ModuleType, function: str) -> str:
    """The source of a function and of the module's own functions and statements it
    uses, transitively: what it writes may be built by a helper."""
    tree = ast.parse(inspect.getsource(module))
    defined = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assigned = {
        target.id: node
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    seen, todo, parts = set(), [function], []
    while todo:
        name = todo.pop()
        if name in seen or (name not in defined and name not in assigned):
            continue
        seen.add(name)
        node = defined.get(name) or assigned[name]
        parts.append(ast.unparse(node))
        todo.extend(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
    return "\n".join(parts)


def test_every_writer_is_listed_once() -> None:
    listed = [function for _, function in CHANGES]
    assert [f for f, n in Counter(listed).items() if n > 1] == [], "one change per do_*"
    assert set(listed) == _writers(), "list a new do_* in store/changes.py (one line)"


def test_no_change_has_two_writers() -> None:
    changes = [change for change, _ in CHANGES]
    assert [c for c, n in Counter(changes).items() if n > 1] == []


def test_each_writer_writes_the_table_it_names() -> None:
    classes = {m.local_table.name: m.class_.__name__ for m in Base.registry.mappers}
    for (table, change), function in CHANGES:
        module_name, name = function.split(".")
        source = _reach(MODULES[module_name], name)
        named = (classes[table], f'"{table}"', f"'{table}'", f"{table}.c.", f"_{table.upper()}")
        assert any(word in source for word in named), (change, function, table)


def test_each_audit_action_is_written_by_one_change() -> None:
    """The audit's actions say which change was made: each by one function only (those
    named by a helper, like ``supervisor_added``, are its callers' own words)."""
    writers: dict[str, list[str]] = {}
    for name, module in MODULES.items():
        tree = ast.parse(textwrap.dedent(inspect.getsource(module)))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and ast.unparse(call.func) == "audit.record"
                    and isinstance(call.args[3], ast.Constant)
                ):
                    writers.setdefault(call.args[3].value, []).append(f"{name}.{node.name}")
    assert {"tag_added", "canned_added", "canned_removed", "hours"} <= set(writers)
    assert {a: w for a, w in writers.items() if len(w) > 1} == {}
