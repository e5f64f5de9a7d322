#!/usr/bin/env bash
# Build the Debian packages (`make deb`): libsockkit0, libsockkit-dev, sockkit and their -dbgsym
# packages, from a copy of the tree (tracked and new, not ignored, files) so build products and
# the packaging's own files never mix with the work tree. The .deb files land in out/deb/; lintian
# then checks them and this fails on any lintian error.
set -eu
cd "$(dirname "$0")/.."
top=$PWD
work=$top/build-deb
out=$top/out/deb

version=$(sed -n 's/^project(sockkit VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
deb_version=$(sed -n '1s/^sockkit (\([^)]*\)).*/\1/p' debian/changelog)
if [ "$version" != "$deb_version" ]; then
    echo "deb.sh: CMakeLists.txt says $version but debian/changelog says $deb_version;" \
        "add a debian/changelog entry for $version" >&2
    exit 1
fi

rm -rf "$work" "$out"
mkdir -p "$work/sockkit-$version" "$out"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z -co --exclude-standard | tar -c --null -T - -f - | tar -x -C "$work/sockkit-$version"
else
    tar -c --exclude='./build*' --exclude=./out -f - . | tar -x -C "$work/sockkit-$version"
fi

echo "deb.sh: dpkg-buildpackage in build-deb/ (log: build-deb/build.log)"
if ! (cd "$work/sockkit-$version" && dpkg-buildpackage -b -us -uc -j"$(nproc)") \
    >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log" >&2
    echo "deb.sh: dpkg-buildpackage failed; the whole log is build-deb/build.log" >&2
    exit 1
fi
mv "$work"/*.deb "$out"/
ls -1 "$out"

# lintian: errors fail the build; warnings are shown.
if ! lintian --fail-on error --suppress-tags-from-file /dev/null "$out"/*.deb; then
    echo "deb.sh: lintian found errors in the packages above" >&2
    exit 1
fi
echo "deb.sh: packages in out/deb/, lintian found no errors"
