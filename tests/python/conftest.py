"""The Python suite's harness: the generated bindings (ffi/bindings/python) loaded with
the real libfieldbook_ffi next to them, and a live fieldbook-scenario-server (the same
seeded server the Kotlin suite uses). Run through scripts/test-python."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("FIELDBOOK_TARGET", ROOT / "target" / "debug"))


@pytest.fixture(scope="session")
def fieldbook(tmp_path_factory):
    """The `fieldbook_ffi` module, loading the library built by cargo."""
    where = tmp_path_factory.mktemp("bindings")
    shutil.copy(ROOT / "ffi" / "bindings" / "python" / "fieldbook_ffi.py", where)
    lib = "libfieldbook_ffi.dylib" if sys.platform == "darwin" else "libfieldbook_ffi.so"
    shutil.copy(TARGET / lib, where)
    sys.path.insert(0, str(where))
    import fieldbook_ffi

    return fieldbook_ffi


class ScenarioServer:
    """A real sync server on loopback, seeded with the demo company."""

    def __init__(self, directory):
        self.process = subprocess.Popen(
            [str(TARGET / "fieldbook-scenario-server"), str(directory), "20"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = json.loads(self.process.stdout.readline())["url"]

    def command(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        assert "error" not in answer, answer
        return answer

    def token(self, person, role="rep", name="演示手机"):
        return self.command(f"token {person} {role} {name}")["token"]

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path):
    s = ScenarioServer(tmp_path / "server")
    yield s
    s.close()
