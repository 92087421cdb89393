"""The backend's server settings (openv_app/server.py) and how many workers it starts."""

from __future__ import annotations

import asyncio
import os
import shlex
import socket

import pytest
from pydantic import ValidationError
from reflex.utils import exec as reflex_exec
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import OP_TEXT, Frame
from websockets.headers import parse_extension

from openv_app.server import OUR_ARGS_VARIABLE, TAB_DEFLATE, TabWebsocketProtocol, own_listener, serve_with_gunicorn
from openv_app.settings import Settings


@pytest.fixture
def server_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("REFLEX_USE_GRANIAN", raising=False)
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    monkeypatch.delenv(OUR_ARGS_VARIABLE, raising=False)
    return monkeypatch


def test_reflex_serves_with_gunicorn_and_the_workers_asked_for(server_environment):
    serve_with_gunicorn(workers=3)
    assert reflex_exec.should_use_granian() is False
    assert os.environ["GUNICORN_CMD_ARGS"].split()[0] == "--workers=3"


def test_loading_the_config_again_in_a_worker_adds_nothing(server_environment):
    serve_with_gunicorn(workers=3)
    first = os.environ["GUNICORN_CMD_ARGS"]
    serve_with_gunicorn(workers=3)
    assert os.environ["GUNICORN_CMD_ARGS"] == first


def test_a_process_started_from_one_that_loaded_the_config_gets_its_own_worker_count(server_environment):
    server_environment.setenv("GUNICORN_CMD_ARGS", "--timeout=90")
    serve_with_gunicorn(workers=1)  # the test runner, which has no Redis
    serve_with_gunicorn(workers=2)  # the app it starts inherits the environment
    args = os.environ["GUNICORN_CMD_ARGS"].split()
    assert [arg for arg in args if arg.startswith("--workers")] == ["--workers=2"]
    assert args[-1] == "--timeout=90"


def test_an_operators_own_server_settings_win(server_environment):
    server_environment.setenv("REFLEX_USE_GRANIAN", "true")
    server_environment.setenv("GUNICORN_CMD_ARGS", "--workers=5 --timeout=90")
    serve_with_gunicorn(workers=3)
    assert reflex_exec.should_use_granian() is True
    # gunicorn reads its command line left to right: the operator's later --workers wins.
    assert os.environ["GUNICORN_CMD_ARGS"].endswith("--workers=5 --timeout=90")


def test_worker_count_is_one_without_redis_and_several_with(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert Settings(redis_url=None).worker_count == 1
    assert Settings(redis_url="redis://127.0.0.1:6379/0").worker_count == 5
    assert Settings(redis_url="redis://127.0.0.1:6379/0", backend_workers=2).worker_count == 2


def test_several_workers_without_redis_are_refused_with_the_setting_named():
    with pytest.raises(ValidationError, match="BACKEND_WORKERS above 1 needs REDIS_URL"):
        Settings(redis_url=None, backend_workers=2)


def test_gunicorn_loads_the_worker_class_named_and_it_serves_websockets_sans_io(server_environment):
    from gunicorn.util import load_class

    serve_with_gunicorn(workers=2)
    named = next(arg for arg in os.environ["GUNICORN_CMD_ARGS"].split() if arg.startswith("--worker-class="))
    worker_class = load_class(named.removeprefix("--worker-class="))
    assert worker_class.CONFIG_KWARGS["ws"] is TabWebsocketProtocol


def test_the_workers_websocket_protocol_offers_only_tab_deflate():
    config = Config(app=lambda scope, receive, send: None, ws=TabWebsocketProtocol, lifespan="off")
    config.load()
    loop = asyncio.new_event_loop()
    try:
        protocol = TabWebsocketProtocol(config, ServerState(), {}, _loop=loop)
    finally:
        loop.close()
    assert protocol.conn.available_extensions == [TAB_DEFLATE]


def test_a_tab_that_asks_for_compression_as_chromium_does_gets_it_with_nothing_kept_between_messages():
    [(name, offered)] = parse_extension("permessage-deflate; client_max_window_bits")  # Chromium's header
    assert name == TAB_DEFLATE.name
    agreed, deflate = TAB_DEFLATE.process_request_params(offered, accepted_extensions=[])
    assert ("server_no_context_takeover", None) in agreed and ("client_no_context_takeover", None) in agreed
    assert isinstance(deflate, PerMessageDeflate)
    assert not hasattr(deflate, "encoder") and not hasattr(deflate, "decoder")  # none while the tab idles

    state = b'{"videos": [' + b", ".join(b'{"prompt": "a card", "status": "COMPLETED"}' for _ in range(24)) + b"]}"
    sent = deflate.encode(Frame(OP_TEXT, state))
    assert sent.rsv1 and len(sent.data) < len(state) / 4  # compressed all the same
    assert not hasattr(deflate, "encoder")  # made for the message, gone after it
    assert deflate.decode(sent).data == state  # a stream of its own: fresh zlib state reads it
    assert not hasattr(deflate, "decoder")


def listening_socket(reuse_port: bool) -> socket.socket:
    shared = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if reuse_port:
        shared.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    shared.bind(("127.0.0.1", 0))
    shared.listen()
    return shared


def test_a_worker_listens_on_its_own_socket_beside_the_arbiters():
    with listening_socket(reuse_port=True) as shared:
        own = own_listener(shared, backlog=64)
        assert own is not None
        with own:
            assert own.getsockname() == shared.getsockname()
            # The kernel hands connections to either socket; each one is accepted from its own.
            clients = [socket.create_connection(shared.getsockname(), timeout=5) for _ in range(20)]
            accepted = {name: accept_all(sock) for name, sock in (("own", own), ("shared", shared))}
            assert accepted["own"] + accepted["shared"] == 20
            assert accepted["own"] > 0 and accepted["shared"] > 0, accepted
            for client in clients:
                client.close()


def accept_all(listener: socket.socket) -> int:
    listener.settimeout(0.2)
    accepted = 0
    while True:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            return accepted
        connection.close()
        accepted += 1


def test_without_reuse_port_on_the_arbiters_socket_the_worker_shares_it_only():
    with listening_socket(reuse_port=False) as shared:
        assert own_listener(shared, backlog=16) is None


def test_a_unix_socket_is_shared_only(tmp_path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as shared:
        shared.bind(str(tmp_path / "app.sock"))
        assert own_listener(shared, backlog=16) is None


def test_the_arbiter_runs_no_control_socket_thread_that_a_fork_could_copy_a_lock_of(server_environment):
    from gunicorn.config import Config

    serve_with_gunicorn(workers=2)
    config = Config()
    parsed = config.parser().parse_args(shlex.split(os.environ["GUNICORN_CMD_ARGS"]))
    for name, value in vars(parsed).items():
        if value is not None and name in config.settings:
            config.set(name, value)
    assert config.control_socket_disable is True
