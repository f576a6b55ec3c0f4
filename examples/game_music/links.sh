#!/usr/bin/env bash
# Lays out the game music that Debian ships as three folder-per-package
# trees of symbolic links, the datasets of examples/game_music.yaml:
#
#   DEST/learn/<package>/...     every other track of each learning package
#   DEST/held_out/<package>/...  the others: the targets' tracks
#   DEST/outside/<package>/...   wesnoth, warzone2100: never learnt from
#
# (ufoai-music, the third package kept out of learning, ships its tracks
# inside a .pk3 archive rather than as files, so it is not laid out.)
#
# Each package's tracks are sorted by path; tracks 0, 2, 4, ... learn, 1,
# 3, 5, ... are held out. Links are named <package>-<name>.<ext> (a Frets
# on Fire song by its band and song folder, as every one is song.ogg).
# With PER_PACKAGE, only each package's first that many tracks are laid
# out (a small version of the study). Packages not installed are skipped,
# and named.
#
#   examples/game_music/links.sh DEST [PER_PACKAGE]
set -euo pipefail
dest=${1:?usage: links.sh DEST [PER_PACKAGE]}
per_package=${2:-0}

# package  folder  find's -name pattern
LEARNING="
drascula     /usr/share/scummvm/drascula/audio       *.ogg
planetblupi  /usr/share/planetblupi/music            *.ogg
singularity  /usr/share/games/singularity/music      *.ogg
hyperrogue   /usr/share/hyperrogue/music             *.ogg
fretsonfire  /usr/share/games/fretsonfire/data/songs song.ogg
asc          /usr/share/games/asc/music              *.mp3
"
OUTSIDE="
wesnoth      /usr/share/games/wesnoth/1.16/data/core/music *.ogg
warzone2100  /usr/share/games/warzone2100/music            *.opus
"

# The link name of one file of a package.
link_name() {
  local package=$1 file=$2 stem
  stem=$(basename "$file")
  stem=${stem%.*}
  if [ "$stem" = song ]; then
    stem="$(basename "$(dirname "$(dirname "$file")")")-$(basename "$(dirname "$file")")"
  fi
  stem=$(printf '%s' "$stem" | tr -c 'A-Za-z0-9._-' '_')
  printf '%s-%s.%s' "$package" "$stem" "${file##*.}"
}

# Links one package's sorted files; with `split`, alternately into learn/
# and held_out/, else into outside/.
lay_out() {
  local package=$1 folder=$2 pattern=$3 split=$4 i=0 part file
  if [ ! -d "$folder" ]; then
    echo "links.sh: $package is not installed ($folder): left out" >&2
    return
  fi
  while IFS= read -r file; do
    if [ "$per_package" -gt 0 ] && [ "$i" -ge "$per_package" ]; then break; fi
    if [ "$split" = yes ]; then
      part=$([ $((i % 2)) -eq 0 ] && echo learn || echo held_out)
    else
      part=outside
    fi
    mkdir -p "$dest/$part/$package"
    ln -sfn "$file" "$dest/$part/$package/$(link_name "$package" "$file")"
    i=$((i + 1))
  done < <(find "$folder" -type f -name "$pattern" | LC_ALL=C sort)
}

rm -rf "$dest/learn" "$dest/held_out" "$dest/outside"
while read -r package folder pattern; do
  [ -n "$package" ] && lay_out "$package" "$folder" "$pattern" yes
done <<< "$LEARNING"
while read -r package folder pattern; do
  [ -n "$package" ] && lay_out "$package" "$folder" "$pattern" no
done <<< "$OUTSIDE"
for part in learn held_out outside; do
  echo "links.sh: $part: $(find "$dest/$part" -type l 2>/dev/null | wc -l) tracks" >&2
done
