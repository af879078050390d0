#!/usr/bin/python3
"""PyTorch CPU side of bench/bench_train.c: the networks of one hrn-train step, with the same
shapes, batch, thread count and timing rule (median of the timed steps after warm-up), NCHW
float32, train() mode, Adam. Prints "ROW <name> <ms per step>" lines that bench_train reads; run
by it, or alone:
    /usr/bin/python3 bench/bench_train_torch.py --threads 2 --rows recon_b8,geometry_b8
Rows are <stage>_b<batch>:
  recon     ReconNet (ResNet-50, 224x224), mean(y^2), backward, Adam (1e-4).
  geometry  as hrn-train's geometry step with the discriminators on (weights.w_adv = 1):
            generator step: x (B,6,256,256) -> bilinear to 64 -> mid_net -> D * 0.1 alpha;
            cat[x, D resized to 256] -> high_net -> disp * 0.1 beta; loss = mean(D^2) +
            mean(disp^2) + least-squares generator terms of the two PatchGANs (on D and disp);
            one Adam (1e-4) over mid_net, high_net, alpha, beta. Then the discriminators' step:
            0.5 (mean((D(real) - 1)^2) + mean(D(fake)^2)) on the detached fakes, Adam 2e-4,
            beta1 0.5. As in hrn-train (and unlike pix2pix's set_requires_grad), the
            discriminators' parameters keep requires_grad during the generator step.
The renderer and the face-model losses of hrn-train have no counterpart here (Debian's PyTorch
has no differentiable rasterizer); mean(y^2) stands in for them.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
import gen_nets_torch as nets  # noqa: E402


def mse(p, target):
    return ((p - target) ** 2).mean()


def recon_step_fn(a, batch):
    net = nets.ReconNet(a.recon_width)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.rand(batch, 3, 224, 224) * 2 - 1

    def step():
        opt.zero_grad()
        y = net(x)
        (y * y).mean().backward()
        opt.step()
    return step


class Geometry:
    """mid_net, high_net, alpha, beta and the two discriminators, stepped as hrn-train does."""

    def __init__(self, a, batch, R=256, Rd=64):
        self.R, self.Rd = R, Rd
        self.mid = nets.ResnetGenerator(6, 3, a.gen_width, a.n_blocks)
        self.high = nets.ResnetGenerator(9, 1, a.gen_width, a.n_blocks)
        self.disc = [nets.NLayerDiscriminator(3, a.disc_width),
                     nets.NLayerDiscriminator(1, a.disc_width)]
        for m in [self.mid, self.high] + self.disc:
            m.train()
        self.alpha = torch.nn.Parameter(torch.tensor([0.01]))
        self.beta = torch.nn.Parameter(torch.tensor([0.01]))
        gen = list(self.mid.parameters()) + list(self.high.parameters()) + [self.alpha, self.beta]
        self.opt_g = torch.optim.Adam(gen, lr=1e-4)
        dis = list(self.disc[0].parameters()) + list(self.disc[1].parameters())
        self.opt_d = torch.optim.Adam(dis, lr=2e-4, betas=(0.5, 0.999))
        self.x = torch.rand(batch, 6, R, R) * 2 - 1
        self.real = [torch.rand(batch, 3, Rd, Rd) * 2 - 1, torch.rand(batch, 1, R, R) * 2 - 1]

    def gen_step(self):
        self.opt_g.zero_grad()
        self.opt_d.zero_grad()
        x = self.x
        d = self.mid(F.interpolate(x, size=(self.Rd, self.Rd), mode="bilinear",
                                   align_corners=False)) * (0.1 * self.alpha)
        up = F.interpolate(d, size=(self.R, self.R), mode="bilinear", align_corners=False)
        disp = self.high(torch.cat([x, up], 1)) * (0.1 * self.beta)
        loss = (d * d).mean() + (disp * disp).mean()
        loss = loss + mse(self.disc[0](d), 1.0) + mse(self.disc[1](disp), 1.0)
        loss.backward()
        self.opt_g.step()
        return d.detach(), disp.detach()

    def disc_step(self, fakes):
        self.opt_d.zero_grad()
        loss = 0
        for i in range(2):
            loss = loss + 0.5 * (mse(self.disc[i](self.real[i]), 1.0) +
                                 mse(self.disc[i](fakes[i]), 0.0))
        loss.backward()
        self.opt_d.step()

    def step(self):
        self.disc_step(self.gen_step())


def bench(name, step, warm, reps):
    for _ in range(warm):
        step()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        ts.append(1e3 * (time.perf_counter() - t0))
    ts.sort()
    print(f"ROW {name} {ts[reps // 2]:.3f}", flush=True)
    print(f"  torch {name:14s} networks: median step {ts[reps // 2]:9.1f} ms", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--warm", type=int, default=2)
    ap.add_argument("--rows", default="recon_b8,recon_b32,geometry_b8")
    ap.add_argument("--recon-width", type=int, default=64)
    ap.add_argument("--gen-width", type=int, default=64)
    ap.add_argument("--n-blocks", type=int, default=9)
    ap.add_argument("--disc-width", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"  torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    for name in a.rows.split(","):
        stage, _, b = name.rpartition("_b")
        if stage not in ("recon", "geometry") or not b.isdigit():
            sys.exit(f"bench_train_torch.py: bad row name {name!r} (recon_b<N> or geometry_b<N>)")
        batch = int(b)
        if stage == "recon":
            step = recon_step_fn(a, batch)
        else:
            step = Geometry(a, batch).step
        bench(name, step, a.warm, a.reps)
        del step


if __name__ == "__main__":
    main()
