#!/usr/bin/env bash
# Screenshots of the website's chat for docs/ux.md (issue 24): the browser tests save each
# page at 390 and 1280 px; "before" runs BASE's own tests on BASE's tree.
# usage: docs/ux-web-screenshots.sh [BASE]
# Writes build/screenshots/web/{before,after}/ (git-ignored). Needs chromium (and npm once).
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:-c4ade69}"
python="$PWD/${PYTHON:-.venv/bin/python}"
rm -rf build/before-web build/screenshots/web && mkdir -p build/before-web/build
git archive "$base" | tar -x -C build/before-web
[ -d build/webchat ] && cp -r build/webchat build/before-web/build/
(cd build/before-web && CI=true "$python" -m pytest -q -p no:cacheprovider tests/test_website.py)
CI=true "$python" -m pytest -q -p no:cacheprovider tests/test_website.py tests/test_website_kept.py
mkdir -p build/screenshots/web/before build/screenshots/web/after
cp build/before-web/build/screenshots/*.png build/screenshots/web/before/
cp build/screenshots/*.png build/screenshots/web/after/
