#!/usr/bin/python3
"""Reference outputs for core/image_ops.c (bilinear resize and affine warp).

Run with Debian's Python (torch 1.13, h5py):  /usr/bin/python3 tests/reference/gen_image_ops.py
Writes tests/data/image_ops.h5, read by tests/test_core_image.c:

  /input                  (3,7,9) float32, uniform [0,1), torch seed 0
  /resize/<case>          (3,oh,ow) float32 = F.interpolate(input, (oh,ow), mode='bilinear',
                          align_corners=ac, antialias=False); attr align_corners (int)
  /warp/<case>/A          (2,3) float64, maps destination pixel (x,y,1) to source pixel coords
  /warp/<case>/border     (3,) float32 constant border value
  /warp/<case>/out        (3,oh,ow) float32

The warp reference uses F.grid_sample(align_corners=True, padding_mode='zeros') in float64:
with align_corners=True the normalised coordinate -1..1 spans pixel centres 0..W-1, so pixel
coordinate sx becomes 2*sx/(W-1)-1. A constant border b is handled by linearity:
warp(src) = grid_sample(src - b) + b, because out-of-image taps contribute 0 there, i.e. b.
An independent numpy loop re-computes every warp and the script asserts both agree.
"""
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "image_ops.h5")


def grid_sample_warp(img, A, oh, ow, border):
    c, h, w = img.shape
    x = torch.from_numpy(img.astype(np.float64))[None]
    b = torch.tensor(border, dtype=torch.float64).view(1, c, 1, 1)
    ys, xs = np.meshgrid(np.arange(oh, dtype=np.float64), np.arange(ow, dtype=np.float64),
                         indexing="ij")
    sx = A[0, 0] * xs + A[0, 1] * ys + A[0, 2]
    sy = A[1, 0] * xs + A[1, 1] * ys + A[1, 2]
    grid = np.stack([2 * sx / (w - 1) - 1, 2 * sy / (h - 1) - 1], axis=-1)[None]
    out = F.grid_sample(x - b, torch.from_numpy(grid), mode="bilinear", padding_mode="zeros",
                        align_corners=True) + b
    return out[0].numpy()


def numpy_warp(img, A, oh, ow, border):
    """Direct definition: bilinear over the 4 neighbours, outside taps take the border value."""
    c, h, w = img.shape
    out = np.zeros((c, oh, ow))
    for y in range(oh):
        for x in range(ow):
            sx = A[0, 0] * x + A[0, 1] * y + A[0, 2]
            sy = A[1, 0] * x + A[1, 1] * y + A[1, 2]
            x0, y0 = int(np.floor(sx)), int(np.floor(sy))
            ax, ay = sx - x0, sy - y0
            for ch in range(c):
                def px(i, j):
                    return img[ch, i, j] if 0 <= i < h and 0 <= j < w else border[ch]
                out[ch, y, x] = ((1 - ax) * (1 - ay) * px(y0, x0) + ax * (1 - ay) * px(y0, x0 + 1)
                                 + (1 - ax) * ay * px(y0 + 1, x0) + ax * ay * px(y0 + 1, x0 + 1))
    return out


def main():
    torch.manual_seed(0)
    img = torch.rand(3, 7, 9, dtype=torch.float32)
    resize_cases = {
        "up_ac0": (13, 17, False), "up_ac1": (13, 17, True),
        "down_ac0": (4, 5, False), "down_ac1": (4, 5, True),
        "mixed_ac0": (2, 20, False), "mixed_ac1": (1, 20, True),  # 1 row: scale 0 with ac=True
    }
    # rotation by 20 degrees and scale 0.8 about the centre plus a shift; a pure half-pixel
    # shift; a shear reaching far outside the source
    th = np.deg2rad(20.0)
    rot = np.array([[0.8 * np.cos(th), -0.8 * np.sin(th), 0.0],
                    [0.8 * np.sin(th), 0.8 * np.cos(th), 0.0]])
    rot[:, 2] = np.array([4.0, 3.0]) - rot[:, :2] @ np.array([4.5, 3.5]) + np.array([0.3, -0.2])
    warp_cases = {
        "rot_scale": (rot, 8, 10, [0.2, 0.5, 0.9]),
        "half_shift": (np.array([[1.0, 0.0, 0.5], [0.0, 1.0, -0.5]]), 7, 9, [0.0, 0.0, 0.0]),
        "shear_out": (np.array([[1.3, 0.4, -3.0], [-0.2, 1.1, 2.5]]), 9, 11, [1.0, 0.25, 0.0]),
    }
    with h5py.File(OUT + ".tmp", "w", libver="latest") as f:
        f["input"] = img.numpy()
        for name, (oh, ow, ac) in resize_cases.items():
            y = F.interpolate(img[None], size=(oh, ow), mode="bilinear", align_corners=ac,
                              antialias=False)[0]
            # the same in float64 bounds the float32 rounding the C test has to tolerate
            y64 = F.interpolate(img[None].double(), size=(oh, ow), mode="bilinear",
                                align_corners=ac)[0]
            assert np.abs(y.numpy() - y64.numpy()).max() < 1e-6
            d = f.create_dataset("resize/" + name, data=y.numpy())
            d.attrs["align_corners"] = int(ac)
        for name, (A, oh, ow, border) in warp_cases.items():
            out = grid_sample_warp(img.numpy(), A, oh, ow, border)
            ref = numpy_warp(img.numpy().astype(np.float64), A, oh, ow, border)
            assert np.abs(out - ref).max() < 1e-12, np.abs(out - ref).max()
            f["warp/%s/A" % name] = A.astype(np.float64)
            f["warp/%s/border" % name] = np.array(border, dtype=np.float32)
            f["warp/%s/out" % name] = out.astype(np.float32)
    os.replace(OUT + ".tmp", OUT)
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
