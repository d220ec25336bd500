# The two set-up commands of the README: `make run` and `make test`.
.PHONY: setup run test lint bench

setup:
	@bash packaging/setup.sh

# Launch the app on its default experiment (under a virtual display when there is none).
run: setup
	@if [ -n "$$DISPLAY" ] || [ -n "$$WAYLAND_DISPLAY" ]; then .venv/bin/descent; \
	else echo "no display: running under xvfb-run"; xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/descent; fi

# The code's guards: lint and import order, formatting, types of the engine, import layers.
lint: setup
	.venv/bin/ruff check engine desktop tests
	.venv/bin/ruff format --check engine desktop tests
	.venv/bin/mypy
	.venv/bin/lint-imports

# The guards, then the whole test suite; pytest-xvfb starts a virtual display when there is none.
test: lint
	.venv/bin/python -m pytest -q

# Every benchmark script (one JSON line each); the GUI ones under a virtual display when there is none.
bench: setup
	@.venv/bin/python -c "import tensorboard, loss_landscapes" 2>/dev/null || \
		.venv/bin/pip install -q -c packaging/constraints.txt -e '.[bench]'; \
	if [ -n "$$DISPLAY" ]; then X=""; else X="xvfb-run -a"; fi; \
	for s in tests/benchmarks/bench_*.py; do echo "== $$s"; $$X .venv/bin/python $$s || echo "(failed: $$s)"; done; \
	echo "== tests/benchmarks/bench_playground.py --frames"; $$X .venv/bin/python tests/benchmarks/bench_playground.py --frames; \
	if .venv/bin/python -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then \
		echo "== tests/benchmarks/device_check.py"; .venv/bin/python tests/benchmarks/device_check.py; \
	else echo "== tests/benchmarks/device_check.py: no CUDA device here (python tests/benchmarks/device_check.py --device cpu checks the script itself)"; fi
