#!/usr/bin/env bash
# Install the Debian packages netlab needs, only those missing. Needs root;
# without it, print what is missing and carry on (the simulated backend needs none).
set -euo pipefail
packages=(nftables iputils-ping etcd-server iperf3 chromium)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "note: missing Debian packages (install as root for kernel features): ${missing[*]}" >&2
    exit 0
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
