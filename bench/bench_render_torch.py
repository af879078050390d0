#!/usr/bin/python3
"""bench_render_torch.py: the per-vertex part of bench_render in PyTorch CPU (no rasterizer), as
Deep3D/HRN write it: coefficients -> shape (id + exp bases) -> rotation + translation -> vertex
normals (sum of unit face normals, normalised) -> albedo (tex basis) -> SH lighting (HRN's
constants, +0.8 ambient) -> mean squared error to a target colour -> backward.

    ./build/hrn-model synth --preset bfm --seed 1 --out /tmp/synth_bfm.h5
    /usr/bin/python3 bench/bench_render_torch.py /tmp/synth_bfm.h5

Median of 31 runs after 2 warm-ups, at 1 and 2 threads; compare with bench_render's
"per-vertex part fwd+bwd" line measured in the same session.
"""
import math
import sys
import time

import h5py
import numpy as np
import torch


def rotation(angles):
    x, y, z = angles[0], angles[1], angles[2]
    one, zero = torch.ones(()), torch.zeros(())
    rx = torch.stack([one, zero, zero, zero, torch.cos(x), -torch.sin(x), zero, torch.sin(x),
                      torch.cos(x)]).view(3, 3)
    ry = torch.stack([torch.cos(y), zero, torch.sin(y), zero, one, zero, -torch.sin(y), zero,
                      torch.cos(y)]).view(3, 3)
    rz = torch.stack([torch.cos(z), -torch.sin(z), zero, torch.sin(z), torch.cos(z), zero, zero,
                      zero, one]).view(3, 3)
    return rz @ ry @ rx


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    with h5py.File(sys.argv[1], "r") as f:
        mean = torch.from_numpy(np.asarray(f["shape/mean"], dtype=np.float32))
        idb = torch.from_numpy(np.asarray(f["shape/basis"], dtype=np.float32))
        exb = torch.from_numpy(np.asarray(f["expression/basis"], dtype=np.float32))
        amean = torch.from_numpy(np.asarray(f["albedo/mean"], dtype=np.float32))
        texb = torch.from_numpy(np.asarray(f["albedo/basis"], dtype=np.float32))
        tris = torch.from_numpy(np.asarray(f["triangles"], dtype=np.int64))
    n = mean.shape[0] // 3
    kid, kex, ktex = idb.shape[1], exb.shape[1], texb.shape[1]
    nc = kid + kex + ktex + 3 + 27 + 3
    a = [math.pi, 2 * math.pi / math.sqrt(3.0), 2 * math.pi / math.sqrt(8.0)]
    c = [1 / math.sqrt(4 * math.pi), math.sqrt(3.0) / math.sqrt(4 * math.pi),
         3 * math.sqrt(5.0) / math.sqrt(12 * math.pi)]

    def forward(coeffs):
        o = 0
        ids = coeffs[o:o + kid]; o += kid
        exs = coeffs[o:o + kex]; o += kex
        tex = coeffs[o:o + ktex]; o += ktex
        ang = coeffs[o:o + 3]; o += 3
        gamma = coeffs[o:o + 27].view(3, 9) + torch.tensor([0.8] + [0.0] * 8); o += 27
        trans = coeffs[o:o + 3]
        shape = (mean + idb @ ids + exb @ exs).view(n, 3)
        v = shape @ rotation(ang).T + trans
        v1, v2, v3 = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
        fn = torch.nn.functional.normalize(torch.cross(v1 - v2, v2 - v3, dim=1), dim=1)
        vn = torch.zeros(n, 3).index_add_(0, tris[:, 0], fn).index_add_(0, tris[:, 1], fn) \
            .index_add_(0, tris[:, 2], fn)
        vn = torch.nn.functional.normalize(vn, dim=1)
        alb = (amean + texb @ tex).view(n, 3)
        x, y, z = vn[:, 0], vn[:, 1], vn[:, 2]
        ones = torch.ones_like(x)
        Y = torch.stack([a[0] * c[0] * ones, -a[1] * c[1] * y, a[1] * c[1] * z, -a[1] * c[1] * x,
                         a[2] * c[2] * x * y, -a[2] * c[2] * y * z,
                         0.5 * a[2] * c[2] / math.sqrt(3.0) * (3 * z * z - 1),
                         -a[2] * c[2] * x * z, 0.5 * a[2] * c[2] * (x * x - y * y)], dim=1)
        return (Y @ gamma.T) * alb

    torch.manual_seed(5)
    with torch.no_grad():
        tc = torch.zeros(nc)
        tc[:kid + kex + ktex] = 0.7 * torch.randn(kid + kex + ktex)
        target = forward(tc)
    print(f"bench_render_torch: torch {torch.__version__}, {n} vertices, {tris.shape[0]} "
          f"triangles, {nc} coefficients")
    for nt in (1, 2):
        torch.set_num_threads(nt)
        times = []
        for rep in range(33):
            coeffs = torch.zeros(nc, requires_grad=True)
            t0 = time.perf_counter()
            loss = ((forward(coeffs) - target) ** 2).mean()
            loss.backward()
            t1 = time.perf_counter()
            if rep >= 2:
                times.append(t1 - t0)
        print(f"{nt} thread{'s' if nt > 1 else ''}: per-vertex part fwd+bwd "
              f"{1e3 * float(np.median(times)):8.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
