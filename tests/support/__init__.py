"""What the tests (and the benchmarks) stand on, one concern a module:

- availability: PostgreSQL, Redis, chromium present, or the test is skipped (fails with CI=true)
- databases: scratch PostgreSQL databases, migrations
- servers: ports, waiting, ASGI apps on real ports, the local RunPod endpoint
- apps: the HTTP API on real ports, wired to a test database (the app_factory fixture)
- processes: child processes, the app in production mode as `make prod` runs it
- factories: video rows and handler inputs
- loops: running coroutines where pytest-asyncio cannot
- browser: chromium and pages that record their errors
- handlers, runpod_standin, fake_supabase_storage, clerk_tokens, delay_proxy: stand-ins

The benchmarks (bench/) import from here; nothing here imports bench.
"""
