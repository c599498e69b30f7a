#!/usr/bin/env bash
# Packages the extension as a user installs it: dist/bare-metal-deploy.vsix (production bundles).
# Like `npm run package`, plus --no-rewrite-relative-links: the README's relative image links
# (media/screenshots/…) stay relative, which a locally installed .vsix resolves against its own
# files; without it vsce refuses to package a manifest that names no repository.
set -euo pipefail
cd "$(dirname "$0")/../.."
node scripts/build.mjs --production >&2
npx --no-install vsce package --no-dependencies --no-rewrite-relative-links -o dist/bare-metal-deploy.vsix >&2
echo "$PWD/dist/bare-metal-deploy.vsix"
