#!/usr/bin/env bash
# Make the README's pictures with aeinfer's own commands, from the bundled models.
#   bash scripts/make_pictures.sh [MNIST_DIR]     (default ../shared/data/mnist)
# Writes docs/img/*.png. Families that are not bundled are skipped (and say so).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/mnist}
out=docs/img
mkdir -p "$out"
bundled=$(aeinfer models --json | python3 -c 'import json, sys; print(" ".join(m["name"] for m in json.load(sys.stdin)))')
has() { [[ " $bundled " == *" $1 "* ]]; }
for family in dense sparse deep conv lstm vae convt; do
  if has "$family"; then
    aeinfer reconstruct examples/digits --model "$family" --device cpu -o "$out/reconstruct-$family.png" --overwrite
  else
    echo "skip $family: not bundled" >&2
  fi
done
aeinfer reconstruct examples/noisy-digits --model denoise --device cpu -o "$out/denoise.png" --overwrite
aeinfer denoise examples/noisy-7.png --device cpu -o "$out/noisy-7.denoised.png" --overwrite
if has vae; then
  aeinfer scatter --data-dir "$data" --model vae --device cpu -o "$out/vae-scatter.png" --overwrite
  aeinfer manifold --size 20 --range 3 --model vae --device cpu -o "$out/vae-manifold.png" --overwrite
  aeinfer sample -n 32 --seed 0 --model vae --device cpu -o "$out/vae-samples.png" --overwrite
fi
interp_model=convt
has "$interp_model" || interp_model=deep
aeinfer interpolate examples/digits/test-0002.png examples/digits/test-0006.png --steps 10 \
  --model "$interp_model" --device cpu -o "$out/interpolate-$interp_model.png" --overwrite
