"""The live scan loop: frames in, debounced "code seen" / "back to ready" events out.

Two parts. ``ScanDebouncer`` is pure logic with time passed in, so it is tested without
threads or clocks. ``ScanLoop`` runs a grabber thread that keeps only the newest frame and a
decoder thread that decodes whatever is newest when it is free: a slow decode drops frames
instead of falling behind the camera, and nothing runs on the UI thread. A watchdog thread
reports a decode that runs far past its budget, and a decode that raises is reported and
skipped, so the decoder never stops silently while the camera still delivers frames.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from verifier.imaging.camera.base import CameraError, Frame, FrameSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CodeEvent:
    """A code to verify: new, or the same one shown again after ``repeat_after`` seconds."""

    text: str
    at: float


@dataclass(frozen=True)
class IdleEvent:
    """No code for ``idle_after`` seconds: the UI returns to its ready state."""

    at: float


@dataclass(frozen=True)
class ErrorEvent:
    """The frame source failed; the loop stops (the app may reopen it with backoff)."""

    message: str


@dataclass(frozen=True)
class EndEvent:
    """A finite source (a replayed file) ran out of frames."""


@dataclass(frozen=True)
class DecodeStalledEvent:
    """A decode has been running for ``seconds``, past ``ScanLoop.overrun_after``: no new
    frame is decoded meanwhile. Sent once per such decode, while it still runs (or as soon
    as it returns, if it ends between two watchdog looks)."""

    seconds: float


@dataclass(frozen=True)
class DecodeFailedEvent:
    """A decode raised (``message`` names the exception); the frame was skipped and the next
    one is decoded. Sent on the first failure after decoding worked; ``ScanLoop.decode_errors``
    counts them all."""

    message: str


@dataclass(frozen=True)
class DecodeResumedEvent:
    """Decoding works again after a ``DecodeStalledEvent`` or ``DecodeFailedEvent``."""


ScanEvent = (
    CodeEvent
    | IdleEvent
    | ErrorEvent
    | EndEvent
    | DecodeStalledEvent
    | DecodeFailedEvent
    | DecodeResumedEvent
)


class ScanDebouncer:
    """Turns per-frame decode results into events.

    - A code is announced the first time it is seen.
    - The same code seen again less than ``repeat_after`` seconds after it was last seen is
      not announced again (a phone held still in front of the camera is one scan).
    - A different code is announced at once and replaces the last one.
    - After ``idle_after`` seconds without any code, one IdleEvent.
    """

    def __init__(self, repeat_after: float = 5.0, idle_after: float = 8.0) -> None:
        self.repeat_after = repeat_after
        self.idle_after = idle_after
        self.current: str | None = None
        self._last_seen: float | None = None
        self._idle = True

    def observe(self, texts: Sequence[str], now: float) -> CodeEvent | IdleEvent | None:
        if texts:
            recent = self._last_seen is not None and now - self._last_seen < self.repeat_after
            if self.current in texts and recent:
                self._last_seen = now
                return None
            self.current = self.current if self.current in texts else texts[0]
            self._last_seen = now
            self._idle = False
            return CodeEvent(self.current, now)
        if (
            not self._idle
            and self._last_seen is not None
            and now - self._last_seen >= self.idle_after
        ):
            self._idle = True
            return IdleEvent(now)
        return None


class LatestFrame:
    """A one-frame mailbox: ``put`` overwrites (counting what it drops), ``take`` waits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()

    def take(self, timeout: float | None = None) -> Frame | None:
        """The newest frame (removing it), or None once closed and empty or on timeout."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout)
            frame, self._frame = self._frame, None
            return frame

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed and self._frame is None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class ScanLoop:
    """Pull frames from ``source``, decode the newest, send events to ``on_event``.

    ``on_event`` is called from the loop's decoder and watchdog threads; a Textual app wraps
    it with ``app.call_from_thread``. ``decode`` defaults to a ``MultiFrameDecoder`` of its
    own (``verifier.imaging.multiframe.scan_decoder``): zxing and one bounded slice of the
    project pipeline's work a frame (p95 ~49-63 ms at Pi 4 speed), the symbol's work
    going on over the next frames, plus a symbol found but not read combined over frames;
    it keeps state from frame to frame, so each loop has its own and only the decoder
    thread calls it.

    ``overrun_after`` (seconds on ``clock``): a decode still running after this long is
    reported (``DecodeStalledEvent``, counted in ``decode_overruns``); a call does one
    slice of work, and the time budget behind it stops any call at 1 s at most
    (``PipelineDecoder.deadline_s``), so this only fires when something is wrong. A thread cannot be
    stopped from outside, so the loop reports rather than abandons: ``decode_busy_for``
    tells how long the current decode has been running. The watchdog looks every
    ``watch_interval`` seconds of real time.
    """

    def __init__(
        self,
        source: FrameSource,
        on_event: Callable[[ScanEvent], None],
        decode: Callable[[np.ndarray], list[str]] | None = None,
        debouncer: ScanDebouncer | None = None,
        overrun_after: float = 2.0,
        watch_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if decode is None:
            from verifier.imaging.multiframe import scan_decoder

            decode = scan_decoder().decode
        self.source = source
        self.on_event = on_event
        self.decode = decode
        self.debouncer = debouncer or ScanDebouncer()
        self.overrun_after = overrun_after
        self.watch_interval = watch_interval
        self._clock = clock
        self.frames_read = 0
        self.frames_decoded = 0
        #: Decodes that raised, and decodes that ran past ``overrun_after``, so far.
        self.decode_errors = 0
        self.decode_overruns = 0
        self._slot = LatestFrame()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._final: EndEvent | ErrorEvent | None = None
        self._lock = threading.Lock()  # the running decode's start and whether it was reported
        self._trouble_lock = threading.Lock()  # keeps stall/failure/resumed events in order
        self._started_at: float | None = None  # of the decode now running
        self._reported = False  # the running decode's overrun was reported
        self._troubled = False  # a stall or failure was reported and decoding not yet back

    @property
    def running(self) -> bool:
        """True while the decoder thread still has frames to come."""
        return any(t.is_alive() for t in self._threads)

    @property
    def frames_dropped(self) -> int:
        return self._slot.dropped

    @property
    def decode_busy_for(self) -> float:
        """Seconds the decode now running has taken so far (0.0 when none is running)."""
        with self._lock:
            started = self._started_at
        return 0.0 if started is None else max(0.0, self._clock() - started)

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._grab, name="scan-grab", daemon=True),
            threading.Thread(target=self._work, name="scan-decode", daemon=True),
            threading.Thread(target=self._watch, name="scan-watch", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop both threads; the caller still owns (and closes) the source."""
        self._stop.set()
        self._slot.close()
        self.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        for t in self._threads:
            t.join(timeout)

    def _grab(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    self._final = EndEvent()
                    break
                self.frames_read += 1
                self._slot.put(frame)
        except CameraError as exc:
            self._final = ErrorEvent(exc.message)
        finally:
            self._slot.close()

    def _work(self) -> None:
        last: Frame | None = None
        try:
            while True:
                busy = last is not None and self._pending()
                frame = self._slot.take(timeout=0.0 if busy else None)
                if self._stop.is_set():
                    return
                again = frame is None and busy and not self._slot.closed
                if again:  # no newer frame yet: the decoder's pending work goes on, on this one
                    frame = last
                if frame is None:  # the grabber finished; report why after the last frame
                    if self._final is not None:
                        self.on_event(self._final)
                    return
                last = frame
                texts = self._decode(frame)
                if texts is None:
                    continue
                self.frames_decoded += not again
                event = self.debouncer.observe(texts, frame.timestamp)
                if event is not None:
                    self.on_event(event)
        finally:
            self._done.set()

    def _pending(self) -> bool:
        """Whether the decoder has work under way that needs no new frame (its ``pending``,
        for a decoder that has one: the scan loop's resumable one)."""
        owner = getattr(self.decode, "__self__", None)
        return bool(getattr(owner, "pending", False))

    def _decode(self, frame: Frame) -> list[str] | None:
        """The frame's texts, or None if the decode raised (reported, never fatal)."""
        with self._lock:
            self._started_at, self._reported = self._clock(), False
        try:
            texts = self.decode(frame.gray)
        except Exception as exc:  # any decoder bug must not end scanning for good
            texts = None
            self.decode_errors += 1
            message = f"{type(exc).__name__}: {exc}"
            first = self.decode_errors == 1
            log.log(
                logging.WARNING if first else logging.DEBUG,
                "decode failed (%d so far): %s",
                self.decode_errors,
                message,
                exc_info=first,
            )
            with self._trouble_lock:
                if not self._troubled:
                    self._troubled = True
                    self.on_event(DecodeFailedEvent(message))
        finally:
            self._check_overrun(finished=True)
        if texts is not None:
            with self._trouble_lock:
                if self._troubled:
                    self._troubled = False
                    self.on_event(DecodeResumedEvent())
        return texts

    def _check_overrun(self, finished: bool = False) -> None:
        """Report the running decode once it is past ``overrun_after``; ``finished``: it has
        just returned (reported now if it overran between two watchdog looks)."""
        with self._trouble_lock:
            with self._lock:
                started = self._started_at
                if finished:
                    self._started_at = None
                if started is None or self._reported:
                    return
                seconds = self._clock() - started
                if seconds <= self.overrun_after:
                    return
                self._reported = True
            self.decode_overruns += 1
            self._troubled = True
            log.warning("a decode ran for %.1f s (%d overruns)", seconds, self.decode_overruns)
            self.on_event(DecodeStalledEvent(seconds))

    def _watch(self) -> None:
        while not self._done.wait(self.watch_interval):
            self._check_overrun()
