# The two set-up commands of the README: `make run` and `make test`.
.PHONY: setup run test bench

setup:
	@bash packaging/setup.sh

# Launch the app on its default experiment (under a virtual display when there is none).
run: setup
	@if [ -n "$$DISPLAY" ] || [ -n "$$WAYLAND_DISPLAY" ]; then .venv/bin/descent; \
	else echo "no display: running under xvfb-run"; xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/descent; fi

# The whole test suite; pytest-xvfb starts a virtual display when there is none.
test: setup
	.venv/bin/python -m pytest -q

bench: setup
	@for s in tests/benchmarks/*.py; do echo "== $$s"; .venv/bin/python $$s; done
