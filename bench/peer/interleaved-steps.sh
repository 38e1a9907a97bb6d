#!/bin/bash
# Interleaved training-step benchmark, alexnet-small 28 px batch 64 on random data: an older
# patchstream checkout (BASE, e.g. `git archive 01b621d | tar -x -C /tmp/base`, node_modules
# linked, `npx tsc -p tsconfig.json`, and bench/peer/patchstream-step.ts copied in), this
# checkout on 1 and 2 wasm threads, and PyTorch on 2 and 1 threads, REPS times in turn.
#
#   BASE=/tmp/base REPS=3 bench/peer/interleaved-steps.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
reps=${REPS:-3}
for rep in $(seq 1 "$reps"); do
  if [ -n "${BASE:-}" ]; then (cd "$BASE" && node --import tsx bench/peer/patchstream-step.ts --steps 8 | sed "s/^/rep $rep base: /"); fi
  (cd "$here" && PATCHSTREAM_WASM_THREADS=1 node --import tsx bench/peer/patchstream-step.ts --steps 8 | sed "s/^/rep $rep new-1thread: /")
  (cd "$here" && PATCHSTREAM_WASM_THREADS=2 node --import tsx bench/peer/patchstream-step.ts --steps 8 | sed "s/^/rep $rep new-2threads: /")
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    (cd "$here" && /usr/bin/python3 bench/peer/torch_alexnet_small.py --train - --val - --steps-only 8 --threads 2 | sed "s/^/rep $rep torch-2threads: /")
    (cd "$here" && /usr/bin/python3 bench/peer/torch_alexnet_small.py --train - --val - --steps-only 8 --threads 1 | sed "s/^/rep $rep torch-1thread: /")
  else
    echo "PyTorch runs skipped: /usr/bin/python3 cannot import torch (install Debian's python3-torch)" >&2
  fi
  uptime
done
