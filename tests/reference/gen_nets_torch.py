#!/usr/bin/python3
"""Write the PyTorch reference fixtures for tests/test_nets.c: the four HRN networks at narrow
widths and small sizes, with random weights.

Run with Debian's python (python3-torch 1.13, python3-h5py), from the repository root:
    /usr/bin/python3 tests/reference/gen_nets_torch.py
It writes tests/data/nets_torch.h5 (small, committed). The C test only reads it.

The modules below reproduce the originals' layer order and state-dict keys:
  ReconNet   Deep3DFaceRecon/HRN ReconNetWrapper: torchvision ResNet-50 as `backbone`
             (Bottleneck [3,4,6,3], stride on the 3x3 conv) and seven 1x1 heads `final_layers.i`.
  ResnetGenerator  pix2pix networks.py (ngf, 9 blocks, InstanceNorm affine=False, reflection
             padding, dropout 0.5, tanh): keys model.<i>.weight/bias.
  UNet       HRN models/unet.py (inc, down1-4, up1-4 with bilinear x2 align_corners=True, outc,
             sigmoid): keys such as inc.conv.conv.0.weight, down1.mpconv.1.conv.1.running_mean.
  NLayerDiscriminator  pix2pix PatchGAN, n_layers 3, InstanceNorm.
Layout per network <net>/:
  params/<key>   the state dict BEFORE the step (our checkpoint layout; BN running stats
                 included, num_batches_tracked left out as the converter does)
  x, y, r, dx    input, output, output weights, d sum(r*y)/dx
  grads/<key>    d sum(r*y)/d parameter (every parameter, or a subset for the ResNet)
  after/<key>    BN running statistics after the training forward (ResNet, UNet)
  y_eval         eval-mode output with the updated statistics (ResNet, UNet)
Root attribute hrn_format = "hrn-nets", hrn_format_version = 1 (what model/checkpoint.c checks).
"""
import os

import h5py
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "nets_torch.h5")


# --- ResNet-50 (torchvision layout) + heads -------------------------------------------------

class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        idt = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            idt = self.downsample(x)
        return self.relu(out + idt)


class ResNet50(nn.Module):
    def __init__(self, width=64):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make(width, 3)
        self.layer2 = self._make(width * 2, 4, 2)
        self.layer3 = self._make(width * 4, 6, 2)
        self.layer4 = self._make(width * 8, 3, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def _make(self, planes, blocks, stride=1):
        ds = None
        if stride != 1 or self.inplanes != planes * 4:
            ds = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                               nn.BatchNorm2d(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, ds)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x)


class ReconNet(nn.Module):
    def __init__(self, width=64):
        super().__init__()
        self.backbone = ResNet50(width)
        self.final_layers = nn.ModuleList(
            [nn.Conv2d(width * 32, n, 1, bias=True) for n in (80, 64, 80, 3, 27, 2, 1)])

    def forward(self, x):
        x = self.backbone(x)
        return torch.flatten(torch.cat([l(x) for l in self.final_layers], 1), 1)


# --- pix2pix ResnetGenerator ----------------------------------------------------------------

class ResnetBlock(nn.Module):
    def __init__(self, dim, dropout):
        super().__init__()
        blk = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), nn.InstanceNorm2d(dim),
               nn.ReLU(True)]
        if dropout:
            blk += [nn.Dropout(0.5)]
        blk += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=True), nn.InstanceNorm2d(dim)]
        self.conv_block = nn.Sequential(*blk)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, in_nc, out_nc, ngf=64, n_blocks=9, dropout=True):
        super().__init__()
        m = [nn.ReflectionPad2d(3), nn.Conv2d(in_nc, ngf, 7, bias=True), nn.InstanceNorm2d(ngf),
             nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            m += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 1, bias=True),
                  nn.InstanceNorm2d(ngf * mult * 2), nn.ReLU(True)]
        for _ in range(n_blocks):
            m += [ResnetBlock(ngf * 4, dropout)]
        for i in range(2):
            mult = 2 ** (2 - i)
            m += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1,
                                     bias=True),
                  nn.InstanceNorm2d(ngf * mult // 2), nn.ReLU(True)]
        m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*m)

    def forward(self, x):
        return self.model(x)


# --- UNet (HRN models/unet.py) --------------------------------------------------------------

class double_conv(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(True),
                                  nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(True))

    def forward(self, x):
        return self.conv(x)


class inconv(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.conv = double_conv(i, o)

    def forward(self, x):
        return self.conv(x)


class down(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.mpconv = nn.Sequential(nn.MaxPool2d(2), double_conv(i, o))

    def forward(self, x):
        return self.mpconv(x)


class up(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv = double_conv(i, o)

    def forward(self, x1, x2):
        x1 = self.up(x1)
        dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
        x1 = F.pad(x1, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))
        return self.conv(torch.cat([x2, x1], 1))


class outconv(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.conv = nn.Conv2d(i, o, 1)

    def forward(self, x):
        return self.conv(x)


class UNet(nn.Module):
    def __init__(self, n_in, n_out, w=64):
        super().__init__()
        self.inc = inconv(n_in, w)
        self.down1 = down(w, 2 * w)
        self.down2 = down(2 * w, 4 * w)
        self.down3 = down(4 * w, 8 * w)
        self.down4 = down(8 * w, 8 * w)
        self.up1 = up(16 * w, 4 * w)
        self.up2 = up(8 * w, 2 * w)
        self.up3 = up(4 * w, w)
        self.up4 = up(2 * w, w)
        self.outc = outconv(w, n_out)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return torch.sigmoid(self.outc(x))


# --- PatchGAN -------------------------------------------------------------------------------

class NLayerDiscriminator(nn.Module):
    def __init__(self, in_nc, ndf=64, n_layers=3):
        super().__init__()
        seq = [nn.Conv2d(in_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=True),
                    nn.InstanceNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=True),
                nn.InstanceNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
        seq += [nn.Conv2d(ndf * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


# --- fixtures -------------------------------------------------------------------------------

def f32(t):
    return t.detach().cpu().numpy().astype(np.float32)


def randomize(net):
    """Random weights of a sensible scale (the heads too, so that gradients flow), random BN
    statistics and affine parameters."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if p.dim() == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                if isinstance(dict(net.named_modules()).get(name.rsplit(".", 1)[0]),
                              nn.ConvTranspose2d):
                    fan_in = p.shape[0] * p.shape[2] * p.shape[3] / 4
                p.normal_(0, (2.0 / fan_in) ** 0.5)
            elif name.endswith("bias"):
                p.uniform_(-0.1, 0.1)
            else:
                p.uniform_(0.8, 1.2)
        for name, b in net.named_buffers():
            if name.endswith("running_mean"):
                b.uniform_(-0.1, 0.1)
            elif name.endswith("running_var"):
                b.uniform_(0.8, 1.2)


def state(net):
    return {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}


def write(h, name, net, x, training, grad_keys=None, bn_after=False):
    g = h.create_group(name)
    for k, v in state(net).items():
        g["params/" + k] = f32(v)
    net.train(training)
    x = x.clone().requires_grad_(True)
    y = net(x)
    r = torch.rand_like(y) * 2 - 1
    (r * y).sum().backward()
    g["x"], g["y"], g["r"], g["dx"] = f32(x), f32(y), f32(r), f32(x.grad)
    for k, p in net.named_parameters():
        if grad_keys is None or k in grad_keys:
            g["grads/" + k] = f32(p.grad)
    if bn_after:
        for k, b in net.named_buffers():
            if not k.endswith("num_batches_tracked"):
                g["after/" + k] = f32(b)
        net.eval()
        with torch.no_grad():
            g["y_eval"] = f32(net(x))
    g.attrs["training"] = int(training)


def main():
    with h5py.File(OUT, "w") as h:
        h.attrs["hrn_format"] = "hrn-nets"
        h.attrs["hrn_format_version"] = 1
        net = ReconNet(width=2)
        randomize(net)
        keys = ["backbone.conv1.weight", "backbone.bn1.weight", "backbone.bn1.bias",
                "backbone.layer1.0.conv1.weight", "backbone.layer1.0.downsample.0.weight",
                "backbone.layer2.3.bn2.weight", "backbone.layer3.5.conv2.weight",
                "backbone.layer4.2.conv3.weight", "backbone.layer4.2.bn3.bias",
                "final_layers.0.weight", "final_layers.3.bias", "final_layers.6.weight"]
        write(h, "resnet", net, torch.rand(2, 3, 64, 64), True, keys, bn_after=True)
        h["resnet"].attrs["width"] = 2
        net = ResnetGenerator(6, 3, ngf=2, n_blocks=9, dropout=True)
        randomize(net)
        write(h, "pix2pix", net, torch.rand(1, 6, 32, 32) * 2 - 1, False)
        h["pix2pix"].attrs["ngf"] = 2
        net = UNet(3, 3, w=2)
        randomize(net)
        write(h, "unet", net, torch.rand(2, 3, 32, 32) * 2 - 1, True, bn_after=True)
        h["unet"].attrs["width"] = 2
        net = NLayerDiscriminator(3, ndf=4, n_layers=3)
        randomize(net)
        write(h, "patchgan", net, torch.rand(2, 3, 32, 32) * 2 - 1, True)
        h["patchgan"].attrs["ndf"] = 4
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
