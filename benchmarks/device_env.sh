# Source on the lent GPU machine after unpacking the bundle of benchmarks/gpu_bundle.sh:
# unpacked under /tmp/site by the transfer, cuDNN 9 from the image. Not part of the library.
export PYTHONPATH=/tmp/site:$PWD
CUDNN_LIB=$(dirname "$(find /opt /usr -name 'libcudnn.so.9' 2>/dev/null | head -1)" 2>/dev/null)
CUBLAS13=$(dirname "$(find /opt /usr -name 'libcublasLt.so.13' 2>/dev/null | head -1)" 2>/dev/null)
export LD_LIBRARY_PATH=/tmp/site/nvidia/cusolver/lib:/tmp/site/nvidia/cufft/lib:/tmp/site/nvidia/cusparse/lib:/tmp/site/nvidia/curand/lib:/tmp/site/nvidia/cublas/lib:/tmp/site/nvidia/cuda_runtime/lib:/tmp/site/nvidia/nvjitlink/lib:${CUDNN_LIB:-/tmp/site/_cudnn_stub}:${CUBLAS13:+$CUBLAS13:}${LD_LIBRARY_PATH:-}
export XLA_FLAGS="--xla_gpu_cuda_data_dir=/tmp/site/nvidia/cuda_nvcc ${XLA_FLAGS:-}"
export PATH=/tmp/bin:/tmp/site/nvidia/cuda_nvcc/bin:$PATH
export TF_FORCE_GPU_ALLOW_GROWTH=true TF_CPP_MIN_LOG_LEVEL=1 PYTHONUNBUFFERED=1
mkdir -p /tmp/bin && printf '#!/bin/sh\nexec python3 -m tfvae.cli "$@"\n' > /tmp/bin/tfvae && chmod +x /tmp/bin/tfvae
echo "cudnn: ${CUDNN_LIB:-stub}; cublas13: ${CUBLAS13:-none}"
