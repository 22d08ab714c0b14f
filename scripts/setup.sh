#!/usr/bin/env bash
# Installs what DemoForge needs on Debian, idempotently: silent when everything is already there.
set -euo pipefail

packages=(libevent-dev pkg-config chromium python3-venv curl)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1 && [ ! -x /opt/swift/usr/bin/swift ]; then
    echo "setup: Swift 6 is required (expected at /opt/swift or on PATH)" >&2
    exit 1
fi
if ! command -v node >/dev/null 2>&1; then
    echo "setup: Node.js 20 (node, npm) is required for site builds and previews" >&2
    exit 1
fi
