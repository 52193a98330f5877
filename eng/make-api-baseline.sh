#!/usr/bin/env bash
# Writes eng/baseline/Recur.<version>.nupkg, the API baseline that package validation compares every new Recur package
# with (src/Recur/Recur.csproj: PackageValidationBaselinePath). Run it once per release, at the released commit, then
# set RecurApiBaselineVersion in src/Recur/Recur.csproj to that version. No Recur package is published, so the baseline
# is built here: the package as `dotnet pack` makes it, with the library's reference assembly (its public and internal
# API, no method bodies) in place of the full assembly and without the XML docs, which keeps it small (about 80 KB).
# Needs zip and unzip.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
dotnet pack src/Recur/Recur.csproj -c Release -o "$tmp/pack" -p:DisablePackageBaselineValidation=true -nologo -v quiet
pkg="$(ls "$tmp"/pack/Recur.*.nupkg | grep -v '\.snupkg$')"
name="$(basename "$pkg")"
mkdir "$tmp/x"
(cd "$tmp/x" && unzip -q "$pkg")
cp src/Recur/obj/Release/net10.0/ref/Recur.dll "$tmp/x/lib/net10.0/Recur.dll"
rm -f "$tmp/x/lib/net10.0/Recur.xml"
mkdir -p eng/baseline
rm -f "eng/baseline/$name"
(cd "$tmp/x" && zip -q -X -D -r "$OLDPWD/eng/baseline/$name" .)
echo "wrote eng/baseline/$name ($(wc -c < "eng/baseline/$name") bytes)"
