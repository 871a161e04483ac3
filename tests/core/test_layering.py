"""The package's imports read top to bottom: no cycle (lazy imports inside
functions included), data/ and modeling/ never import each other (what they
share sits below both), and no module imports a layer above its own."""
import ast
import os

import pytest

PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "mrcnn")

# Bottom to top; a module belongs to the longest prefix that names it.
LAYERS = (
    ("mrcnn", "mrcnn.errors", "mrcnn.config", "mrcnn.albumentations_list", "mrcnn.boxes",
     "mrcnn.backbones", "mrcnn.anchors", "mrcnn.image_meta", "mrcnn.outlines"),
    ("mrcnn.data", "mrcnn.modeling", "mrcnn.coco_report", "mrcnn.coco_eval",
     "mrcnn.evaluation", "mrcnn.evaluation_plots", "mrcnn.weights", "mrcnn.visualize"),
    ("mrcnn.training",),
    ("mrcnn.model", "mrcnn.export", "mrcnn.graph_inspection"),
    ("mrcnn.commands", "mrcnn.serving"),
    # matterport's mrcnn.utils gathers names from every layer.
    ("mrcnn.cli", "mrcnn.utils"),
)


def modules():
    """{module name: file path} of every module of the package."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, os.path.dirname(PACKAGE))[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                found[".".join(parts)] = path
    return found


MODULES = modules()


def imported(module):
    """The package's modules that `module` imports, anywhere in its file."""
    path = MODULES[module]
    package = module if path.endswith("__init__.py") else module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    out = set()
    for name in names:
        while name and name not in MODULES and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in MODULES and name != module:
            out.add(name)
    return out


GRAPH = {module: imported(module) for module in MODULES}


def layer_of(module):
    best = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                    best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def test_the_graph_is_read():
    assert len(MODULES) > 60
    assert "mrcnn.anchors" in GRAPH["mrcnn.data.pipeline"]
    assert "mrcnn.backbones" in GRAPH["mrcnn.config"]


def test_no_import_cycle():
    state, path, cycles = {}, [], []

    def visit(module):
        state[module] = "open"
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not cycles, " ; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("lower, upper", [("mrcnn.data", "mrcnn.modeling"),
                                          ("mrcnn.modeling", "mrcnn.data")])
def test_data_and_modeling_do_not_import_each_other(lower, upper):
    crossing = [(a, b) for a, targets in GRAPH.items() if a.startswith(lower + ".")
                for b in targets if b.startswith(upper + ".")]
    assert not crossing


def test_no_module_imports_a_layer_above_its_own():
    upward = [f"{a} -> {b}" for a, targets in sorted(GRAPH.items()) for b in sorted(targets)
              if layer_of(b) > layer_of(a)]
    assert not upward
