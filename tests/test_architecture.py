"""The shape of app/ and transports/ (docs/architecture.md): no import
circles (imports under ``if TYPE_CHECKING:`` count: they are dependencies
too, and the circles they hid are what the core's Context, the SessionHost
and the Scheduler protocols replaced), the core never imports a dialect nor
the edge, transports/ never imports app/, modules under ~500 lines, loggers
under ``sockhub.*``; and the rest of issue 12's rules: only the composition
knows the concrete node, Tornado's internals are touched in their adapter
only, one publish path and engines wrapped (not subclassed or inspected),
one class per name, section references that resolve, no cost figures in
docstrings, and a map that names every core module and dialect.  Each check
was seen failing on a probe (see the commits that added it)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500


PACKAGES = ("app", "transports")


def _modules(packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    found = {}
    for path in sorted(p for package in packages for p in (ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imported(path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules an absolute import anywhere in ``path`` names (a name
    imported from a package counts as its submodule when it is one)."""
    edges: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                edges.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names)
    return edges


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports, wherever the import statement is."""
    return {name: {edge for edge in _imported(path, modules) if edge in modules and edge != name}
            for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles() -> None:
    graph = _imports(_modules())
    assert "transports.session" in graph and "app.core.node" in graph
    assert _cycles(graph) == []


def test_the_circle_check_sees_type_checking_imports(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from transports.b import B\n")
    modules = {"transports.a": tmp_path / "a.py", "transports.b": tmp_path / "b.py"}
    assert "transports.b" in _imported(tmp_path / "a.py", modules)
    assert _cycles({"transports.a": {"transports.b"}, "transports.b": {"transports.a"}}) == [
        ["transports.a", "transports.b"]]


def test_transports_never_imports_app() -> None:
    modules = _modules()
    offenders = {name: sorted(m for m in _imported(path, modules) if m == "app" or m.startswith("app."))
                 for name, path in modules.items() if name.startswith("transports")}
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_core_imports_no_dialect_and_no_edge() -> None:
    graph = _imports(_modules())
    allowed = ("app.core", "app.options", "transports")  # transports knows nothing of app
    for module, imported in graph.items():
        if module.startswith("app.core"):
            outside = {m for m in imported if not m.startswith(allowed) and m != "app"}
            assert outside == set(), f"{module} imports {outside}"
        if module.startswith("app.engines"):  # engines implement the core's seam
            assert not {m for m in imported if m.startswith(("app.dialects", "app.node", "app.server"))}


def test_modules_stay_small() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_loggers_are_under_sockhub() -> None:
    for name, path in _modules().items():
        if name == "app.logs":  # sets the "sockhub" and "tornado" loggers up
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "getLogger" and node.args:
                arg = node.args[0]
                assert isinstance(arg, ast.Constant) and str(arg.value).startswith(("sockhub.", "tornado")), \
                    f"{name}: logger {ast.unparse(arg)}"


def test_imports_are_absolute() -> None:
    """The import graph above reads absolute imports only: a relative one
    would be a dependency the circle check does not see."""
    relative = [f"{name}:{node.lineno}" for name, path in _modules().items()
                for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom) and node.level]
    assert relative == []


#: The composition: the only modules that may know the concrete node.  Every
#: other object gets what it uses through a declared Protocol (app.core.context
#: Context, the dialects' contexts, app.admin AdminNode, app.emulation_http
#: EmulationNode), never the node itself: a service locator hides the real
#: dependencies and makes circles.
COMPOSITION = {"app.node", "app.server"}


def test_only_the_composition_knows_the_concrete_node() -> None:
    graph = _imports(_modules())
    knowing = {name for name, imported in graph.items() if imported & {"app.node", "app.core.node"}}
    assert "app.server" in knowing  # the check sees the composition itself
    assert knowing - COMPOSITION == set()


#: The one module that may touch Tornado's internals (its docstring says why
#: each; tests/transports/test_tornado_compat.py fails when one moves).
TORNADO_ADAPTER = "transports.tornado_compat"


def _tornado_private_names() -> set[str]:
    """Every ``_name`` (not dunder) Tornado's own source reads, writes or defines."""
    import tornado

    names: set[str] = set()
    for path in Path(tornado.__file__).parent.rglob("*.py"):
        if "test" in path.relative_to(Path(tornado.__file__).parent).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "name", None)
            if isinstance(name, str) and name.startswith("_") and not name.startswith("__"):
                names.add(name)
    return names


def _tornado_base_privates(cls: type) -> set[str]:
    """The ``_names`` of the Tornado classes in ``cls``'s MRO (what a
    subclass touches, or overrides, by using one of them on ``self``)."""
    import inspect

    names: set[str] = set()
    for base in cls.__mro__:
        if not base.__module__.startswith("tornado"):
            continue
        names |= {name for name in vars(base) if name.startswith("_") and not name.startswith("__")}
        for node in ast.walk(ast.parse(inspect.getsource(base))):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                names.add(node.attr)
    return names


def _tornado_touches(name: str, path: Path, private: set[str]) -> set[str]:
    """Where module ``name`` touches a Tornado internal: ``obj._x`` on
    anything but ``self``/``cls``, ``getattr(obj, "_x")``, and, in a class
    deriving from a Tornado class, ``self._x`` or ``def _x`` naming one of
    that base's own internals."""
    import importlib

    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in private
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
            found.add(f"{name}:{node.lineno} {ast.unparse(node)}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) > 1
              and isinstance(node.args[1], ast.Constant) and node.args[1].value in private):
            found.add(f"{name}:{node.lineno} {ast.unparse(node)}")
    module = importlib.import_module(name)
    for cls_node in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        cls = getattr(module, cls_node.name, None)
        if not isinstance(cls, type) or not any(b.__module__.startswith("tornado") for b in cls.__mro__):
            continue
        inherited = _tornado_base_privates(cls)
        for node in ast.walk(cls_node):
            touched = node.attr if isinstance(node, ast.Attribute) else getattr(node, "name", None)
            if isinstance(node, (ast.Attribute, ast.FunctionDef, ast.AsyncFunctionDef)) and touched in inherited:
                found.add(f"{name}:{node.lineno} {cls_node.name}.{touched}")
    return found


def test_tornado_internals_are_touched_in_the_adapter_only() -> None:
    modules = _modules()
    private = _tornado_private_names()
    # the check sees what the adapter does (else it could pass by seeing nothing)
    adapter = {touch.split(" ", 1)[1] for touch in _tornado_touches(TORNADO_ADAPTER, modules[TORNADO_ADAPTER], private)}
    assert {"getattr(stream, '_read_buffer', b'')", "handler._finished",
            "ContentTypeOn204._clear_representation_headers"} <= adapter
    outside = set().union(*(_tornado_touches(name, path, private) for name, path in modules.items()
                            if name != TORNADO_ADAPTER and not name.endswith("_pb2")))
    assert outside == set(), f"Tornado internals outside {TORNADO_ADAPTER}: add an accessor there"


#: Section references (``docs/protocol-1x.md §4.5``, ``docs/protocol-v2.md
#: §3.1``) in the code and the web pages we write (not the npm files copied
#: in, nor protoc's output).  The spec the code cites is in the repository
#: (issue 12): nothing points outside it, whatever the note.
SECTION_REF = re.compile(r"([\w./-]+\.md),?\s+§\s?(\d+(?:\.\d+)*)")
ANY_SECTION = re.compile(r"([\w./-]+\.md,?\s+)?§\s?(\d+(?:\.\d+)*)")
#: Sections of a standard, not of ours (``RFC 7518 §3.2``).
STANDARD_SECTION = re.compile(r"\bRFC\s?\d+\s+§\s?\d+(?:\.\d+)*")
COPIED = ("app/static/js/", "app/static/uplot/", "transports/clientjs/")
#: The notes shared with the project, outside the tree (``../shared/*.md``);
#: the spec pages in docs/ say the same in our words.
OUTSIDE_NOTE = re.compile(r"\bshared/[\w.-]+\.md|\bPROTOCOL\.md")
#: The spec pages the code cites by section.
SPEC_PAGES = ("docs/protocol-1x.md", "docs/protocol-v1.md", "docs/protocol-v2.md")


def _headings(doc: Path) -> set[str]:
    """The section numbers of ``doc``'s headings (``## 4.`` and ``### 4.5 ...``)."""
    return {m.group(1) for m in re.finditer(r"^#+ (\d+(?:\.\d+)*)\.? ", doc.read_text(), re.MULTILINE)}


def _cited_sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*")
                  if p.suffix in (".py", ".js", ".html", ".proto") and p.is_file()
                  and not p.name.endswith(("_pb2.py", ".min.js"))
                  and not str(p.relative_to(ROOT)).startswith(COPIED))


def _section_faults(where: str, text: str, headings: dict[str, set[str]]) -> tuple[int, list[str]]:
    """How many references ``text`` makes, and what is wrong with them.  A
    ``<file>.md §N`` names a file of the repository with a heading numbered
    N; a bare ``§N`` is a section of the page named last before it (or, at
    the top of a module, of the first page the module names)."""
    text = STANDARD_SECTION.sub("", text)
    named = SECTION_REF.findall(text)
    current = named[0][0] if named else None
    bad: list[str] = []
    count = 0
    for m in ANY_SECTION.finditer(text):
        count += 1
        doc = m.group(1).rstrip(", \t\n").strip() if m.group(1) else current
        section = m.group(2)
        if doc is None:
            bad.append(f"{where}: §{section} names no page: write docs/<page>.md §{section}")
            continue
        current = doc
        if doc not in headings:
            target = (ROOT / doc).resolve()
            inside = target.is_relative_to(ROOT) and target.is_file()
            headings[doc] = _headings(target) if inside else set()
            if not inside:
                bad.append(f"{where}: {doc} is no file of the repository")
                continue
        if section not in headings[doc]:
            bad.append(f"{where}: {doc} has no section {section}")
    return count, bad


def test_section_references_point_into_the_repository() -> None:
    """Every ``<file>.md §N`` in app/ and transports/ names a page of the
    repository with a heading numbered N, and every bare ``§N`` a section
    of the page named before it; nothing cites the notes outside the tree
    (../shared/), and the spec pages keep the sections the code cites."""
    headings = {page: _headings(ROOT / page) for page in SPEC_PAGES}
    bad: list[str] = []
    cited = 0
    for path in _cited_sources():
        text = path.read_text(errors="replace")
        where = str(path.relative_to(ROOT))
        if OUTSIDE_NOTE.search(text):
            bad.append(f"{where}: cites a note outside the tree: cite docs/protocol-*.md")
        count, faults = _section_faults(where, text, headings)
        cited += count
        bad += faults
    assert cited > 100  # the check reads the references it is about
    assert all(headings[page] for page in SPEC_PAGES)
    assert bad == []


def test_section_check_sees_what_is_wrong() -> None:
    """The check itself, on probes: a page outside the tree, a section a
    page lacks, a bare § after another page, a bare § with no page."""
    headings = {page: _headings(ROOT / page) for page in SPEC_PAGES}
    probes = {
        "(shared/CENTRIFUGAL.md §1.4)": "is no file of the repository",
        "(../shared/CENTRIFUGAL.md §1.4)": "is no file of the repository",
        "(docs/protocol-v2.md §99)": "has no section 99",
        "(docs/protocol-v2.md §9.1; docs/protocol-v1.md §2, §9.1)": "protocol-v1.md has no section 9.1",
        "(§4.3)": "names no page",
    }
    assert OUTSIDE_NOTE.search("(../shared/CENTRIFUGAL.md)") and OUTSIDE_NOTE.search("PROTOCOL.md §4")
    for probe, fault in probes.items():
        _, faults = _section_faults("probe", probe, dict(headings))
        assert any(fault in f for f in faults), (probe, faults)
    assert _section_faults("probe", "(docs/protocol-v2.md §3.1, §7; RFC 7518 §3.2)", dict(headings)) == (2, [])


#: A cost figure (``8.4 µs/msg``, ``120 ns``) goes stale with the next change;
#: the bench reports it (bench/, README Performance), the code names the
#: scenario that measures it.
COST_FIGURE = re.compile(r"\d\s*(?:µs|μs|ns|usec)\b")


def test_no_cost_figures_in_docstrings_or_comments() -> None:
    import io
    import tokenize

    found = []
    for name, path in _modules().items():
        if name.endswith("_pb2"):
            continue
        source = path.read_text()
        texts = [(tok.start[0], tok.string) for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                 if tok.type == tokenize.COMMENT]
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False)
                if doc:
                    texts.append((getattr(node, "lineno", 1), doc))
        found += [f"{name}:{line}: {COST_FIGURE.search(text).group()}"  # type: ignore[union-attr]
                  for line, text in texts if COST_FIGURE.search(text)]
    assert found == []


#: Class names several modules may define: none (issue 12: one class per
#: name; each dialect's wire classes carry its prefix, V1Method beside
#: app.dialects.v2.commands.Method).
PARALLEL_NAMES: dict[str, set[str]] = {}


def test_one_class_per_name() -> None:
    defined: dict[str, set[str]] = {}
    for name, path in _modules().items():
        if name.endswith("_pb2"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                defined.setdefault(node.name, set()).add(name)
    # the names issue 12 found meaning two or three things
    assert "ApiExecutor" not in defined and "PublishParams" not in defined
    assert defined["Session"] == {"transports.session"} and defined["HttpError"] == {"app.core.errors"}
    shared = {name: modules for name, modules in defined.items() if len(modules) > 1}
    assert shared == PARALLEL_NAMES


def test_the_map_names_every_core_module_and_dialect() -> None:
    """docs/architecture.md, the map of these arrows, names each module of
    the core and each dialect package (a new one goes on the map)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    modules = _modules()
    core = {name.rsplit(".", 1)[1] for name in modules if name.startswith("app.core.")}
    dialects = {name.split(".")[2] for name in modules if name.count(".") >= 2 and name.startswith("app.dialects.")}
    assert {"node", "publisher", "status"} <= core and {"v1x", "v2", "choose"} <= dialects
    missing = {f"app/core/{m}.py" for m in core if f"{m}.py" not in text}
    missing |= {f"app/dialects/{d}" for d in dialects if f"{d}/" not in text and f"{d}.py" not in text}
    assert missing == set()


#: The engine calls that publish: app.core.publisher.Publisher is THE publish
#: path (it decides once whether the engine is an ImmediateEngine); the
#: engines implement them.
PUBLISH_CALLS = {"publish_message", "publish_message_now", "publish_admin", "publish_admin_now"}


def test_one_publish_path() -> None:
    callers = set()
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in PUBLISH_CALLS):
                callers.add(name)
    assert "app.core.publisher" in callers
    assert {c for c in callers if not c.startswith("app.engines.")} == {"app.core.publisher"}


def test_tests_wrap_engines_instead_of_subclassing_them() -> None:
    """A test double forwards to a real engine (tests/app/conftest.py
    WrappedEngine) and lacks what it does not forward, so production code
    never inspects an engine's class to spot one."""
    engines = {"MemoryEngine", "RedisEngine", "Engine"}
    subclasses = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
                if bases & engines:
                    subclasses.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert subclasses == []
    # ... and the core and the engines ask an engine what it can do
    # (ImmediateEngine, StatusEngine), never what class it is
    inspecting = []
    for name, path in _modules().items():
        if not name.startswith(("app.core", "app.engines")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("__class__", "__subclasses__", "__mro__"):
                inspecting.append(f"{name}:{node.lineno} {ast.unparse(node)}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id in ("type", "isinstance", "issubclass")
                  and any(isinstance(arg, ast.Name) and arg.id in engines | {"self"} for arg in node.args)):
                inspecting.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    assert inspecting == []
