"""A tape you can look inside: tape.operations() and tape.to_dot().

Both read the record tape.explain reads (tape._explain_record(), built by
src/explain.c): each recorded op's TF name, its input and output ids,
dtypes and shapes, and the (file, line) that ran it when
tapegrad.debugging.enable_op_locations() was on while it was recorded
(a frame walk per recorded op, so it is off by default).  A non-persistent
tape keeps this skeleton after its gradient, so both work then too.
tapegrad.debugging.draw_tape renders to_dot's text.
"""
import collections

from ._function import TensorSpec


class RecordedOp(collections.namedtuple(
        "RecordedOp", "type inputs outputs input_ids output_ids location")):
    """One recorded op: `type` its TF op name ("MatMul"), `inputs` and
    `outputs` TensorSpecs, their tensor ids, and `location` "file:line"
    (None unless tapegrad.debugging.enable_op_locations() was on)."""

    __slots__ = ()

    def __repr__(self):
        def spec(s):
            if isinstance(s, TensorSpec):
                return "%s%s" % (s.dtype.name, list(s.shape))
            return repr(s)      # a RecordedOp made by hand holds anything

        def specs(ss):
            if not isinstance(ss, (tuple, list)):
                return repr(ss)
            return ", ".join(spec(s) for s in ss)
        where = " at %s" % self.location if self.location else ""
        return "<RecordedOp %s(%s) -> (%s)%s>" % (
            self.type, specs(self.inputs), specs(self.outputs), where)


def _spec(slot):
    _, dtype, shape = slot
    return TensorSpec(shape, dtype)


def _location(where):
    from ._explain import location_text
    return location_text(where) if where else None


def operations(tape):
    """The recorded ops, in the order they ran (see RecordedOp)."""
    out = []
    for op, ins, outs, where in tape._explain_record()["entries"]:
        out.append(RecordedOp(op, tuple(_spec(s) for s in ins),
                              tuple(_spec(s) for s in outs),
                              tuple(s[0] for s in ins),
                              tuple(s[0] for s in outs), _location(where)))
    return out


def _quote(text):
    """a DOT string: backslashes and quotes escaped, lines as \\n"""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"%s"' % text.replace("\n", "\\n")


def _cone(entries, producer, watched, targets):
    """the tensor ids and entries a gradient of `targets` flows through on
    its way to watched tensors: behind a target (floating slots only, as
    the sweep) and ahead of a watched tensor"""
    from ._explain import _FLOATING
    behind, todo = set(targets), list(targets)
    while todo:
        i = producer.get(todo.pop())
        if i is None:
            continue
        for tid, dt, _ in entries[i][1]:
            if dt in _FLOATING and tid not in behind:
                behind.add(tid)
                todo.append(tid)
    ahead = set(watched)
    for _, ins, outs, _ in entries:   # recorded in order: one pass
        if any(tid in ahead for tid, _, _ in ins):
            ahead.update(tid for tid, _, _ in outs)
    ids = behind & ahead
    ops = {i for i, (_, ins, outs, _) in enumerate(entries)
           if any(t in ids for t, _, _ in outs) and
           any(t in ids for t, _, _ in ins)}
    return ids, ops


def _graph(tape, target):
    """What to_dot and the figure both draw: the record (as _explain's
    lookups), watched Variables' names by id, the targets' ids, and the
    tensor ids and entries of their gradient's cone"""
    from ._explain import _flatten, _Record
    r = _Record(tape._explain_record())
    names = {v._id: v.name for v in tape.watched_variables()}
    targets = [t._id for t in _flatten(target) if hasattr(t, "_id")] \
        if target is not None else []
    cone_ids, cone_ops = _cone(r.entries, r.producer, r.watched, targets)
    return r, names, targets, cone_ids, cone_ops


def to_dot(tape, target=None):
    """The record as Graphviz DOT: one box per op (its TF name, and its
    file:line when known), one node per tensor (dtype and shape; watched
    tensors filled, named when they are watched Variables), edges from
    tensors to the ops reading them and from ops to what they make.  With
    `target` (a tensor or a nested structure of them), the ops and
    tensors its gradient flows through are drawn in red, the targets with
    a double border."""
    from ._explain import location_text
    r, names, targets, cone_ids, cone_ops = _graph(tape, target)
    entries = r.entries
    tensors = {}
    for _, ins, outs, _ in entries:
        for slot in ins + outs:
            tensors.setdefault(slot[0], slot)
    for tid in r.watched:
        tensors.setdefault(tid, (tid, None, None))
    hot = ' color="#d62728", fontcolor="#d62728", penwidth=2'
    hot_edge = ' [color="#d62728", penwidth=2]'
    lines = ["digraph tape {",
             '  node [fontname="Helvetica", fontsize=10];',
             '  edge [color="#555555"];']
    for tid in sorted(tensors):
        _, dtype, shape = tensors[tid]
        label = "%s %s" % (dtype, list(shape)) if dtype else "tensor"
        attrs = "shape=ellipse"
        if tid in r.watched:
            label = "%s\n%s" % (names.get(tid, "watched"), label)
            attrs += ', style=filled, fillcolor="#dbeafe"'
        if tid in cone_ids:
            attrs += "," + hot
        if tid in targets:
            attrs += ", peripheries=2"
        lines.append("  t%d [%s, label=%s];" % (tid, attrs, _quote(label)))
    for i, (op, ins, outs, where) in enumerate(entries):
        label = op
        if where:
            label += "\n" + location_text(where, short=True)
        attrs = "shape=box"
        if i in cone_ops:
            attrs += "," + hot
        lines.append("  op%d [%s, label=%s];" % (i, attrs, _quote(label)))
        for tid, _, _ in ins:
            flows = i in cone_ops and tid in cone_ids
            lines.append("  t%d -> op%d%s;" % (tid, i,
                                               hot_edge if flows else ""))
        for tid, _, _ in outs:
            lines.append("  op%d -> t%d%s;" % (
                i, tid, hot_edge if i in cone_ops else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


class SVG:
    """An SVG drawing that Jupyter displays (`_repr_svg_`); `.data` is its
    text."""

    def __init__(self, data):
        self.data = data

    def _repr_svg_(self):
        return self.data


def draw(tape, target=None):
    """tapegrad.debugging.draw_tape: Graphviz's `dot` renders to_dot's text
    to SVG when the binary is installed (the system's graphviz package);
    without it, a matplotlib Figure of the same graph, laid out here: ops
    in rows by depth from the watched tensors, edges from each op (or
    watched tensor) to the ops that read what it made."""
    import shutil
    import subprocess
    from . import _tapegrad
    if not isinstance(tape, _tapegrad.GradientTape):
        raise TypeError("draw_tape expects a GradientTape, got %s"
                        % type(tape).__name__)
    exe = shutil.which("dot")
    if exe is not None:
        done = subprocess.run([exe, "-Tsvg"], input=to_dot(tape, target)
                              .encode(), capture_output=True, timeout=60)
        if done.returncode == 0:
            return SVG(done.stdout.decode())
    return _figure(tape, target)


def _figure(tape, target):
    from matplotlib.figure import Figure
    from ._explain import location_text
    r, names, _, cone_ids, cone_ops = _graph(tape, target)
    entries, producer = r.entries, r.producer
    # nodes: ("w", id) for watched tensors read by some op, ("op", i)
    depth, nodes = {}, []
    for tid in sorted(r.watched):
        if r.readers.get(tid):
            depth[("w", tid)] = 0
            nodes.append(("w", tid))
    edges = []
    for i, (_, ins, _, _) in enumerate(entries):
        parents = []
        for tid, _, _ in ins:
            if tid in producer:
                parents.append(("op", producer[tid]))
            elif ("w", tid) in depth:
                parents.append(("w", tid))
        depth[("op", i)] = 1 + max((depth[p] for p in parents), default=0)
        nodes.append(("op", i))
        edges += [(p, ("op", i), i in cone_ops and (
            p[0] == "op" and p[1] in cone_ops or
            p[0] == "w" and p[1] in cone_ids)) for p in parents]
    rows = collections.defaultdict(list)
    for n in nodes:
        rows[depth[n]].append(n)
    pos = {}
    for d, row in rows.items():
        for k, n in enumerate(row):
            pos[n] = (k - (len(row) - 1) / 2.0, -d)
    width = max([len(r) for r in rows.values()] + [1])
    fig = Figure(figsize=(max(4, 1.8 * width), max(3, 1.1 * len(rows))))
    ax = fig.add_subplot()
    ax.set_axis_off()
    red, grey = "#d62728", "#555555"
    for a, b, hot in edges:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        ax.annotate("", xy=(x1, y1 + 0.18), xytext=(x0, y0 - 0.18),
                    arrowprops=dict(arrowstyle="->", lw=2 if hot else 1,
                                    color=red if hot else grey))
    for n in nodes:
        x, y = pos[n]
        if n[0] == "w":
            text, box = names.get(n[1], "watched"), "round"
            hot = n[1] in cone_ids
        else:
            op, _, _, where = entries[n[1]]
            text, box = op, "square"
            if where:
                text += "\n" + location_text(where, short=True)
            hot = n[1] in cone_ops
        ax.text(x, y, text, ha="center", va="center", fontsize=8,
                color=red if hot else "black",
                bbox=dict(boxstyle=box, fc="#dbeafe" if n[0] == "w"
                          else "white", ec=red if hot else grey))
    xs = [p[0] for p in pos.values()] or [0]
    ys = [p[1] for p in pos.values()] or [0]
    ax.set_xlim(min(xs) - 1, max(xs) + 1)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    return fig
