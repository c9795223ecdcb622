# Two commands on a fresh machine with Python 3.11+ and make: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_PROVIDER := sim://?latency_ms=20&network_error_rate=0.2&seed=7
DEMO_NOTIFY := maildir://antaeus.mail?from=billing@example.com&operator=ops@example.com

.PHONY: demo test lint chaos bench mutants clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/antaeus --db antaeus.db seed --force --seed 42
	$(BIN)/antaeus --db antaeus.db bill --provider '$(DEMO_PROVIDER)'; \
		status=$$?; echo "bill exited $$status (1 = some invoices need an operator)"; \
		[ $$status -le 1 ]
	$(BIN)/antaeus --db antaeus.db report
	$(BIN)/antaeus --db antaeus.db notify --notify '$(DEMO_NOTIFY)'
	@echo "the notices are in ./antaeus.mail/new (a Maildir: one file per e-mail)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# In-process tests on both cores; then the subprocess tests one at a time, since some
# of them time signals and busy timeouts that a loaded machine would skew.
test: lint
	$(BIN)/pytest -n 2 -m "not process"
	$(BIN)/pytest -m process

# Crash trials: kill passes at random seams, recover, audit against the provider's books
# (the simulator's, then the Stripe-shaped loopback server's PaymentIntents).
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos --trials 60
	$(BIN)/python -m tests.chaos --trials 30 --provider stripe
	HYPOTHESIS_PROFILE=chaos $(BIN)/pytest -q --timeout 900 tests/service/test_stateful.py tests/service/test_hand_edits.py

# Pass marks of a million-invoice pass and of notify; figures in docs/performance.md. About 15 minutes.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_bill.py

# Mutation testing of the modules that hold the money promises ([tool.mutmut] in
# pyproject.toml). Fails unless every mutant is killed: a survivor, a timeout or any other
# status fails, but for code marked `# pragma: no mutate` with its reason and the SQL-case
# rule of tests/mutation_sql.py. `python -m tests.mutation_gate antaeus_cli/domain/` gives
# the figure of the modules under one path.
mutants: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,mutants]'
	rm -rf mutants
	HYPOTHESIS_PROFILE=mutants $(BIN)/mutmut run --max-children 2
	$(BIN)/python -m tests.mutation_gate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis mutants antaeus.mail
