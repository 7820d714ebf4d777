"""Serve the project's Spark session over Thrift for dbt-spark's ``thrift`` method.

A Spark Thrift server started with ``start-thriftserver.sh`` gives every connection
a new session, and a new session has none of the ``cdp_normalize_*`` Python
functions that the staging models call. So this module starts the server inside
Python, on the project's session after ``register_functions``, with
``HiveThriftServer2.startWithSparkSession``. With
``spark.sql.hive.thriftServer.singleSession=true`` every connection shares that
session, its temporary functions and its current database:

    cdp spark-thrift --port 10000

Then run dbt from any process with ``--target spark_thrift`` and
``CDP_SPARK_THRIFT_HOST``/``CDP_SPARK_THRIFT_PORT`` set to the same address. The
server runs until it receives SIGINT or SIGTERM.

The server has no password check (``hive.server2.authentication=NONE``) and no
TLS, so it listens on a loopback address only and rejects any other. On a cluster,
run it on the machine that runs dbt, with ``CDP_SPARK_MASTER`` pointing at the
cluster: this process is then Spark's driver and the queries run on the cluster's
executors (docs/spark.md).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable

from orchestration.spark_dbt import prepare_spark_for_dbt
from orchestration.spark_session import spark_session

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 10000


def connect(host: str | None = None, port: int | None = None):
    """Open a PyHive connection to the server of dbt's ``spark_thrift`` target.

    ``host`` and ``port`` default to ``CDP_SPARK_THRIFT_HOST`` and
    ``CDP_SPARK_THRIFT_PORT``, the user to ``CDP_SPARK_THRIFT_USER``, each with the
    default of ``dbt_project/profiles.yml``.
    """
    from pyhive import hive

    return hive.connect(
        host=host or os.environ.get("CDP_SPARK_THRIFT_HOST", DEFAULT_HOST),
        port=port or int(os.environ.get("CDP_SPARK_THRIFT_PORT", DEFAULT_PORT)),
        username=os.environ.get("CDP_SPARK_THRIFT_USER", "cdp"),
    )


def require_loopback(host: str) -> None:
    """Raise ``ValueError`` unless every address of ``host`` is a loopback address."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as error:
        message = f"cannot resolve the Thrift server host {host!r}: {error}"
        raise ValueError(message) from error
    remote = sorted(a for a in addresses if not ipaddress.ip_address(a).is_loopback)
    if remote:
        raise ValueError(
            f"the Thrift server host {host!r} resolves to {', '.join(remote)}, which "
            "is not a loopback address. The server checks no password, so it "
            "listens on 127.0.0.1 or ::1 only; run it on the machine that runs dbt."
        )


def require_free_port(host: str, port: int) -> None:
    """Raise ``ValueError`` if another process already listens on ``host:port``.

    Checked before Spark starts, because ``wait_for_port`` would reach the other
    process and take it for this server.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As Java's server socket does, so that connections of a server stopped a
        # moment ago (TIME_WAIT) do not count, while a listening socket still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            message = (
                f"port {port} on {host} is in use ({error.strerror}); "
                "stop the other server or choose another port with --port"
            )
            raise ValueError(message) from error


def wait_for_port(host: str, port: int, timeout: float = 60.0) -> None:
    """Return once ``host:port`` accepts a TCP connection, which the server may open
    only after ``startWithSparkSession`` returns."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"timed out after {timeout:.0f} s waiting for the Spark Thrift "
                    f"server to open {host}:{port}; its errors are in the Spark log"
                ) from None
            time.sleep(0.2)


def start_thrift_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    prepare: Callable[[object], None] | None = None,
):
    """Start Spark with the normalizer functions registered, call ``prepare`` with
    the session (to load tables, say), then serve the session over Thrift. Return
    the session and the server's JVM object once the port accepts connections.

    Hive's server reads its address from the variables ``HIVE_SERVER2_THRIFT_*``
    before its settings, and Spark's JVM copies the environment when it starts. So
    the variables are set here, and this must be the first Spark session of the
    process. ``spark.sql.hive.thriftServer.singleSession`` is a static setting, so
    ``orchestration.spark_session.spark_conf`` sets it for every session.
    """
    require_loopback(host)
    require_free_port(host, port)
    if spark_session.cache_info().currsize:
        raise RuntimeError(
            "a Spark session already runs in this process, so the Thrift server "
            "could not be given its address; start the server first"
        )
    os.environ["HIVE_SERVER2_THRIFT_BIND_HOST"] = host
    os.environ["HIVE_SERVER2_THRIFT_PORT"] = str(port)
    session = prepare_spark_for_dbt()
    if session.conf.get("spark.sql.hive.thriftServer.singleSession") != "true":
        raise RuntimeError(
            "the Spark session started without "
            "spark.sql.hive.thriftServer.singleSession=true, so Thrift connections "
            "would not see the cdp_normalize_* functions"
        )
    if prepare is not None:
        prepare(session)

    jvm = session.sparkContext._jvm
    server_class = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2
    # False: a failed start raises here instead of exiting the JVM.
    server = server_class.startWithSparkSession(session._jsparkSession, False)
    wait_for_port(host, port)
    logger.info("Spark Thrift server listening on %s:%d", host, port)
    return session, server


def serve(
    host: str,
    port: int,
    prepare: Callable[[object], None] | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    """Run the Thrift server until SIGINT or SIGTERM, then stop it and Spark.

    ``prepare`` is passed to ``start_thrift_server``, and ``ready`` is called once
    the server accepts connections.
    """
    session, server = start_thrift_server(host, port, prepare)
    if ready is not None:
        ready()
    # After Spark starts: pyspark installs a SIGINT handler of its own that
    # raises KeyboardInterrupt.
    stopped = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stopped.set())
    # A parent process reads this line to learn that the server accepts connections.
    print(f"listening on {host}:{port}", flush=True)
    stopped.wait()

    logger.info("stopping the Spark Thrift server")
    server.stop()
    session.stop()
