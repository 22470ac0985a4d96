#!/usr/bin/env bash
# Makes the committed speech clips for the Whisper parity tests with espeak-ng + ffmpeg.
# Output: 16 kHz mono signed 16-bit PCM WAV (plain 44-byte RIFF header, no LIST chunk).
# Rerun: bash tools/parity/whisper/make_speech.sh   (from the repository root)
set -euo pipefail
OUT="${1:-models/tests/fixtures/whisper}"
mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

make_clip() { # voice text outfile
  espeak-ng -v "$1" -s 165 -w "$TMP/raw.wav" "$2"
  ffmpeg -hide_banner -loglevel error -y -i "$TMP/raw.wav" \
    -ar 16000 -ac 1 -c:a pcm_s16le -map_metadata -1 -fflags +bitexact -flags:a +bitexact \
    "$3"
}

make_clip en-us "Please turn on the music. I am so happy to see you today." \
  "$OUT/speech_en.wav"
make_clip de "Guten Morgen. Bitte mach die Musik an." "$OUT/speech_de.wav"
ls -l "$OUT"/speech_*.wav
