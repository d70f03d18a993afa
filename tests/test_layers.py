"""The layers import only downward (CONTRIBUTING.md), analysis and knowledge read no machine, and
collection stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "memsleuth"

#: the bottom: standard library only
_BASE = {"keys", "errors", "units"}
#: what the machine-reading layers below analysis may use
_MACHINE = _BASE | {"host", "sources", "snapshot", "store"}
#: what sits below the front ends
_CORE = _MACHINE | {"metrics", "analysis", "knowledge", "trace", "collect"}

#: layer -> layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "version": set(),
    "errors": set(),
    "units": set(),
    "keys": set(),
    "metrics": {"keys"},
    "host": _BASE,
    "sources": _BASE,
    "snapshot": _BASE | {"host", "sources"},
    "store": _BASE | {"host", "sources", "snapshot"},
    # analysis and knowledge read no machine: no host, no store (see also the I/O test below)
    "analysis": _BASE | {"snapshot", "sources"},
    "trace": _BASE | {"host", "sources"},
    "knowledge": _BASE | {"analysis", "snapshot", "sources"},
    "collect": _MACHINE | {"metrics", "analysis", "knowledge", "trace"},
    # the front ends: each renders the DiagnosisReport; none imports another (nor views)
    "views": _BASE | {"host", "sources", "snapshot", "store", "analysis", "knowledge"},
    "exporter": _CORE,
    "fleet": _CORE,
    "report": _CORE,
    "cli": _CORE | {"views", "exporter", "fleet", "report", "__init__"},
    "__init__": _BASE | {"host", "snapshot"},
    "__main__": {"cli"},
}


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imported(path: Path) -> tuple[set[str], bool]:
    """Every module ``path`` imports (``from a import b`` gives ``a`` and ``a.b``), anywhere in it,
    and whether it calls the builtin ``open()``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    calls_open = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module != "memsleuth":  # ``from memsleuth import keys`` imports the keys layer
                names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            calls_open = True
    return names, calls_open


def _imports(path: Path) -> set[str]:
    """The memsleuth layers ``path`` imports."""
    out: set[str] = set()
    for name in _imported(path)[0]:
        parts = name.split(".")
        if parts[0] == "memsleuth":
            out.add(parts[1] if len(parts) > 1 else "__init__")
    return out


def test_every_layer_imports_only_downward() -> None:
    violations = []
    files = sorted(SRC.rglob("*.py"))
    assert files, "no sources found"
    for path in files:
        layer = _layer(path)
        allowed = ALLOWED.get(layer)
        assert allowed is not None, f"{path}: layer {layer!r} is not in the table"
        for target in _imports(path) - {layer, "version"}:
            if target not in allowed:
                violations.append(f"{path.relative_to(SRC)} imports memsleuth.{target}")
    assert not violations, "upward imports:\n" + "\n".join(violations)


def test_sources_use_only_the_standard_library() -> None:
    stdlib = set(sys.stdlib_module_names)
    for path in sorted((SRC / "sources").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module.split(".")[0]]
            else:
                continue
            for mod in mods:
                assert mod in stdlib or mod == "memsleuth", f"{path.name} imports {mod}"


def test_the_layer_checker_catches_an_upward_import(tmp_path: Path) -> None:
    # a probe outside src/: a file in the tree would fail everyone else's run while it exists
    bad = tmp_path / "probe.py"
    bad.write_text("from memsleuth.cli.main import main\n")
    assert "cli" in _imports(bad)
    assert "cli" not in ALLOWED["sources"]


#: layers that read nothing themselves: the machine reaches them as data (through collect/)
PURE = ("analysis", "knowledge")
#: modules that open files, run programs or talk to the network
IO_MODULES = frozenset({"os", "subprocess", "shutil", "pathlib", "sqlite3", "socket",
                        "importlib.resources"})
#: modules of PURE layers not yet moved out, relative to src/memsleuth; empty them, don't grow them
PENDING_MOVE: frozenset[str] = frozenset()


def _io_uses(path: Path) -> set[str]:
    """The I/O modules ``path`` imports (anywhere in it), and ``open()`` if it calls the builtin."""
    names, calls_open = _imported(path)
    out = {m for name in names for m in (name.split(".")[0], ".".join(name.split(".")[:2]))
           if m in IO_MODULES}
    return out | ({"open()"} if calls_open else set())


def test_analysis_and_knowledge_read_no_machine() -> None:
    assert all((SRC / rel).is_file() for rel in PENDING_MOVE), "a moved module is still in PENDING_MOVE"
    violations = []
    for layer in PURE:
        for path in sorted((SRC / layer).rglob("*.py")):
            rel = str(path.relative_to(SRC))
            if rel in PENDING_MOVE:
                continue
            violations += [f"{rel}: {use}" for use in sorted(_io_uses(path))]
    assert not violations, "I/O in a pure layer (move it to collect/):\n" + "\n".join(violations)


#: what a pure layer may take from snapshot/: the data model, never capture (which reads the host)
PURE_SNAPSHOT_MODULES = frozenset({"memsleuth.snapshot.model"})


def _snapshot_imports(path: Path) -> set[str]:
    """What ``path`` takes from snapshot/ besides the model (``from a import b`` names count under
    ``a``)."""
    return {n for n in _imported(path)[0] if n.startswith("memsleuth.snapshot")
            and not any(n == m or n.startswith(m + ".") for m in PURE_SNAPSHOT_MODULES)}


def test_analysis_and_knowledge_take_only_the_snapshot_model() -> None:
    violations = [f"{path.relative_to(SRC)} imports {m}"
                  for layer in PURE for path in sorted((SRC / layer).rglob("*.py"))
                  for m in sorted(_snapshot_imports(path))]
    assert not violations, "a pure layer reaches the machine through snapshot/:\n" + "\n".join(violations)


def test_the_snapshot_checker_catches_capture(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text("def f(h):\n    from memsleuth.snapshot.capture import capture\n    return capture(h)\n"
                   "from memsleuth.snapshot.model import Snapshot\n")
    assert _snapshot_imports(bad) == {"memsleuth.snapshot.capture", "memsleuth.snapshot.capture.capture"}


def test_the_io_checker_catches_imports_and_open(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text("import os.path\nfrom importlib import resources\nfrom pathlib import Path\n"
                   "def f():\n    import sqlite3\n    return open('/proc/meminfo')\n")
    assert _io_uses(bad) == {"os", "importlib.resources", "pathlib", "sqlite3", "open()"}
    fine = tmp_path / "fine.py"
    fine.write_text("import importlib\nimport tarfile\nfrom memsleuth.host import Host\n"
                    "Host.open(None)\ntarfile.open('x')\n")
    assert _io_uses(fine) == set()


def test_collection_path_does_not_import_rich_or_numpy() -> None:
    code = (
        "import sys\n"
        "from memsleuth import Host, capture\n"
        "capture(Host.open())\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'numpy'))\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"collection imported: {out.stdout.strip()}"


def test_record_does_not_import_rich_numpy_or_analysis(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    code = (
        "import sys\n"
        "from memsleuth.cli.main import main\n"
        f"rc = main(['record', '--db', {str(db)!r}, '--count', '1', '--interval', '0.01'])\n"
        "assert rc == 0, rc\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'numpy')\n"
        "               or m.startswith(('memsleuth.analysis', 'memsleuth.views')))\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"record imported: {out.stdout.strip()}"
    assert db.exists()
