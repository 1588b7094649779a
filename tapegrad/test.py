"""tapegrad.test: gradient checkers for your own functions.

- ``compute_gradient(f, x, delta=None)`` is TF's ``tf.test.compute_gradient``:
  the theoretical and numerical Jacobians of ``f`` at ``x``, as lists of 2-D
  NumPy arrays of shape ``(x_size, y_size)``, one per argument.
- ``check_gradients(f, *args, order=2)`` checks the gradient of ``f`` the way
  JAX's ``check_grads`` and HIPS autograd do: one random direction ``u`` and
  one random cotangent ``v`` per check, comparing ``<vjp(v), u>`` with
  ``<v, (f(x + eps u) - f(x - eps u)) / (2 eps)>``, then the same for the
  vjp itself (order 2, through nested tapes), and so on.  It raises
  ``AssertionError`` naming the order and argument that disagree.

Both run ``f`` on tapegrad tensors and use finite differences, so they need
floating-point inputs; do the checks in float64 where you can.
"""
import numpy as np

from ._tapegrad import GradientTape, concat, constant, reshape, zeros_like

__all__ = ["check_gradients", "compute_gradient"]

# (finite-difference step, relative tolerance, absolute tolerance) by dtype:
# the step balances truncation (eps^2) against rounding (ulp / eps).
_TOLERANCES = {
    np.dtype(np.float64): (1e-6, 1e-5, 1e-7),
    np.dtype(np.float32): (1e-3, 2e-3, 1e-4),
    np.dtype(np.float16): (1e-1, 5e-2, 1e-2),
}


def _as_array(x):
    a = np.array(x.numpy() if hasattr(x, "numpy") else x)
    if a.dtype.kind != "f":
        raise TypeError(
            "gradient checks need floating-point inputs, got dtype %s"
            % a.dtype)
    return a


def _y_array(y):
    if isinstance(y, (list, tuple)):
        raise TypeError("the checked function must return one tensor")
    return np.asarray(y.numpy(), dtype=np.float64)


def compute_gradient(f, x, delta=None):
    """Theoretical and numerical Jacobians of ``f`` at the list ``x``.

    Returns ``(theoretical, numerical)``: two tuples with one 2-D array per
    element of ``x``, each of shape ``(x[i].size, y.size)``; the
    theoretical one takes one reverse sweep per element of ``y``, the
    numerical one central differences with step ``delta`` (default 1e-3).
    """
    if not isinstance(x, (list, tuple)):
        raise TypeError("compute_gradient: `x` must be a list of tensors")
    xs = [_as_array(a) for a in x]
    delta = 1e-3 if delta is None else float(delta)
    y0 = f(*[constant(a) for a in xs])
    y_size = int(np.size(y0.numpy()))
    y_dtype = y0.numpy().dtype
    theoretical = [np.zeros((a.size, y_size), dtype=a.dtype) for a in xs]
    numerical = [np.zeros((a.size, y_size), dtype=a.dtype) for a in xs]
    for j in range(y_size):
        seed = np.zeros(y_size, dtype=y_dtype)
        seed[j] = 1
        ts = [constant(a) for a in xs]
        with GradientTape() as tape:
            tape.watch(ts)
            y = f(*ts)
        grads = tape.gradient(y, ts,
                              output_gradients=constant(seed.reshape(y.shape)))
        for i, g in enumerate(grads):
            if g is not None:
                theoretical[i][:, j] = np.asarray(g.numpy()).reshape(-1)
    for i, a in enumerate(xs):
        flat = a.reshape(-1)
        for k in range(a.size):
            plus, minus = flat.copy(), flat.copy()
            plus[k] += delta
            minus[k] -= delta
            args_p = [constant(b) for b in xs]
            args_m = [constant(b) for b in xs]
            args_p[i] = constant(plus.reshape(a.shape))
            args_m[i] = constant(minus.reshape(a.shape))
            diff = _y_array(f(*args_p)) - _y_array(f(*args_m))
            numerical[i][k, :] = diff.reshape(-1) / (2 * delta)
    return tuple(theoretical), tuple(numerical)


def _vjp(f, args, v):
    """(y, gradients) of f at the tensors `args` for cotangent `v`."""
    with GradientTape() as tape:
        tape.watch(list(args))
        y = f(*args)
    grads = tape.gradient(y, list(args), output_gradients=v)
    return y, grads


def _check_vjp(f, arrays, rng, order, rtol, atol):
    dtype = arrays[0].dtype
    eps, default_rtol, default_atol = _TOLERANCES[np.dtype(dtype)]
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    y0 = f(*[constant(a) for a in arrays])
    y0_np = np.asarray(y0.numpy())
    v = rng.standard_normal(y0_np.shape).astype(y0_np.dtype)
    _, grads = _vjp(f, [constant(a) for a in arrays], constant(v))
    for i, a in enumerate(arrays):
        u = rng.standard_normal(a.shape)
        plus = [b for b in arrays]
        minus = [b for b in arrays]
        plus[i] = (a + eps * u).astype(a.dtype)
        minus[i] = (a - eps * u).astype(a.dtype)
        fd = (_y_array(f(*[constant(b) for b in plus]))
              - _y_array(f(*[constant(b) for b in minus]))) / (2 * eps)
        g = (np.zeros(a.shape) if grads[i] is None
             else np.asarray(grads[i].numpy(), dtype=np.float64))
        lhs = float(np.sum(g * u))
        rhs = float(np.sum(v.astype(np.float64) * fd))
        scale = max(float(np.sum(np.abs(g * u))),
                    float(np.sum(np.abs(v * fd))), 1.0)
        if abs(lhs - rhs) > atol + rtol * scale:
            raise AssertionError(
                "gradient check failed at order %d for argument %d: "
                "<vjp(v), u> = %.10g but finite differences give %.10g"
                % (order, i, lhs, rhs))


def check_gradients(f, *args, order=2, rtol=None, atol=None, seed=0):
    """Check reverse-mode derivatives of ``f`` up to ``order``.

    ``f`` takes tensors and returns one tensor; ``args`` are arrays,
    tensors or numbers (floating point).  Order 1 checks the vjp of ``f``;
    order 2 checks the vjp of the vjp, computed through nested tapes, and
    so on.  Raises ``AssertionError`` on disagreement.
    """
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
        raise TypeError("check_gradients: order must be an int, got %r"
                        % (order,))
    if order < 1:
        raise ValueError("check_gradients: order must be >= 1, got %r"
                         % (order,))
    arrays = [_as_array(a) for a in args]
    rng = np.random.default_rng(seed)
    _check(f, arrays, rng, order, 1, rtol, atol)


def _check(f, arrays, rng, order, level, rtol, atol):
    _check_vjp(f, arrays, rng, level, rtol, atol)
    if level >= order:
        return
    y0 = np.asarray(f(*[constant(a) for a in arrays]).numpy())
    v0 = rng.standard_normal(y0.shape).astype(y0.dtype)

    def vjp_fn(*xs_and_v):
        *xs, v = xs_and_v
        _, grads = _vjp(f, xs, v)
        parts = []
        for x, g in zip(xs, grads):
            parts.append(reshape(zeros_like(x) if g is None else g, [-1]))
        return concat(parts, 0) if len(parts) > 1 else parts[0]

    _check(vjp_fn, arrays + [v0], rng, order, level + 1, rtol, atol)

