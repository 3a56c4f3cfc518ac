# Sourced by the other scripts: installs the Debian 12 packages qbmap needs, only if missing.
# Run as root (or with sudo); on a cluster use environment modules instead (README.md).
QB_DEBS="build-essential cmake pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
libgsl-dev liblapacke-dev libmuparser-dev libcyaml-dev libyaml-dev netcdf-bin python3-numpy python3-h5py python3-xarray
python3-h5netcdf python3-netcdf4 python3-matplotlib python3-qutip clang libclang-rt-14-dev slurm-wlm munge"

qb_install_deps() {
  local missing=""
  for p in $QB_DEBS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  echo "qbmap: installing:$missing"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null ||
    { echo "qbmap: apt-get install failed for:$missing" >&2; return 1; }
}

qb_build() { # build directory
  cmake -S "$QB_ROOT" -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build "$1" -j "$(nproc)"
}

# Open MPI refuses root unless told; tests use up to 4 ranks on small machines.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
