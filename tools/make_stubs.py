"""Write the generated parts of tapegrad's type stubs from the op table.

    python tools/make_stubs.py          # rewrite the generated sections
    python tools/make_stubs.py --check  # exit 1 if a stub is out of date

The op functions of the compiled module are made from the op table
(`_tapegrad._ops()`, src/ops*.def): one `def` per public row in
`tapegrad/_tapegrad.pyi`, its parameters read by `inspect.signature` (so the
stub has the C text signature's names, order, defaults and `/`), tensor
inputs typed `TensorLike`, the result `Tensor` (or the row's tuple or list,
from MULTI_OUTPUT below).  Each row's `api` paths ("exp math.exp") become
re-exports in `tapegrad/__init__.pyi`, `math.pyi`, `nn.pyi` and
`linalg.pyi`.  Only the text between each file's "generated ops" markers is
rewritten; everything else in the stubs is written by hand (stubgen's
draft of the Python modules, then real types where users meet them).
Rerun after adding an op (README, "Adding an op");
tests/test_typing.py runs `--check`.
"""
import ast
import importlib
import inspect
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import tapegrad  # noqa: E402
from tapegrad import _tapegrad as C  # noqa: E402

BEGIN = "# --- generated ops: tools/make_stubs.py writes what follows; " \
        "do not edit ---"
END = "# --- end of generated ops ---"

# rows whose result is not one Tensor
MULTI_OUTPUT = {
    "split": "list[Tensor]",
    "unstack": "list[Tensor]",
    "moments": "tuple[Tensor, Tensor]",
    "eigh": "tuple[Tensor, Tensor]",
    "slogdet": "tuple[Tensor, Tensor]",
    "top_k": "tuple[Tensor, Tensor]",
    # (s, u, v), or s alone with compute_uv=False
    "svd": "Any",
}
# parameters that are never tensors to differentiate: shapes, axes,
# counts, modes; typed loosely (TF takes ints, lists, tensors of them)
ATTRS = {"axis", "axes", "shape", "dims", "perm", "multiples", "depth", "k",
         "num", "num_segments", "num_or_size_splits", "paddings", "seed",
         "noise_shape", "num_rows", "num_columns", "num_cols",
         "batch_shape", "batch_dims", "validate_indices", "keepdims",
         "out_type", "output_type", "equation", "ord", "mode", "direction",
         "side", "align", "approximate", "rate", "alpha", "epsilon",
         "shift", "beta", "constant_values", "padding_value", "on_value",
         "off_value", "delta", "limit", "start", "stop", "clip_norm"}
# attributes that are tensor-valued in TF (differentiable or values)
TENSORISH_ATTRS = {"shift", "on_value", "off_value", "constant_values",
                   "padding_value", "clip_norm", "start", "stop", "limit",
                   "delta", "beta", "rate"}


def _annotation(name, param):
    default = param.default
    if name == "name":
        return "str | None"
    if name in ("dtype",):
        return "DTypeLike"
    if param.kind is param.VAR_POSITIONAL:
        return "TensorLike"
    if param.kind is param.VAR_KEYWORD:
        return "Any"
    if name in ATTRS:
        if isinstance(default, bool):
            return "_bool"
        if name in TENSORISH_ATTRS:
            return "TensorLike | None" if default is None else "TensorLike"
        if name in ("equation", "mode", "direction", "side", "align"):
            return "str"
        return "Any"
    if isinstance(default, bool):
        return "_bool"
    if isinstance(default, str):
        return "str"
    if default is None:
        return "TensorLike | None"
    return "TensorLike"


def op_stub(fn_name, fn, row_name):
    sig = inspect.signature(fn)
    parts = []
    star_done = False
    prev_kind = None
    for name, param in sig.parameters.items():
        if prev_kind is param.POSITIONAL_ONLY and \
                param.kind is not param.POSITIONAL_ONLY:
            parts.append("/")
        if param.kind is param.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        ann = _annotation(name, param)
        if param.kind is param.VAR_POSITIONAL:
            parts.append("*%s: %s" % (name, ann))
            star_done = True
        elif param.kind is param.VAR_KEYWORD:
            parts.append("**%s: %s" % (name, ann))
        elif param.default is param.empty:
            parts.append("%s: %s" % (name, ann))
        else:
            parts.append("%s: %s = ..." % (name, ann))
        prev_kind = param.kind
    if prev_kind is inspect.Parameter.POSITIONAL_ONLY:
        parts.append("/")
    ret = MULTI_OUTPUT.get(row_name, "Tensor")
    return "def %s(%s) -> %s: ..." % (fn_name, ", ".join(parts), ret)


def public_rows():
    return [r for r in C._ops() if r["api"]]


def tapegrad_section():
    lines = []
    for row in public_rows():
        lines.append(op_stub(row["name"], getattr(C, row["name"]),
                             row["name"]))
    return lines


def _hand_names(path):
    """The names the hand-written part of a stub defines or imports."""
    with open(path) as f:
        text = f.read().split(BEGIN)[0]
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and \
                isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets
                         if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0]
                         for a in node.names)
    return names


def namespace_sections():
    """{namespace: [re-export lines]}: every name of the namespace's
    runtime __all__ that its stub's hand-written part lacks, which are the
    names tapegrad/__init__.py installs (op rows from their `api` paths,
    the composite, conv and pool functions), imported from where they are
    defined."""
    by_obj = {id(getattr(C, r["name"])): r["name"] for r in public_rows()}
    out = {}
    for ns in ("", "math", "nn", "linalg"):
        module = importlib.import_module("tapegrad" + ("." + ns if ns
                                                       else ""))
        have = _hand_names(stub_path(ns))
        lines = []
        for attr in module.__all__:
            if attr in have:
                continue
            obj = getattr(module, attr)
            if id(obj) in by_obj:
                line = "from tapegrad._tapegrad import %s as %s" % (
                    by_obj[id(obj)], attr)
            else:
                line = "from %s import %s as %s" % (obj.__module__,
                                                    obj.__name__, attr)
            lines.append(line)
        out[ns] = sorted(set(lines))
    return out


def stub_path(ns):
    if ns == "_tapegrad":
        return os.path.join(ROOT, "tapegrad", "_tapegrad.pyi")
    if ns == "":
        return os.path.join(ROOT, "tapegrad", "__init__.pyi")
    return os.path.join(ROOT, "tapegrad", *ns.split(".")) + ".pyi"


def replace_section(text, lines, path):
    try:
        head, rest = text.split(BEGIN + "\n", 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise SystemExit("%s: no generated-ops markers" % path)
    body = "".join(line + "\n" for line in lines)
    return head + BEGIN + "\n" + body + END + tail


def main(argv):
    check = "--check" in argv
    sections = {"_tapegrad": tapegrad_section(), **namespace_sections()}
    stale = []
    for ns, lines in sections.items():
        path = stub_path(ns)
        with open(path) as f:
            text = f.read()
        new = replace_section(text, lines, path)
        if new != text:
            stale.append(os.path.relpath(path, ROOT))
            if not check:
                with open(path, "w") as f:
                    f.write(new)
    if check and stale:
        print("out of date (run python tools/make_stubs.py): "
              + ", ".join(stale))
        return 1
    print(("stale: " if check else "written: ") + (", ".join(stale) or
                                                    "nothing"))
    return 0


if __name__ == "__main__":
    assert os.path.dirname(tapegrad.__file__) == os.path.join(ROOT,
                                                              "tapegrad"), \
        "tapegrad imported from %s, not this checkout" % tapegrad.__file__
    sys.exit(main(sys.argv[1:]))
