"""The house's dependency order (DESIGN.md): wire → esp → ppp → l2tp → ike → aaa/pki →
dataplane → gateway → tap/cli/manhole. Every import in pixgw/ (function-local ones too: they
must not hide a cycle) goes to its own layer or one to its left; the sans-I/O cores import no
reactor, socket, clock or os. Reads the source with ast; no import is executed. Under 1 s."""

from __future__ import annotations

import ast
from pathlib import Path

PIXGW = Path(__file__).resolve().parents[2] / "pixgw"

# leftmost first; a module may import its own layer and those before it
LAYERS = ("base", "esp", "ppp", "l2tp", "ike", "aaa/pki", "dataplane", "gateway", "top")
_PACKAGE_LAYER = {
    # the foundation every layer uses: codec errors, snapshots, the config model, the syslog
    # publisher, deadlines, the driver of a core on a reactor (for the shells), crash-safe files
    "wire": "base", "status": "base", "config": "base", "syslog": "base", "deadlines": "base",
    "driver": "base", "files": "base",
    "esp": "esp", "ppp": "ppp", "l2tp": "l2tp", "ike": "ike",
    "aaa": "aaa/pki", "pki": "aaa/pki",
    "plugins": "aaa/pki",  # the AAA backends' plugin namespace (twisted.plugin)
    "dataplane": "dataplane",
    "gateway": "gateway", "links": "gateway", "pool": "gateway", "logrouter": "gateway",
    # the wiring and the faces: tap, aaa_seam, view, cli, manhole, command, systemd, testing
}
CORES = ("esp", "ppp", "l2tp", "ike")
SHELLS = {"pixgw.ike.transport", "pixgw.l2tp.transport"}
NOT_IN_CORES = ("twisted.internet", "socket", "time", "os", "asyncio", "select")


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2:
        return "base"
    return _PACKAGE_LAYER.get(parts[1], "top")


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PIXGW.rglob("*.py")):
        parts = path.relative_to(PIXGW.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out.append((name, path))
    return out


def imports(path: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
    return found


def test_no_module_imports_a_layer_above_its_own() -> None:
    against = []
    for name, path in modules():
        mine = LAYERS.index(layer_of(name))
        for imported, line in imports(path):
            if imported.split(".")[0] != "pixgw":
                continue
            theirs = LAYERS.index(layer_of(imported))
            if theirs > mine:
                against.append(f"{name}:{line} ({LAYERS[mine]}) imports {imported} "
                               f"({LAYERS[theirs]})")
    assert against == []


def test_the_cores_are_sans_io() -> None:
    against = []
    for name, path in modules():
        if layer_of(name) not in CORES or name in SHELLS:
            continue
        for imported, line in imports(path):
            if any(imported == bad or imported.startswith(bad + ".") for bad in NOT_IN_CORES):
                against.append(f"{name}:{line} imports {imported}")
    assert against == []


def test_the_check_can_fail() -> None:
    """The rules above would see an arrow the wrong way and a core reaching for the reactor."""
    assert LAYERS.index(layer_of("pixgw.esp.sa")) < LAYERS.index(layer_of("pixgw.ike.events"))
    assert layer_of("pixgw.tap") == "top" and layer_of("pixgw.gateway") == "gateway"
    tree = "from twisted.internet import reactor\nimport pixgw.gateway\n"
    assert [m for m, _ in _imports_of_text(tree)] == ["twisted.internet", "pixgw.gateway"]


def _imports_of_text(text: str) -> list[tuple[str, int]]:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(text)
    try:
        return imports(Path(f.name))
    finally:
        Path(f.name).unlink()
