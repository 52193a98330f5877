#!/usr/bin/env bash
# Shows that package validation catches an API break: packs a copy of the library in which one public method of the
# baseline (ModelFile.Parse) is made internal, and passes only if that pack fails with CP0002 naming the method.
# CI runs it (.ci/run); docs/packaging.md explains the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src" "$tmp/eng"
cp Directory.Build.props Directory.Packages.props "$tmp/"
cp src/Directory.Build.props "$tmp/src/"
cp -r eng/baseline "$tmp/eng/"
tar -C src --exclude=bin --exclude=obj -cf - Recur | tar -C "$tmp/src" -xf -
file="$tmp/src/Recur/IO/ModelFile.cs"
probe='public static ModelBundle Parse(byte[] data, string source)'
grep -qF "$probe" "$file" || { echo "check-api-break: '$probe' is no longer in src/Recur/IO/ModelFile.cs; choose another public member of the baseline" >&2; exit 1; }
sed -i 's/public static ModelBundle Parse(byte\[\] data, string source)/internal static ModelBundle Parse(byte[] data, string source)/' "$file"
# The copy is not a git clone: no source-control queries there.
if dotnet pack "$tmp/src/Recur/Recur.csproj" -c Release -o "$tmp/out" -nologo -p:EnableSourceControlManagerQueries=false -p:EnableSourceLink=false > "$tmp/log" 2>&1; then
  echo "check-api-break: package validation let an API break through (ModelFile.Parse made internal)" >&2
  cat "$tmp/log" >&2
  exit 1
fi
grep -q "error CP0002.*ModelFile.Parse" "$tmp/log" || { echo "check-api-break: pack failed, but not with CP0002 on ModelFile.Parse:" >&2; cat "$tmp/log" >&2; exit 1; }
echo "check-api-break: caught: $(grep -m1 -o "CP0002: Member '[^']*' exists on \[Baseline\]" "$tmp/log")"
