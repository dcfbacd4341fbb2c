"""Dependencies one way (issue 12), read from the source with `ast`: every import counts, those
inside functions too, but for the receivers an AppConfig.ready() connects (Django's place)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("webapp", "gallery", "jobs")


def modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                parts = path.relative_to(ROOT).with_suffix("").parts
                found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def imported(name: str, path: Path) -> set[str]:
    """What `name` imports: modules of the three apps by name, others by their top package.

    `from webapp import counters` is an edge to webapp.counters alone (as in the Celery docs,
    webapp/__init__.py loads the Celery app; that is not the importer's doing)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST, in_ready: bool) -> None:
        for child in ast.iter_child_nodes(node):
            ready = in_ready or (isinstance(child, ast.FunctionDef) and child.name == "ready")
            if path.name == "apps.py" and in_ready:
                pass  # receivers connected in AppConfig.ready(), Django's documented place
            elif isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    kept = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*kept, base]).strip(".")
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    found.add(full if full in MODULES else base)
            visit(child, ready)

    visit(ast.parse(path.read_text()), False)
    return {known(target) or target.split(".")[0] for target in found}


def known(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


GRAPH = {name: imported(name, path) - {name} for name, path in MODULES.items()}


def reached(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in GRAPH.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def is_models(name: str) -> bool:
    return (
        name == "gallery.models" or name.startswith("gallery.models.") or name.endswith(".models")
    )


def test_the_import_graph_has_no_cycle():
    cycles = sorted(name for name in GRAPH if name in reached(name))
    assert cycles == []


def test_no_gallery_module_imports_celery_or_the_tasks():
    found = sorted(
        name
        for name, targets in GRAPH.items()
        if name.startswith("gallery") and targets & {"celery", "jobs.tasks"}
    )
    assert found == []


def test_no_gallery_models_module_reaches_jobs_sending_or_celery():
    # Models may read two leaves of jobs that reach nothing else: the catalog (their data)
    # and the database lock two beats share (jobs.locks).
    for name in filter(is_models, GRAPH):
        if name.startswith("gallery"):
            bad = {t for t in reached(name) if t == "celery" or t.startswith("jobs.")}
            assert bad <= {"jobs.catalog", "jobs.locks"}, name


def test_jobs_reaches_no_gallery_module_but_the_models():
    for name, targets in GRAPH.items():
        if name.startswith("jobs"):
            gallery = {t for t in targets if t.startswith("gallery")}
            assert all(map(is_models, gallery)), (name, gallery)
