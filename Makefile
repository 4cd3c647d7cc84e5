# Two commands: `make run` (install what is missing, serve http://127.0.0.1:8080) and
# `make test` (install what is missing, run every test).
.PHONY: deps run test bench soak

deps:
	./scripts/deps.sh

run: deps
	cargo run --locked -- serve --listen 127.0.0.1:8080

test: deps
	./scripts/test.sh

bench: deps
	./scripts/bench.sh

# A node that runs for weeks: 1000 joins through the real binary (SOAK_JOINS=n for more or
# fewer; SOAK_TRIM=0 to compare without malloc_trim). About 2 minutes.
soak: deps
	cargo test --locked --test soak -- --ignored --nocapture
