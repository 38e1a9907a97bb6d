"""One timed epoch of PyTorch DataLoader + torchvision on an ImageFolder, AlexNet recipe:
Resize(rescale) + CenterCrop(rescale) (patchstream's prepare), RandomCrop(crop), horizontal flip,
PCA lighting (alpha ~ N(0, 0.1), ImageNet eigen constants), Normalize; float32 NCHW batches.
Prints one JSON line: {"imagesPerSecond", "images", "workers", "seconds"}.
Driven by bench/torchvision-peer.ts; run with Debian's /usr/bin/python3 (python3-torchvision).
"""
import json, sys, time
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

root, workers, batch, rescale, crop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
limit = int(sys.argv[6]) if len(sys.argv) > 6 else 0
EIGVAL = torch.tensor([0.2175, 0.0188, 0.0045])
EIGVEC = torch.tensor([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]])

def lighting(img):
    alpha = torch.randn(3) * 0.1
    return img + (EIGVEC @ (alpha * EIGVAL)).view(3, 1, 1)

recipe = transforms.Compose([
    transforms.Resize(rescale), transforms.CenterCrop(rescale), transforms.RandomCrop(crop),
    transforms.RandomHorizontalFlip(), transforms.ToTensor(), transforms.Lambda(lighting),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])
data = datasets.ImageFolder(root, recipe)
if limit:
    data = torch.utils.data.Subset(data, list(range(min(limit, len(data)))))
torch.set_num_threads(1)
loader = DataLoader(data, batch_size=batch, shuffle=True, num_workers=workers, persistent_workers=False)
start = time.perf_counter()
images = 0
for x, y in loader:
    images += x.shape[0]
seconds = time.perf_counter() - start
print(json.dumps({"imagesPerSecond": images / seconds, "images": images, "workers": workers, "seconds": seconds}))
