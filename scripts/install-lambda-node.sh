#!/bin/sh
# Installs the Node release in scripts/lambda-node-version (the Lambda runtime's major
# version, nodejs22.x) into .lambda-node/, from the npm registry's node-linux-<arch>
# package, and prints its bin directory. CI and the bench run on it, whatever `node` the
# machine has first on its PATH. Idempotent. When it cannot be had (another architecture,
# no registry), it says so on stderr, prints nothing and exits 0: the caller then runs on
# the machine's Node.
#
# Usage: PATH="$(scripts/install-lambda-node.sh)${PATH:+:}$PATH"   (empty output: unchanged)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(tr -d ' \n' < "$ROOT/scripts/lambda-node-version")
DEST="$ROOT/.lambda-node/node-v$VERSION"

if [ -x "$DEST/bin/node" ]; then
  echo "$DEST/bin"
  exit 0
fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "install-lambda-node: no Node $VERSION package for $(uname -m); staying on $(node --version)" >&2; exit 0 ;;
esac
work=$(mktemp -d)
if ! (cd "$work" && npm pack --silent "node-linux-$arch@$VERSION" >/dev/null && tar -xzf node-linux-*.tgz); then
  rm -rf "$work"
  echo "install-lambda-node: could not fetch node-linux-$arch@$VERSION; staying on $(node --version)" >&2
  exit 0
fi
mkdir -p "$ROOT/.lambda-node"
rm -rf "$DEST"
mv "$work/package" "$DEST"
rm -rf "$work"
echo "install-lambda-node: Node $("$DEST/bin/node" --version) in .lambda-node/" >&2
echo "$DEST/bin"
