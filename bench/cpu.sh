# Sourced by the benchmarks from the repository root: says what the figures ran on, at the start
# of every run (issue 26). The CPU model, its vector features of interest, the int8 kernel greenai
# chooses (or the one GREENAI_INT8_KERNEL forces) and the threads.
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | xargs) ($(nproc) logical CPUs)"
echo "features: $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512bw|avx512_vnni|avx_vnni|amx_int8|amx_bf16)$' | xargs)"
echo "greenai int8 kernel: ${GREENAI_INT8_KERNEL:-the fastest this CPU runs (avx512-vnni, avx-vnni, avx2, portable)}"
