#!/usr/bin/python3
"""Reference for hrn_resize_pil_bicubic and hrn_align_crop: Pillow's bicubic resize and crop, and
Deep3DFaceRecon's POS / resize_n_crop_img (util/preprocess.py) re-implemented as written there.
Writes tests/data/align_pil.h5. Needs Debian's python3-pil, python3-numpy, python3-h5py."""
import os
import h5py
import numpy as np
from PIL import Image

rng = np.random.default_rng(11)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "align_pil.h5")


def POS(xp, x):  # Deep3DFaceRecon util/preprocess.py
    npts = xp.shape[1]
    A = np.zeros([2 * npts, 8])
    A[0:2 * npts - 1:2, 0:3] = x.transpose()
    A[0:2 * npts - 1:2, 3] = 1
    A[1:2 * npts:2, 4:7] = x.transpose()
    A[1:2 * npts:2, 7] = 1
    b = np.reshape(xp.transpose(), [2 * npts, 1])
    k, _, _, _ = np.linalg.lstsq(A, b, rcond=None)
    R1, R2 = k[0:3], k[4:7]
    s = (np.linalg.norm(R1) + np.linalg.norm(R2)) / 2
    return np.stack([k[3], k[7]], axis=0), s


def resize_n_crop_img(img, lm, t, s, target_size):
    w0, h0 = img.size
    w = (w0 * s).astype(np.int32)
    h = (h0 * s).astype(np.int32)
    left = (w / 2 - target_size / 2 + float((t[0] - w0 / 2) * s)).astype(np.int32)
    up = (h / 2 - target_size / 2 + float((h0 / 2 - t[1]) * s)).astype(np.int32)
    img = img.resize((int(w), int(h)), resample=Image.BICUBIC)
    img = img.crop((int(left), int(up), int(left) + target_size, int(up) + target_size))
    lm = np.stack([lm[:, 0] - t[0] + w0 / 2, lm[:, 1] - t[1] + h0 / 2], axis=1) * s
    lm = lm - np.reshape(np.array([(w / 2 - target_size / 2), (h / 2 - target_size / 2)]), [1, 2])
    return img, lm


with h5py.File(out, "w") as f:
    # plain resizes: down, up, mixed, and a window that leaves the image
    src = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    f["resize/src"] = src.transpose(2, 0, 1)  # uint8; the C test divides by 255
    cases = [(20, 15, 0, 0, 20, 15), (101, 80, 0, 0, 101, 80), (31, 60, 0, 0, 31, 60),
             (90, 70, -7, 5, 40, 33)]
    for i, (w, h, x0, y0, ww, wh) in enumerate(cases):
        im = Image.fromarray(src).resize((w, h), resample=Image.BICUBIC).crop((x0, y0, x0 + ww, y0 + wh))
        f[f"resize/{i}/params"] = np.array([w, h, x0, y0, ww, wh], np.int32)
        f[f"resize/{i}/out"] = np.asarray(im).transpose(2, 0, 1)
    # a whole alignment: a random photo with random landmarks around a face-like layout
    H, W = 150, 200
    photo = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    lm3d = np.array([[-0.31, 0.29, 0.60], [0.31, 0.29, 0.60], [0.0, -0.10, 0.95],
                     [-0.25, -0.45, 0.62], [0.25, -0.45, 0.62]], np.float64)
    lm5 = np.array([[81.3, 60.2], [119.8, 62.9], [101.0, 89.4], [84.5, 111.7], [117.2, 113.0]])
    f["align/photo"] = photo.transpose(2, 0, 1)
    f["align/lm5_ydown"] = lm5.astype(np.float32)
    f["align/lm3d5"] = lm3d.astype(np.float32)
    lm = lm5.copy()
    lm[:, 1] = H - 1 - lm[:, 1]
    t, s = POS(lm.transpose(), lm3d.transpose())
    f["align/pos"] = np.array([s, t[0, 0], t[1, 0]], np.float64)
    for T, resc in [(224, 102.0), (512, 102.0 * 512 / 224)]:
        img, lm_new = resize_n_crop_img(Image.fromarray(photo), lm, t, resc / s, T)
        crop = np.asarray(img).transpose(2, 0, 1)
        # the 512 crop is stored as a band of rows to keep the fixture small
        f[f"align/{T}/crop"] = crop if T == 224 else crop[:, 200:264, :]
        f[f"align/{T}/lm"] = lm_new.astype(np.float32)
print("wrote", out)
