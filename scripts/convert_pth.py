#!/usr/bin/python3
"""Convert PyTorch checkpoints of HRN to hrn's HDF5 network checkpoint.

Usage (Debian's python with python3-torch and python3-h5py):
    /usr/bin/python3 scripts/convert_pth.py --hrn assets/pretrained_models/hrn_v1.1/epoch_10.pth \\
        --deretouch assets/pretrained_models/de-retouching.pth -o hrn_nets.h5

Inputs:
  --hrn FILE        HRN's released checkpoint: a dict with the state dicts 'net_recon'
                    (ReconNetWrapper: ResNet-50 'backbone.*' + 'final_layers.0-6'), 'mid_net' and
                    'high_net' (pix2pix ResnetGenerator, 'model.<i>.*'), and the scalars 'alpha'
                    and 'beta'.
  --deretouch FILE  the de-retouching checkpoint: a dict whose 'generator' is the UNet's state
                    dict ('inc.*', 'down1-4.*', 'up1-4.*', 'outc.*').
Output (-o): HDF5 with root attributes hrn_format="hrn-nets", hrn_format_version=1, one float32
dataset per state-dict key under the groups net_recon/, mid_net/, high_net/, generator/, and
alpha, beta as 1-element datasets; written to OUT.tmp and renamed when complete. The C side
(model/checkpoint.c, hrn_net_load) checks every name and shape.

Key handling, like HRN's load_state_dict(strict=False):
  - 'module.' prefixes (DataParallel) are removed; BatchNorm num_batches_tracked is dropped.
  - keys the network does not have (e.g. the UNet's unused deep-supervision heads) are listed on
    stderr and left out;
  - keys the network has but the file lacks are an ERROR listing them, unless --allow-missing,
    which fills them with the network's initial values (PyTorch default init; zero heads for
    net_recon) and lists them as a warning;
  - a shape mismatch is always an error naming the key and both shapes.
The network definitions are those of tests/reference/gen_nets_torch.py (the same modules the
parity fixtures come from); --width/--ngf change nothing of the released models and exist for
tests.
"""
import argparse
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "reference"))
import gen_nets_torch as nets  # noqa: E402  (the PyTorch module definitions)


def clean(sd):
    out = {}
    for k, v in sd.items():
        if k.startswith("module."):
            k = k[len("module."):]
        if k.endswith("num_batches_tracked"):
            continue
        out[k] = v
    return out


def match(group, sd, module, allow_missing):
    want = {k: v for k, v in module.state_dict().items() if not k.endswith("num_batches_tracked")}
    sd = clean(sd)
    extra = sorted(set(sd) - set(want))
    missing = sorted(set(want) - set(sd))
    if extra:
        print(f"{group}: ignoring {len(extra)} key(s) the network does not have (strict=False): "
              + ", ".join(extra[:8]) + (" ..." if len(extra) > 8 else ""), file=sys.stderr)
    if missing:
        msg = (f"{group}: {len(missing)} key(s) of the network are missing from the file: "
               + ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else ""))
        if not allow_missing:
            raise SystemExit("error: " + msg + "\n(--allow-missing fills them with initial values)")
        print("warning: " + msg + " (filled with initial values)", file=sys.stderr)
    out = {}
    for k, ref in want.items():
        v = sd.get(k, ref)
        if tuple(v.shape) != tuple(ref.shape):
            raise SystemExit(f"error: {group}/{k}: shape {tuple(v.shape)} in the file, the network "
                             f"has {tuple(ref.shape)}")
        out[k] = v.detach().cpu().float().numpy().astype(np.float32)
    return out


def scalar(v):
    return float(v.item() if torch.is_tensor(v) else v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 epilog=__doc__[__doc__.index("Inputs:"):],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hrn", help="HRN checkpoint (net_recon, mid_net, high_net, alpha, beta)")
    ap.add_argument("--deretouch", help="de-retouching checkpoint (generator)")
    ap.add_argument("-o", "--out", required=True, help="output .h5")
    ap.add_argument("--allow-missing", action="store_true",
                    help="fill keys missing from a state dict with initial values")
    ap.add_argument("--width", type=int, default=64, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not a.hrn and not a.deretouch:
        ap.error("give --hrn and/or --deretouch")
    groups, scalars = {}, {}
    torch.manual_seed(0)
    w = a.width
    if a.hrn:
        ck = torch.load(a.hrn, map_location="cpu")
        for key in ("net_recon", "mid_net", "high_net"):
            if key not in ck:
                raise SystemExit(f"error: {a.hrn}: no '{key}' (keys: {', '.join(map(str, ck))})")
        recon = nets.ReconNet(w)
        for m in recon.final_layers:  # ReconNetWrapper's zero-initialised heads
            torch.nn.init.zeros_(m.weight)
            torch.nn.init.zeros_(m.bias)
        groups["net_recon"] = match("net_recon", ck["net_recon"], recon, a.allow_missing)
        groups["mid_net"] = match("mid_net", ck["mid_net"], nets.ResnetGenerator(6, 3, w),
                                  a.allow_missing)
        groups["high_net"] = match("high_net", ck["high_net"], nets.ResnetGenerator(9, 1, w),
                                   a.allow_missing)
        for s in ("alpha", "beta"):
            if s not in ck:
                raise SystemExit(f"error: {a.hrn}: no '{s}'")
            scalars[s] = scalar(ck[s])
    if a.deretouch:
        ck = torch.load(a.deretouch, map_location="cpu")
        sd = ck.get("generator", ck) if isinstance(ck, dict) else None
        if sd is None or not isinstance(sd, dict):
            raise SystemExit(f"error: {a.deretouch}: no 'generator' state dict")
        groups["generator"] = match("generator", sd, nets.UNet(3, 3, w), a.allow_missing)
    tmp = a.out + ".tmp"
    with h5py.File(tmp, "w") as h:
        h.attrs["hrn_format"] = "hrn-nets"
        h.attrs["hrn_format_version"] = np.int64(1)
        for g, sd in groups.items():
            for k, v in sd.items():
                h[g + "/" + k] = v
        for s, v in scalars.items():
            h[s] = np.array([v], dtype=np.float32)
    os.replace(tmp, a.out)
    n = sum(len(sd) for sd in groups.values())
    print(f"wrote {a.out}: {', '.join(groups)} ({n} tensors)" +
          (f", {', '.join(f'{k}={v:g}' for k, v in scalars.items())}" if scalars else ""))


if __name__ == "__main__":
    main()
