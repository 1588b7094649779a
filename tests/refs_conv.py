"""References for the convolution rows (src/ops_conv.def): plain NumPy
loops over the kernel offsets, in float64, channels last, explicit
padding, feature groups from the shapes (input channels / the filters'
in-channels).  Each offset of the kernel is one strided slice of the
zero-padded input; the two backprop rows are the same loop transposed."""
import numpy as np

__all__ = ["conv", "conv_backprop_input", "conv_backprop_filter"]


def _geo(xshape, wshape, strides, padding, dilations):
    nsp = len(xshape) - 2
    s = list(strides) if strides is not None else [1] * nsp
    d = list(dilations) if dilations is not None else [1] * nsp
    p = [tuple(q) for q in padding] if padding is not None \
        else [(0, 0)] * nsp
    out = [(xshape[1 + i] + p[i][0] + p[i][1] - (wshape[i] - 1) * d[i] - 1)
           // s[i] + 1 for i in range(nsp)]
    cg, cout = wshape[-2], wshape[-1]
    groups = xshape[-1] // cg
    return s, d, p, out, cg, cout // groups, groups


def _check(gy, n, out, cout):
    """out_backprop must have the convolution's output shape (the rows
    raise otherwise, and so do the references)"""
    if gy.shape != (n,) + tuple(out) + (cout,):
        raise ValueError("out_backprop %s, computed %s"
                         % (gy.shape, (n,) + tuple(out) + (cout,)))


def _window(idx, s, d, out):
    """the padded input's slice that kernel offset idx reads"""
    return (slice(None),) + tuple(
        slice(i * di, i * di + (o - 1) * si + 1, si)
        for i, si, di, o in zip(idx, s, d, out)) + (slice(None),)


def conv(input, filters, strides=None, padding=None, dilations=None):
    x = np.asarray(input, np.float64)
    w = np.asarray(filters, np.float64)
    s, d, p, out, cg, og, groups = _geo(x.shape, w.shape, strides, padding,
                                        dilations)
    xp = np.pad(x, [(0, 0)] + p + [(0, 0)])
    y = np.zeros((x.shape[0],) + tuple(out) + (w.shape[-1],))
    for idx in np.ndindex(*w.shape[:-2]):
        patch = xp[_window(idx, s, d, out)]
        for g in range(groups):
            y[..., g * og:(g + 1) * og] += (
                patch[..., g * cg:(g + 1) * cg]
                @ w[idx][:, g * og:(g + 1) * og])
    return y.astype(np.asarray(input).dtype)


def conv_backprop_input(filters, out_backprop, input_sizes=None,
                        strides=None, padding=None, dilations=None):
    w = np.asarray(filters, np.float64)
    gy = np.asarray(out_backprop, np.float64)
    shape = tuple(input_sizes)
    s, d, p, out, cg, og, groups = _geo(shape, w.shape, strides, padding,
                                        dilations)
    _check(gy, shape[0], out, w.shape[-1])
    dxp = np.zeros((shape[0],) + tuple(n + a + b for n, (a, b)
                                       in zip(shape[1:-1], p)) + shape[-1:])
    for idx in np.ndindex(*w.shape[:-2]):
        win = dxp[_window(idx, s, d, out)]
        for g in range(groups):
            win[..., g * cg:(g + 1) * cg] += (
                gy[..., g * og:(g + 1) * og]
                @ w[idx][:, g * og:(g + 1) * og].T)
    crop = (slice(None),) + tuple(slice(a, a + n) for n, (a, b)
                                  in zip(shape[1:-1], p)) + (slice(None),)
    return dxp[crop].astype(np.asarray(filters).dtype)


def conv_backprop_filter(input, out_backprop, filter_sizes=None,
                         strides=None, padding=None, dilations=None):
    x = np.asarray(input, np.float64)
    gy = np.asarray(out_backprop, np.float64)
    wshape = tuple(filter_sizes)
    s, d, p, out, cg, og, groups = _geo(x.shape, wshape, strides, padding,
                                        dilations)
    _check(gy, x.shape[0], out, wshape[-1])
    xp = np.pad(x, [(0, 0)] + p + [(0, 0)])
    dw = np.zeros(wshape)
    axes = list(range(x.ndim - 1))
    for idx in np.ndindex(*wshape[:-2]):
        patch = xp[_window(idx, s, d, out)]
        for g in range(groups):
            dw[idx][:, g * og:(g + 1) * og] = np.tensordot(
                patch[..., g * cg:(g + 1) * cg],
                gy[..., g * og:(g + 1) * og], (axes, axes))
    return dw.astype(np.asarray(input).dtype)
