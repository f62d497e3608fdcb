# The two set-up commands a new machine needs are `make demo` and `make test`;
# both create .venv with the pinned packages first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime
STAMP := $(VENV)/.installed

.PHONY: demo test lint docs docs-serve tutorial bench bench-kafka bench-peers kafka kafka-stop clean pictures

# The demo needs only the engine: pip shows its progress (the test tools come with `make test`).
$(RUNTIME): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -e .
	touch $(RUNTIME)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP) $(RUNTIME)

demo: $(RUNTIME)
	$(BIN)/momentstream demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/core.py

bench-kafka: $(STAMP)
	$(BIN)/python benchmarks/kafka_e2e.py

bench-peers: $(STAMP)
	$(BIN)/python benchmarks/peers.py

# Discovery's pages and the journey map screenshotted in headless Chromium (docs/pictures/); needs chromium.
pictures: $(STAMP)
	deploy/pictures.sh

# A local Apache Kafka broker (KRaft, 127.0.0.1:9092) from Maven-resolved jars; needs Java 17 and Maven.
kafka:
	deploy/kafka/start.sh

kafka-stop:
	deploy/kafka/stop.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis deploy/kafka/target site

# The documentation site, strict (a broken link fails), into site/; docs-serve rebuilds it as you edit.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# The tutorial as its page runs it: CDNOW from its text file to scored triggers, in out/tutorial.
tutorial: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash docs/tutorial/cdnow.sh out/tutorial
