"""The committed generated code is exactly what the pinned grpcio-tools generates from the .proto files."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

from .conftest import REPO

PROTO_DIR = REPO / "proto"


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "estate" / "v1").glob("*.proto"))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", str(PROTO_DIR), f"--python_out={tmp_path}",
                    f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", *protos], check=True)
    fresh = sorted(p.name for p in (tmp_path / "estate" / "v1").iterdir())
    committed = sorted(p.name for p in (PROTO_DIR / "estate" / "v1").iterdir()
                       if p.name.endswith(("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")))
    assert fresh == committed, "generated files differ in name: run `make proto`"
    _, mismatch, errors = filecmp.cmpfiles(tmp_path / "estate" / "v1", PROTO_DIR / "estate" / "v1", fresh,
                                           shallow=False)
    assert not mismatch and not errors, f"stale generated code {mismatch or errors}: run `make proto`"
