import subprocess
import sys


def test_import_emoscope_loads_no_training_or_server_stack():
    code = ("import sys, emoscope; emoscope.Analyzer; import emoscope.cli; "
            "heavy = [m for m in ('torch', 'fastapi', 'dask', 'matplotlib', 'sklearn') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_analyzing_an_image_never_imports_torch(tmp_path):
    from conftest import EXAMPLE

    code = (f"import sys, emoscope; emoscope.Analyzer('haar').analyze({str(EXAMPLE)!r}); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def _imports(lazy: bool) -> dict[str, set[str]]:
    """Each module of emoscope -> the emoscope modules it imports (type-checking ones too; with ``lazy``,
    also those inside functions)."""
    import ast
    from pathlib import Path

    import emoscope

    root = Path(emoscope.__file__).parent
    names = {}
    for path in root.rglob("*.py"):
        parts = ("emoscope", *path.relative_to(root).with_suffix("").parts)
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def statements(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not lazy:
                continue
            yield node
            yield from statements(ast.iter_child_nodes(node))

    graph = {}
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        edges = set()
        for node in statements(ast.parse(path.read_text()).body):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
                submodules = {f"{module}.{alias.name}" for alias in node.names} & names.keys()
                edges |= submodules or {module}
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
                edges |= {m for m in modules if m in names}
        graph[name] = edges - {name}
    return graph


def test_no_module_imports_itself_through_others():
    """Imports inside functions count too: a lazy import that closes a cycle still ties the modules together."""
    graph = _imports(lazy=True)
    done, path = set(), []

    def visit(module):
        assert module not in path, "import cycle: " + " -> ".join(path[path.index(module):] + [module])
        if module in done:
            return
        path.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_only_the_command_line_imports_the_web_package_from_outside_it():
    importers = {module for module, imported in _imports(lazy=True).items()
                 if any(m == "emoscope.web" or m.startswith("emoscope.web.") for m in imported)}
    assert {m for m in importers if not m.startswith("emoscope.web")} <= {"emoscope.cli", "emoscope.cli_stream"}


def test_the_class_report_page_needs_no_server_stack():
    code = ("import sys, emoscope.web.class_page; "
            "print(','.join(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_no_module_is_over_400_lines():
    """A module past 400 lines is doing two jobs (the architecture issue's rule): split it by job."""
    from pathlib import Path

    import emoscope

    root = Path(emoscope.__file__).parent
    long = {str(p.relative_to(root)): n for p in root.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
