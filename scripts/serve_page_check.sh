#!/usr/bin/env bash
# Browser check of `quadrat serve`'s page, by hand: headless Chromium (Debian's `chromium`) loads the page with
# ?example=PHOTO, whose script uploads that photo to /v1/predict and draws the answer; the rendered DOM must show
# the probability bars and the Grad-CAM picture (?explain=1 ticks its box), and a screenshot is written for a person to look at.
#
#   scripts/serve_page_check.sh MODEL PHOTO [SCREENSHOT.png]     (build first: swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1 photo=$2 shot=${3:-serve-page.png}
port=18092
command -v chromium >/dev/null || { echo "chromium is missing: apt-get install chromium" >&2; exit 1; }
QUADRAT_QUIET=1 .build/release/quadrat serve "$model" --port $port --token page-check \
    --examples "$(dirname "$(realpath "$photo")")" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "localhost:$port/healthz" >/dev/null && break; sleep 0.2; done
url="http://127.0.0.1:$port/?token=page-check&explain=1&example=$(basename "$photo")"
flags=(--headless --no-sandbox --disable-gpu --window-size=1100,800 --virtual-time-budget=15000)
dom=$(timeout 90 chromium "${flags[@]}" --dump-dom "$url" 2>/dev/null)
timeout 90 chromium "${flags[@]}" --screenshot="$shot" "$url" >/dev/null 2>&1
bars=$(grep -o "class=\"bar" <<<"$dom" | wc -l)
if grep -q 'class="top"' <<<"$dom" && [ "$bars" -ge 2 ] && grep -q 'class="heat" src="data:image/png' <<<"$dom"; then
    echo "ok: the page predicted $(basename "$photo") ($(grep -o 'class="top">[^<]*' <<<"$dom" | cut -d'>' -f2)); $bars bars; heat map shown; screenshot $shot"
else
    echo "FAILED: no prediction on the page; DOM:" >&2
    echo "$dom" | tail -30 >&2
    exit 1
fi
