#!/bin/sh
# System packages for the end-to-end tests on Debian/Ubuntu: Chromium (browser tests) and Xvfb (live
# window test). Installs only what is missing; where it cannot, those tests skip with their reason.
missing=""
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$missing chromium"
command -v Xvfb >/dev/null 2>&1 || missing="$missing xvfb"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "cannot install$missing (not root, no sudo): the tests that need them will be skipped"; exit 0
fi
$sudo apt-get install -y -q $missing >/dev/null 2>&1 \
  || { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q $missing >/dev/null 2>&1; } \
  || echo "could not install$missing: the tests that need them will be skipped"
exit 0
