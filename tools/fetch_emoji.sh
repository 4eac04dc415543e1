#!/bin/sh
# fetch_emoji.sh GANLUA DIR — a folder of real colour images in the
# torchvision ImageFolder layout (DIR/<category>/<name>.png, 64 x 64 RGB):
# the Google emoji of the npm package emoji-datasource-google (16.0.0),
# whose tarball is checked against its SHA-256 sum, converted by
# tools/emoji_folder.lua (which documents the layout and the compositing)
# and renamed into DIR only when every image converted. DIR/.complete
# records the tarball's sum; a DIR without it is rebuilt. Needs npm
# (Debian's `npm` package; installed when missing).
set -eu
ganlua=${1:-./ganlua}
dir=${2:-data/emoji}
pkg=emoji-datasource-google-16.0.0.tgz
sum=fb5fd131b362aab7a55542d2a147a79708cce0a8b1c1bbacd470172708b5c438

if [ "$(cat "$dir/.complete" 2>/dev/null)" = "$sum" ]; then
  echo "emoji folder already in $dir"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "fetch_emoji: installing npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent emoji-datasource-google@16.0.0 >/dev/null 2>&1) || { echo "fetch_emoji: npm pack emoji-datasource-google failed" >&2; exit 1; }
if ! (cd "$tmp" && echo "$sum  $pkg" | sha256sum --quiet -c -); then
  echo "fetch_emoji: checksum mismatch in $pkg" >&2
  exit 1
fi
tar -xzf "$tmp/$pkg" -C "$tmp" package/emoji.json package/img/google/64
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
"$ganlua" tools/emoji_folder.lua "$tmp/package" "$dir"
n=$(find "$dir" -name '*.png' | wc -l)
if [ "$n" -ne 3786 ]; then
  echo "fetch_emoji: $n images in $dir, expected 3786" >&2
  exit 1
fi
printf '%s\n' "$sum" > "$dir/.complete.tmp"
mv "$dir/.complete.tmp" "$dir/.complete"
