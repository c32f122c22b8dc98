#!/usr/bin/env bash
# Signs dist/Backbeat.app with a Developer ID under the hardened runtime, notarizes it with Apple and
# staples the ticket, when an identity is given; without one it says so and signs nothing.
#   BACKBEAT_SIGN_IDENTITY="Developer ID Application: Name (TEAMID)" \
#   BACKBEAT_NOTARY_PROFILE=backbeat-notary \
#   bash packaging/sign.sh
# The notary profile is made once with `xcrun notarytool store-credentials backbeat-notary`.
# Why it matters: macOS grants Full Disk Access to a signed app by its identity; an unsigned build
# loses the grant each time it changes, and Gatekeeper refuses an unnotarized download.
set -euo pipefail
cd "$(dirname "$0")/.."
app=dist/Backbeat.app
[ "$(uname)" = Darwin ] || { echo "signing needs macOS (codesign, notarytool)" >&2; exit 2; }
[ -d "$app" ] || { echo "no $app: run packaging/build.sh first" >&2; exit 2; }
if [ -z "${BACKBEAT_SIGN_IDENTITY:-}" ]; then
  echo "BACKBEAT_SIGN_IDENTITY is not set: $app stays unsigned (ad hoc), fine for this Mac only" >&2
  exit 0
fi
sign() { codesign --force --timestamp --options runtime --entitlements packaging/entitlements.plist --sign "$BACKBEAT_SIGN_IDENTITY" "$@"; }
echo "==> Signing every library and executable inside, innermost first"
find "$app/Contents" -type f \( -name '*.so' -o -name '*.dylib' -o -perm -u+x \) -print0 \
  | while IFS= read -r -d '' f; do
      file -b "$f" | grep -q 'Mach-O' && sign "$f"
    done
echo "==> Signing the bundle"
sign "$app"
codesign --verify --deep --strict --verbose=2 "$app"
if [ -z "${BACKBEAT_NOTARY_PROFILE:-}" ]; then
  echo "BACKBEAT_NOTARY_PROFILE is not set: signed, not notarized" >&2
  exit 0
fi
echo "==> Notarizing (Apple's service; a few minutes)"
mkdir -p build
ditto -c -k --keepParent "$app" build/Backbeat-notarize.zip
xcrun notarytool submit build/Backbeat-notarize.zip --keychain-profile "$BACKBEAT_NOTARY_PROFILE" --wait
xcrun stapler staple "$app"
spctl --assess --type execute --verbose=2 "$app"
echo "Signed, notarized and stapled: $app"
