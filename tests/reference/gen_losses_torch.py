#!/usr/bin/python3
"""Write the PyTorch reference fixtures for tests/test_losses_torch.c.

Run with Debian's python (python3-torch 1.13, python3-h5py), from anywhere:
    /usr/bin/python3 tests/reference/gen_losses_torch.py
It writes tests/data/losses_torch.h5 (small, committed). The C test only reads it.

Every loss below is written the way HRN's models/losses.py (and Deep3D's, which HRN copies) computes
it, per /work/shared/spec/hrn_method.md 4.1 and 4.3, quirks included. Each group holds the inputs,
`loss` (the value, float64 attribute) and `d_<input>` (d loss / d input) for the differentiable
inputs; ops with a tensor output (resize, de-retouching) hold `y`, weights `r` and d sum(r*y)/dx.
Masks are stored as uint8 (gzip) where they are large.
"""
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "losses_torch.h5")


def f32(t):
    return t.detach().cpu().numpy().astype(np.float32)


def put(g, name, t):
    g[name] = f32(t)


def leaf(t):
    return t.clone().float().requires_grad_(True)


# --- the losses as in HRN / Deep3D -------------------------------------------------------------

def photo_loss(imageA, imageB, mask, eps=1e-6):
    loss = torch.sqrt(eps + torch.sum((imageA - imageB) ** 2, dim=1, keepdims=True)) * mask
    return torch.sum(loss) / torch.max(torch.sum(mask), torch.tensor(1.0))


def landmark_loss(predict_lm, gt_lm, weight=None):
    # Deep3D: the default weights are float64 (np.ones), so the product promotes to float64
    if weight is None:
        weight = np.ones([68])
        weight[28:31] = 20
        weight[-8:] = 20
        weight = torch.tensor(np.expand_dims(weight, 0))
    loss = torch.sum((predict_lm - gt_lm) ** 2, dim=-1) * weight
    return torch.sum(loss) / (predict_lm.shape[0] * predict_lm.shape[1])


def reg_loss(id_, exp, tex, w_id=1.0, w_exp=0.8, w_tex=1.7e-2):
    creg = w_id * torch.sum(id_ ** 2) + w_exp * torch.sum(exp ** 2) + w_tex * torch.sum(tex ** 2)
    return creg / id_.shape[0]


def gamma_loss(gamma):
    gamma = gamma.reshape([-1, 3, 9])
    gamma_mean = torch.mean(gamma, dim=1, keepdims=True)
    return torch.mean((gamma - gamma_mean) ** 2)


def reflectance_loss(texture, mask):
    mask = mask.reshape([1, mask.shape[0], 1])
    texture_mean = torch.sum(mask * texture, dim=1, keepdims=True) / torch.sum(mask)
    return torch.sum(((texture - texture_mean) * mask) ** 2) / (texture.shape[0] * torch.sum(mask))


def tv_loss(x):
    b, _, h, w = x.shape
    count_h = x[:, :, 1:, :].shape[1] * x[:, :, 1:, :].shape[2] * x[:, :, 1:, :].shape[3]
    count_w = x[:, :, :, 1:].shape[1] * x[:, :, :, 1:].shape[2] * x[:, :, :, 1:].shape[3]
    h_tv = torch.pow((x[:, :, 1:, :] - x[:, :, :h - 1, :]), 2).sum()
    w_tv = torch.pow((x[:, :, :, 1:] - x[:, :, :, :w - 1]), 2).sum()
    return 2 * (h_tv / count_h + w_tv / count_w) / b


def tv_std_loss(x):
    b, _, h, w = x.shape
    h_tv = torch.pow((x[:, :, 1:, :] - x[:, :, :h - 1, :]), 2)
    h_tv = ((h_tv - torch.mean(h_tv)) ** 2).sum()
    w_tv = torch.pow((x[:, :, :, 1:] - x[:, :, :, :w - 1]), 2)
    w_tv = ((w_tv - torch.mean(w_tv)) ** 2).sum()
    return 2 * (h_tv + w_tv) / b


def get_edge_points_horizontal(mask):
    # mask (B,S,S); per row: first face column + 1, last face column; empty rows 0 and S-1
    b, s, _ = mask.shape
    left = torch.zeros(b, s)
    right = torch.full((b, s), float(s - 1))
    for i in range(b):
        for r in range(s):
            cols = torch.nonzero(mask[i, r] > 0.5)[:, 0]
            if len(cols):
                left[i, r] = cols.min() + 1
                right[i, r] = cols.max()
    return left, right


def contour_aware_loss(verts, left_points, right_points, width=224, margin=0.01):
    verts_int = torch.ceil(verts).long().clamp(0, width - 1)
    bsz = verts_int.shape[0]
    verts_y = width - 1 - verts_int[:, :, 1]
    idx = torch.arange(0, bsz).long()[:, None].repeat(1, verts_y.shape[1])
    iy = torch.stack([idx, verts_y], dim=2).reshape(-1, 2)
    vl = left_points[iy[:, 0], iy[:, 1]].reshape(bsz, -1).float()
    vr = right_points[iy[:, 0], iy[:, 1]].reshape(bsz, -1).float()
    vx = verts[:, :, 0]
    dist = (vl - vx) / width * (vr - vx) / width
    dist = dist / torch.max(torch.abs((vl - vx) / width), torch.abs((vr - vx) / width))
    dist = dist + margin
    dist = F.relu(dist).clone()
    dist = dist - margin
    return torch.mean(torch.abs(dist))


def mse(pred, target_value):
    return F.mse_loss(pred, torch.full_like(pred, target_value))


def deretouch(tn, blend, a0):
    t = (tn + 1) / 2
    t0 = (1 - 2 * blend) * t ** 2 + 2 * blend * t
    phi = 1e6 * t0 ** 3 + 1e-6
    return a0 * (t + 1 / phi) / (t0 + 1 / phi)


def map_l1(pred, gt, mask):
    # 3D-prior term (form UNVERIFIED, no HRN code): mean |pred-gt| over masked elements
    if mask is None:
        return torch.mean(torch.abs(pred - gt))
    m = mask.expand_as(pred)
    return torch.sum(torch.abs(pred - gt) * m) / torch.max(torch.sum(m), torch.tensor(1.0))


# --- fixtures ----------------------------------------------------------------------------------

def scalar_case(h, name, fn, inputs, consts):
    """inputs: dict of differentiable tensors; consts: dict of the rest (saved as given)."""
    g = h.create_group(name)
    xs = {k: leaf(v) for k, v in inputs.items()}
    loss = fn(**xs, **consts)
    loss.backward()
    g.attrs["loss"] = float(loss.item())
    for k, v in xs.items():
        put(g, k, v)
        put(g, "d_" + k, v.grad)
    for k, v in consts.items():
        if isinstance(v, torch.Tensor):
            put(g, k, v)
    return g


def face_mask(b, s):
    yy, xx = torch.meshgrid(torch.arange(s).float(), torch.arange(s).float(), indexing="ij")
    masks = []
    for i in range(b):
        cx, cy, ax, ay = 110.0 + 7 * i, 118.0 - 5 * i, 70.0 - 6 * i, 92.0
        m = (((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 <= 1).float()
        m[:, 100 + 10 * i:104 + 10 * i] *= (yy[:, :4] < 60).float()  # a notch: split rows
        masks.append(m)
    return torch.stack(masks)


def gen_contour(h):
    b, n, s = 2, 400, 224
    mask = face_mask(b, s)
    left, right = get_edge_points_horizontal(mask)
    v = torch.rand(b, n) * 240 - 8  # rows incl. clamped ones and empty rows
    rows = s - 1 - torch.ceil(v).long().clamp(0, s - 1)
    l = torch.gather(left, 1, rows)
    r = torch.gather(right, 1, rows)
    u = torch.rand(b, n) * 250 - 13
    # a third close to the contour, in and out of the margin band (0.01*224 = 2.24 px)
    near = torch.rand(b, n) < 0.35
    side = torch.where(torch.rand(b, n) < 0.5, l, r)
    u = torch.where(near, side + (torch.rand(b, n) * 8 - 4), u)
    verts = torch.stack([u, v], dim=2)
    g = scalar_case(h, "contour", lambda verts, left, right: contour_aware_loss(verts, left, right),
                    {"verts": verts}, {"left": left, "right": right})
    g.create_dataset("mask", data=(f32(mask) > 0.5).astype(np.uint8), compression="gzip")
    # a small image and a wider margin through the same code
    s2 = 36
    mask2 = face_mask(1, 224)[:, ::6, ::6][:, :s2, :s2].contiguous()
    l2, r2 = get_edge_points_horizontal(mask2)
    v2 = torch.rand(1, 120) * 44 - 2
    rows2 = s2 - 1 - torch.ceil(v2).long().clamp(0, s2 - 1)
    side2 = torch.where(torch.rand(1, 120) < 0.5, torch.gather(l2, 1, rows2),
                        torch.gather(r2, 1, rows2))
    u2 = side2 + torch.rand(1, 120) * 10 - 5
    g2 = scalar_case(h, "contour_s36",
                     lambda verts, left, right: contour_aware_loss(verts, left, right, width=s2,
                                                                   margin=0.05),
                     {"verts": torch.stack([u2, v2], dim=2)}, {"left": l2, "right": r2})
    g2.create_dataset("mask", data=(f32(mask2) > 0.5).astype(np.uint8), compression="gzip")
    g2.attrs["img_size"] = s2
    g2.attrs["margin"] = 0.05


def gen_landmarks(h):
    b = 2
    gt = torch.rand(b, 68, 2) * 224
    pred = gt + torch.randn(b, 68, 2) * 4
    scalar_case(h, "lm68", lambda pred, gt: landmark_loss(pred, gt), {"pred": pred}, {"gt": gt})
    # missing targets: HRN has no such case; its meaning is "weight 0 for that point"
    valid = (torch.rand(b, 68) > 0.3).float()
    valid[0, 29] = 0.0
    valid[1, 61] = 0.0
    gt_nan = gt.clone()
    gt_nan[0, 5, 1] = float("nan")  # a NaN target: excluded as well
    w = np.ones([68])
    w[28:31] = 20
    w[-8:] = 20
    wv = torch.tensor(w)[None] * valid.double()
    wv[0, 5] = 0.0
    gt_clean = torch.where(torch.isnan(gt_nan), torch.zeros_like(gt_nan), gt_nan)
    g = scalar_case(h, "lm68_missing",
                    lambda pred, gt_clean: landmark_loss(pred, gt_clean, weight=wv),
                    {"pred": pred}, {"gt_clean": gt_clean})
    put(g, "gt", gt_nan)
    put(g, "valid", valid)
    gt5 = torch.rand(3, 5, 2) * 224
    scalar_case(h, "lm5", lambda pred, gt: landmark_loss(pred, gt, weight=torch.ones(1, 5)),
                {"pred": gt5 + torch.randn(3, 5, 2) * 3}, {"gt": gt5})


def gen_image_losses(h):
    a, b = torch.rand(2, 3, 8, 10), torch.rand(2, 3, 8, 10)
    mask = torch.rand(2, 1, 8, 10)
    mask[mask < 0.3] = 0.0
    scalar_case(h, "photo", lambda a, b, mask: photo_loss(a, b, mask), {"a": a, "b": b},
                {"mask": mask})
    # a mask summing to < 1: the divisor is 1
    small = torch.zeros(1, 1, 4, 5)
    small[0, 0, 1, 2] = 0.4
    scalar_case(h, "photo_small_mask", lambda a, b, mask: photo_loss(a, b, mask),
                {"a": torch.rand(1, 3, 4, 5), "b": torch.rand(1, 3, 4, 5)}, {"mask": small})
    pred, gt = torch.randn(2, 3, 8, 8) * 0.1, torch.randn(2, 3, 8, 8) * 0.1
    m = (torch.rand(2, 1, 8, 8) > 0.4).float()
    scalar_case(h, "map_l1", lambda pred, gt, mask: map_l1(pred, gt, mask), {"pred": pred},
                {"gt": gt, "mask": m})
    scalar_case(h, "map_l1_nomask", lambda pred, gt: map_l1(pred, gt, None), {"pred": pred},
                {"gt": gt})
    d = torch.randn(2, 3, 6, 7) * 0.2
    scalar_case(h, "tv", lambda x: tv_loss(x), {"x": d}, {})
    scalar_case(h, "tv_std", lambda x: tv_std_loss(x), {"x": d}, {})
    disp = torch.randn(2, 1, 9, 8) * 0.05
    scalar_case(h, "tv_disp", lambda x: tv_loss(x), {"x": disp}, {})
    scalar_case(h, "tv_std_disp", lambda x: tv_std_loss(x), {"x": disp}, {})
    scalar_case(h, "abs_mean", lambda x: torch.mean(torch.abs(x)), {"x": disp}, {})
    p = torch.randn(2, 1, 6, 6)
    scalar_case(h, "gan_real", lambda p: mse(p, 1.0), {"p": p}, {})
    scalar_case(h, "gan_fake", lambda p: mse(p, 0.0), {"p": p}, {})
    # pix2pix backward_D: (loss_D_fake + loss_D_real) * 0.5
    scalar_case(h, "gan_d", lambda real, fake: (mse(fake, 0.0) + mse(real, 1.0)) * 0.5,
                {"real": torch.randn(2, 1, 6, 6), "fake": p}, {})


def gen_face_losses(h):
    scalar_case(h, "reg", lambda id, exp, tex: reg_loss(id, exp, tex),
                {"id": torch.randn(2, 80), "exp": torch.randn(2, 64), "tex": torch.randn(2, 80)},
                {})
    scalar_case(h, "gamma", lambda gamma: gamma_loss(gamma), {"gamma": torch.randn(2, 27) * 0.3},
                {})
    mask = (torch.rand(50) > 0.4).float()
    scalar_case(h, "reflc", lambda tex, mask: reflectance_loss(tex, mask),
                {"tex": torch.rand(2, 50, 3)}, {"mask": mask})


def vjp_case(h, name, fn, inputs):
    g = h.create_group(name)
    xs = {k: leaf(v) for k, v in inputs.items()}
    y = fn(**xs)
    r = torch.rand(*y.shape) * 2 - 1
    (r * y).sum().backward()
    put(g, "y", y)
    put(g, "r", r)
    for k, v in xs.items():
        put(g, k, v)
        put(g, "d_" + k, v.grad)
    return g


def gen_deretouch(h):
    t = torch.rand(2, 3, 8, 8)
    t[0, 0, 0, :] = torch.tensor([0.0, 1e-3, 5e-3, 0.01, 0.02, 0.05, 0.99, 1.0])  # T0 -> 0
    blend = torch.rand(2, 3, 8, 8)
    a0 = torch.rand(2, 3, 8, 8)
    g = vjp_case(h, "deretouch", lambda tn, blend, a0: deretouch(tn, blend, a0),
                 {"tn": 2 * t - 1, "blend": blend, "a0": a0})
    # The float32 gradient of this formula loses up to ~4e-5 absolute to cancellation (dA'/dT
    # sums terms of order 1 to ~1e-5), so the gradients stored are the float64 ones of the same
    # formula on the same float32 inputs; the C backward runs in double. y stays float32.
    xs = {k: torch.tensor(g[k][:], dtype=torch.float64, requires_grad=True)
          for k in ("tn", "blend", "a0")}
    (torch.tensor(g["r"][:], dtype=torch.float64) * deretouch(**xs)).sum().backward()
    for k, v in xs.items():
        del g["d_" + k]
        put(g, "d_" + k, v.grad)
    sizes = [((2, 3, 5, 7), (9, 4)), ((1, 2, 8, 8), (16, 16)), ((1, 1, 16, 16), (8, 8)),
             ((1, 1, 6, 5), (4, 11))]
    for k, (shape, out) in enumerate(sizes):
        g = vjp_case(h, "resize%d" % k,
                     lambda x: F.interpolate(x, size=out, mode="bilinear", align_corners=False),
                     {"x": torch.rand(*shape)})
        g.attrs["oh"], g.attrs["ow"] = out


def main():
    tmp = OUT + ".tmp"
    with h5py.File(tmp, "w") as h:
        h.attrs["generator"] = "tests/reference/gen_losses_torch.py"
        h.attrs["torch_version"] = str(torch.__version__)
        gen_contour(h)
        gen_landmarks(h)
        gen_image_losses(h)
        gen_face_losses(h)
        gen_deretouch(h)
    os.replace(tmp, OUT)
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
