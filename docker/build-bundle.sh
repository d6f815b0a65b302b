#!/bin/sh
# Build the default experiment (2 vs 3) into $1 at image build time:
# MNIST from docker/mnist/ when the build context has it, else downloaded.
set -eu
out="${1:-/app/artifacts}"
here="$(dirname "$0")"
if [ -f "$here/mnist/train-images-idx3-ubyte.gz" ]; then
    tilting precompute --pair 2 3 --mnist-dir "$here/mnist" --out "$out" --quiet
else
    tilting fetch-mnist
    tilting precompute --pair 2 3 --out "$out" --quiet
fi
tilting verify --artifacts "$out"
