#!/usr/bin/env bash
# System packages the test suite and the peer benchmarks use, all from Debian (bookworm and its
# backports suite). Idempotent; run as root (CI runs as root). Each group is optional at test
# time: a test whose tool is missing skips with a message naming the package.
#   libjpeg-turbo-progs      djpeg, the oracle for corrupt-JPEG tests
#   mesa-vulkan-drivers      lavapipe (software Vulkan) for the WebGPU tests; bookworm's Mesa 22
#                            gives Dawn no adapter, so it comes from bookworm-backports (Mesa 25)
#   python3-torch(vision)    PyTorch peers for benchmarks and the torchrun launcher tests
#   openmpi-bin              mpirun for the launcher tests
#   nginx-light              an HTTP server with Range support for the WebDataset tests
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ ! -f /etc/apt/sources.list.d/bookworm-backports.sources ]; then
  cat > /etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  libjpeg-turbo-progs python3-torch python3-torchvision python3-pil openmpi-bin nginx-light >/dev/null
apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
echo "system packages: $(djpeg -version 2>&1 | head -n 1 | tr -d '\n'); mesa $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
