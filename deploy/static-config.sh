#!/bin/sh
# The static site's build on Render: writes the web app's API base into
# static/js/config.js from PORTAL_API_BASE. Empty (the default) means the site's
# own origin, which render.yaml's /api/* rewrite sends to the API service.
set -eu

base="${PORTAL_API_BASE:-}"
base="${base%/}"
case "$base" in
  "" | http://* | https://*) ;;
  *)
    echo "PORTAL_API_BASE must be empty or an http(s) origin, not: $base" >&2
    exit 1
    ;;
esac
# Only what an origin is made of goes into the JavaScript string: no quote,
# backslash or space can break out of it.
if printf '%s' "$base" | grep -q '[^A-Za-z0-9.:/-]'; then
  echo "PORTAL_API_BASE holds characters no origin has: $base" >&2
  exit 1
fi

printf 'export const API_BASE = "%s";\n' "$base" > static/js/config.js
echo "static/js/config.js: API_BASE = \"$base\""
