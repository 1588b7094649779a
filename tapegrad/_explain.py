"""tape.explain(target, sources): why each gradient is (or is not) None.

TF answers a disconnected source with a bare None and leaves the user to
guess.  The tape already holds what answers it: its recorded ops (their
input and output ids and dtypes), the ids it watched, and the few rare
events src/explain.c notes with the user's file and line (stop_recording
blocks, re-entries, ops with no gradient run on tracked tensors, and
values taken out of tapegrad with .numpy(), np.asarray() or float()).
Tensor ids only grow, so a tensor's id also says when it was made
relative to the tape's start and stop.  This module reads that record
(tape._explain_record()) and writes one paragraph per source: connected,
or the first cause it finds, in the order a user would check them.
"""
import collections

from . import _tapegrad as _C

_FLOATING = ("float16", "bfloat16", "float32", "float64", "complex64",
             "complex128")


def _flatten(obj):
    """the leaves of a nested list / tuple / dict (sorted keys, as TF's
    nest) in order"""
    if isinstance(obj, dict):
        return [leaf for k in sorted(obj) for leaf in _flatten(obj[k])]
    if isinstance(obj, (list, tuple)):
        return [leaf for item in obj for leaf in _flatten(item)]
    return [obj]


def location_text(loc, short=False):
    """(file, line) as the user knows it: "Cell In[3], line 4" for a
    notebook cell (IPython names cells' code by temporary files), else
    "file:line" (`short`: the file's base name)"""
    import os
    import sys
    file, line = loc
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    name = getattr(getattr(shell, "compile", None), "format_code_name", None)
    label = name(file) if name is not None else None
    if label:
        return "%s %s, line %d" % (label[0], label[1], line)
    return "%s:%d" % (os.path.basename(file) if short else file, line)


def _where(loc):
    return " at %s" % location_text(loc) if loc else ""


def _describe(s):
    if isinstance(s, _C.Variable):
        return "Variable %r (%s, shape %s)" % (s.name, s.dtype.name,
                                               tuple(s.shape))
    if isinstance(s, _C.Tensor):
        return "Tensor (%s, shape %s)" % (s.dtype.name, tuple(s.shape))
    return "a %s" % type(s).__name__


class _Record:
    """The tape's record as lookups: who made each id, who reads it."""

    def __init__(self, rec):
        self.rec = rec
        self.watched = rec["watched"]
        self.entries = rec["entries"]
        self.producer = {}
        self.readers = collections.defaultdict(list)
        self.dtype = {}
        for i, (_, ins, outs, _) in enumerate(self.entries):
            for tid, dt, _ in ins:
                self.readers[tid].append(i)
                self.dtype.setdefault(tid, dt)
            for tid, dt, _ in outs:
                self.producer[tid] = i
                self.dtype[tid] = dt
        notes = rec["notes"]
        self.pauses = [n for n in notes if n[0] == "pause"]
        self.outside = [n for n in notes if n[0] == "outside"]
        self.nondiff = [n for n in notes if n[0] == "nondiff"]
        self.escapes = [n for n in notes if n[0] == "escape"]

    def tracked(self, tid):
        return tid in self.watched or tid in self.producer

    def downstream(self, sid):
        """every id computed from sid by recorded ops, through any dtype"""
        seen, todo = {sid}, [sid]
        while todo:
            for i in self.readers.get(todo.pop(), ()):
                for tid, _, _ in self.entries[i][2]:
                    if tid not in seen:
                        seen.add(tid)
                        todo.append(tid)
        return seen

    def upstream(self, tids):
        """(ids the targets reach backwards through floating slots, the
        entries on those paths, and integer inputs met on the way)"""
        seen, todo, ints = set(tids), list(tids), []
        while todo:
            i = self.producer.get(todo.pop())
            if i is None:
                continue
            for tid, dt, _ in self.entries[i][1]:
                if dt not in _FLOATING:
                    ints.append((tid, dt, self.entries[i][0]))
                    continue
                if tid not in seen:
                    seen.add(tid)
                    todo.append(tid)
        return seen, ints

    def when(self, tid):
        """why a tensor no recorded op made was made where it was: a
        sentence, or None (made during recording from untracked values)"""
        rec = self.rec
        for _, lo, hi, loc in self.pauses:
            if lo < tid <= hi:
                return ("it was computed inside a tape.stop_recording() "
                        "block%s, which the tape does not record" % _where(
                            loc))
        for _, lo, hi, _ in self.outside:
            if lo < tid <= hi:
                return ("it was computed while the tape was not recording "
                        "(between leaving its with block and entering it "
                        "again)")
        if tid <= rec["start_id"]:
            return ("it was computed before the tape started recording: "
                    "compute it inside the `with tf.GradientTape()` block")
        if rec["exit_id"] >= 0 and tid > rec["exit_id"]:
            return ("it was computed after the tape stopped recording "
                    "(outside its with block): compute it inside the block")
        return None


def _cut_by(r, tids, reach):
    """a no-gradient op (stop_gradient, round, argmax...) that made one of
    `tids` (None: anything) from a tensor the source reaches: a sentence,
    or None"""
    for _, op, ins, outs, loc in r.nondiff:
        if (tids is None or set(outs) & tids) and set(ins) & reach:
            if op == "StopGradient":
                return ("the path goes through tf.stop_gradient%s, which "
                        "blocks the gradient on purpose" % _where(loc))
            return ("the path goes through %s%s, which has no gradient "
                    "(its output is piecewise constant or not a float)"
                    % (op, _where(loc)))
    return None


def _int_path(r, reach):
    """a recorded op turned a tensor the source reaches into integers"""
    for op, ins, outs, _ in r.entries:
        if any(t in reach for t, _, _ in ins):
            for _, dt, _ in outs:
                if dt not in _FLOATING:
                    return ("the path goes through an integer tensor (%s "
                            "gives %s): integer and bool tensors carry no "
                            "gradient; keep the path in floating point"
                            % (op, dt))
    return None


def _paused(r):
    """a stop_recording() block or a gap between with blocks in the
    record, as a hint"""
    if r.pauses:
        return ("ops inside the tape.stop_recording() block%s are not "
                "recorded, and the path may run through it"
                % _where(r.pauses[0][3]))
    if r.outside:
        return ("the tape left its with block and was entered again: "
                "values computed in between are not on the tape, and the "
                "path may run through one")
    return None


def _escaped(r, reach):
    """the source's value left tapegrad: a sentence, or None"""
    hits = [n for n in r.escapes if n[2] in reach]
    if not hits:
        return None
    _, how, _, loc = hits[0]
    return ("its value left tapegrad%s through %s: what is computed from "
            "the NumPy or Python value is a new constant the tape cannot "
            "trace back. Keep the computation in tapegrad ops (tf.math, "
            "operators on tensors) between the source and the target"
            % (_where(loc), how))


def _target_cause(r, t, sid, reach):
    """why target `t` (a tensor) does not reach source `sid`: a sentence,
    or None when it does"""
    tid = t._id
    if tid == sid:
        return None
    if not r.tracked(tid):
        why = r.when(tid)
        if why is not None:
            return "the target is not on the tape: " + why
        return (_cut_by(r, {tid}, reach) or _cut_by(r, None, reach) or
                _int_path(r, reach) or _escaped(r, reach) or _paused(r) or
                "the target was not computed from this source by any op "
                "the tape recorded")
    ups, ints = r.upstream([tid])
    if sid in ups:
        return None
    frontier = {u for u in ups if u not in r.producer and
                u not in r.watched}
    for u in sorted(frontier):
        why = r.when(u)
        if why is not None and u in reach | frontier:
            return "a value on the path is not on the tape: " + why
    cut = _cut_by(r, frontier, reach)
    if cut:
        return cut
    for tid_int, dt, op in ints:
        if tid_int in reach:
            return ("the path goes through an integer tensor (%s, an input "
                    "of %s): integer and bool tensors carry no gradient; "
                    "keep the path in floating point" % (dt, op))
    for u in sorted(frontier):
        why = r.when(u)
        if why is not None:
            return "a value on the path is not on the tape: " + why
    return (_cut_by(r, None, reach) or _int_path(r, reach) or
            _escaped(r, reach) or _paused(r) or
            "the target does not depend on this source (no recorded op "
            "leads from it to the target)")


def _unread_variable(r, targets):
    """why a trainable Variable was never read on the tape"""
    for t in targets:
        if isinstance(t, (_C.Tensor, _C.Variable)) and \
                not r.tracked(t._id):
            why = r.when(t._id)
            if why is not None:
                return "the target is not on the tape either: " + why
    return (_paused(r) or "the target was computed from it before or "
            "outside the with block, or not at all")


def _source_paragraph(r, targets, k, s, total):
    head = ("Source %d of %d, %s: " % (k + 1, total, _describe(s))
            if total > 1 else "Source, %s: " % _describe(s))
    if not isinstance(s, (_C.Tensor, _C.Variable)):
        return head + ("not a Tensor or Variable: gradients are taken with "
                       "respect to tensors.")
    if s.dtype.name not in _FLOATING:
        return head + ("its dtype is %s: gradients flow only to "
                       "floating-point tensors, so TF returns None for "
                       "integer and bool sources. Make it a float (for "
                       "example tf.cast(x, tf.float32), or tf.Variable(2.0) "
                       "rather than tf.Variable(2)) before the tape uses "
                       "it." % s.dtype.name)
    sid = s._id
    if not r.tracked(sid):
        if isinstance(s, _C.Variable):
            if not s.trainable:
                return head + ("a non-trainable Variable (trainable=False): "
                               "tapes watch only trainable variables on "
                               "their own. Call tape.watch(v) inside the "
                               "with block to follow it.")
            if not r.rec["watch_accessed_variables"]:
                return head + ("the tape was made with "
                               "watch_accessed_variables=False and this "
                               "Variable was never passed to tape.watch(): "
                               "call tape.watch(v) before using it.")
            why = _unread_variable(r, targets)
            return head + ("the tape never saw this Variable read while it "
                           "recorded: " + why + ".")
        if s._from_variable:
            return head + ("a Tensor computed from a Variable, which the "
                           "tape never watched. A line such as `x = x + 1` "
                           "replaces a Variable with a plain Tensor: update "
                           "a Variable in place instead (x.assign_add(1), "
                           "x.assign(...)), or call tape.watch(x) if a "
                           "Tensor is what you mean to differentiate by.")
        return head + ("a Tensor the tape never watched: only trainable "
                       "Variables are watched on their own, so call "
                       "tape.watch(x) inside the with block, before x is "
                       "used.")
    reach = r.downstream(sid)
    causes = []
    for t in targets:
        if not isinstance(t, (_C.Tensor, _C.Variable)):
            causes.append("a target is a %s, not a Tensor"
                          % type(t).__name__)
            continue
        cause = _target_cause(r, t, sid, reach)
        if cause is None:
            return head + "connected: its gradient is computed."
        causes.append(cause)
    if not causes:
        return head + "there is no target."
    return head + "not connected: " + causes[0] + "."


def explain(tape, target, sources):
    """The report for tape.explain (see the module docstring)."""
    r = _Record(tape._explain_record())
    targets = _flatten(target)
    srcs = _flatten(sources)
    paragraphs = [_source_paragraph(r, targets, k, s, len(srcs))
                  for k, s in enumerate(srcs)]
    if r.rec["used"] and not r.entries and not r.watched:
        paragraphs.append("(The tape's record was used up by gradient() "
                          "and held nothing.)")
    return "\n\n".join(paragraphs)


class NoneGradientWarning(UserWarning):
    """tapegrad.debugging.enable_none_gradient_warnings(): a gradient came
    back None; the message is tape.explain's paragraph for that source."""

    def __init__(self, message):
        # a Python signature (UserWarning's C one has none for inspect)
        super().__init__(message)


def warn_none(tape, args, kwargs, result):
    """Called by GradientTape.gradient, only while the warnings are on:
    one warning per source whose gradient is None."""
    import warnings
    kwargs = kwargs or {}
    names = ("target", "sources", "output_gradients",
             "unconnected_gradients")
    given = dict(zip(names, args), **kwargs)
    grads = _flatten(result)
    if all(g is not None for g in grads):
        return
    targets = _flatten(given.get("target"))
    srcs = _flatten(given.get("sources"))
    r = _Record(tape._explain_record())
    for k, (s, g) in enumerate(zip(srcs, grads)):
        if g is None:
            text = _source_paragraph(r, targets, k, s, len(srcs))
            warnings.warn("GradientTape.gradient returned None. " + text,
                          NoneGradientWarning, stacklevel=2)
