"""The import paths modules had before the tree was re-laid into its layers, kept working.

``from momentstream.engine import Engine`` still works: importing an old path gives a stand-in
module whose every name is the new module's own object (the same class, not a copy), with a
:class:`DeprecationWarning` naming where it moved. Nothing in momentstream imports an old path
(a test checks); the map exists for code written against the earlier tree.

>>> import sys, warnings
>>> _ = sys.modules.pop("momentstream.engine", None)  # imported before? then import it afresh
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     from momentstream.engine import Engine as OldEngine
>>> from momentstream.core.engine import Engine
>>> OldEngine is Engine, "momentstream.core.engine" in str(caught[0].message)
(True, True)
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from collections.abc import Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from typing import Any

__all__ = ["MOVED", "install"]

MOVED: dict[str, str] = {
    "momentstream.argtypes": "momentstream.cli.argtypes",
    "momentstream.clock": "momentstream.core.clock",
    "momentstream.customer_view": "momentstream.core.customer_view",
    "momentstream.demo": "momentstream.cli.demo",
    "momentstream.demo_discovery": "momentstream.cli.demo_discovery",
    "momentstream.demo_loop": "momentstream.cli.demo_loop",
    "momentstream.discover_cli": "momentstream.cli.discover",
    "momentstream.engine": "momentstream.core.engine",
    "momentstream.engine_checks": "momentstream.core.engine_config",
    "momentstream.engine_identity": "momentstream.core.identity.steps",
    "momentstream.identity": "momentstream.core.identity",
    "momentstream.inspect_cli": "momentstream.cli.inspect",
    "momentstream.kafka_cli": "momentstream.cli.kafka",
    "momentstream.profile_cli": "momentstream.cli.profile",
    "momentstream.resources": "momentstream.data",
    "momentstream.runtime.batch_worker": "momentstream.runtime.kafka.batch_worker.worker",
    "momentstream.runtime.batching": "momentstream.runtime.kafka.batch_worker.batching",
    "momentstream.runtime.changelog_table": "momentstream.runtime.kafka.batch_worker.changelog_table",
    "momentstream.runtime.client_config": "momentstream.runtime.kafka.batch_worker.client_config",
    "momentstream.runtime.devbroker": "momentstream.devtools.broker",
    "momentstream.runtime.devcluster": "momentstream.devtools.cluster",
    "momentstream.runtime.devsecure": "momentstream.devtools.secure_broker",
    "momentstream.runtime.faust_app": "momentstream.runtime.kafka.faust_worker.app",
    "momentstream.runtime.inspect_page": "momentstream.runtime.kafka.inspect_page",
    "momentstream.runtime.kafka_access": "momentstream.runtime.kafka.access",
    "momentstream.runtime.kafka_admin": "momentstream.runtime.kafka.admin",
    "momentstream.runtime.kafka_io": "momentstream.runtime.kafka.io",
    "momentstream.runtime.local_store": "momentstream.runtime.kafka.batch_worker.local_store",
    "momentstream.runtime.model_gauges": "momentstream.runtime.kafka.model_gauges",
    "momentstream.runtime.moment_registry": "momentstream.runtime.kafka.moment_registry",
    "momentstream.runtime.processor": "momentstream.runtime.kafka.processor",
    "momentstream.runtime.producer_flush": "momentstream.runtime.kafka.faust_worker.producer_flush",
    "momentstream.runtime.resume_after_seek": "momentstream.runtime.kafka.faust_worker.resume_after_seek",
    "momentstream.runtime.routing": "momentstream.runtime.kafka.routing",
    "momentstream.runtime.runner": "momentstream.runtime.kafka.runner",
    "momentstream.runtime.segment_roll": "momentstream.runtime.kafka.batch_worker.segment_roll",
    "momentstream.runtime.stored": "momentstream.runtime.kafka.stored",
    "momentstream.runtime.wallclock": "momentstream.runtime.kafka.wallclock",
    "momentstream.runtime.web": "momentstream.runtime.kafka.web",
    "momentstream.schema": "momentstream.core.schema",
    "momentstream.schema_files": "momentstream.core.schema_files",
    "momentstream.shadow_cli": "momentstream.cli.shadow",
    "momentstream.state": "momentstream.core.state",
    "momentstream.state_budget": "momentstream.core.state_budget",
    "momentstream.step": "momentstream.core.step",
    "momentstream.suppress_cli": "momentstream.cli.suppress",
    "momentstream.textable": "momentstream.ops.textable",
    "momentstream.triggers.loop_spec": "momentstream.patterns.loop_spec",
    "momentstream.triggers.quiet_hours": "momentstream.patterns.quiet_hours",
    "momentstream.uplift_cli": "momentstream.cli.uplift",
    "momentstream.vocabulary": "momentstream.discovery.vocabulary",
}
"""Old module path -> the module now holding the same names."""


class _StandIn(types.ModuleType):
    """An old path: every attribute read is the moved module's."""

    def __init__(self, name: str, target: types.ModuleType) -> None:
        super().__init__(name, target.__doc__)
        self.__all__ = list(getattr(target, "__all__", []))
        self._moved_to = target

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._moved_to, attr)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self._moved_to)) | set(super().__dir__()))


class _OldPaths(MetaPathFinder, Loader):
    """Finds an old path only after the real finders found nothing there."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> ModuleSpec | None:
        return ModuleSpec(fullname, self) if fullname in MOVED else None

    def create_module(self, spec: ModuleSpec) -> types.ModuleType:
        new = MOVED[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; import from there", DeprecationWarning, stacklevel=2)
        return _StandIn(spec.name, importlib.import_module(new))

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the stand-in reads the moved module."""


def install() -> None:
    """Put the old paths behind the real finders (once per process)."""
    if not any(isinstance(finder, _OldPaths) for finder in sys.meta_path):
        sys.meta_path.append(_OldPaths())
