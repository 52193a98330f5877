#!/usr/bin/env bash
# The packages as a user gets them (docs/packaging.md), run by .ci/run after the tests have built everything in Release:
#  1. packs Recur and the recur tool (Recur.Cli) into the local folder feed artifacts/feed; packing Recur validates it
#     against the API baseline in eng/baseline, so an API break fails here;
#  2. checks what the packages hold (README, licence, XML docs, symbols);
#  3. shows that an API break is caught (eng/check-api-break.sh);
#  4. installs the packed tool from the feed, trains a small text classifier with it, then builds samples/QuickLibrary,
#     which references Recur from the feed (samples/nuget.config), and runs it in that run folder: the README's
#     application example on the tool's model.recur, the README's first library example, and a Trainer / save / load
#     round trip that must give the same predictions. Any failure exits non-zero.
# Pass --build to build the two projects first (when the tests have not just done it).
set -euo pipefail
cd "$(dirname "$0")/.."
build=--no-build
[ "${1:-}" = "--build" ] && build=
t0=$SECONDS
ver="$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' src/Directory.Build.props)"
[ -n "$ver" ] || { echo "test-packages: no VersionPrefix in src/Directory.Build.props" >&2; exit 1; }

# 1. Pack. The sample's own packages folder loses any Recur of an earlier run: the same version is restored afresh.
rm -rf artifacts/feed artifacts/sample-packages/recur artifacts/sample-packages/recur.cli
dotnet pack src/Recur/Recur.csproj -c Release $build -o artifacts/feed -nologo -v quiet
dotnet pack src/Recur.Cli/Recur.Cli.csproj -c Release $build -o artifacts/feed -nologo -v quiet
echo "test-packages: packed version $ver: $(cd artifacts/feed && ls | tr '\n' ' ')"

# 2. Contents (grep reads all its input: with -q it would stop early, and under pipefail the writer's SIGPIPE fails the check).
has() { unzip -Z1 "artifacts/feed/$1" | grep -x "$2" > /dev/null || { echo "test-packages: $1 lacks $2" >&2; unzip -Z1 "artifacts/feed/$1" >&2; exit 1; }; }
has "Recur.$ver.nupkg" PACKAGE.md
has "Recur.$ver.nupkg" lib/net10.0/Recur.dll
has "Recur.$ver.nupkg" lib/net10.0/Recur.xml
has "Recur.$ver.snupkg" lib/net10.0/Recur.pdb
has "Recur.Cli.$ver.nupkg" PACKAGE.md
has "Recur.Cli.$ver.nupkg" tools/net10.0/any/Recur.Cli.dll
has "Recur.Cli.$ver.snupkg" tools/net10.0/any/Recur.Cli.pdb
for p in Recur Recur.Cli; do
  unzip -p "artifacts/feed/$p.$ver.nupkg" "$p.nuspec" | grep '<license type="expression">MIT</license>' > /dev/null \
    || { echo "test-packages: $p.$ver.nupkg has no MIT licence expression" >&2; exit 1; }
done

# 3. An API break fails the pack.
bash eng/check-api-break.sh

# 4. The tool and the sample, from the feed.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dotnet tool install Recur.Cli --version "$ver" --tool-path "$work/tools" --configfile samples/nuget.config > "$work/install.log" \
  || { cat "$work/install.log" >&2; exit 1; }
for i in $(seq 1 40); do
  printf 'the food was great and fresh %d\tpositive\nthe service was slow and rude %d\tnegative\n' "$i" "$i"
done > "$work/reviews.tsv"
"$work/tools/recur" train --task classify --data "$work/reviews.tsv" --hidden 16 --embedding 16 --epochs 15 --output "$work/run" > "$work/train.log" \
  || { cat "$work/train.log" >&2; exit 1; }
dotnet build samples/QuickLibrary/QuickLibrary.csproj -c Release -nologo -v quiet
(cd "$work/run" && dotnet "$OLDPWD/samples/QuickLibrary/bin/Release/net10.0/QuickLibrary.dll")
echo "test-packages: passed in $((SECONDS - t0)) s"
