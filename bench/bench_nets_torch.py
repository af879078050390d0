#!/usr/bin/python3
"""PyTorch CPU side of bench/bench_nets.c: the same networks, shapes, thread count and timing
rule (median of the timed repetitions after warm-up), NCHW float32. Prints "ROW <name> <ms>" lines
that bench_nets reads; run by it, or alone:
    /usr/bin/python3 bench/bench_nets_torch.py --threads 2 [--quick]
Forward rows: eval() and torch.no_grad(). Training rows: train(), mean(y^2) loss, backward, Adam.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
import gen_nets_torch as nets  # noqa: E402


def bench(name, net, shape, train, reps):
    x = torch.rand(*shape) * 2 - 1
    opt = torch.optim.Adam(net.parameters(), lr=1e-5)

    def step():
        if train:
            net.train()
            opt.zero_grad()
            y = net(x)
            (y * y).mean().backward()
            opt.step()
        else:
            net.eval()
            with torch.no_grad():
                net(x)

    warm = 1 + (reps > 2)
    for _ in range(warm):
        step()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        ts.append(1e3 * (time.perf_counter() - t0))
    ts.sort()
    print(f"ROW {name} {ts[reps // 2]:.3f}", flush=True)
    print(f"  torch {name:28s} {ts[reps // 2]:9.1f} ms", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"  torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    big = 2 if a.quick else 3
    recon = nets.ReconNet()
    mid = nets.ResnetGenerator(6, 3)
    high = nets.ResnetGenerator(9, 1)
    unet = nets.UNet(3, 3)
    bench("resnet50_fwd_b1", recon, (1, 3, 224, 224), False, 7)
    bench("resnet50_fwd_b8", recon, (8, 3, 224, 224), False, 5)
    if not a.quick:
        bench("resnet50_fwd_b32", recon, (32, 3, 224, 224), False, big)
    bench("resnet50_train_b1", recon, (1, 3, 224, 224), True, 5)
    bench("resnet50_train_b8", recon, (8, 3, 224, 224), True, big)
    if not a.quick:
        bench("resnet50_train_b32", recon, (32, 3, 224, 224), True, big)
    bench("mid_net_fwd", mid, (1, 6, 64, 64), False, 9)
    bench("mid_net_train", mid, (1, 6, 64, 64), True, 7)
    bench("high_net_fwd", high, (1, 9, 256, 256), False, 5)
    bench("high_net_train", high, (1, 9, 256, 256), True, big)
    bench("unet_fwd_512", unet, (1, 3, 512, 512), False, big)


if __name__ == "__main__":
    main()
