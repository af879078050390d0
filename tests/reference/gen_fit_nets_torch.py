#!/usr/bin/python3
"""Write the PyTorch reference fixture for the network start of hrn-fit (tests/test_fit.c):
HRN's chain of the de-retouching UNet, mid_net and high_net on UV maps, with narrow networks and
small maps (texture size R = 32 instead of 256, deformation size RD = 8 instead of 64).

Run with Debian's python (python3-torch 1.13, python3-h5py), from the repository root:
    /usr/bin/python3 tests/reference/gen_fit_nets_torch.py
It writes tests/data/fit_nets_torch.h5 (small, committed). The C test only reads it.

The chain, as HRN's facerecon_model.py / de_retouching_module.py compute it (hrn_method.md 2.6, 3),
with every resize F.interpolate(mode='bilinear', align_corners=False):
  Tn = 2T - 1
  B  = UNet(resize(Tn, 2R)) resized to R;  T0 = (1-2B) T^2 + 2B T;  phi = 1e6 T0^3 + 1e-6
  A' = A0 (T + 1/phi) / (T0 + 1/phi)
  D  = mid_net(cat[resize(P, RD), resize(Tn, RD)]) * 0.1 alpha
  disp = high_net(cat[P, 2T' - 1, resize(D, R)]) * 0.1 beta
Networks in eval mode (UNet BatchNorm with its running statistics, no dropout).
Layout: the networks in hrn's checkpoint format (groups mid_net, high_net, generator; scalars
alpha, beta; root attributes hrn_format = "hrn-nets", hrn_format_version = 1), so that
hrn_fit_nets_load reads this very file, and under chain/: P, T, T2 (= T'), A0 (each (3,R,R)),
A_prime (3,R,R), D (3,RD,RD), disp (1,R,R).
"""
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_nets_torch as nets  # noqa: E402  (the network definitions and randomize())

torch.manual_seed(3)
torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "fit_nets_torch.h5")
R, RD, W = 32, 8, 2
ALPHA, BETA = 0.7, 0.3


def resize(x, n):
    return F.interpolate(x, size=(n, n), mode="bilinear", align_corners=False)


def smooth_random(c, n, lo, hi):
    """A smooth random map in [lo, hi] (a texture-like input, not white noise)."""
    x = torch.rand(1, c, max(n // 4, 2), max(n // 4, 2))
    x = resize(x, n) * 0.8 + 0.2 * torch.rand(1, c, n, n)
    return lo + (hi - lo) * x


def main():
    mid = nets.ResnetGenerator(6, 3, W, n_blocks=2)
    high = nets.ResnetGenerator(9, 1, W, n_blocks=2)
    unet = nets.UNet(3, 3, W)
    for n in (mid, high, unet):
        nets.randomize(n)
        n.eval()
    P = torch.rand(1, 3, R, R) * 2 - 1
    T = smooth_random(3, R, 0.05, 0.95)
    T2 = smooth_random(3, R, 0.05, 0.95)
    A0 = smooth_random(3, R, 0.3, 0.8)
    with torch.no_grad():
        Tn = 2 * T - 1
        B = resize(unet(resize(Tn, 2 * R)), R)
        T0 = (1 - 2 * B) * T * T + 2 * B * T
        phi = 1e6 * T0 ** 3 + 1e-6
        A_prime = A0 * (T + 1 / phi) / (T0 + 1 / phi)
        D = mid(torch.cat([resize(P, RD), resize(Tn, RD)], 1)) * 0.1 * ALPHA
        disp = high(torch.cat([P, 2 * T2 - 1, resize(D, R)], 1)) * 0.1 * BETA
    tmp = OUT + ".tmp"
    with h5py.File(tmp, "w") as h:
        h.attrs["hrn_format"] = "hrn-nets"
        h.attrs["hrn_format_version"] = np.int64(1)
        for g, n in (("mid_net", mid), ("high_net", high), ("generator", unet)):
            for k, v in nets.state(n).items():
                h[g + "/" + k] = nets.f32(v)
        h["alpha"] = np.array([ALPHA], dtype=np.float32)
        h["beta"] = np.array([BETA], dtype=np.float32)
        for k, v in (("P", P), ("T", T), ("T2", T2), ("A0", A0), ("A_prime", A_prime), ("D", D),
                     ("disp", disp)):
            h["chain/" + k] = nets.f32(v[0])
        h["chain"].attrs["R"] = np.int64(R)
        h["chain"].attrs["RD"] = np.int64(RD)
    os.replace(tmp, OUT)
    print(f"wrote {OUT}: R {R}, RD {RD}, width {W}; |D| max {D.abs().max():.4g}, "
          f"|disp| max {disp.abs().max():.4g}, |A'-A0| max {(A_prime - A0).abs().max():.4g}")


if __name__ == "__main__":
    main()
