#!/usr/bin/env bash
# Stand-in base images for machines that reach no public registry.
#
#   scripts/standin-images.sh IMAGE...
#   e.g. scripts/standin-images.sh 127.0.0.1:5000/library/nginx:stable \
#                                  127.0.0.1:5000/library/debian:bookworm-slim
#
# For each IMAGE that its registry does not already serve, builds a Debian 12 root
# with debootstrap (minbase), shapes it like the official image of that name,
# imports it with `docker import` (linux/<host arch>) and pushes it:
#   .../nginx   Debian's nginx, laid out like the official nginx image: conf.d/
#               default.conf serving /usr/share/nginx/html on :80, logs to
#               stdout/stderr, CMD nginx -g 'daemon off;', STOPSIGNAL SIGQUIT
#   .../debian  a bookworm-slim-like root with working apt sources; CMD bash
# The debootstrap output is cached in /var/cache/sitepipe/standins/, so later
# builds take seconds. SITEPIPE_STANDIN_REBUILD=1 rebuilds even what exists
# (the cache is kept); SITEPIPE_DEBIAN_MIRROR overrides the mirror.
set -euo pipefail

suite=bookworm
cache_dir=/var/cache/sitepipe/standins
log_dir=/var/log/sitepipe
rebuild=${SITEPIPE_STANDIN_REBUILD:-0}

log_prefix=standin
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

(($#)) || die "usage: $0 IMAGE... (e.g. 127.0.0.1:5000/library/nginx:stable)"
[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap needs it)"
mkdir -p "$cache_dir" "$log_dir"

# The Debian mirror this machine's apt uses (deb822 or one-line format).
apt_uri() { # $1: pattern the URI must match, $2: pattern it must not match
  cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v want="$1" -v skip="$2" \
    '$1 == "URIs:" { for (i = 2; i <= NF; i++) if ($i ~ want && $i !~ skip) { print $i; exit } }'
}
mirror=${SITEPIPE_DEBIAN_MIRROR:-$(apt_uri '/debian/?$' 'security')}
if [[ -z $mirror ]]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' \
    /etc/apt/sources.list 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
security_mirror=$(apt_uri 'security' '^$')
security_mirror=${security_mirror:-http://deb.debian.org/debian-security}

work=$(mktemp -d /var/tmp/sitepipe-standin.XXXXXX)
cleanup() {
  # debootstrap mounts proc/sys inside the target; never delete through a mount.
  grep -o " $work/[^ ]*" /proc/mounts | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

# make_root KIND ROOTFS: debootstrap (or unpack the cached result) into ROOTFS.
make_root() {
  local kind=$1 root=$2 args key cache
  args=(--variant=minbase --arch="$(dpkg --print-architecture)")
  if [[ $kind == nginx ]]; then args+=(--include=nginx); fi
  key=$(printf '%s\n' "${args[@]}" "$suite" "$mirror" | sha256sum | cut -c1-12)
  cache="$cache_dir/$kind-$suite-$key.tar"
  mkdir -p "$root"
  if [[ -f $cache ]]; then
    say "  unpacking cached root $cache"
    tar -C "$root" --numeric-owner --xattrs -xpf "$cache"
    return
  fi
  say "  debootstrap ${args[*]} $suite ($mirror); log $log_dir/debootstrap-$kind.log"
  : >"$log_dir/debootstrap-$kind.log"
  run "$log_dir/debootstrap-$kind.log" debootstrap "${args[@]}" "$suite" "$root" "$mirror"
  rm -f "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" --numeric-owner --xattrs -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
}

# slim ROOTFS: what Debian's -slim images do: no docs, man pages or apt caches,
# now and for packages installed later; plus the apt sources of the real image.
slim() {
  local root=$1
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# as in Debian's -slim images: keep the image small
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{man,groff,info,lintian,linda,locale}/* \
    "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
  find "$root/var/cache/apt" "$root/var/log" -type f -delete
  # Docker supplies these at run time; don't ship this machine's.
  : >"$root/etc/resolv.conf"
  echo localhost >"$root/etc/hostname"
  if [[ -e $root/etc/machine-id ]]; then : >"$root/etc/machine-id"; fi
}

shape_nginx() {
  local root=$1
  rm -f "$root/etc/nginx/sites-enabled/default"
  grep -q 'include /etc/nginx/conf.d/\*\.conf;' "$root/etc/nginx/nginx.conf" ||
    die "Debian's nginx.conf no longer includes /etc/nginx/conf.d/*.conf"
  mkdir -p "$root/var/log/nginx" "$root/usr/share/nginx/html" "$root/etc/nginx/conf.d"
  ln -sf /dev/stdout "$root/var/log/nginx/access.log"
  ln -sf /dev/stderr "$root/var/log/nginx/error.log"
  cat >"$root/etc/nginx/conf.d/default.conf" <<'EOF'
server {
    listen       80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
EOF
  cat >"$root/usr/share/nginx/html/index.html" <<'EOF'
<!DOCTYPE html>
<html>
<head><title>Welcome to nginx!</title></head>
<body>
<h1>Welcome to nginx!</h1>
<p>sitepipe stand-in for the nginx image, built from Debian's nginx package.</p>
</body>
</html>
EOF
  cat >"$root/usr/share/nginx/html/50x.html" <<'EOF'
<!DOCTYPE html>
<html>
<head><title>Error</title></head>
<body><h1>An error occurred.</h1></body>
</html>
EOF
}

# Image config, as Dockerfile lines: Debian's dockerd 20.10 refuses STOPSIGNAL
# in `docker import --change`, so the imported root gets its config from a
# build with no RUN (no container, no network, no new layer).
common_config='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
nginx_config='EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]'
debian_config='CMD ["bash"]'

for image in "$@"; do
  repo=${image%@*}                         # drop a digest
  last=${repo##*/}
  last=${last%%:*}                         # last path component, no tag
  case $last in
    *nginx) kind=nginx config=$nginx_config ;;
    *debian) kind=debian config=$debian_config ;;
    *) die "$image: no stand-in recipe for '$last' (only repositories ending in 'nginx' or 'debian')" ;;
  esac

  if [[ $rebuild != 1 ]] && skopeo inspect --tls-verify=false "docker://$image" >/dev/null 2>&1; then
    say "$image: present in its registry; skipped"
    continue
  fi
  started=$SECONDS
  log="$log_dir/standin-$kind.log"
  : >"$log"
  if [[ $rebuild != 1 ]] && docker image inspect "$image" >/dev/null 2>&1; then
    say "$image: in the local engine, not in the registry; pushing it"
  else
    say "$image: building a Debian $suite stand-in ($kind)"
    root="$work/$kind"
    make_root "$kind" "$root"
    slim "$root"
    if [[ $kind == nginx ]]; then shape_nginx "$root"; fi
    rootfs_id=$(tar -C "$root" --numeric-owner -c . |
      docker import --message "sitepipe stand-in ($kind, Debian $suite)" -)
    rm -rf --one-file-system "$root"
    printf 'FROM %s\n%s\n%s\n' "$rootfs_id" "$common_config" "$config" |
      DOCKER_BUILDKIT=0 run "$log" docker build -t "$image" -
  fi

  # Check it before anyone builds on it (no network needed for either check).
  if [[ $kind == nginx ]]; then
    run "$log" docker run --rm --network none "$image" nginx -t
  else
    run "$log" docker run --rm --network none "$image" bash -c 'apt-get --version >/dev/null'
  fi
  run "$log" docker push "$image"
  platform=$(skopeo inspect --tls-verify=false --format '{{.Os}}/{{.Architecture}}' "docker://$image")
  say "$image: pushed ($platform, $(docker image inspect --format '{{.Size}}' "$image" | numfmt --to=iec) unpacked) in $((SECONDS - started)) s"
done
