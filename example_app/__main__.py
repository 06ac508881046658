"""``python -m example_app``: the demo launcher (see ``example_app.demo``)."""

from __future__ import annotations

from .demo import main

main()
