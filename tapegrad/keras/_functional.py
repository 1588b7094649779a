"""Keras' functional API on tapegrad: keras.Input, InputLayer, the Node a
layer call on KerasTensors records, and the graph a functional Model
replays.

A layer called on KerasTensors is built from their shapes (None where
unknown), then its output's shape comes from its `compute_output_shape`
when its class defines one (the built-in layers do), or else from
running it on two concrete stand-ins of the inputs: zeros with 2 for every
unknown dimension, and ones with 3 (dimensions that differ are None).
tapegrad has no graphs, so this is what Keras' symbolic trace of `call`
gives for layers whose shapes follow from their inputs'.  The stand-in
calls are the call as made (inference unless it passes training=True);
their results are dropped (a tape recording at the time records their ops,
which nothing the user computes depends on).
"""
import itertools

from .. import _tapegrad as C
from .._shape import TensorShape
from ..dtypes import as_dtype
from ._keras_tensor import KerasTensor
from .layers import Layer, _build_in_call, _rebuild

__all__ = ["Input", "InputLayer", "Node", "symbolic_call"]

_serial = itertools.count()


# ---- nested structures ------------------------------------------------------
def flatten(x):
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in flatten(v)]
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in flatten(x[k])]
    return [x]


def map_structure(fn, x):
    if isinstance(x, (list, tuple)):
        return _rebuild(x, (map_structure(fn, v) for v in x))
    if isinstance(x, dict):     # in flatten's (sorted) key order
        return {k: map_structure(fn, x[k]) for k in sorted(x)}
    return fn(x)


class Node:
    """One layer call in a functional graph: the layer, the call's
    arguments (structures holding KerasTensors), and its outputs."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.serial = next(_serial)      # creation order: a topological order
        self.flat_outputs = flatten(outputs)
        index = len(layer._inbound_nodes)
        for i, t in enumerate(self.flat_outputs):
            t._keras_history = (layer, index, i)
        self.input_tensors = [t for t in flatten((args, kwargs))
                              if type(t) is KerasTensor]
        layer._inbound_nodes.append(self)

    def __repr__(self):
        return "<Node %s of %s>" % (self.serial, self.layer.name)


# ---- Input ----------------------------------------------------------------
class InputLayer(Layer):
    """The layer behind keras.Input: it holds the input KerasTensor."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None,
                 ragged=None, batch_shape=None, input_tensor=None,
                 optional=False, name=None, **kwargs):
        if "input_shape" in kwargs:
            import warnings
            warnings.warn("Argument `input_shape` is deprecated. Use `shape` "
                          "instead.", stacklevel=2)
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, **kwargs)
        if input_tensor is not None:
            if type(input_tensor) is not KerasTensor:
                raise ValueError(
                    "Argument `input_tensor` must be a KerasTensor. Received "
                    "invalid type: input_tensor=%r (of type %s)"
                    % (input_tensor, type(input_tensor)))
            batch_shape = input_tensor.shape
            dtype = input_tensor.dtype
        else:
            if shape is not None and batch_shape is not None:
                raise ValueError("You cannot pass both `shape` and "
                                 "`batch_shape` at the same time.")
            if batch_size is not None and batch_shape is not None:
                raise ValueError("You cannot pass both `batch_size` and "
                                 "`batch_shape` at the same time.")
            if shape is None and batch_shape is None:
                raise ValueError("You must pass a `shape` argument.")
            if shape is not None:
                if isinstance(shape, int):
                    shape = (shape,)
                batch_shape = (batch_size,) + tuple(shape)
        self._batch_shape = tuple(None if d is None else int(d)
                                  for d in batch_shape)
        self._dtype = as_dtype("float32" if dtype is None else dtype)
        self.sparse = bool(sparse)
        self.ragged = bool(ragged)
        if input_tensor is None:
            input_tensor = KerasTensor(self._batch_shape, dtype=self._dtype,
                                       sparse=self.sparse,
                                       ragged=self.ragged, name=name)
        self._input_tensor = input_tensor
        Node(self, (), {}, input_tensor)
        self.optional = optional
        self.built = True

    def call(self):
        """An input layer computes nothing: the model feeds its inputs in
        directly."""
        return None

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def output(self):
        return self._input_tensor

    def get_config(self):
        return {"batch_shape": self._batch_shape, "dtype": self._dtype.name,
                "sparse": self.sparse, "ragged": self.ragged,
                "name": self.name, "optional": self.optional}


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
          batch_shape=None, name=None, tensor=None, optional=False):
    """A KerasTensor for a functional model's input: `shape` without the
    batch dimension (`batch_size`, or None), or the whole `batch_shape`."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype,
                       sparse=sparse, ragged=ragged, batch_shape=batch_shape,
                       input_tensor=tensor, name=name, optional=optional)
    return layer.output


# ---- a layer call on KerasTensors ------------------------------------------
def _own_compute_output_shape(layer):
    return type(layer).compute_output_shape is not Layer.compute_output_shape


def _stand_in(kt, size, fill):
    shape = [size if d is None else d for d in kt.shape]
    return (C.zeros if fill == 0 else C.ones)(shape, dtype=kt.dtype)


def _spec_by_running(layer, inputs, args, kwargs):
    """Output KerasTensors' (shape, dtype) from two concrete calls."""
    results = []
    has_unknown = any(None in t.shape for t in flatten((inputs, args, kwargs))
                      if type(t) is KerasTensor)
    for size, fill in ((2, 0), (3, 1))[:2 if has_unknown else 1]:
        def concrete(x, size=size, fill=fill):
            return _stand_in(x, size, fill) if type(x) is KerasTensor else x
        out = layer(map_structure(concrete, inputs),
                    *map_structure(concrete, args),
                    **map_structure(concrete, kwargs))
        results.append(out)
    first = results[0]
    flat = [flatten(r) for r in results]

    def spec(i):
        shapes = [tuple(f[i].shape) for f in flat]
        dims = tuple(d if all(len(s) == len(shapes[0]) and s[k] == d
                              for s in shapes) else None
                     for k, d in enumerate(shapes[0]))
        return _Spec(dims, flat[0][i].dtype)
    leaves = flatten(first)
    for leaf in leaves:
        if not isinstance(leaf, (C.Tensor, C.Variable)):
            raise TypeError(
                "Layer %r returned %r (of type %s) when called on symbolic "
                "inputs; a functional model's layers return tensors"
                % (layer.name, leaf, type(leaf).__name__))
    it = iter(range(len(leaves)))
    return map_structure(lambda _: spec(next(it)), first)


def symbolic_call(layer, inputs, args, kwargs):
    """`layer(inputs, *args, **kwargs)` with KerasTensors: build the layer
    from their shapes, work out its outputs' shapes, record a Node and
    return the output KerasTensors."""
    if not layer.built:
        shape = map_structure(
            lambda t: TensorShape(t.shape) if type(t) is KerasTensor else t,
            inputs)
        layer._build_shape = shape
        _build_in_call(layer, shape)
    spec = None
    if _own_compute_output_shape(layer) and type(inputs) is KerasTensor:
        try:
            shape = layer.compute_output_shape(inputs.shape)
            spec = _Spec(tuple(shape), layer._dtype)
        except NotImplementedError:
            spec = None
    if spec is None:
        spec = _spec_by_running(layer, inputs, args, kwargs)
    outputs = _make_outputs(spec)
    Node(layer, (inputs,) + tuple(args), dict(kwargs), outputs)
    return outputs


class _Spec:
    """An output's shape (None where unknown) and dtype."""

    def __init__(self, shape, dtype):
        self.shape = shape
        self.dtype = dtype


def _make_outputs(spec):
    if isinstance(spec, _Spec):
        return KerasTensor(spec.shape, dtype=spec.dtype)
    if isinstance(spec, (list, tuple)):
        return type(spec)(_make_outputs(s) for s in spec)
    if isinstance(spec, dict):
        return {k: _make_outputs(s) for k, s in spec.items()}
    raise TypeError("unexpected output spec %r" % (spec,))


# ---- a functional graph -----------------------------------------------------
def graph_nodes(inputs, outputs):
    """The Nodes between `inputs` and `outputs` in a topological order
    (creation order), and the layers they call in that order (the input
    layers first, in the order of `inputs`).  ValueError if an output
    needs an input that is not among `inputs`."""
    flat_in = flatten(inputs)
    for t in flat_in:
        if type(t) is not KerasTensor:
            raise ValueError(
                "All `inputs` values must be KerasTensors. Received: "
                "inputs=%r including invalid value %r of type %s"
                % (inputs, t, type(t)))
    for t in flatten(outputs):
        if type(t) is not KerasTensor:
            raise ValueError(
                "All `outputs` values must be KerasTensors. Received: "
                "outputs=%r including invalid value %r of type %s"
                % (outputs, t, type(t)))
    for t in flat_in:
        if not isinstance(t._keras_history[0], InputLayer):
            raise NotImplementedError(
                "A functional model's inputs must be tensors made by "
                "keras.Input; %r is the output of layer %r (tapegrad does "
                "not clone a graph from intermediate tensors)"
                % (t, t._keras_history[0].name))
    input_ids = {id(t) for t in flat_in}
    nodes = {}
    stack = [t for t in flatten(outputs)]
    while stack:
        t = stack.pop()
        layer, index, _ = t._keras_history
        node = layer._inbound_nodes[index]
        if id(node) in nodes:
            continue
        nodes[id(node)] = node
        if isinstance(layer, InputLayer):
            if id(t) not in input_ids:
                raise ValueError(
                    "Graph disconnected: cannot find parent for tensor %r at "
                    "layer %r. The following previous layers were accessed "
                    "without issue: []" % (t, layer.name))
            continue
        stack.extend(node.input_tensors)
    order = sorted(nodes.values(), key=lambda n: n.serial)
    layers = [t._keras_history[0] for t in flat_in]
    seen = {id(layer) for layer in layers}
    for node in order:
        if id(node.layer) not in seen:
            seen.add(id(node.layer))
            layers.append(node.layer)
    return order, layers


def run_graph(nodes, inputs, outputs, values, training=None):
    """Replay `nodes` with `values` for the input KerasTensors."""
    flat_in = flatten(inputs)
    flat_vals = (flatten(values) if isinstance(values, (list, tuple, dict))
                 else [values])
    if len(flat_vals) != len(flat_in):
        raise ValueError(
            "The model expects %d input(s), but it received %d input "
            "tensors." % (len(flat_in), len(flat_vals)))
    env = {id(t): v for t, v in zip(flat_in, flat_vals)}

    def sub(x):
        return env[id(x)] if type(x) is KerasTensor else x
    for node in nodes:
        if isinstance(node.layer, InputLayer):
            continue
        args = map_structure(sub, node.args)
        kwargs = map_structure(sub, node.kwargs)
        if training is not None and "training" not in kwargs:
            kwargs["training"] = training
        out = node.layer(*args, **kwargs)
        for t, v in zip(node.flat_outputs, flatten(out)):
            env[id(t)] = v
    return map_structure(lambda t: env[id(t)], outputs)


# ---- a functional model's config (the .keras file) ------------------------
def _model_nodes(model):
    """{id(layer): [its nodes in this model, in call order]}"""
    own = {id(n) for n in model._nodes}
    out = {}
    for layer in model._operations:
        out[id(layer)] = [n for n in layer._inbound_nodes if id(n) in own]
    return out


def graph_config(model):
    """Keras 3's functional config of `model` (see Functional.get_config).
    A node index counts the layer's calls within this model only (a layer
    also called elsewhere keeps those calls out)."""
    from .saving import serialize_keras_object
    per_layer = _model_nodes(model)
    index = {id(n): i for nodes in per_layer.values()
             for i, n in enumerate(nodes)}

    def tensor_ref(t):
        layer, node_index, tensor_index = t._keras_history
        node = layer._inbound_nodes[node_index]
        return [layer.name, index[id(node)], tensor_index]

    def arg(x):
        if type(x) is KerasTensor:
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(x.shape), "dtype": x.dtype,
                               "keras_history": tensor_ref(x)}}
        return serialize_keras_object(x)

    layers = []
    for layer in model._operations:
        entry = serialize_keras_object(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            {"args": [map_structure(arg, a) for a in node.args],
             "kwargs": {k: map_structure(arg, v)
                        for k, v in node.kwargs.items()}}
            for node in per_layer[id(layer)]
            if not isinstance(layer, InputLayer)]
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable,
            "layers": layers,
            "input_layers": map_structure(tensor_ref, model._inputs_struct),
            "output_layers": map_structure(tensor_ref,
                                           model._outputs_struct)}


def _is_ref(x):
    return (isinstance(x, list) and len(x) == 3 and isinstance(x[0], str)
            and isinstance(x[1], int) and isinstance(x[2], int))


def graph_from_config(config, deserialize):
    """(inputs, outputs, other constructor arguments) from graph_config's
    dict: the layers made by `deserialize`, then their calls replayed on
    KerasTensors in an order where each call's inputs exist."""
    if not isinstance(config, dict) or not isinstance(
            config.get("layers"), list):
        raise ValueError("A functional model's config needs a 'layers' "
                         "list, got %r" % (config,))
    by_name = {}
    pending = []
    for entry in config["layers"]:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ValueError("A functional model's layer entry needs a "
                             "'name', got %r" % (entry,))
        layer_config = {k: v for k, v in entry.items()
                        if k not in ("name", "inbound_nodes")}
        layer = deserialize(layer_config)
        if not isinstance(layer, Layer):
            raise ValueError("The functional model's entry %r is not a "
                             "layer" % entry["name"])
        by_name[entry["name"]] = (layer, [])
        if isinstance(layer, InputLayer):
            by_name[entry["name"]][1].append([layer.output])
        pending.append((entry["name"], list(entry.get("inbound_nodes")
                                            or [])))

    def resolve(ref):
        name, node_index, tensor_index = ref
        made = by_name.get(name, (None, []))[1]
        if node_index >= len(made):
            raise LookupError(ref)
        return made[node_index][tensor_index]

    def sub(x):
        if isinstance(x, dict) and x.get("class_name") == "__keras_tensor__":
            return resolve(x["config"]["keras_history"])
        if isinstance(x, list):
            return [sub(v) for v in x]
        if isinstance(x, dict):
            return {k: sub(v) for k, v in x.items()}
        return x

    progress = True
    while progress and any(nodes for _, nodes in pending):
        progress = False
        for name, nodes in pending:
            # a layer's calls in order, each once its inputs exist
            while nodes:
                try:
                    args = [sub(a) for a in nodes[0].get("args", [])]
                    kwargs = {k: sub(v) for k, v in
                              nodes[0].get("kwargs", {}).items()}
                except LookupError:
                    break
                layer, made = by_name[name]
                out = layer(*args, **kwargs)
                made.append(flatten(out))
                nodes.pop(0)
                progress = True
    stuck = [name for name, nodes in pending if nodes]
    if stuck:
        raise ValueError("Cannot rebuild the functional model: the calls of "
                         "layers %s need tensors no layer makes" % stuck)

    def refs(x):
        if _is_ref(x):
            try:
                return resolve(x)
            except LookupError:
                raise ValueError("The functional model's inputs or outputs "
                                 "name %r, which no layer makes" % (x,))
        if isinstance(x, dict):
            return {k: refs(v) for k, v in x.items()}
        if isinstance(x, list):
            return [refs(v) for v in x]
        raise ValueError("Unexpected input or output reference %r" % (x,))
    inputs = refs(config.get("input_layers"))
    outputs = refs(config.get("output_layers"))
    rest = {k: config[k] for k in ("name", "trainable") if k in config}
    return inputs, outputs, rest
