#!/bin/sh
# Build at image build time what `make run` builds (there, partly in the background): the
# default experiment (2 vs 3), the toy problem, the small network and the other 44 pairs, into $1.
# MNIST from docker/mnist/ when the build context has it, else downloaded there (the Dockerfile
# deletes that folder afterwards). Any further arguments go to the all-pairs step (the tests
# use them to keep that step small).
set -eu
out="${1:-/app/artifacts}"
[ "$#" -gt 0 ] && shift
mnist="$(dirname "$0")/mnist"
[ -f "$mnist/train-images-idx3-ubyte.gz" ] || tilting fetch-mnist --dest "$mnist"
tilting precompute --pair 2 3 --mnist-dir "$mnist" --out "$out" --quiet
tilting precompute --toy --out "$out" --quiet
tilting precompute --network --mnist-dir "$mnist" --out "$out" --quiet
tilting precompute --all-pairs --mnist-dir "$mnist" "$@" --out "$out" --quiet
tilting verify --artifacts "$out"
