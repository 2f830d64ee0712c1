#!/usr/bin/env bash
# Refresh the pinned third-party browser files from the npm registry.
#
#   scripts/vendor.sh          # download (npm pack) the pins below and copy the dist files
#   scripts/vendor.sh --check  # offline: verify the files on disk against the VERSIONS.txt files
#
# Only the listed dist files are copied (no source maps, READMEs or sources).
# Each vendor root gets a VERSIONS.txt (name@version, sha256, file) and a
# LICENSES.txt (each package's license text, concatenated). The managed
# sub-folders are replaced wholesale, so files dropped from the list disappear.
#
# To bump a package: change its version in PINS below, run this script, review
# the diff, and commit the result together with the script.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

STATIC_VENDOR=fieldservice/core/static/vendor
PWA_VENDOR=pwa/vendor

# package@version | file inside the package tarball | destination (relative to repo root)
PINS=(
  "htmx.org@2.0.4|dist/htmx.min.js|$STATIC_VENDOR/htmx/htmx.min.js"

  "swagger-ui-dist@5.35.0|swagger-ui.css|$STATIC_VENDOR/swagger-ui/swagger-ui.css"
  "swagger-ui-dist@5.35.0|swagger-ui-bundle.js|$STATIC_VENDOR/swagger-ui/swagger-ui-bundle.js"
  "swagger-ui-dist@5.35.0|swagger-ui-standalone-preset.js|$STATIC_VENDOR/swagger-ui/swagger-ui-standalone-preset.js"
  "swagger-ui-dist@5.35.0|favicon-32x32.png|$STATIC_VENDOR/swagger-ui/favicon-32x32.png"

  "chart.js@4.4.7|dist/chart.umd.js|$STATIC_VENDOR/chartjs/chart.umd.js"

  # The schedule board's map (appointments); leaflet.css finds its images in images/ beside it.
  "leaflet@1.9.4|dist/leaflet.js|$STATIC_VENDOR/leaflet/leaflet.js"
  "leaflet@1.9.4|dist/leaflet.css|$STATIC_VENDOR/leaflet/leaflet.css"
  "leaflet@1.9.4|dist/images/layers.png|$STATIC_VENDOR/leaflet/images/layers.png"
  "leaflet@1.9.4|dist/images/layers-2x.png|$STATIC_VENDOR/leaflet/images/layers-2x.png"
  "leaflet@1.9.4|dist/images/marker-icon.png|$STATIC_VENDOR/leaflet/images/marker-icon.png"
  "leaflet@1.9.4|dist/images/marker-icon-2x.png|$STATIC_VENDOR/leaflet/images/marker-icon-2x.png"
  "leaflet@1.9.4|dist/images/marker-shadow.png|$STATIC_VENDOR/leaflet/images/marker-shadow.png"

  # Single-file UMD build: defines the global `idb` (openDB, deleteDB, wrap, unwrap).
  "idb@8.0.4|build/umd.js|$PWA_VENDOR/idb/idb.umd.js"

  # workbox-sw loads "<modulePathPrefix>/workbox-<module>.<prod|dev>.js" via importScripts.
  # Only the prod builds are vendored: the service worker must call
  # workbox.setConfig({modulePathPrefix: '/app/vendor/workbox/', debug: false})
  # (workbox-sw defaults to debug=true, i.e. *.dev.js, when the host is "localhost").
  "workbox-sw@7.4.1|build/workbox-sw.js|$PWA_VENDOR/workbox/workbox-sw.js"
  "workbox-core@7.4.1|build/workbox-core.prod.js|$PWA_VENDOR/workbox/workbox-core.prod.js"
  "workbox-routing@7.4.1|build/workbox-routing.prod.js|$PWA_VENDOR/workbox/workbox-routing.prod.js"
  "workbox-strategies@7.4.1|build/workbox-strategies.prod.js|$PWA_VENDOR/workbox/workbox-strategies.prod.js"
  "workbox-precaching@7.4.1|build/workbox-precaching.prod.js|$PWA_VENDOR/workbox/workbox-precaching.prod.js"
  "workbox-expiration@7.4.1|build/workbox-expiration.prod.js|$PWA_VENDOR/workbox/workbox-expiration.prod.js"
  "workbox-background-sync@7.4.1|build/workbox-background-sync.prod.js|$PWA_VENDOR/workbox/workbox-background-sync.prod.js"

  "signature_pad@5.1.4|dist/signature_pad.umd.min.js|$PWA_VENDOR/signature_pad/signature_pad.umd.min.js"

  # Classic script: defines the global `qrcode` (the PWA draws the customer's QR on the phone, offline too).
  "qrcode-generator@2.0.4|dist/qrcode.js|$PWA_VENDOR/qrcode-generator/qrcode.js"
)

# Extra license files shipped inside a package (third-party notices of bundled code).
declare -A EXTRA_LICENSES=(
  ["swagger-ui-dist"]="NOTICE swagger-ui-bundle.js.LICENSE.txt swagger-ui-standalone-preset.js.LICENSE.txt"
)

# Packages that ship no LICENSE file but state their license in a file's header: file and how many lines.
declare -A HEADER_LICENSES=(
  ["qrcode-generator"]="dist/qrcode.js:16"
)

VENDOR_ROOTS=("$STATIC_VENDOR" "$PWA_VENDOR")

log() { echo "vendor: $*" >&2; }
die() { echo "vendor: error: $*" >&2; exit 1; }

# Which vendor root a destination belongs to.
root_of() {
  local dest="$1" root
  for root in "${VENDOR_ROOTS[@]}"; do
    if [[ "$dest" == "$root"/* ]]; then echo "$root"; return 0; fi
  done
  die "destination outside the vendor roots: $dest"
}

check() {
  local root line status=0 spec sum file actual n
  for root in "${VENDOR_ROOTS[@]}"; do
    [[ -f "$root/VERSIONS.txt" ]] || { echo "missing $root/VERSIONS.txt"; status=1; continue; }
    n=0
    while read -r spec sum file; do
      [[ -z "$spec" || "$spec" == \#* ]] && continue
      n=$((n + 1))
      if [[ ! -f "$root/$file" ]]; then
        echo "MISSING  $root/$file ($spec)"; status=1; continue
      fi
      actual="$(sha256sum "$root/$file" | cut -d' ' -f1)"
      if [[ "$actual" != "$sum" ]]; then
        echo "CHANGED  $root/$file ($spec)"; status=1
      fi
    done < "$root/VERSIONS.txt"
    echo "vendor: checked $n files in $root"
  done
  [[ $status -eq 0 ]] && echo "vendor: all vendored files match VERSIONS.txt"
  return $status
}

case "${1:-}" in
  --check) check; exit $? ;;
  "") ;;
  -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1" ;;
esac

command -v npm >/dev/null || die "npm not found (install Node.js)"
NPM=(npm --loglevel=error --no-fund --no-audit)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
stage="$tmp/stage"
mkdir -p "$stage"

# Unique package specs, in first-seen order.
specs=()
declare -A seen=()
for pin in "${PINS[@]}"; do
  spec="${pin%%|*}"
  if [[ -z "${seen[$spec]:-}" ]]; then seen[$spec]=1; specs+=("$spec"); fi
done

# Download and unpack each package once.
declare -A pkgdir=()
for spec in "${specs[@]}"; do
  name="${spec%@*}" version="${spec##*@}"
  got="$("${NPM[@]}" view "$spec" version 2>/dev/null | tail -n1 | tr -d "'\" ")"
  [[ "$got" == "$version" ]] || die "$spec not found in the npm registry (got: '${got:-nothing}')"
  log "npm pack $spec"
  tarball="$(cd "$tmp" && "${NPM[@]}" pack --silent "$spec" | tail -n1)"
  [[ -f "$tmp/$tarball" ]] || die "npm pack $spec produced no tarball"
  dir="$tmp/pkg/$name"
  mkdir -p "$dir"
  tar -xzf "$tmp/$tarball" -C "$dir"
  [[ -f "$dir/package/package.json" ]] || die "$spec: unexpected tarball layout"
  actual="$(node -p "require('$dir/package/package.json').version")"
  [[ "$actual" == "$version" ]] || die "$spec: tarball says version $actual"
  pkgdir[$spec]="$dir/package"
done

# Copy the files into the staging tree, recording versions and checksums.
for root in "${VENDOR_ROOTS[@]}"; do
  mkdir -p "$stage/$root"
  {
    echo "# Third-party browser files vendored by scripts/vendor.sh - do not edit by hand."
    echo "# Verify with: scripts/vendor.sh --check"
    echo "# package@version  sha256  file (relative to this folder)"
  } > "$stage/$root/VERSIONS.txt"
  {
    echo "Licenses of the third-party files in this folder (vendored by scripts/vendor.sh)."
  } > "$stage/$root/LICENSES.txt"
done

declare -A licensed=()
for pin in "${PINS[@]}"; do
  IFS='|' read -r spec src dest <<< "$pin"
  name="${spec%@*}"
  root="$(root_of "$dest")"
  from="${pkgdir[$spec]}/$src"
  [[ -f "$from" ]] || die "$spec has no file $src"
  mkdir -p "$(dirname "$stage/$dest")"
  cp "$from" "$stage/$dest"
  sum="$(sha256sum "$stage/$dest" | cut -d' ' -f1)"
  printf '%s  %s  %s\n' "$spec" "$sum" "${dest#"$root"/}" >> "$stage/$root/VERSIONS.txt"

  if [[ -z "${licensed[$root|$spec]:-}" ]]; then
    licensed[$root|$spec]=1
    pkg="${pkgdir[$spec]}"
    files=()
    for f in "$pkg"/LICENSE "$pkg"/LICENSE.md "$pkg"/LICENSE.txt "$pkg"/license "$pkg"/license.md; do
      [[ -f "$f" ]] && files+=("$f")
    done
    for extra in ${EXTRA_LICENSES[$name]:-}; do
      [[ -f "$pkg/$extra" ]] && files+=("$pkg/$extra")
    done
    header="${HEADER_LICENSES[$name]:-}"
    if [[ -n "$header" ]]; then
      head -n "${header##*:}" "$pkg/${header%%:*}" > "$tmp/$name.LICENSE-header"
      files+=("$tmp/$name.LICENSE-header")
    fi
    [[ ${#files[@]} -gt 0 ]] || die "$spec ships no LICENSE file"
    {
      echo
      echo "================================================================================"
      echo "$spec"
      echo "================================================================================"
      for f in "${files[@]}"; do
        [[ ${#files[@]} -gt 1 ]] && printf -- '--- %s ---\n' "$(basename "$f")"
        cat "$f"
        echo
      done
    } >> "$stage/$root/LICENSES.txt"
  fi
done

# Replace the managed folders and files in the work tree.
for root in "${VENDOR_ROOTS[@]}"; do
  mkdir -p "$root"
  for entry in "$stage/$root"/*; do
    rel="$root/$(basename "$entry")"
    rm -rf "$rel"
    cp -R "$entry" "$rel"
  done
done

for root in "${VENDOR_ROOTS[@]}"; do
  log "$root: $(find "$root" -type f | wc -l) files, $(du -sh "$root" | cut -f1)"
done
log "done (${#specs[@]} packages)"
