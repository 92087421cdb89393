.PHONY: run prod test worker-bench bench bench-page
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

# Webhook storm (app vs bare baseline), poller sweep, /status budget and live progress benchmarks
# on the local PostgreSQL (and Redis for the last).
bench:
	bash -c 'source scripts/setup.sh && python -m bench.webhooks && python -m bench.poller && python -m bench.poll_rate && python -m bench.progress'

# Lighthouse (mobile and desktop profiles) on the production build: studio, Explore, a shared page.
bench-page:
	bash -c 'source scripts/setup.sh && python -m bench.page'
