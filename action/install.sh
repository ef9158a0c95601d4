#!/usr/bin/env bash
# Installs the pages-zendesk-sync binary for the composite action:
# 1. the prebuilt release archive for the action's version, verified against the SHA-256
#    published with the release (and against the binary-sha256 input when given);
# 2. only when no release exists for that version: `cargo build --release --locked` from
#    the action's own checkout.
# Writes the binary's path to $GITHUB_OUTPUT as `bin`.
set -euo pipefail

target="x86_64-unknown-linux-gnu"
name="pages-zendesk-sync-$target"
version="${VERSION:-}"
if [ -z "$version" ]; then
  version="v$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ACTION_PATH/Cargo.toml" | head -n 1)"
fi
case "$version" in
  v[0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "::error::version must look like vX.Y.Z, got '$version'"; exit 1 ;;
esac
repo="${ACTION_REPOSITORY:-}"
if [ -z "$repo" ]; then repo="$WORKFLOW_REPOSITORY"; fi
dest="${RUNNER_TEMP:-/tmp}/pages-zendesk-sync-$version"
mkdir -p "$dest"

if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] &&
  gh release download "$version" --repo "$repo" --dir "$dest" --clobber \
    --pattern "$name.tar.gz" --pattern "$name.tar.gz.sha256" 2>/dev/null; then
  (cd "$dest" && sha256sum --check --strict "$name.tar.gz.sha256")
  if [ -n "${EXPECTED_SHA256:-}" ]; then
    actual="$(sha256sum "$dest/$name.tar.gz" | cut -d ' ' -f 1)"
    if [ "$actual" != "$EXPECTED_SHA256" ]; then
      echo "::error::release archive checksum $actual does not match binary-sha256"
      exit 1
    fi
  fi
  tar -C "$dest" -xzf "$dest/$name.tar.gz"
  bin="$dest/$name/pages-zendesk-sync"
  echo "installed release $version (checksum verified)"
else
  echo "no release archive for $version; building from source"
  cargo build --release --locked --manifest-path "$ACTION_PATH/Cargo.toml" \
    --target-dir "$dest/target"
  bin="$dest/target/release/pages-zendesk-sync"
fi
"$bin" --version
echo "bin=$bin" >> "$GITHUB_OUTPUT"
