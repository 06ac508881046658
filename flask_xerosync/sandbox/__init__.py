"""A local, faithful fake of Xero (identity + an Accounting API subset) for tests and demos.

``XeroSandbox`` runs it in-process; ``SandboxControl`` drives any running sandbox
over HTTP. Names are resolved lazily so importing this package (as the pytest
plugin does in every test run) stays cheap and has no side effects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .control import SandboxControl, SandboxError
    from .server import XeroSandbox

__all__ = ["SandboxControl", "SandboxError", "XeroSandbox"]


def __getattr__(name: str) -> Any:
    if name == "XeroSandbox":
        from .server import XeroSandbox

        return XeroSandbox
    if name in ("SandboxControl", "SandboxError"):
        from . import control

        return getattr(control, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
