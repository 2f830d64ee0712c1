#!/usr/bin/env bash
# Install the Debian system packages fieldservice needs at runtime and in tests.
#
#   scripts/install-system-deps.sh               # everything
#   scripts/install-system-deps.sh --no-browser  # skip chromium (Playwright tests)
#
# Only packages that are not yet installed are installed, so a second run is
# fast and prints a single line.
#
# Packages:
#   WeasyPrint runtime : libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1
#   CJK font           : fonts-noto-cjk
#   pdftotext          : poppler-utils
#   QR decoding (tests): libzbar0
#   browser (tests)    : chromium  (used as executable_path=/usr/bin/chromium)
set -euo pipefail

with_browser=1
for arg in "$@"; do
  case "$arg" in
    --no-browser) with_browser=0 ;;
    -h|--help)
      sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "install-system-deps: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done

packages=(
  libpango-1.0-0
  libpangoft2-1.0-0
  libharfbuzz0b
  libharfbuzz-subset0
  libfontconfig1
  fonts-noto-cjk
  poppler-utils
  libzbar0
)
if [[ $with_browser -eq 1 ]]; then
  packages+=(chromium)
fi

missing=()
for pkg in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-system-deps: all ${#packages[@]} system packages already installed"
  exit 0
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-system-deps: not root and sudo not available; need: ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-system-deps: installing ${missing[*]}"

# Refresh the package lists once, unless they look present and recent (< 1 day).
lists_dir=/var/lib/apt/lists
if ! find "$lists_dir" -maxdepth 1 -type f -name '*Packages*' -mmin -1440 2>/dev/null | grep -q .; then
  "${SUDO[@]}" apt-get update -q
fi

if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  # Stale lists can make install fail (404 on a superseded .deb): refresh and retry once.
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

echo "install-system-deps: done"
