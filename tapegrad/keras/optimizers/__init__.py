"""tapegrad.keras.optimizers: Keras 3's optimizers (SGD, Adam, AdamW,
RMSprop, Adagrad) with its `apply_gradients` semantics.

What runs per step in Python is bookkeeping only (None gradients dropped,
clipping, the learning rate read): the update of every variable and its
slots is one call into C (`_tapegrad._optimizer_apply`, src/optim.c), in
place, with Keras 3's formulas and order of operations, never recorded on a
tape.  The order inside `apply_gradients` is Keras': drop pairs whose
gradient is None (warn; all None is a ValueError), clip (`clipnorm` per
tensor, else `global_clipnorm`, else `clipvalue`), weight decay, the
update, then `iterations += 1`; a schedule is read at the current
`iterations`, before the increment.
"""
import warnings

from ... import _tapegrad as C
from . import schedules
from .schedules import LearningRateSchedule

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "get",
           "schedules"]

# the C kernels' kinds (src/optim.c)
_SGD, _ADAM, _RMSPROP, _ADAGRAD = 0, 1, 2, 3


def _zeros_like_var(var, name, value=0.0):
    v = C.Variable(C.fill(var.shape, C.constant(value, dtype=var.dtype)),
                   trainable=False)
    C._set_variable_name(v, name)
    return v


def _clip_by_norm(g, clip):
    return C.clip_by_norm(g, clip)


class Optimizer:
    """The base of Keras' optimizers: learning rate (a float or a
    `LearningRateSchedule`), `iterations`, clipping, weight decay, slot
    variables built on the first `apply_gradients`."""

    _kind = None
    _slot_names = ()

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None, use_ema=False,
                 ema_momentum=0.99, ema_overwrite_frequency=None,
                 loss_scale_factor=None, gradient_accumulation_steps=None,
                 name=None, **kwargs):
        if kwargs:
            raise TypeError("Argument(s) not recognized: %s" % (kwargs,))
        if sum(c is not None for c in (clipnorm, clipvalue,
                                       global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` "
                "can be set. Received: clipnorm=%s, clipvalue=%s, "
                "global_clipnorm=%s" % (clipnorm, clipvalue, global_clipnorm))
        if use_ema or gradient_accumulation_steps or loss_scale_factor:
            raise NotImplementedError(
                "tapegrad's optimizers do not implement use_ema, "
                "gradient_accumulation_steps or loss_scale_factor")
        self.name = name or type(self).__name__.lower()
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.iterations = C.Variable(0, dtype=C.int64, trainable=False)
        C._set_variable_name(self.iterations, "iteration")
        if isinstance(learning_rate, LearningRateSchedule):
            self._schedule = learning_rate
            self._learning_rate = None
        elif callable(learning_rate):
            raise TypeError(
                "learning_rate must be a float or a "
                "keras.optimizers.schedules.LearningRateSchedule, got %r"
                % (learning_rate,))
        else:
            self._schedule = None
            self._learning_rate = C.Variable(float(learning_rate),
                                             dtype=C.float32,
                                             trainable=False)
            C._set_variable_name(self._learning_rate, "learning_rate")
        self._slots = {}            # id(variable) -> (variable, slots)
        self._trainable = []        # built variables, in build order

    # ---- learning rate -------------------------------------------------------
    @property
    def learning_rate(self):
        """The current learning rate: the Variable, or the schedule's value
        at `iterations`."""
        if self._schedule is not None:
            return self._schedule(self.iterations)
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule) or self._schedule:
            raise TypeError(
                "This optimizer was created with a learning rate schedule; "
                "its learning rate cannot be set" if self._schedule else
                "A learning rate schedule is set at construction, not "
                "assigned")
        self._learning_rate.assign(float(value))

    def _current_lr(self):
        if self._schedule is not None:
            return float(self._schedule(self.iterations))
        return float(self._learning_rate)

    # ---- variables -------------------------------------------------------------
    def _slot_values(self, var):
        """(name suffix, initial value) of each slot this optimizer keeps
        for a variable."""
        return ()

    def build(self, var_list):
        """Create the slot variables of each variable not seen yet."""
        for var in var_list:
            if id(var) in self._slots:
                continue
            if not isinstance(var, C.Variable):
                raise TypeError(
                    "%s: expected a tapegrad.Variable to update, got %r"
                    % (type(self).__name__, var))
            if var.dtype not in (C.float32, C.float64):
                raise TypeError(
                    "%s: variable '%s' has dtype %s; the optimizers update "
                    "float32 and float64 variables"
                    % (type(self).__name__, var.name, var.dtype.name))
            base = var.name.split(":")[0].replace("/", "_")
            slots = tuple([_zeros_like_var(var, "%s_%s" % (base, suffix),
                                           value)
                           for suffix, value in self._slot_values(var)])
            self._slots[id(var)] = (var, slots)
            self._trainable.append(var)

    @property
    def variables(self):
        """iterations, the learning rate (unless a schedule), then each
        variable's slots in build order, as Keras 3 lists them."""
        out = [self.iterations]
        if self._learning_rate is not None:
            out.append(self._learning_rate)
        for var in self._trainable:
            out.extend(self._slots[id(var)][1])
        return out

    def _checkpoint_children(self):
        """What tf.train.Checkpoint saves of an optimizer: iterations, the
        learning rate Variable, and each built variable's slots under the
        variable's position in build order (the same from run to run for
        the same model), e.g. ``slots/0/kernel_momentum``."""
        out = [("iterations", self.iterations)]
        if self._learning_rate is not None:
            out.append(("learning_rate", self._learning_rate))
        slots = {}
        for i, var in enumerate(self._trainable):
            slots[str(i)] = {s.name: s for s in self._slots[id(var)][1]}
        out.append(("slots", slots))
        return out

    # ---- copies and pickles ----------------------------------------------------
    def __getstate__(self):
        """The slot table is keyed by id(variable), which a copy or another
        process does not keep: store each built variable's slots in build
        order instead (beside `_trainable`).  Copied or pickled together
        with its model, the optimizer then holds the copied variables and
        their slots stay theirs."""
        state = self.__dict__.copy()
        state["_slots"] = [self._slots[id(v)][1] for v in self._trainable]
        return state

    def __setstate__(self, state):
        state = dict(state)
        slots = state.pop("_slots")
        self.__dict__.update(state)
        self._slots = {id(v): (v, s) for v, s in zip(self._trainable, slots)}

    # ---- applying --------------------------------------------------------------
    def _hyper(self, lr):
        return ()

    def update_step(self, gradient, variable, learning_rate):
        """One variable's update, for optimizers defined in Python: a
        subclass of Optimizer overrides this (the built-in ones update in
        C)."""
        raise NotImplementedError(
            "%s.update_step(gradient, variable, learning_rate) is not "
            "defined: subclass Optimizer and define it, or use one of "
            "SGD, Adam, AdamW, RMSprop, Adagrad" % type(self).__name__)

    def apply_gradients(self, grads_and_vars):
        """Apply (gradient, variable) pairs; pairs whose gradient is None
        are skipped (with Keras' warning).  Returns `iterations`."""
        grads, variables = [], []
        for p in grads_and_vars:
            if type(p) is not tuple and type(p) is not list or len(p) != 2:
                raise TypeError(
                    "apply_gradients expects (gradient, variable) pairs, "
                    "got %r" % (p,))
            grads.append(p[0])
            variables.append(p[1])
        return self._apply(grads, variables)

    def apply(self, grads, trainable_variables=None):
        """Apply gradients to variables (by default, the variables the
        optimizer was built with)."""
        grads = list(grads)
        if trainable_variables is None:
            if not self._trainable:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer "
                    "must already be built on a list of variables. Call "
                    "`optimizer.build(trainable_variables)` first.")
            trainable_variables = self._trainable
        return self._apply(grads, list(trainable_variables))

    def _apply(self, grads, variables):
        # the common case costs a few dict lookups and one C call: the
        # kernel checks every variable, gradient and slot before writing
        if len(grads) != len(variables):
            raise ValueError(
                "Argument `grads` and `trainable_variables` must have the "
                "same length. Received: len(grads)=%d, "
                "len(trainable_variables)=%d" % (len(grads), len(variables)))
        # `is`, not `in`: `None in grads` compares NumPy gradients with ==
        if any(g is None for g in grads):
            grads, variables = self._drop_missing(grads, variables)
        for i, g in enumerate(grads):
            if type(g) is not C.Tensor:
                grads[i] = C.convert_to_tensor(
                    g, dtype=getattr(variables[i], "dtype", None))
        if self.clipnorm is not None or self.global_clipnorm is not None or \
                self.clipvalue is not None:
            grads = self._clip(grads)
        table = self._slots
        # a loop, not try/except KeyError nor any(generator): under
        # allocation failure CPython 3.11 can loop forever entering an
        # except handler (it allocates the handler's saved offset, fails
        # and retries), and a generator that fails is left unfinalized,
        # holding what its frame held (tools/run_nomemory.py found both)
        for v in variables:
            if id(v) not in table:
                self.build(variables)
                break
        slots = [table[id(v)][1] for v in variables]
        if self._kind is None:          # a subclass's Python update_step
            lr = self._current_lr()
            for g, v in zip(grads, variables):
                self.update_step(g, v, lr)
            self.iterations.assign_add(1)
            return self.iterations
        C._optimizer_apply(self._kind, variables, grads, slots,
                           self._hyper(self._current_lr()), self.iterations)
        return self.iterations

    def _drop_missing(self, grads, variables):
        kept = [(g, v) for g, v in zip(grads, variables) if g is not None]
        if not kept:
            raise ValueError("No gradients provided for any variable.")
        missing = [getattr(v, "name", v) for g, v in zip(grads, variables)
                   if g is None]
        warnings.warn(
            "Gradients do not exist for variables %s when minimizing the "
            "loss. If using `model.compile()`, did you forget to provide a "
            "`loss` argument?" % missing, stacklevel=4)
        return [g for g, _ in kept], [v for _, v in kept]

    def _clip(self, grads):
        if self.clipnorm is not None:
            return [_clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm is not None:
            from ..._clip import clip_by_global_norm
            return clip_by_global_norm(grads, self.global_clipnorm)[0]
        return [C.clip_by_value(g, -self.clipvalue, self.clipvalue)
                for g in grads]

    def minimize(self, loss, var_list, tape=None):
        """Compute the gradients of `loss` (a tensor recorded on `tape`, or
        a zero-argument callable) with respect to `var_list` and apply
        them."""
        var_list = list(var_list() if callable(var_list) else var_list)
        if tape is not None and not isinstance(tape, C.GradientTape):
            raise TypeError("`tape` must be a tapegrad.GradientTape, got %r"
                            % (tape,))
        if tape is None:
            if not callable(loss):
                raise ValueError(
                    "`tape` is required when a `Tensor` loss is passed. "
                    "Received: loss=%r, tape=None." % (loss,))
            with C.GradientTape() as tape:
                loss = loss()
        elif callable(loss):
            with tape:
                loss = loss()
        grads = tape.gradient(loss, var_list)
        return self.apply_gradients(zip(grads, var_list))

    def get_config(self):
        """The constructor's arguments; a schedule as its serialized
        {"class_name", "config", ...}, so from_config can rebuild it."""
        if self._schedule is not None:
            from ..saving import serialize_keras_object
            lr = serialize_keras_object(self._schedule)
        else:
            lr = float(self._learning_rate)
        return {"name": self.name, "learning_rate": lr,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new optimizer from the dict get_config() returned (a learning-rate
        schedule's config is rebuilt too)."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            from ..saving import deserialize_keras_object
            config["learning_rate"] = deserialize_keras_object(
                config["learning_rate"], custom_objects=custom_objects)
        return cls(**config)

    def __repr__(self):
        return "<%s name=%s, built=%s>" % (type(self).__name__, self.name,
                                          bool(self._trainable))


def _decay(weight_decay):
    return float(weight_decay or 0.0)


class SGD(Optimizer):
    """p -= lr * g; with momentum mu: m = m * mu - lr * g, then p += m
    (nesterov: p += m * mu - lr * g)."""

    _kind = _SGD

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False,
                 **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _slot_values(self, var):
        return (("momentum", 0.0),) if self.momentum != 0 else ()

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum,
                "nesterov": self.nesterov}

    def _hyper(self, lr):
        return (lr, self.momentum, float(self.nesterov),
                _decay(self.weight_decay))


class Adam(Optimizer):
    """Keras 3's Adam: epsilon is added to the uncorrected sqrt(v)."""

    _kind = _ADAM

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.amsgrad = bool(amsgrad)

    def _slot_values(self, var):
        s = (("momentum", 0.0), ("velocity", 0.0))
        return s + ((("velocity_hat", 0.0),) if self.amsgrad else ())

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}

    def _hyper(self, lr):
        return (lr, self.beta_1, self.beta_2, self.epsilon,
                float(self.amsgrad), _decay(self.weight_decay))


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.004): p -= p * wd * lr
    before the Adam step."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. "
                             "Received: weight_decay=None")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad,
                         weight_decay=weight_decay, **kwargs)


class RMSprop(Optimizer):
    """v = rho v + (1 - rho) g^2; p -= lr g / sqrt(v + eps) (centered:
    sqrt(v - a^2 + eps)); with momentum, through a momentum slot."""

    _kind = _RMSPROP

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0,
                 epsilon=1e-7, centered=False, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho = float(rho)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.centered = bool(centered)

    def _slot_values(self, var):
        s = (("velocity", 0.0),)
        if self.momentum > 0:
            s += (("momentum", 0.0),)
        if self.centered:
            s += (("average_gradient", 0.0),)
        return s

    def get_config(self):
        return {**super().get_config(), "rho": self.rho,
                "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}

    def _hyper(self, lr):
        return (lr, self.rho, self.momentum, self.epsilon,
                float(self.centered), _decay(self.weight_decay))


class Adagrad(Optimizer):
    """acc += g^2; p -= lr g / sqrt(acc + eps); acc starts at
    initial_accumulator_value."""

    _kind = _ADAGRAD

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1,
                 epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _slot_values(self, var):
        return (("accumulator", self.initial_accumulator_value),)

    def get_config(self):
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}

    def _hyper(self, lr):
        return (lr, self.epsilon, _decay(self.weight_decay))


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop,
            "adagrad": Adagrad}


def get(identifier):
    """An optimizer from an instance, a name ('adam') or a config dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _BY_NAME.get(str(identifier["class_name"]).lower())
        if cls is not None:
            return cls.from_config(identifier.get("config", {}))
    raise ValueError("Could not interpret optimizer identifier: %r"
                     % (identifier,))
