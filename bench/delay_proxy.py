"""`python -m bench.delay_proxy`: the TCP delay proxy of tests/support/delay_proxy.py, which the
benchmarks and tests/test_data_path.py share.

    python -m bench.delay_proxy --port 6432 --target 127.0.0.1:5432 --delay-ms 10
"""

from tests.support.delay_proxy import main

if __name__ == "__main__":
    main()
