#!/usr/bin/env bash
# Packages the extension as a user installs it: dist/bare-metal-deploy.vsix (production bundles),
# exactly as `npm run package` does, so the e2e tests install what the Marketplace would get.
#
# README images: plain `vsce package`, which rewrites the README's relative links against
# `repository` (…/raw/HEAD/…), is right for the Marketplace and for the installed extension too:
# VS Code's extension page drops a relative image's src and loads images only from https: or
# data: (CSP img-src; seen in code-server 4.139.1, test/e2e/install.test.ts checks it), so
# --no-rewrite-relative-links would break the images in both places, and shipping the
# screenshots in the .vsix would not help (.vscodeignore leaves them out).
# --no-dependencies: esbuild bundles every dependency; plain `vsce package` (it runs
# `npm list --production`) works too and packs the same 21 files, only slower.
set -euo pipefail
cd "$(dirname "$0")/../.."
node scripts/build.mjs --production >&2
npx --no-install vsce package --no-dependencies -o dist/bare-metal-deploy.vsix >&2
echo "$PWD/dist/bare-metal-deploy.vsix"
