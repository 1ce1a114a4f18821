#!/usr/bin/env bash
# Screenshots for docs/ux.md: the same story's request cards (360 and 540 px) and
# transcript (390 and 1280 px), before (BASE, a commit before issue 16) and after.
# usage: CARDSHOT=<path of cardshot.sh> docs/ux-screenshots.sh [BASE]
# Writes build/screenshots/{before,after}/ (git-ignored). Needs chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:-05e683f}"
cardshot="${CARDSHOT:?set CARDSHOT to the cardshot.sh that renders Adaptive Cards}"
python="${PYTHON:-.venv/bin/python}"
rm -rf build/before && mkdir -p build/before
git archive "$base" | tar -x -C build/before
"$python" tests/ux_samples.py build/screenshots/after
PYTHONPATH=build/before "$python" tests/ux_samples.py build/screenshots/before
"$python" -m tests.card_gallery build/screenshots/gallery.json
for side in before after; do
  dir="build/screenshots/$side"
  "$cardshot" "$dir/cards.json" "$dir" 360,540,1280
  for width in 390 1280; do
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
      --window-size="$width",1400 --screenshot="$dir/transcript-$width.png" \
      "file://$PWD/$dir/transcript.html" 2>/dev/null
  done
  # Print media, with the playwright-core that cardshot installed.
  NODE_PATH="${TMPDIR:-/tmp}/cardshot-node/node_modules" \
    node docs/printshot.js "$dir/transcript.html" "$dir/transcript-print.png"
done
"$cardshot" build/screenshots/gallery.json build/screenshots/gallery 360,540
