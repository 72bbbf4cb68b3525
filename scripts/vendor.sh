#!/usr/bin/env bash
# Refresh the third-party browser files in client_web/vendor/ from npm, at pinned versions.
# A discreet service never loads scripts from a CDN, so these files are served by Haven itself.
# Usage: scripts/vendor.sh            (run from anywhere; needs npm and network access to npm)
set -euo pipefail

AXE_CORE_VERSION="4.10.3"          # axe-core: accessibility checks run by tests/browser only
SOCKET_IO_CLIENT_VERSION="4.8.1"   # socket.io-client: speaks to python-socketio 5.x (protocol 5)

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/client_web/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch <package> <version> <file inside package> <destination name>
    local pkg="$1" version="$2" file="$3" name="$4"
    rm -rf "$work/package"
    (cd "$work" && npm pack --silent "$pkg@$version" >/dev/null)
    tar -xzf "$work/$pkg-$version.tgz" -C "$work"
    cp "$work/package/$file" "$dest/$name"
    cp "$(ls "$work"/package/LICEN[CS]E* | head -n 1)" "$dest/$name.LICENSE"
    echo "$name  $pkg@$version  sha256:$(sha256sum "$dest/$name" | cut -d' ' -f1)"
}

mkdir -p "$dest"
{
    echo "# Vendored browser files: name, npm package@version, sha256. Refresh with scripts/vendor.sh."
    fetch axe-core "$AXE_CORE_VERSION" axe.min.js axe.min.js
    fetch socket.io-client "$SOCKET_IO_CLIENT_VERSION" dist/socket.io.min.js socket.io.min.js
} > "$dest/VERSIONS.txt"
cat "$dest/VERSIONS.txt"
