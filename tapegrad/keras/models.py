"""Keras 3's Model and Sequential on tapegrad: compile / fit / evaluate /
predict / train_on_batch, a History, Keras' progress bar and summary().

A training step is the step a user would write: the forward pass under a
GradientTape, the loss (the compiled loss plus the layers' added losses),
`tape.gradient`, `optimizer.apply_gradients` (one C call updating every
variable, src/optim.c), then the metrics.  Arrays are batched by slicing
whole arrays (NumPy `take` with the epoch's permutation), never per
element; a `tapegrad.data.Dataset` is iterated as it yields.  The running
loss shown and returned is the batch-size-weighted mean of the epoch's
batch losses, as Keras' loss tracker computes it.

Interrupting `fit` (Ctrl-C) leaves the variables as the last completed
step left them: an update is one C call that checks everything before it
writes, and Python delivers KeyboardInterrupt only between calls.
"""
import math
import sys
import time

import numpy as np

from .. import _tapegrad as C
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers
from . import _functional
from ._keras_tensor import KerasTensor
from ._functional import InputLayer
from .layers import (Layer, _building_in_call, _rebuild,
                     _shape_from_config, _with_auto_config)

__all__ = ["Model", "Sequential", "Functional", "load_model", "save_model"]


# ---- data ---------------------------------------------------------------------
def _as_array(x):
    if isinstance(x, (C.Tensor, C.Variable)):
        return x.numpy()
    return np.asarray(x)


def _nest_map(fn, x):
    if isinstance(x, (list, tuple)):
        return _rebuild(x, (_nest_map(fn, v) for v in x))
    if isinstance(x, dict):
        return {k: _nest_map(fn, v) for k, v in x.items()}
    return fn(x)


def _concat_batches(outs):
    """The batches' outputs (arrays, or lists, tuples or dicts of them, as
    a functional model with several outputs gives) joined along axis 0."""
    first = outs[0]
    if isinstance(first, (list, tuple)):
        return type(first)(_concat_batches([o[i] for o in outs])
                           for i in range(len(first)))
    if isinstance(first, dict):
        return {k: _concat_batches([o[k] for o in outs]) for k in first}
    return np.concatenate([np.atleast_1d(o) for o in outs], axis=0)


def _first_leaf(x):
    while isinstance(x, (list, tuple, dict)):
        x = next(iter(x.values())) if isinstance(x, dict) else x[0]
    return x


def _to_tensor(a):
    if isinstance(a, (C.Tensor, C.Variable)):
        return a
    a = np.asarray(a)
    if a.dtype == np.float64:       # Keras feeds float32 (floatx)
        a = a.astype(np.float32)
    return C.constant(a)


class _ArrayBatches:
    """(x, y, sample_weight) batches sliced from whole arrays."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle):
        self.x = _nest_map(_as_array, x)
        self.y = None if y is None else _nest_map(_as_array, y)
        self.sw = None if sample_weight is None else _as_array(sample_weight)
        self.n = len(_first_leaf(self.x))
        for name, part in (("y", self.y), ("sample_weight", self.sw)):
            if part is not None and len(_first_leaf(part)) != self.n:
                raise ValueError(
                    "Data cardinality is ambiguous. Make sure all arrays "
                    "contain the same number of samples. 'x' sizes: %d, "
                    "'%s' sizes: %d" % (self.n, name,
                                        len(_first_leaf(part))))
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return max(1, math.ceil(self.n / self.batch_size)) if self.n else 0

    # shuffled rows are gathered this many batches at a time: one np.take
    # per chunk instead of one per batch (fit's per-step cost on small
    # models), while the copy stays a bounded slice of the data
    CHUNK_BATCHES = 32

    def __iter__(self):
        """(x, y, sample_weight, batch size) per batch"""
        order = (np.random.permutation(self.n) if self.shuffle
                 else None)
        chunk = self.batch_size * self.CHUNK_BATCHES
        for c0 in range(0, self.n, chunk):
            c1 = min(c0 + chunk, self.n)
            if order is None:
                def rows(a, s=c0, e=c1):
                    return a[s:e]
            else:
                def rows(a, i=order[c0:c1]):
                    return np.take(a, i, axis=0)
            x, y, sw = (_nest_map(rows, p) if p is not None else None
                        for p in (self.x, self.y, self.sw))
            for start in range(0, c1 - c0, self.batch_size):
                stop = min(start + self.batch_size, c1 - c0)

                def take(a, s=start, e=stop):
                    return _to_tensor(a[s:e])
                yield (_nest_map(take, x),
                       None if y is None else _nest_map(take, y),
                       None if sw is None else take(sw),
                       stop - start)


class _DatasetBatches:
    """Batches a Dataset yields: x, (x, y) or (x, y, sample_weight)."""

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        n = self.ds._length()
        return n if n >= 0 else None

    def __iter__(self):
        """(x, y, sample_weight, batch size) per element"""
        for el in self.ds:
            if isinstance(el, tuple):
                if len(el) == 1:
                    x, y, sw = el[0], None, None
                elif len(el) == 2:
                    x, y, sw = el[0], el[1], None
                elif len(el) == 3:
                    x, y, sw = el
                else:
                    raise ValueError(
                        "A Dataset given to fit must yield x, (x, y) or (x, "
                        "y, sample_weight); got a tuple of %d" % len(el))
            else:
                x, y, sw = el, None, None
            leaf = _first_leaf(x)
            yield x, y, sw, (leaf.shape[0] if len(leaf.shape) else 1)


def _batches(x, y, sample_weight, batch_size, shuffle, what="fit"):
    from ..data import Dataset
    if isinstance(x, Dataset):
        if y is not None:
            raise ValueError(
                "When providing `x` as a tf.data.Dataset, `y` should not be "
                "passed. Instead, the targets should be included as part of "
                "the Dataset `x`.")
        return _DatasetBatches(x)
    if x is None:
        raise ValueError("Unexpected value for `x`: None (%s needs data)"
                         % what)
    if batch_size is not None and (not isinstance(batch_size, int) or
                                   batch_size <= 0):
        raise ValueError("`batch_size` must be a positive integer, got %r"
                         % (batch_size,))
    return _ArrayBatches(x, y, sample_weight, batch_size or 32, shuffle)


# ---- progress and history -------------------------------------------------------
def _format_time(seconds):
    if seconds >= 1:
        return "%.0fs/step" % seconds
    if seconds >= 1e-3:
        return "%.0fms/step" % (seconds * 1e3)
    return "%.0fus/step" % (seconds * 1e6)


def _format_logs(logs):
    out = []
    for k in sorted(logs, key=lambda k: (k.startswith("val_"), k)):
        v = logs[k]
        out.append(" - %s: %s" % (k, ("%.4f" % v) if abs(v) > 1e-3 or v == 0
                                   else ("%.4e" % v)))
    return "".join(out)


class _Progbar:
    """Keras 3's progress line: '12/32 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step -
    accuracy: 0.9000 - loss: 0.2500'.  On a terminal it is redrawn in
    place (at most every 50 ms); elsewhere (a notebook, a log file) only
    the finished line is printed."""

    WIDTH = 20

    def __init__(self, total, verbose):
        self.total = total
        self.verbose = verbose
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.tty = getattr(sys.stdout, "isatty", lambda: False)()

    def _line(self, step, logs):
        elapsed = time.perf_counter() - self.start
        per = elapsed / max(step, 1)
        if self.total:
            done = int(self.WIDTH * step / self.total)
            bar = "\u2501" * done + " " * (self.WIDTH - done) \
                if done < self.WIDTH else "\u2501" * self.WIDTH
            head = "%d/%d %s" % (step, self.total, bar)
        else:
            head = "%d" % step
        return "%s %ds %s%s" % (head, int(elapsed), _format_time(per),
                                _format_logs(logs))

    def due(self):
        """Whether a redraw is due (the logs cost metric reads: fit asks
        first)"""
        return self.tty and time.perf_counter() - self.last_draw >= 0.05

    def update(self, step, logs):
        self.last_draw = time.perf_counter()
        sys.stdout.write("\r" + self._line(step, logs))
        sys.stdout.flush()

    def finish(self, step, logs):
        if self.verbose == 1:
            sys.stdout.write(("\r" if self.tty else "") +
                             self._line(step, logs) + "\n")
        elif self.verbose == 2:
            elapsed = time.perf_counter() - self.start
            sys.stdout.write("%d/%d - %ds - %s%s\n" % (
                step, self.total or step, int(elapsed),
                _format_time(elapsed / max(step, 1)), _format_logs(logs)))
        sys.stdout.flush()


class History:
    """What fit returns: `history` maps each logged name to its values,
    one per epoch; `epoch` lists the epochs run."""

    def __init__(self, model, params):
        self.model = model
        self.params = params
        self.epoch = []
        self.history = {}

    def _record(self, epoch, logs):
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self):
        return "<History epochs=%d keys=%s>" % (len(self.epoch),
                                                sorted(self.history))


# ---- the model -----------------------------------------------------------------
def _resolve_metric(identifier, y, y_pred):
    """Keras' reading of 'accuracy' ('acc'): binary, sparse categorical or
    categorical, by the shapes of the targets and predictions."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy",
                                                             "acc"):
        pred_shape = tuple(y_pred.shape)
        true_shape = tuple(getattr(y, "shape", np.shape(y)))
        if pred_shape and pred_shape[-1] == 1:
            return _metrics.BinaryAccuracy(name=identifier)
        if len(true_shape) < len(pred_shape) or (
                true_shape and true_shape[-1] == 1):
            return _metrics.SparseCategoricalAccuracy(name=identifier)
        return _metrics.CategoricalAccuracy(name=identifier)
    m = _metrics.get(identifier)
    if not isinstance(m, _metrics.Metric):
        m = _metrics.MeanMetricWrapper(
            m, name=getattr(m, "__name__", None) or str(identifier))
    if isinstance(identifier, str):
        m.name = identifier         # Keras logs it as it was asked for
    return m


class Model(Layer):
    """A layer with training: subclass it and define call(inputs,
    training=None), use Sequential, or give `Model(inputs, outputs)`
    KerasTensors (keras.Input and the layers called on them: a Functional
    model); then compile() and fit()."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or
                             "outputs" in kwargs):
            return super().__new__(Functional, *args, **kwargs)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, name=None, trainable=True, **kwargs):
        if args or kwargs.get("inputs") is not None:
            raise NotImplementedError(
                "A Model subclass that passes inputs and outputs to "
                "Model.__init__ (a subclassed functional model) is not "
                "supported: build the model with keras.Model(inputs, "
                "outputs), or define call()")
        kwargs.pop("inputs", None)
        kwargs.pop("outputs", None)
        super().__init__(name=name, trainable=trainable, **kwargs)
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self._metric_ids = []
        self._metrics = None
        self.history = None
        self._step_variables = None     # fit's cached trainable_variables
        self._cache_variables = False

    def call(self, inputs, training=None):
        """The model's forward pass on `inputs`; a subclassed model defines
        it."""
        raise NotImplementedError(
            "Model %r has no call(): subclass Model and define call(inputs, "
            "training=None), or use tf.keras.Sequential" % self.name)

    def build(self, input_shape=None):
        """Create the model's variables for inputs of `input_shape`: a
        subclassed model's layers are built by their first call, so this
        calls the model once on zeros of that shape (1 for an unknown
        dimension), in inference mode.  The first real call builds the
        model without this (that call itself creates the variables)."""
        if input_shape is not None and not _building_in_call(self) and \
                not self.variables:
            _build_by_running(self, input_shape)
        self.built = True

    def get_config(self):
        """name and trainable; a subclass that defines no get_config()
        adds the arguments its constructor was called with (Keras 3's
        auto-config)."""
        config = {"name": self.name, "trainable": self.trainable}
        return _with_auto_config(self, config, Model.get_config)

    def build_from_config(self, config):
        """Build from get_build_config()'s input shape: the class's own
        build() if it defines one, else by calling the model on zeros."""
        if not config or "input_shape" not in config:
            return
        shape = _shape_from_config(config["input_shape"])
        if type(self).build is Model.build:
            _build_by_running(self, shape)
        else:
            self.build(shape)
        self._build_shape = shape
        self.built = True

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Write the model (config, weights, compile state and optimizer
        variables) to a `.keras` archive: keras.models.load_model reads
        it."""
        from .saving import save_model
        save_model(self, filepath, overwrite=overwrite, zipped=zipped,
                   **kwargs)

    # ---- compile -------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None,
                metrics=None, weighted_metrics=None, run_eagerly=False,
                steps_per_execution=1, jit_compile="auto", **kwargs):
        """Set the optimizer (an instance or a name), the loss (a Loss,
        a function or a name) and the metrics to report."""
        self.optimizer = _optimizers.get(optimizer)
        # the arguments as given, for the model file's compile_config
        self._compile_config = {
            "optimizer": self.optimizer, "loss": loss,
            "loss_weights": loss_weights, "metrics": metrics,
            "weighted_metrics": weighted_metrics, "run_eagerly": run_eagerly,
            "steps_per_execution": steps_per_execution,
            "jit_compile": jit_compile}
        if loss is None:
            self.loss = None
        else:
            lo = _losses.get(loss)
            if not isinstance(lo, _losses.Loss):
                lo = _losses.LossFunctionWrapper(
                    lo, name=getattr(lo, "__name__", None))
            self.loss = lo
        if isinstance(metrics, dict):
            raise NotImplementedError("metrics per output (a dict) are not "
                                      "supported: tapegrad models have one "
                                      "output")
        self._metric_ids = list(metrics or [])
        self._metrics = None         # resolved on the first batch
        self.compiled = True

    def get_compile_config(self):
        """compile()'s arguments, serialized (the optimizer as its config):
        what load_model compiles the model with.  None if not compiled."""
        if not self.compiled or getattr(self, "_compile_config",
                                        None) is None:
            return None
        from .saving import serialize_keras_object
        return serialize_keras_object(self._compile_config)

    def compile_from_config(self, config):
        """compile(**config) with get_compile_config()'s dict, then the
        optimizer's variables are created, as Keras does (load_model then
        reads their values)."""
        if type(self).compile is not Model.compile:
            import warnings
            warnings.warn(
                "`compile()` was not called as part of model loading "
                "because the model's `compile()` method is custom. All "
                "subclassed Models that have `compile()` overridden should "
                "also override `get_compile_config()` and "
                "`compile_from_config(config)`. Alternatively, you can call "
                "`compile()` manually after loading.", stacklevel=2)
            return
        from .saving import deserialize_keras_object
        config = deserialize_keras_object(config)
        self.compile(**config)

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(
                "You must call `compile()` before using the model (%s)."
                % what)

    @property
    def metrics(self):
        return list(self._metrics or [])

    @property
    def metrics_names(self):
        return ["loss"] + [m.name for m in self.metrics]

    def _build_metrics(self, y, y_pred):
        if self._metrics is None:
            self._metrics = [_resolve_metric(m, y, y_pred)
                             for m in self._metric_ids]

    def reset_metrics(self):
        """Reset the state of the compiled metrics (and of the loss
        tracker)."""
        for m in self.metrics:
            m.reset_state()

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        """The compiled loss of y and y_pred plus the losses the layers
        added (Keras' compute_loss)."""
        total = None
        if self.loss is not None:
            if y is None:
                raise ValueError(
                    "The model has a loss but fit/evaluate got no targets "
                    "`y`")
            total = self.loss(y, y_pred, sample_weight=sample_weight)
        for extra in getattr(self, "losses", ()) or ():
            total = extra if total is None else total + extra
        if total is None:
            raise ValueError(
                "No loss to compute. Provide a `loss` argument in "
                "`compile()`.")
        return total

    # ---- steps ---------------------------------------------------------------
    def train_step(self, x, y, sample_weight=None):
        """One step: forward under a tape, loss, gradients, update, metrics.
        Returns the loss tensor."""
        with C.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight)
        # after the forward pass: the first call builds the layers.  fit
        # keeps the list for its later steps (a walk over every attribute
        # of every layer costs more than the step on small models)
        variables = self._step_variables
        if variables is None:
            variables = list(self.trainable_variables)
            if self._cache_variables:
                self._step_variables = variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        self._update_metrics(y, y_pred, sample_weight)
        return loss

    def test_step(self, x, y, sample_weight=None):
        """One evaluation step on a batch (x, y[, sample_weight]): the loss and
        metrics, updated and returned as a dict."""
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sample_weight,
                                 training=False)
        self._update_metrics(y, y_pred, sample_weight)
        return loss

    def _update_metrics(self, y, y_pred, sample_weight):
        if not self._metric_ids or y is None:
            return
        self._build_metrics(y, y_pred)
        for m in self._metrics:
            m.update_state(y, y_pred, sample_weight=sample_weight)

    def _logs(self, loss_total, count, prefix=""):
        logs = {}
        if count:
            logs[prefix + "loss"] = loss_total / count
        for m in self.metrics:
            logs[prefix + m.name] = float(m.result())
        return logs

    # ---- fit / evaluate / predict ---------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto",
            callbacks=None, validation_split=0.0, validation_data=None,
            shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` passes over the data; returns a History whose
        `history` holds each epoch's loss and metrics (and val_ ones)."""
        self._require_compiled("fit")
        if class_weight is not None:
            raise NotImplementedError("class_weight is not supported")
        verbose = 1 if verbose == "auto" else int(verbose)
        if validation_split and validation_data is None:
            if not 0 < validation_split < 1:
                raise ValueError("`validation_split` must be in (0, 1), got "
                                 "%r" % (validation_split,))
            from ..data import Dataset
            if isinstance(x, Dataset):
                raise ValueError(
                    "`validation_split` is only supported for Tensors or "
                    "NumPy arrays, found a Dataset")
            xa, ya = _nest_map(_as_array, x), _nest_map(_as_array, y)
            n = len(_first_leaf(xa))
            cut = int(n * (1.0 - validation_split))
            validation_data = (_nest_map(lambda a: a[cut:], xa),
                               _nest_map(lambda a: a[cut:], ya))
            x, y = (_nest_map(lambda a: a[:cut], xa),
                    _nest_map(lambda a: a[:cut], ya))
            if sample_weight is not None:
                sample_weight = _as_array(sample_weight)[:cut]
        data = _batches(x, y, sample_weight, batch_size, shuffle)
        total = steps_per_epoch or len(data)
        history = History(self, {"verbose": verbose, "epochs": epochs,
                                 "steps": total})
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if hasattr(cb, "set_model"):
                cb.set_model(self)
            _call(cb, "on_train_begin")
        self.stop_training = False
        self._step_variables, self._cache_variables = None, True
        try:
            self._fit_epochs(data, total, epochs, initial_epoch, verbose,
                             callbacks, validation_data, validation_freq,
                             validation_batch_size or batch_size,
                             steps_per_epoch, history)
        finally:
            self._step_variables, self._cache_variables = None, False
        for cb in callbacks:
            _call(cb, "on_train_end")
        self.history = history
        return history

    def _fit_epochs(self, data, total, epochs, initial_epoch, verbose,
                    callbacks, validation_data, validation_freq,
                    validation_batch_size, steps_per_epoch, history):
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            for cb in callbacks:
                _call(cb, "on_epoch_begin", epoch)
            if verbose:
                print("Epoch %d/%d" % (epoch + 1, epochs))
            bar = _Progbar(total, verbose)
            loss_total, count, step = 0.0, 0, 0
            for xb, yb, swb, bs in data:
                loss = self.train_step(xb, yb, swb)
                loss_total += float(loss) * bs
                count += bs
                step += 1
                if verbose == 1 and bar.due():
                    bar.update(step, self._logs(loss_total, count))
                for cb in callbacks:
                    _call(cb, "on_train_batch_end", step - 1,
                          {"loss": float(loss)})
                if steps_per_epoch and step >= steps_per_epoch:
                    break
            logs = self._logs(loss_total, count)
            if validation_data is not None and \
                    (epoch + 1) % validation_freq == 0:
                logs.update(self._evaluate(validation_data,
                                           validation_batch_size,
                                           prefix="val_"))
            if verbose:
                bar.finish(step, logs)
            history._record(epoch, logs)
            for cb in callbacks:
                _call(cb, "on_epoch_end", epoch, logs)
            if self.stop_training:
                break

    def _evaluate(self, data, batch_size, prefix=""):
        if isinstance(data, tuple) and len(data) in (2, 3):
            x, y = data[0], data[1]
            sw = data[2] if len(data) == 3 else None
        else:
            x, y, sw = data, None, None
        self.reset_metrics()
        loss_total, count = 0.0, 0
        for xb, yb, swb, bs in _batches(x, y, sw, batch_size, False,
                                        "evaluate"):
            loss = self.test_step(xb, yb, swb)
            loss_total += float(loss) * bs
            count += bs
        return self._logs(loss_total, count, prefix)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto",
                 sample_weight=None, steps=None, callbacks=None,
                 return_dict=False):
        """The loss and metrics over the data: a scalar (loss only), a list
        [loss, *metrics], or a dict with return_dict=True."""
        self._require_compiled("evaluate")
        verbose = 1 if verbose == "auto" else int(verbose)
        data = (x, y) if sample_weight is None else (x, y, sample_weight)
        from ..data import Dataset
        if isinstance(x, Dataset):
            data = x
        bar = _Progbar(None, verbose)
        logs = self._evaluate(data, batch_size)
        if verbose:
            bar.finish(1, logs)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self.metrics]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None,
                callbacks=None):
        """The model's outputs for x, batch by batch, concatenated into a
        NumPy array (Keras returns NumPy)."""
        outs = []
        for xb, _, _, _ in _batches(x, None, None, batch_size, False,
                                    "predict"):
            outs.append(_nest_map(_as_array, self(xb, training=False)))
        if not outs:
            raise ValueError("Unexpected result of `predict_function` "
                             "(Empty batch_outputs). Please use "
                             "`Model.compile(..., run_eagerly=True)`, or "
                             "`tf.config.run_functions_eagerly(True)` for "
                             "more information of where went wrong, or file "
                             "a issue/bug to `keras`.")
        return _concat_batches(outs)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One training step on one batch; the loss (and metrics)."""
        return self._on_batch(self.train_step, "train_on_batch", x, y,
                              sample_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on one batch, without training."""
        return self._on_batch(self.test_step, "test_on_batch", x, y,
                              sample_weight, return_dict)

    def _on_batch(self, step, what, x, y, sample_weight, return_dict):
        self._require_compiled(what)
        self.reset_metrics()
        loss = step(_nest_map(_to_tensor, x),
                    None if y is None else _nest_map(_to_tensor, y),
                    None if sample_weight is None else
                    _to_tensor(sample_weight))
        logs = {"loss": float(loss)}
        logs.update({m.name: float(m.result()) for m in self.metrics})
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict_on_batch(self, x):
        """The model's predictions for one batch, as NumPy arrays."""
        return _nest_map(_as_array, self(_nest_map(_to_tensor, x),
                                         training=False))

    # ---- weights on disk ------------------------------------------------------
    def _weights_by_path(self):
        from ..train import _variables_by_path
        return {k: v for k, v in _variables_by_path(self).items()
                if not k.startswith(("optimizer/", "_metrics/"))}

    def save_weights(self, filepath, overwrite=True):
        """Write every weight of the model to `filepath`, an .npz file keyed
        by attribute path (tf.train.Checkpoint's format), atomically.
        Keras 3 writes HDF5 (.weights.h5): tapegrad writes .npz under
        whatever name is given."""
        from .._npzfile import _write_variables
        from ..train import _path_arg
        path = _path_arg(filepath, "filepath")
        if not overwrite and __import__("os").path.exists(path):
            raise FileExistsError("%s exists and overwrite=False" % path)
        _write_variables(path, self._weights_by_path())

    def load_weights(self, filepath, skip_mismatch=False):
        """Read the weights save_weights wrote into this model (built first:
        call it once).  Every weight must be in the file with its shape and
        dtype, else a ValueError naming each mismatch, and nothing
        changes."""
        from .._npzfile import _read_variables
        from ..train import _resolve_read_path
        if not self.built or not self.variables:
            raise ValueError(
                "Model %r has no weights yet: call it on a batch (which "
                "builds its layers) before load_weights" % self.name)
        _read_variables(_resolve_read_path(filepath),
                        self._weights_by_path())

    # ---- summary -------------------------------------------------------------
    @property
    def layers(self):
        """The layers this model holds, in the order they were set (Keras'
        tracking order)."""
        return self._model_layers()

    @layers.setter
    def layers(self, _):
        raise AttributeError(
            "`Model.layers` attribute is reserved and should not be used. "
            "Please use another name.")

    def _model_layers(self):
        return self._direct_layers()

    def _summary_layers(self):
        return self.layers

    def summary(self, line_length=None, positions=None, print_fn=None,
                expand_nested=False, show_trainable=False,
                layer_range=None):
        """Keras 3's table: each layer's name (type), output shape and
        parameter count, then the totals.  The output shape is the
        symbolic one (None for the batch) when the layer was called on
        KerasTensors or in a Sequential, else computed from the shape it
        was built with, else "?"."""
        print_fn = print_fn or print
        widths = (33, 24, 15)
        top = "\u250f" + "\u2533".join("\u2501" * w for w in widths) + "\u2513"
        head = "\u2503" + "\u2503".join(
            [" Layer (type)".ljust(widths[0]), " Output Shape".ljust(
                widths[1]), "Param # ".rjust(widths[2])]) + "\u2503"
        sep = "\u2521" + "\u2547".join("\u2501" * w for w in widths) + "\u2529"
        mid = "\u251c" + "\u253c".join("\u2500" * w for w in widths) + "\u2524"
        bottom = "\u2514" + "\u2534".join("\u2500" * w for w in widths) + \
            "\u2518"
        rows = []
        for layer in self._summary_layers():
            if not layer.built:
                count = "0 (unbuilt)"
            else:
                count = "{:,}".format(
                    sum(int(np.prod(v.shape)) for v in layer.variables))
            cells = [_wrap("%s (%s)" % (layer.name, type(layer).__name__),
                           widths[0] - 2),
                     _wrap(_summary_shape(layer), widths[1] - 2), [count]]
            height = max(len(c) for c in cells)
            lines = []
            for k in range(height):
                name_s, shape_s, count_s = (
                    c[k] if k < len(c) else "" for c in cells)
                lines.append("\u2502" + "\u2502".join([
                    (" " + name_s).ljust(widths[0]),
                    (" " + shape_s).ljust(widths[1]),
                    (count_s + " ").rjust(widths[2])]) + "\u2502")
            rows.append(lines)
        lines = ['Model: "%s"' % self.name, top, head, sep]
        for i, r in enumerate(rows):
            if i:
                lines.append(mid)
            lines.extend(r)
        lines.append(bottom)
        total = sum(int(np.prod(v.shape)) for v in self.variables)
        trainable = sum(int(np.prod(v.shape))
                        for v in self.trainable_variables)

        def size(n_params):
            b = sum(int(np.prod(v.shape)) * v.dtype.size
                    for v in self.variables) if n_params == total else None
            b = n_params * 4 if b is None else b
            for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20),
                                ("KB", 1 << 10)):
                if b >= scale:
                    return "%.2f %s" % (b / scale, unit)
            return "%.2f B" % b
        lines.append(" Total params: {:,} ({})".format(total, size(total)))
        lines.append(" Trainable params: {:,} ({})".format(
            trainable, size(trainable)))
        lines.append(" Non-trainable params: {:,} ({})".format(
            total - trainable, size(total - trainable)))
        for line in lines:
            print_fn(line)


def _format_shape(shape):
    """Keras' summary form of a shape: (None, 3)."""
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _summary_shape(layer):
    nodes = getattr(layer, "_inbound_nodes", None)
    if nodes:
        shapes = [_format_shape(t.shape) for t in nodes[-1].flat_outputs]
        return shapes[0] if len(shapes) == 1 else \
            "[" + ", ".join(shapes) + "]"
    shape = getattr(layer, "_output_shape", None)      # a Sequential's call
    if shape is not None:
        return _format_shape((None,) + tuple(shape[1:]))
    build = getattr(layer, "_build_shape", None)
    if not layer.built or build is None:
        return "?"
    try:
        return _format_shape(layer.compute_output_shape(build))
    except (NotImplementedError, TypeError, ValueError):
        return "?"


def _wrap(text, width):
    """`text` in lines of at most `width` characters, broken at spaces
    (rich's wrapping of a table cell), long words cut."""
    lines = []
    for word in text.split(" "):
        while len(word) > width:
            lines.append(word[:width])
            word = word[width:]
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _call(cb, method, *args):
    fn = getattr(cb, method, None)
    if fn is not None:
        fn(*args)


class Sequential(Model):
    """A stack of layers, each called on the previous one's output.  With
    an input shape (keras.Input first, or `input_shape=` on the first
    layer, as Keras 3 reads it) the stack is built right away on
    KerasTensors, so the summary shows every layer's output shape."""

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(name=name, trainable=trainable)
        self._layers = []
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self._layers:
            self._maybe_rebuild()

    def add(self, layer, rebuild=True):
        """Append a layer (or a keras.Input, which sets the input shape) to the
        stack."""
        if not self._layers and \
                getattr(layer, "_input_shape_arg", None) is not None:
            self.add(InputLayer(shape=layer._input_shape_arg), rebuild=False)
        if type(layer) is KerasTensor and layer._keras_history is not None \
                and isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise ValueError(
                "Only instances of `keras.Layer` can be added to a "
                "Sequential model. Received: %r (of type %s)"
                % (layer, type(layer)))
        if any(other.name == layer.name for other in self._layers):
            raise ValueError(
                "All layers added to a Sequential model should have unique "
                "names. Name '%s' is already the name of a layer in this "
                "model. Update the `name` argument to pass a unique name."
                % layer.name)
        if isinstance(layer, InputLayer) and self._layers and \
                isinstance(self._layers[0], InputLayer):
            raise ValueError(
                "Sequential model '%s' has already been configured to use "
                "input shape %s. You cannot add a different Input layer to "
                "it." % (self.name, self._layers[0].batch_shape))
        self._layers.append(layer)
        if rebuild:
            self._maybe_rebuild()
        else:
            self.built = False

    def _maybe_rebuild(self):
        """Build on KerasTensors when the input shape is known."""
        self.built = False
        if isinstance(self._layers[0], InputLayer) and len(self._layers) > 1:
            x = self._layers[0].output
            try:
                for layer in self._layers[1:]:
                    x = layer(x)
            except NotImplementedError:
                return
            self.built = True

    def pop(self, rebuild=True):
        """Remove the last layer and return it."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self.built = False
        if rebuild and self._layers:
            self._maybe_rebuild()
        return layer

    def _model_layers(self):
        """The layers added, without the InputLayer an input shape made."""
        if self._layers and isinstance(self._layers[0], InputLayer):
            return self._layers[1:]
        return list(self._layers)

    def build(self, input_shape=None):
        """As Model.build: called with a shape (not by the first call)
        and no variables yet, the layers are run once on zeros."""
        if input_shape is not None and not _building_in_call(self) and \
                not self.built and not self.variables and self._layers:
            _build_by_running(self, input_shape)
        self.built = True

    def build_from_config(self, config):
        if not self.built and config and "input_shape" in config:
            shape = _shape_from_config(config["input_shape"])
            _build_by_running(self, shape)
            self._build_shape = shape
        self.built = True

    def get_config(self):
        """Keras 3's Sequential config: every layer serialized, an input
        shape's InputLayer first."""
        from .saving import serialize_keras_object
        return {"name": self.name, "trainable": self.trainable,
                "layers": [serialize_keras_object(layer)
                           for layer in self._layers]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new Sequential model from the dict get_config() returned."""
        from .saving import deserialize_keras_object
        config = dict(config)
        layers = [deserialize_keras_object(c, custom_objects=custom_objects)
                  for c in config.pop("layers", [])]
        config.pop("build_input_shape", None)
        return cls(layers=layers, **config)

    def call(self, inputs, training=None):
        """Run the layers in order on `inputs`."""
        x = inputs
        for layer in self._layers:
            if isinstance(layer, InputLayer):
                continue
            x = layer(x, training=training)
            layer._output_shape = tuple(x.shape)
        return x


class Functional(Model):
    """`keras.Model(inputs, outputs)`: the layers called between
    keras.Input KerasTensors and the outputs, replayed in that order on
    real tensors (inputs and outputs may be lists or dicts of them)."""

    def __init__(self, inputs, outputs, name=None, trainable=True,
                 **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        nodes, layers = _functional.graph_nodes(inputs, outputs)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._nodes = nodes
        self._operations = layers
        self.built = True

    @property
    def inputs(self):
        return _functional.flatten(self._inputs_struct)

    @property
    def outputs(self):
        return _functional.flatten(self._outputs_struct)

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def _model_layers(self):
        return list(self._operations)

    def _convert_input(self, inputs):
        def convert(value, kt):
            if isinstance(value, (C.Tensor, C.Variable)):
                return value
            return C.convert_to_tensor(value, dtype=kt.dtype)
        if type(self._inputs_struct) is KerasTensor:
            return convert(inputs, self._inputs_struct)
        if isinstance(inputs, (C.Tensor, C.Variable)):
            return inputs
        flat_kt = _functional.flatten(self._inputs_struct)
        flat = _functional.flatten(inputs) if isinstance(
            inputs, (list, tuple, dict)) else [inputs]
        if len(flat) != len(flat_kt):
            return inputs       # run_graph says what is wrong
        it = iter(convert(v, kt) for v, kt in zip(flat, flat_kt))
        return _functional.map_structure(lambda _: next(it), inputs) \
            if isinstance(inputs, (list, tuple, dict)) else next(it)

    def call(self, inputs, training=None):
        """Replay the recorded layer calls on `inputs` (structured as the
        model's inputs)."""
        return _functional.run_graph(self._nodes, self._inputs_struct,
                                     self._outputs_struct, inputs, training)

    def compute_output_shape(self, input_shape):
        """The output shapes for inputs of `input_shape`, from the recorded
        graph of layers."""
        return self.output_shape

    def get_build_config(self):
        return None     # its layers were built from the inputs' shapes

    def get_config(self):
        """Keras 3's functional config: each layer serialized with its
        name and its calls in this graph ("inbound_nodes", whose
        KerasTensors are [layer name, node index, tensor index]), and the
        inputs and outputs the same way."""
        return _functional.graph_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new functional model from the dict get_config() returned (layers
        and the connections between them)."""
        from .saving import deserialize_keras_object
        inputs, outputs, rest = _functional.graph_from_config(
            config, lambda c: deserialize_keras_object(
                c, custom_objects=custom_objects))
        return cls(inputs, outputs, **rest)


def _build_by_running(model, input_shape):
    """Call `model` once on zeros of `input_shape` (None -> 1), in
    inference mode, so that its layers create their variables."""
    def zeros(shape):
        if isinstance(shape, dict):
            return {k: zeros(v) for k, v in shape.items()}
        if isinstance(shape, list) and shape and all(
                isinstance(d, (list, tuple, dict)) for d in shape):
            return [zeros(s) for s in shape]
        return C.zeros([1 if d is None else int(d) for d in shape],
                       dtype=C.float32)
    model(zeros(input_shape), training=False)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs):
    """keras.models.save_model: model.save(filepath)."""
    from .saving import save_model as _save
    return _save(model, filepath, overwrite=overwrite, zipped=zipped,
                 **kwargs)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """keras.models.load_model: the model a `.keras` archive holds."""
    from .saving import load_model as _load
    return _load(filepath, custom_objects=custom_objects, compile=compile,
                 safe_mode=safe_mode)
