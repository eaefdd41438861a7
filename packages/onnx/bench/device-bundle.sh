#!/usr/bin/env bash
# Builds .device/ (ignored) for benchmark runs on the GPU machine, which has Python and PyTorch
# but no Node and no network. Run from the repository root after `pnpm install`:
#   bash packages/onnx/bench/device-bundle.sh
# Then, with the device tool: carry [".device/node", ".device/onnx"] and run e.g.
#   bash .device/node/run.sh && /tmp/node/node .device/node/train.mjs --only mlp --threads 2
# Layout (about 40 MB, under the device tool's 64 MiB limit):
#   .device/node/node.xz                     this machine's node binary, xz-compressed
#   .device/node/node_modules/onnxruntime-*  the binding, linux-x64 only, libonnxruntime xz'd
#   .device/node/{train,ortnode}.mjs         esbuild bundles of train.bench.ts, ort_step_node.ts
#   .device/node/run.sh                      unpacks node to /tmp/node and the ORT library
#   .device/onnx/*.onnx                      graphs from export-mlp-graphs.ts (for ort_step.py)
set -euo pipefail
root=$(pwd)
out=.device/node
rm -rf "$out" && mkdir -p "$out/node_modules"
xz -T0 -6 -c "$(command -v node)" > "$out/node.xz"

ortNode=$(ls -d node_modules/.pnpm/onnxruntime-node@*/node_modules/onnxruntime-node | head -1)
ortCommon=$(ls -d node_modules/.pnpm/onnxruntime-common@*/node_modules/onnxruntime-common | head -1)
dst="$out/node_modules/onnxruntime-node"
mkdir -p "$dst/bin/napi-v6/linux/x64"
cp -r "$ortNode/package.json" "$ortNode/dist" "$ortNode/lib" "$dst/"
cp "$ortNode/bin/napi-v6/linux/x64/onnxruntime_binding.node" "$dst/bin/napi-v6/linux/x64/"
xz -T0 -6 -c "$ortNode/bin/napi-v6/linux/x64/libonnxruntime.so.1" > "$dst/bin/napi-v6/linux/x64/libonnxruntime.so.1.xz"
cp -rL "$ortCommon" "$out/node_modules/onnxruntime-common"

esbuild=$(ls node_modules/.pnpm/esbuild@*/node_modules/esbuild/bin/esbuild | head -1)
banner="import { createRequire } from 'module'; const require = createRequire(import.meta.url);"
for pair in train:packages/onnx/bench/train.bench.ts ortnode:packages/onnx/bench/ort_step_node.ts; do
  "$esbuild" "${pair#*:}" --bundle --platform=node --format=esm --conditions=@esper/source \
    --external:onnxruntime-node --outfile="$out/${pair%%:*}.mjs" --banner:js="$banner" --log-level=warning
done

cat > "$out/run.sh" <<'EOF'
#!/usr/bin/env bash
# Unpacks node to /tmp/node/node and libonnxruntime next to the binding (idempotent; delete
# the unpacked library again before carrying .device/node, or it is over the size limit).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p /tmp/node
[ -x /tmp/node/node ] || { xz -dc "$here/node.xz" > /tmp/node/node && chmod +x /tmp/node/node; }
lib="$here/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"
[ -f "$lib" ] || xz -dc "$lib.xz" > "$lib"
EOF
chmod +x "$out/run.sh"

node --conditions=@esper/source --import tsx packages/onnx/bench/export-mlp-graphs.ts .device/onnx mlp > /dev/null
du -sh "$out" .device/onnx
cd "$root"
