"""The tree is the architecture: layers that import only downwards, no import circle, small modules.

Every module of ``src/momentstream`` belongs to one layer of :data:`LAYERS` (a new module must pick
one); an import, at module level, inside a function or for type checking alike, may point to its own
layer or a lower one. The map in ``docs/architecture.md`` draws the same layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from momentstream.legacy_paths import MOVED

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("values the core shares", ("momentstream.core", "momentstream.core.events", "momentstream.core.trigger_record",
                                "momentstream.core.audit", "momentstream.core.schema", "momentstream.core.schema_files",
                                "momentstream.core.clock", "momentstream.core.state", "momentstream.core.state_budget",
                                "momentstream.data")),
    ("moments language", ("momentstream.patterns",)),
    ("models", ("momentstream.models",)),
    ("triggers", ("momentstream.triggers",)),
    ("engine", ("momentstream.core.engine", "momentstream.core.engine_config", "momentstream.core.step",
                "momentstream.core.identity", "momentstream.core.customer_view")),
    ("ops", ("momentstream.ops",)),
    ("replay runtime", ("momentstream.runtime", "momentstream.runtime.replay")),
    ("discovery and simulators", ("momentstream.discovery", "momentstream.journeys", "momentstream.sim")),
    ("spark runtime", ("momentstream.spark",)),
    ("kafka runtime", ("momentstream.runtime.kafka",)),
    ("commands", ("momentstream.cli", "momentstream.__main__")),
    ("development tools", ("momentstream.devtools",)),
    ("public facade", ("momentstream", "momentstream.legacy_paths")),
)  # fmt: skip
"""Lowest first. The engine sits above the three packages whose work it orders, the values they share below them."""

CLIENT_LIBRARIES = ("faust", "mode", "kafka", "confluent_kafka", "aiokafka", "prometheus_client", "rocksdict", "docker",
                    "pyspark")  # fmt: skip
"""Only ops, the Kafka and Spark runtimes, the commands and the development tools may import these."""
CLIENT_LAYERS = ("ops", "spark runtime", "kafka runtime", "commands", "development tools")
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "momentstream").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every module ``name`` imports (momentstream's own resolved to the deepest module), with its line."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                inner = f"{base}.{alias.name}"
                yield (inner if inner in MODULES or inner in MOVED else base), node.lineno


def _own(target: str) -> str | None:
    """The momentstream module an import names (a name inside a module counts as the module)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def layer_of(module: str) -> int:
    best, rank = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    if rank < 0:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {__file__}")
    return rank


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for target, _ in _imports(name, path):
            own = _own(target) if target.startswith("momentstream") else None
            if own is not None and own != name:
                edges[name].add(own)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root, targets in edges.items():
        if root in index:
            continue
        work = [(root, iter(sorted(targets)))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_module_has_a_layer() -> None:
    for name in MODULES:
        layer_of(name)


def test_imports_point_down_only() -> None:
    upward = []
    for name, path in MODULES.items():
        for target, line in _imports(name, path):
            own = _own(target) if target.startswith("momentstream") else None
            if own is not None and layer_of(own) > layer_of(name):
                upward.append(f"{path.relative_to(ROOT)}:{line} {name} ({LAYERS[layer_of(name)][0]}) imports "
                              f"{own} ({LAYERS[layer_of(own)][0]})")  # fmt: skip
    assert not upward, "\n".join(upward)


def test_no_import_circle() -> None:
    assert _cycles(_graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_kafka_faust_and_prometheus_stay_in_the_runtimes() -> None:
    found = []
    for name, path in MODULES.items():
        if LAYERS[layer_of(name)][0] in CLIENT_LAYERS:
            continue
        for target, line in _imports(name, path):
            if target.split(".")[0] in CLIENT_LIBRARIES:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not found, "\n".join(found)


PURE_LAYERS = ("values the core shares", "moments language", "models", "triggers", "engine")
WRITES = frozenset({"print", "open", "write_text", "write_bytes", "mkdir", "unlink", "rmtree"})


def test_the_core_and_its_parts_write_nothing() -> None:
    """(state, event) -> (state, outputs) and nothing else: files, terminals and sockets belong to the layers above."""
    found = []
    for name, path in MODULES.items():
        if LAYERS[layer_of(name)][0] not in PURE_LAYERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if called in WRITES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {called}()")
    assert not found, "\n".join(found)


def test_product_code_never_imports_the_development_tools() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for name, path in MODULES.items()
        if not name.startswith("momentstream.devtools")
        for target, line in _imports(name, path)
        if target.startswith("momentstream.devtools")
    ]
    assert not found


def test_no_module_is_longer_than_500_lines() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


@pytest.mark.parametrize("folder", ["src", "tests", "benchmarks", "examples"])
def test_nothing_here_imports_an_old_path(folder: str) -> None:
    old = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        if path.name == "test_legacy_paths.py":  # imports the old paths on purpose
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            old += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n in MOVED]
    assert not old, "\n".join(old)
