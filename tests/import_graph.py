"""Reading a package's imports from its source, for the import-layer tests (web apps and tuner rooms).

Every import counts, at module level and inside functions (a function-local import is still a dependency,
only a later one); imports under `if TYPE_CHECKING:` are annotations, not run, and do not count.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def module_name(path: Path, package_dir: Path) -> str:
    """'webapp.jobs.views' for webapp/jobs/views.py; a package's __init__.py is the package itself."""
    parts = path.relative_to(package_dir.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """(imported name, line) for every import that runs, wherever it is in the file. `from a import b`
    yields 'a.b': b may be a submodule."""
    package = module if is_package else module.rpartition(".")[0]
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno
        stack.extend(ast.iter_child_nodes(node))


def package_imports(package_dir: Path) -> Iterator[tuple[str, Path, str, int]]:
    """(importing module, its file, imported name, line) for every import in every module of a package."""
    for path in sorted(package_dir.rglob("*.py")):
        module = module_name(path, package_dir)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for imported, line in imports(tree, module, path.name == "__init__.py"):
            yield module, path, imported, line
