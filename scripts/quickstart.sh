#!/usr/bin/env bash
# The README's first quickstart command: set up, then run the main job on the bundled samples.
# A sample brand registers its catalogue shots and logo (with one authorised seller), then
# sample listings are screened: copies, a logo shown by an unknown and by the authorised seller,
# clean photos, and the brand's name misspelt in a caption (read with --ocr). Data goes to
# ./.authcheck-sample (deleted and rebuilt on each run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh ocr
. .venv/bin/activate
export AUTHCHECK_HOME="$PWD/.authcheck-sample"
rm -rf "$AUTHCHECK_HOME"
set -x
authcheck brand add northwind --authorised-seller northwind-official --wordmark NORTHWIND
authcheck register --brand northwind --kind catalogue samples/catalogue
authcheck register --brand northwind --kind logo samples/logos
authcheck brand list
authcheck screen samples/listings --seller seller-42
authcheck screen samples/listings/logo_on_photo.jpg --seller northwind-official
authcheck screen samples/listings/copy_cropped_with_caption.jpg --json --no-record
authcheck screen samples/listings/wordmark_misspelt.jpg --seller seller-42 --ocr
