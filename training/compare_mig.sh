#!/usr/bin/env bash
# Same-budget comparison of a beta=1 VAE and a beta-VAE on the generated shapes:
# trains both for each seed (in parallel), then scores every run's disentanglement.
#
#   bash training/compare_mig.sh [OUT_DIR] [EPOCHS] [SEED ...]
#   bash training/compare_mig.sh runs/mig 30 0 1 2      # the table in training/README.md
#
# Extra `tfvae train` options go in TFVAE_TRAIN_ARGS, e.g. TFVAE_TRAIN_ARGS="--jit".
set -euo pipefail
out=${1:-runs/mig}
epochs=${2:-30}
shift $(( $# < 2 ? $# : 2 ))
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(0 1 2)
mkdir -p "$out"
pids=()
for seed in "${seeds[@]}"; do
  for config in vae_shapes beta_vae_shapes; do
    # shellcheck disable=SC2086
    tfvae train "$config" --epochs "$epochs" --seed "$seed" --out "$out/${config}_seed$seed" \
      --quiet ${TFVAE_TRAIN_ARGS:-} >"$out/${config}_seed$seed.log" 2>&1 &
    pids+=($!)
  done
done
for pid in "${pids[@]}"; do wait "$pid" || echo "a training run failed (exit $?)"; done
for seed in "${seeds[@]}"; do
  for config in vae_shapes beta_vae_shapes; do
    tfvae evaluate "$out/${config}_seed$seed" --iwae-k 0 --disentanglement --quiet \
      >"$out/${config}_seed$seed.eval" 2>&1 &
  done
done
wait
for seed in "${seeds[@]}"; do
  for config in vae_shapes beta_vae_shapes; do
    printf '%-16s seed %s: ' "$config" "$seed"
    grep -E "^disentanglement" "$out/${config}_seed$seed.eval" || echo "failed (see $out/${config}_seed$seed.log and .eval)"
  done
done
