# Sourced by the scripts: exports FEDLORA_DATA_DIR, the directory holding the corpora
# (shakespeare/tinyshakespeare.txt, public/*.txt). The repository ships no data. If the
# variable is unset, the first `data` directory with that layout found in the checkout, or
# in or one level below the checkout's parent directories, is used.
fedlora_find_data_dir() {
  local dir candidate
  dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  for _ in 1 2 3; do
    for candidate in "$dir/data" "$dir"/*/data; do
      if [ -f "$candidate/shakespeare/tinyshakespeare.txt" ] && [ -d "$candidate/public" ]; then
        (cd "$candidate" && pwd)
        return 0
      fi
    done
    dir=$(dirname "$dir")
  done
  return 1
}
if [ -z "${FEDLORA_DATA_DIR:-}" ]; then
  FEDLORA_DATA_DIR=$(fedlora_find_data_dir) || {
    echo "FEDLORA_DATA_DIR is not set and no data/ directory with shakespeare/ and public/ was found" \
      "near the checkout: set FEDLORA_DATA_DIR=DIR" >&2
    exit 1
  }
fi
[ -d "$FEDLORA_DATA_DIR" ] || { echo "FEDLORA_DATA_DIR=$FEDLORA_DATA_DIR is not a directory" >&2; exit 1; }
export FEDLORA_DATA_DIR
echo "corpora: FEDLORA_DATA_DIR=$FEDLORA_DATA_DIR" >&2
