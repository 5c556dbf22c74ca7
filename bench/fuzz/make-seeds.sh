#!/usr/bin/env bash
# Regenerates the QCOW2 seed corpora (corpus/qcow2-image, corpus/qcow2-header)
# from real images made by qemu-img / qemu-io: v2 and v3, 512 B to 4 KiB
# clusters, data, zero-flag and compressed (zlib and zstd) clusters, tiny
# sizes, a backing file, an external data file, refcount widths, and a few
# header bits patched in (dirty, corrupt, encrypted, extended L2) that
# qemu-img will not produce at these sizes. Each file is a few KiB at most.
# The JSON corpora are hand-written files, not generated.
set -euo pipefail
FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
IMAGE_DIR="$FUZZ_DIR/corpus/qcow2-image"
HEADER_DIR="$FUZZ_DIR/corpus/qcow2-header"
command -v qemu-img >/dev/null || { echo "make-seeds.sh: qemu-img is missing (apt-get install qemu-utils)" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$IMAGE_DIR" "$HEADER_DIR"
cd "$scratch"

create() {  # create NAME SIZE OPTIONS [qemu-io commands...]
  local name=$1 size=$2 options=$3; shift 3
  qemu-img create -q -f qcow2 -o "$options" "$name.qcow2" "$size"
  local args=()
  for command in "$@"; do args+=(-c "$command"); done
  ((${#args[@]})) && qemu-io -f qcow2 "${args[@]}" "$name.qcow2" >/dev/null
  cp "$name.qcow2" "$IMAGE_DIR/$name.qcow2"
}

# Raw content for the compressed images: text, a zero gap, a pattern.
python3 - <<'PY'
data = bytearray(16384)
text = b"plakar-scaleway fuzz seed " * 40
data[0:len(text)] = text
for i in range(8192, 12288):
    data[i] = (i * 7) & 0xFF
open("content.raw", "wb").write(bytes(data))
PY

create v3-512-data-zero 64K cluster_size=512 "write -P 0x41 0 1k" "write -P 0x42 8k 512" "write -z 0 512"
create v2-512-data 16K compat=0.10,cluster_size=512 "write -P 0x5a 512 1k" "write -P 0x01 15k 1k"
create v3-1k-empty 1M cluster_size=1024
create v3-512-tiny 512 cluster_size=512 "write -P 0xff 0 512"
create v3-512-zero-size 0 cluster_size=512
create v3-512-refcount1 8K cluster_size=512,refcount_bits=1 "write -P 0x11 1k 512"
create v3-512-refcount64 8K cluster_size=512,refcount_bits=64,lazy_refcounts=on "write -P 0x22 0 512"
create v3-1k-multi-l2 512K cluster_size=1024 "write -P 0x33 0 1k" "write -P 0x44 384k 1k"
qemu-img convert -q -c -O qcow2 -o cluster_size=512 -f raw content.raw "$IMAGE_DIR/v3-512-zlib.qcow2"
qemu-img convert -q -c -O qcow2 -o cluster_size=512,compat=0.10 -f raw content.raw "$IMAGE_DIR/v2-512-zlib.qcow2"
qemu-img convert -q -c -O qcow2 -o cluster_size=2048 -f raw content.raw "$IMAGE_DIR/v3-2k-zlib.qcow2"
qemu-img convert -q -c -O qcow2 -o cluster_size=512,compression_type=zstd -f raw content.raw "$IMAGE_DIR/v3-512-zstd.qcow2"
qemu-img create -q -f qcow2 -o cluster_size=512 base.qcow2 8K
qemu-img create -q -f qcow2 -o cluster_size=512 -b base.qcow2 -F qcow2 overlay.qcow2 8K
cp overlay.qcow2 "$IMAGE_DIR/v3-512-backing.qcow2"
qemu-img create -q -f qcow2 -o cluster_size=512,data_file=external.raw external.qcow2 8K
cp external.qcow2 "$IMAGE_DIR/v3-512-external-data.qcow2"

# Header bits qemu-img only sets on its own (dirty, corrupt) or at larger
# sizes (extended L2), and a legacy AES crypt_method.
python3 - "$IMAGE_DIR" <<'PY'
import struct, sys
d = sys.argv[1]
src = open(f"{d}/v3-512-data-zero.qcow2", "rb").read()
def patch(name, offset, fmt, value):
    b = bytearray(src)
    struct.pack_into(fmt, b, offset, value)
    open(f"{d}/{name}.qcow2", "wb").write(bytes(b))
patch("v3-512-dirty", 72, ">Q", 1)
patch("v3-512-corrupt", 72, ">Q", 2)
patch("v3-512-extended-l2", 72, ">Q", 16)
patch("v3-512-aes", 32, ">I", 1)
PY

# Header corpus: the first KiB of every image, plus the first KiB of a
# default 64 KiB-cluster image.
for image in "$IMAGE_DIR"/*.qcow2; do head -c 1024 "$image" > "$HEADER_DIR/$(basename "$image" .qcow2).head"; done
qemu-img create -q -f qcow2 default.qcow2 1G
head -c 1024 default.qcow2 > "$HEADER_DIR/v3-64k-default.head"
ls -l "$IMAGE_DIR" "$HEADER_DIR" | awk '{s+=$5} END {print "make-seeds.sh: " NR " files, " s " bytes"}' >&2
