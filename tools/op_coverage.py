"""Print the README's op-coverage section from the op table.

    python tools/op_coverage.py        # markdown on stdout

Every public name of every row, grouped by namespace, with a mark for
rows that are not differentiable (never recorded) and for composites, and
how each recorded row's forward-mode rule is made.
The README's "Op coverage" section is this script's output.
"""
from collections import defaultdict

from tapegrad import _tapegrad as C

NAMESPACES = ["tapegrad", "tapegrad.math", "tapegrad.nn", "tapegrad.linalg"]


def main():
    names = defaultdict(set)
    internal = []
    for row in C._ops():
        if not row["api"]:
            internal.append(row["name"])
            continue
        mark = ""
        if "nondiff" in row["flags"]:
            mark = "°"
        for path in row["api"].split():
            *pkg, attr = path.split(".")
            names[".".join(["tapegrad", *pkg])].add(attr + mark)
    print(f"{sum(1 for r in C._ops())} rows in the op table "
          f"({len(internal)} internal: {', '.join(sorted(internal))}).  "
          "° marks ops that are not differentiable (never recorded, "
          "gradient None, as in TF).\n")
    for ns in NAMESPACES + sorted(set(names) - set(NAMESPACES)):
        if names[ns]:
            print(f"- `{ns}`: " + ", ".join(sorted(names[ns])))
    from tapegrad import _conv, _pool
    print("- `tapegrad.nn` convolutions (`tapegrad/_conv.py` over the "
          "`conv` rows): " + ", ".join(sorted(_conv.__all__)))
    print("- `tapegrad.nn` pooling (`tapegrad/_pool.py` over the "
          "`max_pool` / `avg_pool` rows): " + ", ".join(sorted(_pool.__all__)))
    print("- `tapegrad.random`: normal, uniform, truncated_normal, shuffle, "
          "set_seed")
    print("- `tapegrad.test`: compute_gradient, check_gradients")
    print("- `tapegrad.autodiff`: ForwardAccumulator, GradientTape")
    kinds = defaultdict(list)
    for row in C._ops():
        if row["jvp"] != "none":
            kinds[row["jvp"]].append(row["name"])
    print("\nForward-mode rules (each row's `jvp`, beside its vjp; rows never "
          "recorded have none, their primitives' apply): "
          + "; ".join("%s %d" % (k, len(kinds[k]))
                      for k in ("elementwise", "linear", "reduction",
                                "direct", "transposed")) + ".")
    print("Hand-written: " + ", ".join(sorted(kinds["direct"])) +
          ".  Transposed from the vjp (TF's double-vjp): " +
          ", ".join(sorted(kinds["transposed"])) + ".")


if __name__ == "__main__":
    main()
