"""A clocked JACK dummy server for machines without a sound card (benchmarks and tests).

The dummy driver runs its period on a timer, so callbacks arrive at real time, like a sound card's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from typing import IO

from engine.errors import UserError


def may_use_realtime() -> bool:
    """Whether this user may ask for SCHED_FIFO (root, or an ``rtprio`` limit such as Debian's ``audio``
    group gives), as a JACK server started with ``-R`` needs."""
    if not hasattr(os, "geteuid"):
        return False
    import resource

    soft = resource.getrlimit(resource.RLIMIT_RTPRIO)[0]
    return os.geteuid() == 0 or soft == resource.RLIM_INFINITY or soft > 0


class JackDummy:
    """Start ``jackd -d dummy`` under a private server name; the context stops it again.

    PortAudio in this process is pointed at the server (``JACK_DEFAULT_SERVER``) and rescanned, so
    sounddevice lists a device named ``system``. ``realtime``: run the server (and so its clients' process
    threads) with real-time scheduling, as an installed JACK does by default, where the user may
    (:func:`may_use_realtime`); otherwise ``--no-realtime``.
    """

    def __init__(
        self, sample_rate: int = 44100, period: int = 256, name: str | None = None, realtime: bool = False
    ) -> None:
        self.sample_rate = sample_rate
        self.period = period
        self.name = name or f"refrain-{os.getpid()}"
        self.realtime = realtime and may_use_realtime()
        self._proc: subprocess.Popen[bytes] | None = None
        self._saved_env: str | None = None
        self._log: IO[bytes] | None = None  # the server's output (an unlinked temporary file)

    @staticmethod
    def available() -> bool:
        return shutil.which("jackd") is not None and shutil.which("jack_wait") is not None

    def start(self) -> JackDummy:
        if not self.available():
            raise UserError("jackd is not installed (Debian: apt install jackd2); it provides the clocked test device")
        from engine.stream import rescan_devices

        env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_DEFAULT_SERVER": self.name}
        cmd = [
            "jackd",
            "-n",
            self.name,
            "--realtime" if self.realtime else "--no-realtime",
            "-d",
            "dummy",
            "-r",
            str(self.sample_rate),
            "-p",
            str(self.period),
        ]
        # the server's output goes to an unlinked temporary file that this object reads: nothing is left
        # behind; opened to append, so the server writes at the end while this side reads from the start
        self._log = tempfile.TemporaryFile(mode="a+b", prefix="refrain-jackd-")  # noqa: SIM115 - closed in stop
        self._proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        ok = subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "10"], env=env, capture_output=True)
        if ok.returncode != 0 or self._proc.poll() is not None:
            said = self._log_text().strip().splitlines()[-3:]
            self.stop()
            raise UserError("the JACK dummy server did not start" + (f": {' / '.join(said)}" if said else ""))
        self._saved_env = os.environ.get("JACK_DEFAULT_SERVER")
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        os.environ["JACK_NO_START_SERVER"] = "1"
        rescan_devices()
        return self

    def xruns(self) -> dict[str, int]:
        """The server's own count of xruns so far, by cause (from its log): ``timer``, the dummy driver's
        period timer woke late (the machine, not a client); ``client``, a client had not finished its
        period in time."""
        text = self._log_text()
        return {
            "timer": text.count("JackTimedDriver::Process XRun"),
            "client": text.count("was not finished"),
        }

    def _log_text(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        """Release PortAudio's JACK client first (else libjack aborts at exit), then stop the server."""
        if self._proc is None:
            return
        import sounddevice as sd

        sd._terminate()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._saved_env is None:
            os.environ.pop("JACK_DEFAULT_SERVER", None)
        else:
            os.environ["JACK_DEFAULT_SERVER"] = self._saved_env
        time.sleep(0.05)
        sd._initialize()

    def kill(self) -> None:
        """Kill the server abruptly (to test losing the device mid-play)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> JackDummy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
