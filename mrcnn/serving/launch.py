"""Start `mrcnn serve` in a child process and wait until it listens: for
scripts, notebooks, benchmarks and tests that want the real service."""
import os
import re
import subprocess
import sys
import threading
import time

URL_LINE = re.compile(r"Serving .* on (http://\S+/)")


class ServiceProcess:
    """A `mrcnn serve` child process.

    args: the arguments after `mrcnn serve` (add "--port", "0" for a free port).
    timeout: seconds to wait for the "Serving ... on URL" line.
    command: what runs before "serve": default `python -m mrcnn.cli`; a
        sample's script serves with its own Config, e.g.
        [sys.executable, "samples/shapes/shapes.py"].
    Attributes: url (e.g. "http://127.0.0.1:40123/"), process (Popen),
    output (the lines printed so far, stdout and stderr together).
    Raises RuntimeError with the output when the service exits or does not
    listen in time.
    """

    def __init__(self, args, timeout=180, env=None, command=None):
        command = [*(command or [sys.executable, "-m", "mrcnn.cli"]), "serve", *map(str, args)]
        environment = dict(os.environ if env is None else env)
        environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        environment["PYTHONUNBUFFERED"] = "1"
        self.output = []
        self._url_seen = threading.Event()
        self.url = None
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=environment, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not self._url_seen.wait(0.2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mrcnn serve {' '.join(map(str, args))} did not start "
                                   f"(exit code {self.process.returncode}):\n" + self.text())

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line)
            match = URL_LINE.search(line)
            if match and self.url is None:
                self.url = match.group(1)
                self._url_seen.set()

    def text(self):
        """Everything the service printed so far."""
        return "".join(self.output)

    def stop(self, sig=None, timeout=30):
        """Send `sig` (default SIGTERM) and wait; returns the exit code."""
        import signal

        if self.process.poll() is None:
            self.process.send_signal(sig or signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
