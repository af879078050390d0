#!/usr/bin/python3
"""Write the PyTorch reference fixtures for tests/test_autodiff_torch.c.

Run with Debian's python (python3-torch 1.13, python3-h5py), from the repository root:
    /usr/bin/python3 tests/reference/gen_autodiff_torch.py
It writes tests/data/autodiff_torch.h5 (small, committed). The C test only reads it.

Groups:
  mlp/      a two-layer MLP (tanh) trained 20 steps with Adam: inputs, initial parameters, the loss
            before each step, final parameters.
  optim/<name>/  one parameter vector updated 5 times from a fixed gradient sequence, for SGD
            (plain, momentum+dampening, nesterov+weight decay), Adam (with and without L2), AdamW,
            and Adam with two parameter groups at different learning rates.
  sched/<name>/  the learning rate used at each of 30 steps (base 0.1) for constant, StepLR,
            CosineAnnealingLR, LinearLR warm-up and warm-up followed by cosine (SequentialLR).
  clip/     gradients before and after clip_grad_norm_ and the returned norm.
  ops/<name>/  x, weights r, f(x) and d sum(r*f(x))/dx for ops whose exact semantics matter.
"""
import math
import os

import h5py
import numpy as np
import torch

torch.manual_seed(0)
torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "autodiff_torch.h5")


def f32(t):
    return t.detach().cpu().numpy().astype(np.float32)


def gen_mlp(h):
    g = h.create_group("mlp")
    n, din, dh, dout, steps = 16, 8, 32, 4, 20
    x = torch.randn(n, din)
    y = torch.randn(n, dout)
    l1 = torch.nn.Linear(din, dh)
    l2 = torch.nn.Linear(dh, dout)
    for name, t in [("x", x), ("y", y), ("w1", l1.weight), ("b1", l1.bias), ("w2", l2.weight),
                    ("b2", l2.bias)]:
        g[name] = f32(t)
    opt = torch.optim.Adam(list(l1.parameters()) + list(l2.parameters()), lr=1e-2)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        out = l2(torch.tanh(l1(x)))
        loss = ((out - y) ** 2).mean()
        loss.backward()
        losses.append(loss.item())
        opt.step()
    g["losses"] = np.array(losses, dtype=np.float64)
    for name, t in [("w1_final", l1.weight), ("b1_final", l1.bias), ("w2_final", l2.weight),
                    ("b2_final", l2.bias)]:
        g[name] = f32(t)
    g.attrs["lr"] = 1e-2
    g.attrs["steps"] = steps


OPTIMS = [
    # name, kind (0 sgd, 1 adam, 2 adamw), lr, momentum, dampening, nesterov, weight_decay
    ("sgd", 0, 0.1, 0.0, 0.0, 0, 0.0),
    ("sgd_momentum", 0, 0.05, 0.9, 0.1, 0, 0.0),
    ("sgd_nesterov_wd", 0, 0.05, 0.8, 0.0, 1, 0.01),
    ("adam", 1, 0.01, 0, 0, 0, 0.0),
    ("adam_l2", 1, 0.01, 0, 0, 0, 0.1),
    ("adamw", 2, 0.01, 0, 0, 0, 0.1),
]


def gen_optim(h):
    n, steps = 10, 5
    p0 = torch.randn(n)
    grads = torch.randn(steps, n)
    for name, kind, lr, mom, damp, nest, wd in OPTIMS:
        g = h.create_group("optim/" + name)
        p = torch.nn.Parameter(p0.clone())
        if kind == 0:
            opt = torch.optim.SGD([p], lr=lr, momentum=mom, dampening=damp, nesterov=bool(nest),
                                  weight_decay=wd)
        elif kind == 1:
            opt = torch.optim.Adam([p], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
        else:
            opt = torch.optim.AdamW([p], lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd)
        after = []
        for k in range(steps):
            p.grad = grads[k].clone()
            opt.step()
            after.append(f32(p).copy())
        g["p0"] = f32(p0)
        g["grads"] = f32(grads)
        g["after"] = np.stack(after)
        for a, v in [("kind", kind), ("lr", lr), ("momentum", mom), ("dampening", damp),
                     ("nesterov", nest), ("weight_decay", wd)]:
            g.attrs[a] = v
    # two groups (pose and identity in fitting) with different rates
    g = h.create_group("optim/adam_groups")
    pa = torch.nn.Parameter(p0[:4].clone())
    pb = torch.nn.Parameter(p0[4:].clone())
    opt = torch.optim.Adam([{"params": [pa], "lr": 0.1}, {"params": [pb], "lr": 0.001}])
    after = []
    for k in range(steps):
        pa.grad = grads[k, :4].clone()
        pb.grad = grads[k, 4:].clone()
        opt.step()
        after.append(np.concatenate([f32(pa), f32(pb)]))
    g["p0"] = f32(p0)
    g["grads"] = f32(grads)
    g["after"] = np.stack(after)
    g.attrs["lr0"] = 0.1
    g.attrs["lr1"] = 0.001


def gen_sched(h):
    steps, base = 30, 0.1

    def run(name, make, attrs):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=base)
        sch = make(opt)
        lrs = []
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if sch is not None:
                sch.step()
        g = h.create_group("sched/" + name)
        g["lr"] = np.array(lrs, dtype=np.float64)
        for a, v in attrs.items():
            g.attrs[a] = v

    S = torch.optim.lr_scheduler
    run("constant", lambda o: None, {"kind": 0})
    run("step", lambda o: S.StepLR(o, step_size=7, gamma=0.5),
        {"kind": 1, "step_size": 7, "gamma": 0.5})
    run("cosine", lambda o: S.CosineAnnealingLR(o, T_max=30, eta_min=0.001),
        {"kind": 2, "total_steps": 30, "min_factor": 0.01})
    run("warmup", lambda o: S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=5),
        {"kind": 0, "warmup_steps": 5, "warmup_start": 0.1})
    run("warmup_cosine",
        lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                     S.CosineAnnealingLR(o, T_max=25, eta_min=0.001)],
                                 milestones=[5]),
        {"kind": 2, "total_steps": 25, "min_factor": 0.01, "warmup_steps": 5,
         "warmup_start": 0.1})


def gen_clip(h):
    g = h.create_group("clip")
    a = torch.nn.Parameter(torch.zeros(3, 4))
    b = torch.nn.Parameter(torch.zeros(5))
    a.grad = torch.randn(3, 4)
    b.grad = torch.randn(5)
    g["a_grad"] = f32(a.grad)
    g["b_grad"] = f32(b.grad)
    norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm=1.0)
    g["a_clipped"] = f32(a.grad)
    g["b_clipped"] = f32(b.grad)
    g.attrs["norm"] = float(norm)
    g.attrs["max_norm"] = 1.0


def compute_rotation(angles):
    # HRN / Deep3D ParametricFaceModel.compute_rotation, before its final permute: Rz @ Ry @ Rx
    n = angles.shape[0]
    ones, zeros = torch.ones([n, 1]), torch.zeros([n, 1])
    x, y, z = angles[:, :1], angles[:, 1:2], angles[:, 2:]
    rot_x = torch.cat([ones, zeros, zeros, zeros, torch.cos(x), -torch.sin(x), zeros,
                       torch.sin(x), torch.cos(x)], dim=1).reshape([n, 3, 3])
    rot_y = torch.cat([torch.cos(y), zeros, torch.sin(y), zeros, ones, zeros, -torch.sin(y),
                       zeros, torch.cos(y)], dim=1).reshape([n, 3, 3])
    rot_z = torch.cat([torch.cos(z), -torch.sin(z), zeros, torch.sin(z), torch.cos(z), zeros,
                       zeros, zeros, ones], dim=1).reshape([n, 3, 3])
    return rot_z @ rot_y @ rot_x


def gen_ops(h):
    F = torch.nn.functional
    ops = {
        "softplus": ((4, 6), lambda x: F.softplus(x * 12.0)),  # reaches the linear branch
        "sigmoid": ((4, 6), torch.sigmoid),
        "leaky_relu": ((4, 6), lambda x: F.leaky_relu(x, 0.2)),
        "clamp": ((4, 6), lambda x: torch.clamp(x, -0.5, 0.5)),
        "normalize": ((5, 3), lambda x: F.normalize(x, dim=-1)),
        "l2norm": ((5, 3), lambda x: torch.linalg.norm(x, dim=-1)),
        "cross": ((5, 6), lambda x: torch.cross(x[:, :3], x[:, 3:], dim=-1)),
        "euler": ((4, 3), compute_rotation),
        "rsqrt": ((4, 6), lambda x: torch.rsqrt(x.abs() + 0.5)),
        "mean_axis": ((3, 4, 5), lambda x: x.mean(dim=1)),
    }
    for name, (shape, fn) in ops.items():
        x = (torch.rand(*shape) * 2 - 1).requires_grad_(True)
        y = fn(x)
        r = torch.rand(*y.shape) * 2 - 1
        (r * y).sum().backward()
        g = h.create_group("ops/" + name)
        g["x"] = f32(x)
        g["r"] = f32(r)
        g["y"] = f32(y)
        g["dx"] = f32(x.grad)


def main():
    tmp = OUT + ".tmp"
    with h5py.File(tmp, "w") as h:
        h.attrs["generator"] = "tests/reference/gen_autodiff_torch.py"
        h.attrs["torch_version"] = str(torch.__version__)
        gen_mlp(h)
        gen_optim(h)
        gen_sched(h)
        gen_clip(h)
        gen_ops(h)
    os.replace(tmp, OUT)
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
