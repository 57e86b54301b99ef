#!/bin/sh
# Every translatable message in the sources has a zh_CN translation (none missing or fuzzy).
# TAP output for meson.
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"
xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=C_:1c,2 --add-comments \
  --files-from=po/POTFILES.in -o "$tmp/cardspool.pot" 2>"$tmp/xgettext.log"
msgmerge --quiet --no-fuzzy-matching "po/zh_CN.po" "$tmp/cardspool.pot" -o "$tmp/zh_CN.po"
if ! msgfmt -c -o /dev/null "$tmp/zh_CN.po" 2>"$tmp/check.log"; then
    echo "1..1"; echo "not ok 1 - zh_CN catalogue: $(cat "$tmp/check.log")"; exit 1
fi
stats=$(msgfmt --statistics -o /dev/null "$tmp/zh_CN.po" 2>&1)
echo "1..1"
case "$stats" in
  *untranslated*|*fuzzy*) echo "not ok 1 - zh_CN catalogue complete: $stats"; exit 1 ;;
  *) echo "ok 1 - zh_CN catalogue complete: $stats" ;;
esac
