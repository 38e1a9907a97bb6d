"""PyTorch peer of `patchstream train --model alexnet-small` for bench/peer-train.ts.

Same net (286,922 parameters at 28 px, 10 classes), init (He, truncated normal, biases 0),
recipe (rescale 32, random 28x28 patch, horizontal flip p=0.5, PCA lighting with ImageNet's
constants and alpha ~ N(0, 0.1), ImageNet mean/std), SGD (momentum 0.9, weight decay 5e-4 on
weights only, lr divided by 10 at --lr-steps), batch and epochs as patchstream. The images are
decoded and rescaled once (as patchstream's --cache memory); augmentation runs per batch on
the CPU in the training process. Prints one JSON object per epoch.

    /usr/bin/python3 bench/peer/torch_alexnet_small.py --train DIR --val DIR [--epochs 8]
        [--batch-size 64] [--lr 0.01] [--lr-steps 6] [--threads N] [--seed 0]
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

parser = argparse.ArgumentParser()
parser.add_argument('--train', required=True)
parser.add_argument('--val', required=True)
parser.add_argument('--epochs', type=int, default=8)
parser.add_argument('--batch-size', type=int, default=64)
parser.add_argument('--lr', type=float, default=0.01)
parser.add_argument('--lr-steps', default='')
parser.add_argument('--threads', type=int, default=0)
parser.add_argument('--seed', type=int, default=0)
parser.add_argument('--rescale', type=int, default=32)
parser.add_argument('--crop', type=int, default=28)
parser.add_argument('--model', default='alexnet-small', choices=['alexnet-small', 'alexnet'])
parser.add_argument('--steps-only', type=int, default=0, help='time N steps on random data and exit (full AlexNet)')
args = parser.parse_args()

default_threads = torch.get_num_threads()
torch.set_num_threads(args.threads if args.threads > 0 else os.cpu_count())
torch.manual_seed(args.seed)

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
EIGVEC = torch.tensor([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])


def load_folder(root):
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    images, labels = [], []
    for label, name in enumerate(classes):
        for file in sorted(os.listdir(os.path.join(root, name))):
            with Image.open(os.path.join(root, name, file)) as image:
                image = image.convert('RGB')
                # Shorter side to `rescale`, centre crop (the images are square: a resize).
                image = image.resize((args.rescale, args.rescale), Image.BILINEAR)
                images.append(torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).view(args.rescale, args.rescale, 3))
            labels.append(label)
    return torch.stack(images).permute(0, 3, 1, 2).contiguous(), torch.tensor(labels), classes


def lrn():
    # The paper's k=2, n=5, alpha=1e-4, beta=0.75; PyTorch divides alpha by n, so pass alpha * n.
    return nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)


def small_net(classes):
    return nn.Sequential(
        nn.Conv2d(3, 32, 5, padding=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(32, 64, 5, padding=2, groups=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 96, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(96, 96, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(96, 64, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(64 * 2 * 2, 256), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(256, 256), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(256, classes),
    )


def alexnet(classes, size):
    # As patchstream's alexnet: 227 (any 4k + 11) needs no padding, 224 is padded by 2 to reach 55x55.
    pad = 0 if (size - 11) % 4 == 0 else 2
    return nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4, padding=pad), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, classes),
    )


def he_init(model):
    # tfjs varianceScaling(scale 2, fanIn, 'normal'): truncated normal (2 std), std sqrt(2/fan_in)/0.8796.
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            std = math.sqrt(2.0 / fan_in) / 0.87962566103423978
            nn.init.trunc_normal_(module.weight, 0.0, std, -2 * std, 2 * std)
            nn.init.zeros_(module.bias)


def make_optimizer(model, lr):
    weights = [p for n, p in model.named_parameters() if not n.endswith('bias')]
    biases = [p for n, p in model.named_parameters() if n.endswith('bias')]
    return torch.optim.SGD([{'params': weights, 'weight_decay': 5e-4}, {'params': biases, 'weight_decay': 0.0}], lr=lr, momentum=0.9)


def augment(batch, generator):
    n = batch.shape[0]
    crop = args.crop
    span = args.rescale - crop + 1
    ys = torch.randint(0, span, (n,), generator=generator)
    xs = torch.randint(0, span, (n,), generator=generator)
    out = torch.empty((n, 3, crop, crop), dtype=torch.float32)
    flips = torch.rand(n, generator=generator) < 0.5
    for i in range(n):
        patch = batch[i, :, ys[i]:ys[i] + crop, xs[i]:xs[i] + crop]
        out[i] = patch.flip(2) if flips[i] else patch
    out.div_(255.0)
    alpha = torch.randn((n, 3), generator=generator) * 0.1
    shift = (alpha * EIGVAL) @ EIGVEC.t()  # rgb_i = sum_j eigvec[i][j] * alpha_j * lambda_j
    out.add_(shift.view(n, 3, 1, 1))
    return out.sub_(MEAN).div_(STD)


def centre(batch):
    offset = (args.rescale - args.crop) // 2
    patch = batch[:, :, offset:offset + args.crop, offset:offset + args.crop].float().div_(255.0)
    return patch.sub_(MEAN).div_(STD)


if args.steps_only > 0:
    size = args.crop
    model = alexnet(1000, size) if args.model == 'alexnet' else small_net(10)
    he_init(model)
    optimizer = make_optimizer(model, args.lr)
    x = torch.randn(args.batch_size, 3, size, size)
    y = torch.randint(0, 1000 if args.model == 'alexnet' else 10, (args.batch_size,))
    times = []
    for step in range(args.steps_only + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        if step > 0:
            times.append(time.perf_counter() - start)
    times.sort()
    ms = times[len(times) // 2] * 1000
    print(json.dumps({'type': 'steps', 'model': args.model, 'inputSize': size, 'batch': args.batch_size, 'stepMs': ms,
                      'imagesPerSecond': args.batch_size / ms * 1000, 'threads': torch.get_num_threads(), 'torch': torch.__version__}))
    sys.exit(0)

started = time.perf_counter()
train_x, train_y, classes = load_folder(args.train)
val_x, val_y, val_classes = load_folder(args.val)
if classes != val_classes:
    sys.exit(f'{args.val}: other classes than {args.train}')
print(json.dumps({'type': 'start', 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'defaultThreads': default_threads,
                  'trainImages': len(train_y), 'valImages': len(val_y), 'decodeSeconds': time.perf_counter() - started}), flush=True)

model = small_net(len(classes))
he_init(model)
params = sum(p.numel() for p in model.parameters())
optimizer = make_optimizer(model, args.lr)
lr_steps = {int(s) for s in args.lr_steps.split(',') if s.strip()}
generator = torch.Generator().manual_seed(args.seed)
lr = args.lr
for epoch in range(args.epochs):
    if epoch in lr_steps:
        lr /= 10
        for group in optimizer.param_groups:
            group['lr'] = lr
    model.train()
    order = torch.randperm(len(train_y), generator=generator)
    epoch_started = time.perf_counter()
    loss_sum, seen = 0.0, 0
    for begin in range(0, len(order) - args.batch_size + 1, args.batch_size):  # drop_last, as patchstream's train loader
        index = order[begin:begin + args.batch_size]
        x = augment(train_x[index], generator)
        y = train_y[index]
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * len(index)
        seen += len(index)
    seconds = time.perf_counter() - epoch_started
    model.eval()
    wrong = 0
    with torch.no_grad():
        for begin in range(0, len(val_y), 256):
            logits = model(centre(val_x[begin:begin + 256]))
            wrong += (logits.argmax(1) != val_y[begin:begin + 256]).sum().item()
    print(json.dumps({'type': 'epoch', 'epoch': epoch + 1, 'trainLoss': loss_sum / seen, 'valTop1Error': wrong / len(val_y),
                      'imagesPerSecond': seen / seconds, 'lr': lr, 'parameters': params}), flush=True)
