# prunekit: `make demo` and `make test` are the two commands a new user needs; each does its own
# set-up (a project .venv with ONNX Runtime and the test tools, and release builds, made once).

PYTHON ?= python3
VENV := .venv
VENV_PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.prunekit-requirements
CARGO ?= cargo
KERNEL := target/release/prunekit-kernel
DEMO_MODEL := tests/fixtures/digits_cnn.onnx
VSCODE := vscode-extension
VSCODE_DEPS := $(VSCODE)/node_modules/.prunekit-package-lock

.PHONY: all setup setup-models setup-browser setup-editor setup-vscode release demo test test-rust test-vscode test-python lint schema vsix fixtures bench bench-profiles bench-runtime bench-quantize bench-recipes bench-sparse-engine clean

all: release

## setup: the project .venv with onnxruntime==1.31.1 (prunekit loads its libonnxruntime) and the test tools.
setup: $(VENV_STAMP)

$(VENV_STAMP): tests/requirements.txt
	@echo "==> setting up $(VENV) (onnxruntime, onnx, numpy, scikit-learn, pytest)"
	@test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	@cp tests/requirements.txt $(VENV_STAMP)

## setup-models: trained ONNX models that wheels ship (ddddocr 1.6.1, nudenet 3.4.2, rapidocr-onnxruntime 1.4.4; pip download, SHA-256 checked), cached in ~/.cache/prunekit/models for tests/test_real_models.py.
setup-models: setup
	@$(VENV_PY) tests/real_models/fetch.py

## setup-browser: Debian's Chromium and playwright-core, for the JupyterLab test (no browser download).
setup-browser:
	@bash tests/browser/setup.sh

## setup-editor: Debian's Neovim, for the language server's headless-editor test.
setup-editor:
	@bash tests/lsp/setup.sh

## setup-vscode: code-server on Node 24 (both from npm, cached in ~/.cache/prunekit) and playwright-core, for the VS Code workbench test.
setup-vscode:
	@bash $(VSCODE)/test/e2e/setup-code-server.sh

$(VSCODE_DEPS): $(VSCODE)/package-lock.json
	@echo "==> npm ci in $(VSCODE) (vscode-languageclient, typescript, esbuild, mocha, vsce)"
	cd $(VSCODE) && npm ci --no-audit --no-fund
	@cp $(VSCODE)/package-lock.json $@

## release: optimized builds of every binary (tests reuse this build).
release:
	@echo "==> building prunekit (release)"
	$(CARGO) build --release --workspace --locked

## demo: install the kernel into .venv and run the quickstart notebook headless (executed copy + HTML).
demo: setup release
	@echo "==> installing the prunekit kernelspec into $(VENV)"
	@$(KERNEL) install --prefix $(VENV)
	@echo "==> running examples/quickstart.ipynb"
	@$(VENV)/bin/jupyter nbconvert --to notebook --execute examples/quickstart.ipynb \
		--output-dir examples/out --output quickstart.ipynb --log-level WARN
	@$(VENV)/bin/jupyter nbconvert --to html examples/out/quickstart.ipynb --output-dir examples/out --log-level ERROR
	@echo
	@echo "Executed notebook: examples/out/quickstart.ipynb"
	@echo "HTML copy:         examples/out/quickstart.html"
	@echo "Open it in JupyterLab:  $(VENV)/bin/jupyter lab examples/quickstart.ipynb"
	@echo "Analyze from a shell:   $(KERNEL) analyze $(DEMO_MODEL)"

## test: every test: formatting, lints, Rust unit and integration tests, the VS Code extension's unit tests and packages, end-to-end tests in Python (the .vsix in a real VS Code among them).
test: setup setup-models setup-browser setup-editor setup-vscode release lint test-rust test-vscode test-python

lint:
	@echo "==> cargo fmt --check, cargo clippy"
	$(CARGO) fmt --all --check
	$(CARGO) clippy --release --workspace --all-targets --locked -- -D warnings

test-rust:
	@echo "==> cargo test"
	$(CARGO) test --release --workspace --locked

## test-vscode: the extension's typecheck and unit tests (a fake vscode module), then both .vsix packages (tests/vscode installs the linux-x64 one).
test-vscode: release $(VSCODE_DEPS)
	@echo "==> VS Code extension: tsc --noEmit, mocha, vsce package"
	cd $(VSCODE) && npm run check && npm test && npm run package

## vsix: $(VSCODE)/dist/prunekit-linux-x64.vsix (the server inside) and prunekit-universal.vsix.
vsix: release $(VSCODE_DEPS)
	cd $(VSCODE) && npm run package

## schema: regenerate the recipe JSON Schema the extension contributes (a test checks it is current).
schema: release
	target/release/prunekit-lsp schema > $(VSCODE)/schemas/recipe.schema.json.tmp
	mv $(VSCODE)/schemas/recipe.schema.json.tmp $(VSCODE)/schemas/recipe.schema.json

test-python:
	@echo "==> pytest"
	$(VENV_PY) -m pytest tests -q

## fixtures: regenerate the committed fixture models (deterministic).
fixtures: setup
	$(VENV_PY) tests/fixtures/make_fixtures.py

## bench: analysis side by side with SparseML 1.7 on a generated ResNet-50 (see docs/benchmarks.md).
bench: setup release
	bash bench/setup_sparseml.sh
	$(VENV_PY) bench/make_resnet50.py
	$(VENV_PY) bench/analysis.py --json bench/out/analysis.json

## bench-profiles: loss profiles (magnitude, one-shot) side by side with SparseML 1.7's sensitivity analyses (minutes).
bench-profiles: setup release
	bash bench/setup_sparseml.sh
	$(VENV_PY) bench/make_resnet50.py
	$(VENV_PY) bench/profiles.py --json bench/out/profiles.json

## bench-runtime: prunekit's `benchmark` against onnxruntime's Python API, side by side (within 5%; minutes).
bench-runtime: setup release
	$(VENV_PY) bench/make_resnet50.py
	$(VENV_PY) bench/runtime.py --json bench/out/runtime.json

## bench-quantize: int8 quantization of ResNet-50 and the digits CNN, prunekit's against onnxruntime's quantizer: speedups over dense and accuracy (minutes).
bench-quantize: setup release
	$(VENV_PY) bench/make_resnet50.py
	$(VENV_PY) bench/quantize.py --json bench/out/quantize.json

## bench-recipes: the corpus's verdicts (tests/recipes/corpus/verdicts.json) from SparseML 1.7.0 and 1.8.0 loading each recipe (.venv-recipes, torch 1.12.1; a few minutes and about 4 GB the first time) and llm-compressor's loader read from its source.
bench-recipes:
	bash bench/setup_recipes.sh
	.venv-recipes/bin/python bench/recipe_corpus.py

## bench-sparse-engine: prunekit's estimated speedups of pruned models against DeepSparse 1.8.0 and ONNX Runtime, measured side by side on ResNet-50-, MobileNet- and BERT-shaped models; then the code's cost model on this run, and fitted on all runs but one (this and the committed ones) against the one left out (its own venv, .venv-deepsparse; bench only; ~20 minutes, two threads as docs/benchmarks.md records, nothing else running).
bench-sparse-engine: release
	bash bench/setup_deepsparse.sh
	.venv-deepsparse/bin/python bench/sparse_engine.py --threads 2 --json bench/out/sparse_engine.json
	.venv-deepsparse/bin/python bench/sparse_engine_fit.py bench/out/sparse_engine.json
	.venv-deepsparse/bin/python bench/sparse_engine_fit.py bench/out/sparse_engine.json bench/measured/sparse_engine_*.json.gz --leave-one-out | sed -n '/^fitted without/,$$p'

clean:
	$(CARGO) clean
	rm -rf $(VENV) .venv-sparseml .venv-recipes .venv-deepsparse bench/models bench/out $(VSCODE)/node_modules $(VSCODE)/dist $(VSCODE)/out
