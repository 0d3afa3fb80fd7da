"""How the package is housed: no import circles (TYPE_CHECKING ones included), and an app
whose screens are plain classes (no mixin stubs) in modules a reader can take in.

The graph is read from the source (`ast`), not by importing: a circle held together by
`if TYPE_CHECKING:` imports is still one for a reader. Imports inside functions (the lazy ones
that keep torch out of the first frame) are not edges of it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "spectui"
APP_MODULE_LINES = 400  # a module of the app past this wants to be two


def modules() -> dict[str, Path]:
    """Every module of spectui by dotted name (a package by its own name)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def module_level(body: Iterable[ast.stmt]) -> Iterable[ast.Import | ast.ImportFrom]:
    """The imports run when a module is imported or type-checked (not those in functions)."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            yield from module_level(node.body)
            yield from module_level(node.orelse)
        elif isinstance(node, ast.Try):
            yield from module_level(node.body)
            for handler in node.handlers:
                yield from module_level(handler.body)
            yield from module_level(node.finalbody)


def import_graph() -> dict[str, set[str]]:
    """Each module's spectui imports: the module named, or its package if it names a member."""
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in module_level(ast.parse(path.read_text()).body):
            if isinstance(node, ast.Import):
                graph[name].update(alias.name for alias in node.names if alias.name in known)
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in known or base in known:
                    graph[name].add(target if target in known else base)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_reader_finds_a_circle_when_there_is_one() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_spectui_is_in_an_import_circle() -> None:
    graph = import_graph()
    assert "spectui.app.screens.decode.painter" in graph["spectui.app.screens.decode.screen"]
    assert circles(graph) == []


def test_the_app_has_no_stub_for_another_class_to_fill_in() -> None:
    stubs = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in (PACKAGE / "app").rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "NotImplementedError" in line
    ]
    assert stubs == []


def test_the_app_modules_are_short_enough_to_read() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): lines
        for path in (PACKAGE / "app").rglob("*.py")
        if (lines := len(path.read_text().splitlines())) >= APP_MODULE_LINES
    }
    assert long == {}


def constants(path: Path) -> set[str]:
    """The upper-case names a module assigns at module level (its constants)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        names.update(t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper())
    return names


def test_the_app_paces_itself_from_one_module() -> None:
    """Step speeds, holds, rests and redraw intervals are all in `app/pacing.py`, each beside
    the measurement that chose it: none is defined again (or anew) elsewhere in the app."""
    pacing = PACKAGE / "app" / "pacing.py"
    paced = constants(pacing)
    assert {"SPEEDS", "BATCHES_AHEAD", "KEY_HOLD", "ROUND_REST", "SWITCH_INTERVAL"} <= paced
    assert {"REDRAW_INTERVAL", "FAST_REDRAW_INTERVAL", "FULL_REDRAW_INTERVAL"} <= paced
    elsewhere = {
        f"{path.relative_to(PACKAGE.parent)}: {name}"
        for path in (PACKAGE / "app").rglob("*.py")
        if path != pacing
        for name in constants(path)
        if name in paced or name.endswith(("_INTERVAL", "_HOLD", "_REST", "_SPEED", "SPEEDS"))
    }
    assert elsewhere == set()


def test_a_tree_root_has_one_id_and_the_engine_defines_it() -> None:
    """`ROOT` (a node's parent when it hangs from the last committed token) is the engine's
    tree shape's; the app's views and widgets import it rather than say -1 again."""
    defined = sorted(
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if "ROOT" in constants(path)
    )
    assert defined == ["spectui/engine/tree/shape.py"]
