.PHONY: run prod test worker-bench bench
# Run the app on its embedded defaults (http://localhost:3000).
run:
	bash scripts/run.sh

# Production mode on one port (8000): PostgreSQL (DATABASE_URL), Redis, several workers.
prod:
	bash scripts/prod.sh

# Run the whole test suite.
test:
	bash scripts/test.sh

worker-bench:
	bash -c 'source scripts/setup.sh && python bench/worker.py'

# Webhook storm (app vs bare baseline) and poller sweep benchmarks on the local PostgreSQL.
bench:
	bash -c 'source scripts/setup.sh && python -m bench.webhooks && python -m bench.poller'
