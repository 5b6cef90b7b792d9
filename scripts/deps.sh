#!/usr/bin/env bash
# Installs the Debian packages mriprep needs to build, test and run its demo, but only
# those missing; runs apt-get update once, and only when something is missing.
set -euo pipefail

packages=(
  make gcc g++                 # the build
  libdcmtk-dev                 # DICOM decode (dcmdata, dcmjpeg, dcmjpls)
  libopenjp2-7-dev             # JPEG 2000 frames (OpenJPEG 2.5)
  libpng-dev libgif-dev zlib1g-dev   # mriprep show: PNG and animated GIF; nii.gz output
  libgtest-dev                 # the C/C++ tests
  libopencv-imgproc-dev        # the resize oracle (OpenCV 4.6 cv::resize)
  python3 python3-numpy python3-pydicom python3-opencv   # generator, notebook reference
  python3-matplotlib python3-pil   # scripts/plot_scan.py; decoding show's PNG/GIF in tests
  python3-nibabel   # tests/e2e/test_volumetric.py: the NIfTI outputs opened as a user would
  time                         # /usr/bin/time for peak memory (bench/, reliability tests)
  pkgconf                      # tests/e2e/test_binding.py: a C program built against make install
  clang libclang-rt-14-dev     # libFuzzer targets (make fuzz)
  dcm2niix                     # a peer in make bench
  patchelf                     # make dist / make wheel: RUNPATH of the bundled libraries
  strace                       # tests/e2e/test_hostile.py: the fsync calls of each durability mode
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
