#!/usr/bin/env bash
# The main job, from nothing: set up, then back up FOLDER to the embedded default repository
# (in the app-data folder, no server needed) and show the snapshots.
#   bash scripts/run.sh [FOLDER]        FOLDER defaults to ~/Documents, else this project's folder
# The passphrase: BACKBEAT_PASSWORD, or you are asked for it on a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh app
folder="${1:-}"
if [ -z "$folder" ]; then
  if [ -d "$HOME/Documents" ]; then folder="$HOME/Documents"; else folder="$PWD"; fi
fi
bb=.venv/bin/backbeat
repo="$(.venv/bin/python -c 'from engine.home import default_repository; print(default_repository())')"
[ -f "$repo/config" ] || $bb init
status=0
$bb backup "$folder" || status=$?
$bb snapshots
exit $status
