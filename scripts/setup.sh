#!/usr/bin/env bash
# Installs what the local system and the tests need, when missing:
# redis-server and ZooKeeper from Debian's packages, then the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/redis-server ] || need+=(redis-server)
{ [ -f /usr/share/java/zookeeper.jar ] && [ -x /usr/bin/java ]; } || need+=(zookeeper)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
