#!/usr/bin/env bash
# The main job, from nothing: set up, then back up FOLDER to the embedded default repository
# (in the app-data folder, no server needed) and show the snapshots.
#   bash scripts/run.sh [FOLDER]        FOLDER defaults to ~/Documents; without one you are asked
# The passphrase: BACKBEAT_PASSWORD, or you are asked for it on a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
folder="${1:-}"
if [ -z "$folder" ] && [ -d "$HOME/Documents" ]; then
  folder="$HOME/Documents"
fi
if [ -z "$folder" ]; then
  if [ -t 0 ]; then
    read -r -p "Which folder should be backed up? " folder
  fi
  if [ -z "$folder" ]; then
    echo "error: say which folder to back up: bash scripts/run.sh FOLDER (there is no ~/Documents to take by default)" >&2
    exit 2
  fi
fi
[ -d "$folder" ] || { echo "error: $folder is not a folder; give one that exists" >&2; exit 2; }
bash scripts/setup.sh app
bb=.venv/bin/backbeat
repo="$(.venv/bin/python -c 'from engine.base.home import default_repository; print(default_repository())')"
if [ ! -f "$repo/config" ]; then
  echo "==> Creating the backup repository in $repo"
  $bb init
fi
echo "==> Backing up $folder"
status=0
$bb backup "$folder" || status=$?
echo "==> Snapshots"
$bb snapshots
exit $status
