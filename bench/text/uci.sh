#!/usr/bin/env bash
# UCI sentiment sentences, 10-fold (the same folds for every method): greenai's MiniLM frozen (f32
# and int8), its last layer fine-tuned, and the n-gram baseline from scratch, beside the AFINN
# lexicon (npm sentiment@5.0.2, the package the sentences come from; no training). One run each,
# the accuracy and the energy (estimated on a machine without power sensors) from greenai's JSON.
#   bash bench/text/uci.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p greenai-cli
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs); int8 kernel: ${GREENAI_INT8_KERNEL:-the fastest this CPU has}"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack -q sentiment@5.0.2 >/dev/null && tar xzf sentiment-5.0.2.tgz)
node bench/text/afinn.js "$WORK/package" data/text/uci-sentences.jsonl
for m in "frozen" "frozen --int8" "fine-tune --fine-tune-last 1" "ngram"; do
  # shellcheck disable=SC2086
  target/release/greenai --db "$WORK/g.sqlite" text-classify --data uci --method $m --json 2>/dev/null \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); print(json.dumps({k: r[k] for k in ("method","int8","kernel","tuned_layers","accuracy","accuracy_range","best_accuracy","training_energy_j","energy_to_best_j","joules_per_1000_sentences","provenance")}))'
done
