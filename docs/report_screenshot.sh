#!/usr/bin/env bash
# Screenshot a report page as a reader sees it, in headless Chromium (Debian's `chromium` package):
#   bash docs/report_screenshot.sh reports/smoke-sparse/report.html docs/images/report.png [HEIGHT]
set -euo pipefail
page="$(realpath "$1")"
out="$(realpath -m "$2")"
height="${3:-2600}"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,"$height" \
    --screenshot="$out" "file://$page" 2>/dev/null
echo "$out"
