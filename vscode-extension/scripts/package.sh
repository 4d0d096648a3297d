#!/usr/bin/env bash
# Builds the extension and writes two .vsix files into dist/:
#   prunekit-linux-x64.vsix  with the stripped server at extension/server/prunekit-lsp
#   prunekit-universal.vsix  without a server (prunekit.server.path or PATH)
set -euo pipefail

cd "$(dirname "$0")/.."
server_src=../target/release/prunekit-lsp
vsce=node_modules/.bin/vsce

if [[ ! -x $server_src ]]; then
  echo "package: $server_src is missing: build it with \`cargo build --release -p prunekit-lsp\`." >&2
  exit 1
fi
if [[ ! -s schemas/recipe.schema.json ]]; then
  echo "package: schemas/recipe.schema.json is missing: generate it with \`target/release/prunekit-lsp schema > vscode-extension/schemas/recipe.schema.json\`." >&2
  exit 1
fi
if [[ ! -x $vsce ]]; then
  echo "package: $vsce is missing: run \`npm ci\` in vscode-extension/ first." >&2
  exit 1
fi

# server/ exists only while the platform package is written.
trap 'rm -rf server' EXIT

npm run --silent build
mkdir -p dist
rm -f dist/prunekit-linux-x64.vsix dist/prunekit-universal.vsix

rm -rf server
mkdir server
if command -v strip >/dev/null; then
  strip --strip-all -o server/prunekit-lsp "$server_src"
else
  objcopy --strip-all "$server_src" server/prunekit-lsp
fi
chmod 0755 server/prunekit-lsp
version=$(server/prunekit-lsp --version 2>/dev/null || true)
echo "package: server $version, $(du -h server/prunekit-lsp | cut -f1) stripped"

"$vsce" package --no-dependencies --target linux-x64 -o dist/prunekit-linux-x64.vsix
rm -rf server
"$vsce" package --no-dependencies -o dist/prunekit-universal.vsix

# Check what went in.
platform_list=$(unzip -Z1 dist/prunekit-linux-x64.vsix)
universal_list=$(unzip -Z1 dist/prunekit-universal.vsix)
fail() {
  echo "package: $1" >&2
  exit 1
}
grep -qx extension/server/prunekit-lsp <<<"$platform_list" || fail "prunekit-linux-x64.vsix lacks extension/server/prunekit-lsp."
grep -q '^extension/server/' <<<"$universal_list" && fail "prunekit-universal.vsix must not hold server/."
for list in "$platform_list" "$universal_list"; do
  for file in extension/dist/extension.js extension/schemas/recipe.schema.json \
    extension/syntaxes/prunekit-recipe.tmLanguage.json extension/language-configuration.json; do
    grep -qx "$file" <<<"$list" || fail "a .vsix lacks $file."
  done
done
unzip -p dist/prunekit-linux-x64.vsix extension.vsixmanifest | grep -q 'TargetPlatform="linux-x64"' ||
  fail "prunekit-linux-x64.vsix does not record TargetPlatform linux-x64."
mode=$(unzip -Zl dist/prunekit-linux-x64.vsix extension/server/prunekit-lsp | awk 'NR==1 || /prunekit-lsp$/ {print $1}' | tail -1)
[[ $mode == -rwx* ]] || fail "extension/server/prunekit-lsp is not executable in the archive ($mode)."

ls -l dist/*.vsix | awk '{printf "package: %s %.1f MB\n", $NF, $5 / 1048576}'
