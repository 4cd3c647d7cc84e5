# Two commands: `make run` (install what is missing, serve http://127.0.0.1:8080) and
# `make test` (install what is missing, run every test).
.PHONY: deps run test bench

deps:
	./scripts/deps.sh

run: deps
	cargo run --locked -- serve --listen 127.0.0.1:8080

test: deps
	./scripts/test.sh

bench: deps
	cargo bench --locked
