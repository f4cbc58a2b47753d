#!/usr/bin/env bash
# Issue 23's CPU figures in one run: motionkit against the official code's form at 2 torch threads, float32, on
# this CPU's own instruction set and with AVX2 emulated (ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2):
#
#   1. benchmarks/linear.py: the flow transformer's linear layers, packed oneDNN against F.linear (MKL);
#   2. benchmarks/sampler.py --sections eager: one window of motion, motionkit against the official FMT's form,
#      under motionkit's wait policy (OMP_WAIT_POLICY=PASSIVE) and under libgomp's default (GOMP_SPINCOUNT=300000,
#      what the official code runs with), to tell the policy's share of any difference;
#   3. benchmarks/pipeline.py: end to end with the MP4, 3 s of speech = 75 frames at 512 px (issue 23's clip length),
#      the official loop (FLOAT's audio path, FMT, window loop, per-frame decoding, x264 defaults + remux) against
#      Pipeline.generate(...).save(...).
#
# About 6-8 minutes on an idle 2-core machine; on a shared one the wall times mean little (each script prints process
# CPU time too). CSV files go to $OUT (default benchmarks/results), the log to $OUT/cpu_vs_official.log.
#   bash benchmarks/cpu_vs_official.sh
# CPU_VS_OFFICIAL_SMOKE=1 checks the script itself in a few minutes on any machine: the tiny flow model for the
# window, the 64 px renderer for the end-to-end run, few repeats (figures meaningless).
set -u
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
exec > >(tee "$OUT/cpu_vs_official.log") 2>&1
export PYTHONPATH=".:kernels${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
THREADS=2
MODEL=float-512 REPEATS=10 PIPELINE_SIZE=(--reduced-from 1000 --reduced-reference 1000)
if [ "${CPU_VS_OFFICIAL_SMOKE:-0}" = 1 ]; then
    MODEL=tiny REPEATS=2 PIPELINE_SIZE=(--reduced-from 0 --reduced-reference 1000)
fi
date -u
lscpu | grep -E "Model name|^CPU\(s\)|Thread\(s\) per core"
echo "instruction sets: $(grep -o -E 'avx512f|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"
for isa in native avx2; do
    if [ "$isa" = avx2 ]; then
        isa_env=(ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2)
    else
        isa_env=()
    fi
    echo "#### $isa, $THREADS threads"
    env ${isa_env[@]+"${isa_env[@]}"} python benchmarks/linear.py --threads "$THREADS" --repeats "$REPEATS" \
        --csv "$OUT/linear_cpu_${THREADS}t_$isa.csv"
    for policy in motionkit libgomp-default; do
        policy_env=()
        [ "$policy" = libgomp-default ] && policy_env=(GOMP_SPINCOUNT=300000)
        echo "## one window, wait policy: $policy"
        env ${isa_env[@]+"${isa_env[@]}"} ${policy_env[@]+"${policy_env[@]}"} python benchmarks/sampler.py --sections eager --models "$MODEL" \
            --threads "$THREADS" --repeats 2 | grep -E "fp32|max-abs"
    done
    env ${isa_env[@]+"${isa_env[@]}"} python benchmarks/pipeline.py --seconds 3 --threads "$THREADS" \
        "${PIPELINE_SIZE[@]}" --csv "$OUT/pipeline_cpu_official_${THREADS}t_$isa.csv"
done
date -u
