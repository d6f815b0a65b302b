#!/bin/sh
# Build at image build time what `make run` builds on first run: the default
# experiment (2 vs 3), the toy problem and the small network, into $1.
# MNIST from docker/mnist/ when the build context has it, else downloaded.
set -eu
out="${1:-/app/artifacts}"
here="$(dirname "$0")"
if [ -f "$here/mnist/train-images-idx3-ubyte.gz" ]; then
    set -- --mnist-dir "$here/mnist"
else
    tilting fetch-mnist
    set --
fi
tilting precompute --pair 2 3 "$@" --out "$out" --quiet
tilting precompute --toy --out "$out" --quiet
tilting precompute --network "$@" --out "$out" --quiet
tilting verify --artifacts "$out"
