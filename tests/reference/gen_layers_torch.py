#!/usr/bin/python3
"""Write the PyTorch reference fixtures for tests/test_layers.c.

Run with Debian's python (python3-torch 1.13, python3-h5py), from the repository root:
    /usr/bin/python3 tests/reference/gen_layers_torch.py
It writes tests/data/layers_torch.h5 (small, committed). The C test only reads it.

One group per case, each holding the input x, the layer's parameters (w, b, running_mean/var
before the step), fixed output weights r, the output y = layer(x), and the gradients of
sum(r * y) with respect to x and the parameters (dx, dw, db). Batch-norm training cases also hold
running_mean_after / running_var_after. Attributes give the layer's settings.
"""
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "layers_torch.h5")


def f32(t):
    return t.detach().cpu().numpy().astype(np.float32)


def run(h, name, x, fn, params, attrs, extra=None):
    g = h.create_group(name)
    x = x.clone().requires_grad_(True)
    ps = {k: v.clone().requires_grad_(True) for k, v in params.items() if v is not None}
    y = fn(x, ps)
    r = torch.rand_like(y) * 2 - 1
    (r * y).sum().backward()
    g["x"] = f32(x)
    g["y"] = f32(y)
    g["r"] = f32(r)
    g["dx"] = f32(x.grad)
    for k, v in ps.items():
        g[k] = f32(v)
        g["d" + k] = f32(v.grad)
    for k, v in attrs.items():
        g.attrs[k] = v
    if extra:
        for k, v in extra.items():
            g[k] = f32(v)


def conv_case(h, name, x_shape, w_shape, bias, stride, pad, dil):
    x = torch.randn(*x_shape)
    w = torch.randn(*w_shape) * (1.0 / np.sqrt(np.prod(w_shape[1:])))
    b = torch.randn(w_shape[0]) * 0.1 if bias else None
    run(h, name, x, lambda x, p: F.conv2d(x, p["w"], p.get("b"), stride, pad, dil),
        {"w": w, "b": b}, {"stride": stride, "pad": pad, "dil": dil, "bias": int(bias)})


def convt_case(h, name, x_shape, w_shape, bias, stride, pad, outpad):
    x = torch.randn(*x_shape)
    w = torch.randn(*w_shape) * 0.3
    b = torch.randn(w_shape[1]) * 0.1 if bias else None
    run(h, name, x,
        lambda x, p: F.conv_transpose2d(x, p["w"], p.get("b"), stride, pad, outpad),
        {"w": w, "b": b}, {"stride": stride, "pad": pad, "outpad": outpad, "bias": int(bias)})


def bn_case(h, name, x_shape, training):
    C = x_shape[1]
    x = torch.randn(*x_shape) * 2 + 0.5
    w = torch.rand(C) + 0.5
    b = torch.randn(C) * 0.2
    rm0 = torch.randn(C) * 0.3
    rv0 = torch.rand(C) + 0.5
    rm, rv = rm0.clone(), rv0.clone()

    def fn(x, p):
        return F.batch_norm(x, rm, rv, p["w"], p["b"], training=training, momentum=0.1, eps=1e-5)

    run(h, name, x, fn, {"w": w, "b": b}, {"training": int(training), "momentum": 0.1,
                                          "eps": 1e-5},
        {"running_mean": rm0, "running_var": rv0, "running_mean_after": rm,
         "running_var_after": rv})


def in_case(h, name, x_shape, affine):
    C = x_shape[1]
    x = torch.randn(*x_shape) * 1.5 - 0.3
    w = torch.rand(C) + 0.5 if affine else None
    b = torch.randn(C) * 0.2 if affine else None
    run(h, name, x, lambda x, p: F.instance_norm(x, weight=p.get("w"), bias=p.get("b"), eps=1e-5),
        {"w": w, "b": b}, {"affine": int(affine)})


def main():
    with h5py.File(OUT, "w") as h:
        conv_case(h, "conv_s2p1", (2, 3, 9, 8), (5, 3, 3, 3), True, 2, 1, 1)
        conv_case(h, "conv_dil2", (1, 4, 10, 9), (3, 4, 3, 3), False, 1, 2, 2)
        conv_case(h, "conv_1x1_s2", (2, 8, 7, 7), (6, 8, 1, 1), False, 2, 0, 1)
        conv_case(h, "conv_7x7_s2p3", (1, 3, 12, 12), (4, 3, 7, 7), True, 2, 3, 1)
        conv_case(h, "conv_4x4_s2p1", (2, 3, 8, 8), (4, 3, 4, 4), True, 2, 1, 1)
        convt_case(h, "convt_s2p1op1", (2, 6, 5, 4), (6, 3, 3, 3), True, 2, 1, 1)
        convt_case(h, "convt_s2p1", (1, 4, 4, 4), (4, 2, 3, 3), False, 2, 1, 0)
        bn_case(h, "bn_train", (4, 5, 6, 6), True)
        bn_case(h, "bn_eval", (3, 5, 4, 4), False)
        in_case(h, "in_affine", (2, 4, 7, 5), True)
        in_case(h, "in_plain", (2, 3, 6, 6), False)
        # pooling: distinct values so that max pooling has no ties
        x = torch.randperm(2 * 3 * 9 * 9).float().reshape(2, 3, 9, 9) / 50.0
        run(h, "maxpool_3s2p1", x, lambda x, p: F.max_pool2d(x, 3, 2, 1), {},
            {"k": 3, "s": 2, "p": 1})
        x = torch.randperm(2 * 2 * 8 * 6).float().reshape(2, 2, 8, 6) / 40.0
        run(h, "maxpool_2", x, lambda x, p: F.max_pool2d(x, 2), {}, {"k": 2, "s": 2, "p": 0})
        x = torch.randn(2, 3, 8, 7)
        run(h, "avgpool_2", x, lambda x, p: F.avg_pool2d(x, 2), {}, {"k": 2, "s": 2, "p": 0})
        run(h, "avgpool_3s2p1", x, lambda x, p: F.avg_pool2d(x, 3, 2, 1), {},
            {"k": 3, "s": 2, "p": 1})
        run(h, "gap", x, lambda x, p: F.adaptive_avg_pool2d(x, 1), {}, {})
        x = torch.randn(2, 3, 5, 4)
        run(h, "interp_ac_up", x,
            lambda x, p: F.interpolate(x, size=(9, 11), mode="bilinear", align_corners=True), {},
            {"oh": 9, "ow": 11, "align": 1})
        run(h, "interp_up", x,
            lambda x, p: F.interpolate(x, size=(10, 7), mode="bilinear", align_corners=False), {},
            {"oh": 10, "ow": 7, "align": 0})
        x = torch.randn(1, 2, 12, 10)
        run(h, "interp_down", x,
            lambda x, p: F.interpolate(x, size=(5, 4), mode="bilinear", align_corners=False), {},
            {"oh": 5, "ow": 4, "align": 0})
        run(h, "interp_ac_down", x,
            lambda x, p: F.interpolate(x, size=(5, 3), mode="bilinear", align_corners=True), {},
            {"oh": 5, "ow": 3, "align": 1})
        x = torch.randn(2, 2, 6, 5)
        run(h, "pad_reflect3", x, lambda x, p: F.pad(x, (3, 3, 3, 3), mode="reflect"), {},
            {"l": 3, "r": 3, "t": 3, "b": 3, "mode": 1})
        run(h, "pad_zero", x, lambda x, p: F.pad(x, (1, 2, 0, 3)), {},
            {"l": 1, "r": 2, "t": 0, "b": 3, "mode": 0})
        x = torch.randn(4, 10)
        run(h, "linear", x, lambda x, p: F.linear(x, p["w"], p["b"]),
            {"w": torch.randn(6, 10) * 0.3, "b": torch.randn(6) * 0.1}, {})
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
