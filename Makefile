# privacy-pipeline: one-word entry points. Needs python3.11, java 17+, mvn, make.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup test lint demo bench

## setup: virtualenv .venv, package + dev tools, Kafka jars (idempotent)
setup:
	bash scripts/setup.sh

## test: setup, start a private test broker (127.0.0.1:19092), run the whole suite, stop it
test:
	bash scripts/test.sh

## lint: ruff and mypy strict
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

## demo: run the main job end to end
demo: setup
	$(BIN)/privacy-pipeline demo

## bench: throughput and latency benchmarks of the whole pipeline (privacy-pipeline bench);
## component benchmarks: $(BIN)/python -m benchmarks.<name> from this folder (see benchmarks/)
bench: setup
	$(BIN)/privacy-pipeline bench
