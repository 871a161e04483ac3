"""waitress around the application: a pure-Python production WSGI server
with a pool of worker threads (the model lock in mrcnn.serving.app queues
them), its own limit on request bodies, and a clean stop on SIGTERM/Ctrl+C."""
import logging
import signal

logger = logging.getLogger(__name__)


def make_server(app, host="127.0.0.1", port=8080, threads=4, max_upload_bytes=None):
    """A waitress server of `app` listening on host:port (port 0: a free port;
    `server.effective_port` tells which).

    max_upload_bytes: the application's body limit. waitress buffers bodies
    up to twice that plus 1 MB (multipart overhead) and refuses larger ones
    itself, so a huge upload is not even stored.
    Raises OSError when the address is taken.
    """
    from waitress import create_server

    options = {"host": host, "port": int(port), "threads": int(threads), "ident": "mrcnn"}
    if max_upload_bytes:
        options["max_request_body_size"] = 2 * int(max_upload_bytes) + 2 ** 20
    # Requests waiting behind the model lock are expected here, not a problem.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    return create_server(app, **options)


def server_url(server, host):
    """The URL a person opens for a server made with make_server."""
    shown = "localhost" if host in ("", "0.0.0.0", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{server.effective_port}/"


def serve_until_stopped(server):
    """Run the server in this (main) thread until SIGTERM or SIGINT; requests
    in progress are finished (waitress waits up to 5 s for its threads).
    Returns the name of the signal that stopped it."""
    stopped = {}

    def stop(signum, frame):
        stopped["signal"] = signal.Signals(signum).name
        # waitress' run() catches SystemExit and shuts its worker threads down.
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        name = stopped.get("signal", "server stopped")
        logger.info("shutting down (%s)", name)
        server.close()
    return stopped.get("signal")
