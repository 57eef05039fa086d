#!/usr/bin/env bash
# The cluster page's test drives a real headless Chromium, from Debian's packages. Installs it when it is
# missing and this is a root shell with apt-get (CI, a fresh dev machine); otherwise says why the browser
# test will be skipped. Never fails the test run itself.
set -u
if [ -n "${EDGERELAY_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1; then exit 0; fi
log="${TMPDIR:-/tmp}/edgerelay-chromium-install.log"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing Debian's chromium package for the cluster page's browser test (log: $log)"
  if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core) >"$log" 2>&1; then
    echo "ensure-chromium: could not install chromium (see $log): the browser test will be skipped"
  fi
else
  echo "ensure-chromium: no chromium and no root apt-get here: the browser test will be skipped" \
    "(install Debian's chromium package, or set EDGERELAY_CHROMIUM to a Chromium binary)"
fi
exit 0
