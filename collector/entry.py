"""The estate-collector command's entry point: a clear one-line error when the [collector] extra is missing.

The agent installs without DuckDB, pyarrow and the rest; without this, `estate-collector --help` on
an agent-only install ends in a ModuleNotFoundError traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# Modules of the [collector] extra (import names), checked before anything imports them.
COLLECTOR_MODULES = ("duckdb", "pyarrow", "cryptography")


def missing_modules() -> list[str]:
    from importlib.util import find_spec

    return [name for name in COLLECTOR_MODULES if find_spec(name) is None]


def main(argv: Sequence[str] | None = None) -> int:
    missing = missing_modules()
    if missing:
        print(f"estate-collector: needs the [collector] extra (missing {', '.join(missing)}): "
              "pip install 'legacy-estate[collector]'", file=sys.stderr)
        return 2
    from estate.collector.cli import main as collector_main

    return collector_main(argv)


if __name__ == "__main__":
    sys.exit(main())
