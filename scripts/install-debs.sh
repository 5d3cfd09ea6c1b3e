#!/bin/sh
# install-debs.sh PKG... — installs the Debian packages that are missing.
# Needs root (or sudo) for the install; without it, it only says what is
# missing and the tests that need those tools skip with a reason.
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; else
    echo "not root: cannot install:$missing (tests that need them will skip)" >&2; exit 0
  fi
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
${SUDO:-} apt-get update -qq >/dev/null 2>&1 || true
# shellcheck disable=SC2086
${SUDO:-} apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
  echo "apt-get install failed for:$missing (tests that need them will skip)" >&2; exit 0; }
