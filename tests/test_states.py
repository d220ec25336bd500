"""Run states are RunState members in engine/ and desktop/, never bare string literals."""

from __future__ import annotations

import ast
from pathlib import Path

from engine.states import RunState

ROOT = Path(__file__).resolve().parents[1]
WORDS = frozenset(s.value for s in RunState)
STATE_KEYWORDS = ("state", "status")
# Other vocabularies that share a word with RunState ("error" is also a notice level).
OTHER_VOCABULARIES = ("level", "kind")


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _state_words(node: ast.AST | None) -> list[ast.Constant]:
    """The state words `node` evaluates to: itself, a conditional's branches, or a
    tuple/set/list's items (as in `x in ("running", "paused")`)."""
    if isinstance(node, ast.Constant):
        return [node] if isinstance(node.value, str) and node.value in WORDS else []
    if isinstance(node, ast.IfExp):
        return _state_words(node.body) + _state_words(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [c for v in node.values for c in _state_words(v)]
    if isinstance(node, (ast.Tuple, ast.Set, ast.List)):
        return [c for e in node.elts for c in _state_words(e)]
    return []


def state_literals(source: str, filename: str = "<source>") -> list[str]:
    """`line: word` for each state word used as a bare string: compared with something,
    assigned, or passed as a state=/status= keyword argument."""
    found: list[ast.Constant] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if not any(_name(o).endswith(OTHER_VOCABULARIES) for o in operands):
                found += [c for o in operands for c in _state_words(o)]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            found += _state_words(node.value)
        elif isinstance(node, ast.keyword) and node.arg in STATE_KEYWORDS:
            found += _state_words(node.value)
        elif isinstance(node, ast.arguments):  # default values of parameters named state/status
            args = [*node.posonlyargs, *node.args]
            pairs = list(zip(args[len(args) - len(node.defaults) :], node.defaults))
            pairs += [(a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults) if d is not None]
            found += [c for a, d in pairs if a.arg in STATE_KEYWORDS for c in _state_words(d)]
    return [f"{c.lineno}: {c.value!r}" for c in sorted(found, key=lambda c: c.lineno)]


def test_the_scanner_finds_each_kind_of_bare_state():
    source = (
        "a = 'finished'\n"
        "b: str = 'running'\n"
        "if x.state == 'diverged': pass\n"
        "if s in ('paused', 'stopped'): pass\n"
        "c = 'removed' if y else 'building'\n"
        "Event('r', state='replay')\n"
        "def f(status='cancelled'): pass\n"
        "states[k] = 'error'\n"
    )
    assert len(state_literals(source)) == 10
    assert state_literals("if level == 'error': pass\nnotice.emit(m, 'error')\nd = {'finished': True}\n") == []


def test_no_run_state_as_a_bare_string_in_engine_or_desktop():
    offenders = []
    for path in sorted([*(ROOT / "engine").rglob("*.py"), *(ROOT / "desktop").rglob("*.py")]):
        if path == ROOT / "engine" / "states.py":
            continue
        rel = path.relative_to(ROOT)
        offenders += [f"{rel}:{hit}" for hit in state_literals(path.read_text(), str(path))]
    assert not offenders, "use RunState members:\n" + "\n".join(offenders)
