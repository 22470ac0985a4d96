#!/usr/bin/env bash
# Checks what tools/gpu/first-run.sh left in OUT_DIR after the CPU dry run: each of our parts
# ran to the end, reported its figures, and the report has their rows.
#   tools/gpu/check-first-run.sh OUT_DIR
set -euo pipefail
out=${1:?usage: check-first-run.sh OUT_DIR}
failed=0
for part in environment sa3_weights ours_sa3 weights ours_unet_vae ours_attention ours_generate ours_whisper; do
  if ! grep -q "^$part ok " "$out/status.txt"; then
    echo "first-run dry run: part $part did not finish: $(grep "^$part " "$out/status.txt" || echo missing)" >&2
    tail -n 20 "$out/$part.log" >&2 2>/dev/null || true
    failed=1
  fi
done
for key in ours_unet_rows8_steps_per_s ours_vae_decode4_s ours_attention_unet_s \
  ours_attention_vae_max_error ours_generate_s ours_generate_clips ours_whisper_rtf \
  ours_sa3_generate_s ours_sa3_step_s ours_sa3_decode_s; do
  grep -q "^$key=" "$out/ours.txt" || { echo "first-run dry run: no $key in ours.txt" >&2; failed=1; }
done
# Our attention must stay finite at real-sized activations.
for name in unet vae; do
  grep -q "^ours_attention_${name}_non_finite=0\.0*$" "$out/ours.txt" \
    || { echo "first-run dry run: non-finite attention at the $name shape" >&2; failed=1; }
done
grep -q "^ours_sa3_non_finite=0\.0*$" "$out/ours.txt" \
  || { echo "first-run dry run: Stable Audio 3 made non-finite samples" >&2; failed=1; }
for row in "Stable Audio 3, 4 candidates of 4 s" "UNet, 8 rows" "VAE decode, 4 images" "Attention, VAE mid block" "4 candidates of 10.24 s music"; do
  grep -qF "| $row" "$out/report.md" || { echo "first-run dry run: report.md has no '$row' row" >&2; failed=1; }
done
[ "$failed" = 0 ] && echo "first-run dry run: every part of ours reported ($(tail -n 1 "$out/status.txt" | grep -F total || true))"
exit "$failed"
