#!/usr/bin/env bash
# Build the TF 2.21 + CUDA 12 bundle that carries the stack to a lent GPU machine
# with no package index (a workplace tool, not part of the library). Run here;
# then send build/gpu_bundle/parts/part.NN one per device call (each call may carry
# 64 MiB) into /tmp/x, and on the last call:
#   cat /tmp/x/part.* | xz -d -T8 | tar x -C /tmp && source benchmarks/device_env.sh
# Output: about 595 MB in 10 parts (xz -6 of 2.1 GB; 8 minutes on 2 cores).
set -euo pipefail
out=${1:-/tmp/gpu_bundle}
mkdir -p "$out" && cd "$out"
platform="--only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
  --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
# shellcheck disable=SC2086
python3 -m pip install -q --no-deps $platform --target site \
  tensorflow==2.21.0 nvidia-cublas-cu12==12.5.3.2 nvidia-cuda-runtime-cu12==12.5.82 \
  nvidia-nvjitlink-cu12==12.5.82 nvidia-cuda-nvcc-cu12==12.5.82 \
  numpy==2.4.6 ml_dtypes==0.6.0 h5py==3.14.0 wrapt==2.1.2 dm-tree==0.1.10 optree==0.20.0 protobuf==7.36.2 \
  keras==3.15.1 namex==0.1.0 astunparse==1.6.3 gast==0.7.0 google-pasta==0.2.0 termcolor==3.3.0 \
  flatbuffers==25.12.19 tensorflow-probability==0.25.0 tf_keras==2.21.0 decorator==5.2.1 \
  tensorboard==2.21.0 mlxtend==0.25.0 cloudpickle==3.1.2 absl-py opt_einsum==3.4.0 six==1.17.0 typing_extensions
# Headers are not needed; the profiler plugin (90 MB) is replaced by an empty module.
rm -rf site/tensorflow/include site/nvidia/*/include site/nvidia/cublas/lib/libnvblas*
rm site/tensorflow/python/profiler/internal/_pywrap_profiler_plugin.so
echo '"""Not shipped in the GPU bundle."""' > site/tensorflow/python/profiler/internal/_pywrap_profiler_plugin.py
# TF only checks that cuFFT/cuSOLVER/cuSPARSE/cuRAND load (tfvae calls none of them): empty stubs.
echo "void tfvae_bundle_stub(void){}" > stub.c
for spec in cufft:libcufft.so.11 cusolver:libcusolver.so.11 cusparse:libcusparse.so.12 curand:libcurand.so.10; do
  mkdir -p "site/nvidia/${spec%%:*}/lib"
  gcc -shared -fPIC -o "site/nvidia/${spec%%:*}/lib/${spec##*:}" -Wl,-soname,"${spec##*:}" stub.c
done
tar cf - site | xz -T0 -6 > site.tar.xz
mkdir -p parts && split -b 62914560 -d -a 2 site.tar.xz parts/part.
ls -la parts
