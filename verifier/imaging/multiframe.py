"""Reading what no single camera frame shows: one symbol combined over frames.

Sensor noise, an OLED's PWM bands rolling through a rolling-shutter frame and glare that
moves with the hand damage different modules in each frame. Two ways of combining, measured
in bench/RESULTS.md ("Combining frames"):

- **Modules.** Where the pipeline finds the symbol and fits its grid
  (``PipelineDecoder.last_located``) but cannot read it, the frame's per-module darkness is
  kept, normalised per frame (so exposure, band brightness, blur and contrast cancel), for
  the last ``frames`` frames of the same symbol, and their combination is read:
  ``combine="mean"`` averages the sampled grey levels over their local mean and spread and
  equalises the average once; ``combine="vote"`` averages each frame's equaliser scores
  clipped to +-1 (a confidence: how far from the threshold). Frames are weighted by the
  inverse of their noise on the modules the version fixes.
- **Image** (``stack``). Where no grid fits at all (heavy noise, deep bands), the region's
  pixels over the last ``stack`` frames, each shifted onto the newest by phase correlation
  (translation only; a frame that does not correlate is left out), are averaged and the
  pipeline reads the mean instead of the frame alone.

Whatever is combined is rendered and read by zxing with its Reed-Solomon check: a text is
only ever what zxing decoded.

Registration: module coordinates are the symbol's own (the finders fix the orientation), so
each frame's grid maps it onto the same modules. ``track=True`` finds the grid on the next
frames from the last one instead of the pipeline's region search and finder fit: a phase
correlation of the symbol's surroundings for the shift, then the grid polished on the new
frame (``polish_grid``) and checked on the fixed modules; when that fails the pipeline runs.

State is one symbol: at most ``frames`` module arrays and ``stack - 1`` earlier frames
(references to the camera's arrays). The modules are dropped when a frame reads, when no
symbol is found for more than ``max_gap`` frames, when the version changes, or when the
frame's modules disagree with what was gathered (another code of the same version agrees on
about half of them); the frames when one shows no code region. Work is bounded like the
pipeline's: the frame's deadline, and at most ``MAX_WORK`` units on top of the pipeline's
(``verifier.imaging.budget``). A stateful decoder for one stream of frames (the scan loop
makes one per loop); files go through the stateless ``decode_gray``.

Over a resumable pipeline (``PipelineDecoder(frame_work=...)``, the scan loop's) a call
does zxing's pass on its frame (beside, on another core, with ``beside``) and one slice of
one of three jobs, so it stays within about one slice: the pipeline's own job, then once it
has ended unread the deferred combining of a grid it fitted, then the image stack's job (a
second resumable pipeline on the mean). ``pending`` says there is such work left, so the
scan loop calls again at once instead of waiting for the camera's next frame.
A resumed job works on an earlier frame, so the modules are sampled, and the stack
registered, on the frame its grid or region was found on (``PipelineDecoder.last_frame``),
each frame's modules kept once. Every ``CHANGE_EVERY`` calls, and before a combined or
stacked text is returned, the region is compared with the same place in the newest frame;
when it no longer correlates (another code, none, or the same phone much closer) what
combines frames is dropped: two codes are never combined. The pipeline's own job is kept:
it reads one frame with zxing's RS check, and ``stage_work`` ends it about when the time
budget would end the frame's work without slices (a phone being brought closer changes the
view as much as another code does, and dropping its job lost the reads; bench/RESULTS.md).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from verifier.imaging import erasures
from verifier.imaging.budget import Budget, OutOfBudget, spend, units
from verifier.imaging.decoding import (
    CALL_S,
    FRAME_WORK,
    STAGE_WORK,
    PipelineDecoder,
    Region,
    _as_gray,
    _geometry_errors,
    _unique,
    zxing_read,
)
from verifier.imaging.decoding_grid import (
    Located,
    equalise,
    fixed_agreement,
    fixed_modules,
    invert_homography,
    polish_grid,
    read_located,
    read_rendered,
    sample_modules,
    symbol_size,
)

#: Fixed-module agreement a frame's grid needs for its modules to be kept (the pipeline's
#: reads all came from grids at 0.82 or more; chance is about 0.5).
MIN_AGREEMENT = 0.72
#: Below this share of agreeing data modules a frame is another code (or a misfit), not the
#: one gathered: two different codes agree on ~0.5 of them, one code's frames on 0.8+.
MIN_CONSISTENCY = 0.62
#: Units of work (``verifier.imaging.budget``) the combining may add to a frame: a
#: tracked grid's polish (at most 1 + 16 x TRACK_ROUNDS), sampling, equalising, two reads,
#: and the erasure decoding of a version-27 code (the larger ML1 size).
TRACK_ROUNDS = 12
MAX_WORK = 1 + 16 * TRACK_ROUNDS + 20 + erasures.work(27)
#: Phase-correlation peak below which an older frame is not the same view (not stacked).
#: Measured on the bench's clips: the next frame of the same code 0.41-1.1, a frame of
#: another code in the same place 0.0-0.16; frames of a fast approach fall below it too.
STACK_RESPONSE = 0.25
#: Longest side (px) of the crops compared to see whether the code in view changed, and
#: on which the sliced stack measures its shifts.
CHANGE_SIDE = 256
#: While a job is pending, the newest frame is compared with the job's every this many
#: calls (a correlation costs ~1 ms here, a sixth of a slice), and always before a text
#: read on an older frame is returned: a text is never shown for a code no longer in view.
CHANGE_EVERY = 4
STACK_SIDE = 256
#: Pixels a unit buys (~0.1 ms here) in a phase correlation (measured: 3850-4250 px a unit
#: from 256 to 800 px square) and in a warp and sum of a crop (~16500).
CORRELATE_PX = 3900
WARP_PX = 16000


@dataclass(frozen=True)
class Seen:
    """One frame's view of the symbol: its grid, the equaliser's darkness score per module
    (> 0 dark), the sampled grey levels over their local mean and spread, a weight, and the
    modules saturated glare washed out in it (``erasures.saturated``), which it has no say on."""

    located: Located
    score: np.ndarray
    level: np.ndarray
    weight: float
    lost: np.ndarray


def local_levels(values: np.ndarray) -> np.ndarray:
    """Module values over the mean and spread of their 9x9-module neighbourhood: a band or
    glare scales and shifts a region's grey levels, not this."""
    import cv2

    mean = cv2.blur(values, (9, 9), borderType=cv2.BORDER_REFLECT)
    sq = cv2.blur(values * values, (9, 9), borderType=cv2.BORDER_REFLECT)
    return (values - mean) / np.sqrt(np.maximum(sq - mean * mean, 1.0))


def observe(gray: np.ndarray, where: Located, budget: Budget | None = None) -> Seen:
    """Sample and equalise one frame's symbol through its grid."""
    n = symbol_size(where.version)
    spend(budget)
    values = sample_modules(gray, where.frame_to_module, n)
    lost = erasures.saturated(values, where.version)  # on the raw levels: either polarity
    if where.inverted:
        values = 255 - values
    fixed = fixed_modules(where.version)
    score = equalise(values, fixed, budget=budget)
    # how far the equaliser's scores stray from +-1 on the modules whose colour is known:
    # the frame's noise; frames are weighted by its inverse (as for averaging measurements)
    miss = score[fixed.known] - np.where(fixed.dark[fixed.known], 1.0, -1.0)
    weight = 1.0 / max(float(np.mean(miss * miss)), 0.02)
    if lost is None:
        lost = np.zeros((n, n), bool)
    return Seen(where, score, local_levels(values), weight, lost)


def combine(seen: list[Seen], how: str = "vote", budget: Budget | None = None) -> np.ndarray:
    """Dark modules decided from several frames of one symbol (fixed modules forced); a
    frame has no say on the modules it lost to glare."""
    version = seen[0].located.version
    fixed = fixed_modules(version)
    weights = np.stack([s.weight * ~s.lost for s in seen])
    if how == "vote":
        votes = np.stack([np.clip(s.score, -1.0, 1.0) for s in seen])
        dark = (votes * weights).sum(axis=0) > 0
    elif how == "mean":
        total = weights.sum(axis=0)
        levels = (np.stack([s.level for s in seen]) * weights).sum(axis=0)
        levels = np.divide(levels, total, out=np.zeros_like(levels), where=total > 0)
        dark = equalise(levels.astype(np.float32) * 64, fixed, budget=budget) > 0
    else:
        raise ValueError(f"unknown combination {how!r} (vote or mean)")
    dark[fixed.known] = fixed.dark[fixed.known]
    return dark


def lost_in_all(seen: list[Seen]) -> np.ndarray:
    """The modules no frame saw: lost to glare in every one."""
    return np.logical_and.reduce([s.lost for s in seen])


def consistency(
    a: np.ndarray, b: np.ndarray, version: int, unseen: np.ndarray | None = None
) -> float:
    """Share of the data modules (not fixed by the version, nor ``unseen`` by one of the
    two) two decisions agree on; 1.0 where there are none to compare."""
    free = ~fixed_modules(version).known
    if unseen is not None:
        free &= ~unseen
    if not free.any():
        return 1.0
    return float(np.mean(a[free] == b[free]))


@dataclass
class _Sliced:
    """What the sliced schedule keeps between calls: the symbol's region and its frame
    (the stack's reference), a grid fitted but not yet combined, the frame last gathered,
    and whose turn it is."""

    region: Region | None = None
    frame: np.ndarray | None = None
    unobserved: tuple[np.ndarray, Located] | None = None
    observed: np.ndarray | None = field(default=None, repr=False)
    stack_turn: bool = False
    mean: np.ndarray | None = field(default=None, repr=False)  # made, not yet read
    calls: int = 0  # calls since the symbol's first (``CHANGE_EVERY`` counts them)


#: ``_stack_input``'s answer when its call made the mean (the call's step; read next call).
_MEAN_MADE = np.zeros((1, 1), np.uint8)


class MultiFrameDecoder:
    """The pipeline on each frame; where it is not read, the symbol's modules combined
    over the last ``frames`` frames its grid fitted, then (``stack``) the pipeline on its
    region averaged over the last ``stack`` frames (see the module docstring). The defaults
    are the scan loop's."""

    def __init__(
        self,
        pipeline: PipelineDecoder | None = None,
        frames: int = 6,
        combine: str = "mean",
        track: bool = False,
        stack: int = 4,
        stack_first: bool = False,
        max_gap: int = 2,
        min_agreement: float = MIN_AGREEMENT,
        max_work: int = MAX_WORK,
        name: str | None = None,
    ) -> None:
        if frames < 1 or stack < 0 or combine not in ("vote", "mean"):
            raise ValueError("frames must be >= 1, stack >= 0, combine 'vote' or 'mean'")
        if track and stack:
            raise ValueError("track and stack are alternatives (tracked grids are in frame px)")
        self.pipeline = pipeline or PipelineDecoder()
        self.frames = frames
        self.how = combine
        self.track = track
        self.stack = stack
        self.stack_first = stack_first
        #: image level (``stack``): the last frames in which a region was found
        self.frames_kept: deque[np.ndarray] = deque(maxlen=max(stack - 1, 1))
        self.max_gap = max_gap
        self.min_agreement = min_agreement
        self.max_work = max_work
        self.name = name or (
            f"multiframe-{combine}{frames}{'-track' if track else ''}"
            f"{f'-stack{stack}' if stack else ''}"
        )
        self.seen: deque[Seen] = deque(maxlen=frames)
        self._gap = 0
        # tracking: the box around the last symbol and that frame's pixels in it
        self._last_box: tuple[int, int, int, int] | None = None
        self._last_patch: np.ndarray | None = None
        #: What read the last frame: "zxing", a pipeline stage, "tracked", "combined",
        #: "stacked", or "" (nothing).
        self.last_stage = ""
        #: Frames read by combining modules, by stacking images, and tracked grids lost.
        self.combined_reads = 0
        self.stacked_reads = 0
        self.lost = 0
        #: Units of work the last call took in all (the pipelines' and the combining's).
        self.last_work = 0
        #: Pending jobs dropped because the code in view changed.
        self.changes = 0
        #: The image stack's own resumable pipeline (``frame_work`` only: the frame's
        #: pipeline keeps its pending job meanwhile).
        self.sliced = self.pipeline.frame_work is not None
        if self.sliced and track:
            raise ValueError("track is not available over a resumable pipeline")
        # no ``stage_work`` for it: a mean made later is no better than this one (the frames
        # a code is noisy in stay noisy), so its job goes on to the work cap
        self.stacker = replace(self.pipeline, name=f"{self.pipeline.name}-stack", stage_work=None)
        self._s = _Sliced()

    @property
    def pending(self) -> bool:
        """Over a resumable pipeline: work on what was seen is under way (a job, the
        combining of a grid fitted, the stack's mean or its job), so a call goes on with it
        even on the same frame again: the scan loop then calls again at once rather than
        wait for the camera's next frame."""
        if not self.sliced:
            return False
        s = self._s
        if self.pipeline.pending or self.stacker.pending or s.mean is not None:
            return True
        if s.unobserved is not None:
            return True
        stack_ready = self.stack and s.stack_turn and s.region is not None
        return bool(stack_ready and any(f is not s.frame for f in self.frames_kept))

    def reset(self) -> None:
        """Forget everything kept."""
        self._drop_combined()
        self.pipeline.forget()

    def _drop_combined(self) -> None:
        """Forget what combines frames (modules, frames kept, the stack's job): the code in
        view changed. The pipeline's own pending job stays: it reads one frame, RS-checked,
        and ``stage_work`` bounds how long it goes on (as the time budget does without
        slices); a phone coming closer changes the view as much as another code does."""
        self._read()
        self.frames_kept.clear()
        self.stacker.forget()
        self._s = _Sliced()

    def _read(self) -> None:
        """A frame read: the modules gathered are done with. The frames kept for stacking
        stay (the stack takes only frames that correlate with the newest)."""
        self.seen.clear()
        self._gap = 0
        self._last_box = self._last_patch = None

    def decode(self, gray: np.ndarray) -> list[str]:
        gray = _as_gray(gray)
        self.last_stage = ""
        budget = self._budget()
        if self.sliced:
            try:
                return self._decode_sliced(gray, budget)
            finally:
                self.last_work += budget.work
        self.last_work = 0
        if self.track and self.seen:
            texts = self._decode_tracked(gray, budget)
            if texts is not None:
                return texts
        if self.stack and self.stack_first and self.frames_kept:
            texts = self._decode_stacked(gray, budget)
            if texts is not None:
                return texts
        texts = self.pipeline.decode(gray)
        region = self.pipeline.last_region
        if texts:
            if self.stack:
                self._keep(gray, True)
            self.last_stage = self.pipeline.last_stage
            self._read()
            return texts
        texts = self._gather_located(gray, self.pipeline.last_located, budget)
        if self.stack:
            if not texts and region is not None and self.frames_kept:
                texts = self._read_stack(gray, region, budget, gather=False) or []
            self._keep(gray, region is not None)
        return texts

    def _gather_located(
        self, image: np.ndarray, where: Located | None, budget: Budget
    ) -> list[str]:
        if where is None or where.agreement < self.min_agreement:
            self._missed()
            return []
        return self._gather(image, where, budget)

    def _keep(self, gray: np.ndarray, code_seen: bool) -> None:
        if code_seen:
            if not self.frames_kept or self.frames_kept[-1] is not gray:  # (once a frame)
                self.frames_kept.append(gray)
        else:
            self.frames_kept.clear()

    def _budget(self) -> Budget:
        seconds = self.pipeline.budget_s
        deadline = None if seconds is None else max(self.pipeline.deadline_s, seconds)
        return Budget(deadline, self.max_work, self.pipeline.clock)

    def _missed(self) -> None:
        self._gap += 1
        if self._gap > self.max_gap:
            self.seen.clear()  # (the image-level frames go with their region)
            self._gap = 0

    def _gather(self, gray: np.ndarray, where: Located, budget: Budget) -> list[str]:
        """Keep this frame's modules and read the combination, RS-checked by zxing."""
        try:
            seen = observe(gray, where, budget)
            if self.seen and not self._same_symbol(seen):
                self._read()
            self.seen.append(seen)
            self._gap = 0
            if self.track:
                self._last_box = _symbol_box(where, gray.shape, margin=0.15)
                if self._last_box is not None:
                    x0, y0, x1, y1 = self._last_box
                    self._last_patch = gray[y0:y1, x0:x1].astype(np.float32)
            if len(self.seen) < 2:
                return []
            dark = combine(list(self.seen), self.how, budget)
            texts = _unique(read_rendered(dark, budget))
            if not texts:
                texts = self._read_erased(dark, budget)
        except OutOfBudget:
            return []
        except _geometry_errors():
            self._read()
            return []
        if texts:
            self.last_stage = "combined"
            self.combined_reads += 1
            self._read()
        return texts

    def _same_symbol(self, seen: Seen) -> bool:
        last = self.seen[-1]
        version = seen.located.version
        if version != last.located.version or seen.located.inverted != last.located.inverted:
            return False
        gathered = combine(list(self.seen), "vote")
        unseen = seen.lost | lost_in_all(list(self.seen))
        return consistency(seen.score > 0, gathered, version, unseen) >= MIN_CONSISTENCY

    def _read_erased(self, dark: np.ndarray, budget: Budget) -> list[str]:
        """The combination read with the modules no frame saw erased (RS-checked by zxing)."""
        unseen = lost_in_all(list(self.seen))
        if np.count_nonzero(unseen) < erasures.MIN_LOST:
            return []
        version = self.seen[0].located.version
        return _unique(erasures.read_erased(dark, unseen, version, budget))

    # ------------------------------------------------------------------ sliced

    def _decode_sliced(self, gray: np.ndarray, budget: Budget) -> list[str]:
        """One call over a resumable pipeline: zxing on ``gray``, then one slice of the
        deferred combining, the image stack (once the frame's job ended unread, until
        the stack's own job ends) or the pipeline's job, in that order of preference."""
        self.last_work = 0
        self.pipeline.last_beside_cpu = self.stacker.last_beside_cpu = 0.0
        s = self._s
        s.calls += 1
        if s.calls % CHANGE_EVERY == 0 and self._changed(gray, budget):
            self._drop_combined()
            s = self._s
        # the combining of a grid fitted earlier once the pipeline's job has ended (as
        # without slices, where it follows the frame's work): a job is not slowed by it
        combine_turn = s.unobserved is not None and self.pipeline.pending_frame is None
        stacked = self._stack_input(budget) if not combine_turn else None
        if combine_turn or stacked is not None:
            if self.pipeline.beside and self.pipeline.zxing_seen_on(gray) is None:
                wait = self.pipeline.zxing_beside(gray)  # beside this call's turn
                try:
                    texts = self._turn(gray, budget, stacked)
                finally:
                    results = wait()
            else:
                results, _fresh = self.pipeline.zxing(gray)
                texts = None
            new = _unique([r.text for r in results if r.valid])
            if new:  # the newest frame read: it is what is shown
                return self._done(new, "zxing")
            return self._turn(gray, budget, stacked) if texts is None else texts
        texts = self.pipeline.decode(gray)
        self.last_work = self.pipeline.last_work
        frame, region = self.pipeline.last_frame, self.pipeline.last_region
        if texts:
            return self._done(texts, self.pipeline.last_stage)
        if region is not None and frame is not None:
            s.region, s.frame = region, frame
        elif self.pipeline.pending_frame is None and not self.pipeline.last_resumed:
            # a fresh job on this frame found no region: no code in view
            self.frames_kept.clear()
            self.stacker.forget()
            s.region = s.frame = None
            self._missed()
            return []
        self._keep(gray, True)
        # the stack once the frame's own job has ended unread (as without slices: a frame
        # that reads alone is never slowed by it)
        s.stack_turn = self.pipeline.pending_frame is None
        where = self.pipeline.last_located
        fits = where is not None and where.agreement >= self.min_agreement
        if fits and frame is not None and frame is not s.observed:
            s.unobserved, s.observed = (frame, where), frame  # combined in the next call
        return []

    def _turn(self, gray: np.ndarray, budget: Budget, stacked: np.ndarray | None) -> list[str]:
        """A call's turn on what was kept (zxing did not read ``gray``): the combining of a
        grid fitted earlier (``stacked`` None), the stack's mean made, or a slice of the
        stack's job on it."""
        s = self._s
        self._keep(gray, True)
        if stacked is None:
            assert s.unobserved is not None
            frame, where = s.unobserved
            s.unobserved = None
            texts = self._gather(frame, where, budget)
            return self._done(texts, "combined", gray, budget) if texts else []
        s.stack_turn = False
        if stacked is _MEAN_MADE:
            s.stack_turn = True
            return []
        texts = self.stacker.decode(stacked)
        self.last_work = self.stacker.last_work
        if texts:
            texts = self._done(texts, "stacked", gray, budget)
            self.stacked_reads += bool(texts)
        return texts

    @property
    def last_beside_cpu(self) -> float:
        """CPU seconds the last call spent on the pipelines' side threads (``beside``)."""
        return self.pipeline.last_beside_cpu + self.stacker.last_beside_cpu

    def _stack_input(self, budget: Budget) -> np.ndarray | None:
        """What the stacker's slice works on this call, or None for a frame turn: its
        pending job's mean (a job once started goes on every call until it ends), else on
        the stack's turn a fresh mean of the region over the frames kept, registered on
        the region's own frame (None when no kept frame correlates with it)."""
        s = self._s
        if not self.stack or s.region is None or s.frame is None:
            return None
        if self.stacker.pending_frame is not None:
            return self.stacker.pending_frame
        if s.mean is not None:
            mean, s.mean = s.mean, None
            return mean
        if not s.stack_turn or not any(f is not s.frame for f in self.frames_kept):
            return None
        try:  # this call's step: the stacker reads the mean from the next call on
            s.mean = self._mean_crop(s.frame, s.region, budget, side=STACK_SIDE)
        except OutOfBudget:
            s.mean = None
        s.stack_turn = s.mean is not None
        return None if s.mean is None else _MEAN_MADE

    def _done(
        self, texts: list[str], stage: str, gray: np.ndarray | None = None,
        budget: Budget | None = None,
    ) -> list[str]:
        """A call read ``texts``: every job on the symbol and what was kept for it ends.
        ``gray``: the texts were read on an older frame, returned only if the newest
        (``gray``) still shows the same content where the symbol was."""
        if gray is not None and self._changed(gray, budget, always=True):
            self._drop_combined()
            return []
        self.last_stage = stage
        self._read()
        self.pipeline.forget()
        self.stacker.forget()
        self._s = _Sliced()
        return texts

    def _changed(self, gray: np.ndarray, budget: Budget | None, always: bool = False) -> bool:
        """Whether the region being read (while a job is pending, or ``always``) no longer
        shows the same content in the newest frame (phase correlation of the two crops, as
        the stack registers them): another code, or none, is in view. The caller then drops
        every pending job and everything kept."""
        import cv2

        s = self._s
        pending = self.pipeline.pending_frame is not None or self.stacker.pending_frame is not None
        pending = always or pending or s.mean is not None or s.unobserved is not None
        if not pending or s.region is None or s.frame is None or s.frame.shape != gray.shape:
            return False
        if s.frame is gray:
            return False
        box = _corners_box(s.region.corners, gray.shape, grow=0.3)
        if box is None:
            return False
        x0, y0, x1, y1 = box
        # (paid even past the budget: it guards what is returned)
        if budget is not None:
            budget.work += units(CHANGE_SIDE * CHANGE_SIDE, CORRELATE_PX)
        # on the crops brought to at most CHANGE_SIDE px (a full-size 720p crop's
        # correlation alone costs more than a slice)
        scale = min(1.0, CHANGE_SIDE / max(x1 - x0, y1 - y0))
        size = (max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale)))
        old, new = (
            cv2.resize(f[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA).astype(np.float32)
            for f in (s.frame, gray)
        )
        window = cv2.createHanningWindow(size, cv2.CV_32F)
        _shift, response = cv2.phaseCorrelate(old, new, window)
        if response < STACK_RESPONSE:
            self.changes += 1
            return True
        return False

    # ------------------------------------------------------------------ image level

    def _decode_stacked(self, gray: np.ndarray, budget: Budget) -> list[str] | None:
        """zxing on the frame; then, instead of the frame alone, the pipeline on the mean
        of its region over the frames kept, each shifted onto this one by phase correlation
        (translation only), and the grid it fits gathered. None when no kept frame
        correlates with this one (the caller decodes the frame alone)."""
        results = zxing_read(gray, errors=True, invert=False)
        texts = _unique([r.text for r in results if r.valid])
        if texts:
            self._keep(gray, True)
            self.last_stage = "zxing"
            self._read()
            return texts
        region = next(iter(self.pipeline.regions(gray, results)), None)
        if region is None:
            self._keep(gray, False)
            self._missed()
            return []
        texts = self._read_stack(gray, region, budget)
        if texts is not None:
            self._keep(gray, True)
        return texts

    def _read_stack(
        self, gray: np.ndarray, region: Region, budget: Budget, gather: bool = True
    ) -> list[str] | None:
        """The pipeline on the registered mean of the region (and, ``gather``, the grid it
        fits gathered); None when no kept frame correlates with this one."""
        try:
            stacked = self._mean_crop(gray, region, budget)
        except OutOfBudget:
            return []
        if stacked is None:
            return None
        texts = self.pipeline.decode(stacked)
        if texts:
            self.last_stage = "stacked"
            self.stacked_reads += 1
            self._read()
            return texts
        return self._gather_located(stacked, self.pipeline.last_located, budget) if gather else []

    def _mean_crop(
        self, gray: np.ndarray, region: Region, budget: Budget, side: int | None = None
    ) -> np.ndarray | None:
        """The region of this frame averaged with the same region of the frames kept, each
        shifted onto it; None unless at least one kept frame correlates. ``side``: the
        shifts are measured on the crops brought to at most that many px (the sliced
        schedule's: a full-size correlation of a 720p crop costs more than a slice), each
        correlation and warp paid in units by the pixels it touches."""
        import cv2

        box = _corners_box(region.corners, gray.shape, grow=0.3)
        if box is None:
            return None
        x0, y0, x1, y1 = box
        newest = gray[y0:y1, x0:x1].astype(np.float32)
        scale = 1.0 if side is None else min(1.0, side / max(x1 - x0, y1 - y0))
        size = (max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale)))
        small = newest if scale == 1.0 else cv2.resize(newest, size, interpolation=cv2.INTER_AREA)
        window = cv2.createHanningWindow(size, cv2.CV_32F)
        total, count = newest.copy(), 1
        for old in self.frames_kept:
            if old.shape != gray.shape or old is gray:
                continue
            if side is None:
                spend(budget, 2)
            else:
                spend(budget, units(size[0] * size[1], CORRELATE_PX) + units(newest.size, WARP_PX))
            patch = old[y0:y1, x0:x1].astype(np.float32)
            moved = patch if scale == 1.0 else cv2.resize(patch, size, interpolation=cv2.INTER_AREA)
            (dx, dy), response = cv2.phaseCorrelate(moved, small, window)
            if response < STACK_RESPONSE:
                continue  # not the same content (moved too far, or something else)
            shift = np.float32([[1, 0, dx / scale], [0, 1, dy / scale]])
            total += cv2.warpAffine(
                patch, shift, (x1 - x0, y1 - y0), borderMode=cv2.BORDER_REPLICATE
            )
            count += 1
        if count < 2:
            return None
        return np.clip(total / count + 0.5, 0, 255).astype(np.uint8)

    # ------------------------------------------------------------------ tracking

    def _decode_tracked(self, gray: np.ndarray, budget: Budget) -> list[str] | None:
        """zxing, then the last grid followed onto this frame: read alone, then combined.
        None when the grid is lost (the caller runs the pipeline)."""
        results = zxing_read(gray, errors=True, invert=False)
        texts = _unique([r.text for r in results if r.valid])
        if texts:
            self.last_stage = "zxing"
            self._read()
            return texts
        try:
            where = self._follow(gray, budget)
            if where is not None:
                texts = _unique(read_located(gray, where, budget=budget))
        except OutOfBudget:
            return []
        except _geometry_errors():
            where = None
        if where is None:
            self.lost += 1
            return None
        if texts:
            self.last_stage = "tracked"
            self._read()
            return texts
        return self._gather(gray, where, budget)

    def _follow(self, gray: np.ndarray, budget: Budget) -> Located | None:
        """The last frame's grid found on this one: shift by phase correlation of the
        symbol's box, then polished on the modules; None if it no longer fits."""
        import cv2

        last = self.seen[-1].located
        box = self._last_box
        if box is None or self._last_patch is None:
            return None
        x0, y0, x1, y1 = box
        patch = gray[y0:y1, x0:x1].astype(np.float32)
        spend(budget, 2)
        window = cv2.createHanningWindow((x1 - x0, y1 - y0), cv2.CV_32F)
        (dx, dy), _response = cv2.phaseCorrelate(self._last_patch, patch, window)
        shift = np.array([[1, 0, -dx], [0, 1, -dy], [0, 0, 1]], np.float64)
        moved = replace(last, frame_to_module=last.frame_to_module @ shift)
        box = _symbol_box(moved, gray.shape, margin=0.05)
        to_frame = invert_homography(moved.frame_to_module)
        if box is None or to_frame is None:
            return None
        x0, y0, x1, y1 = box
        offset = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
        view = gray[y0:y1, x0:x1].astype(np.float32)
        if last.inverted:
            view = 255 - view
        polished = polish_grid(
            view, offset @ to_frame, last.version, start=0.25, max_rounds=TRACK_ROUNDS,
            budget=budget,
        )
        to_module = invert_homography(polished)
        if to_module is None:
            return None
        frame_to_module = to_module @ offset
        n = symbol_size(last.version)
        spend(budget)
        values = sample_modules(gray, frame_to_module, n, px=2)
        if last.inverted:
            values = 255 - values
        agreement = fixed_agreement(values, fixed_modules(last.version))
        if agreement < self.min_agreement:
            return None
        return Located(last.version, frame_to_module, last.inverted, agreement)


def scan_decoder(resumable: bool = True) -> MultiFrameDecoder:
    """The scan loop's decoder: frames combined (modules K=6 by their mean, an image stack
    of 4) over the resumable pipeline. Each call: zxing's pass on the new frame (on a side
    thread, another core, while a job is pending) and one slice of the symbol's work
    (``FRAME_WORK`` units or ``CALL_S`` of time, whichever first); a job gives its frame up
    after ``STAGE_WORK`` units, where the time budget would (kept as a backstop). Measured
    at Pi 4 speed (bench/RESULTS.md, "Scan loop decoder", "After"): per call p95 ~49 ms
    over the approach and hard clips, ~63 ms on the hard rows, against ~0.5 s; first
    verdicts ~0.05 s later on the approach clips, earlier where frames are combined.
    ``resumable=False``: over the pipeline with its 80 ms budget instead (a frame's work in
    one call)."""
    if not resumable:
        return MultiFrameDecoder(PipelineDecoder())
    return MultiFrameDecoder(
        PipelineDecoder(
            frame_work=FRAME_WORK, stage_work=STAGE_WORK, call_s=CALL_S, beside=True
        )
    )


def _symbol_box(
    where: Located, shape: tuple[int, ...], margin: float
) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the symbol's outline grown by ``margin`` of its size, within the
    frame; None if the outline is degenerate, leaves the frame or is too small to track."""
    to_frame = invert_homography(where.frame_to_module)
    if to_frame is None:
        return None
    n = symbol_size(where.version)
    square = np.array([[0, 0, 1], [n, 0, 1], [n, n, 1], [0, n, 1]], np.float64)
    corners = square @ to_frame.T
    if np.any(np.abs(corners[:, 2]) < 1e-9):
        return None
    corners = corners[:, :2] / corners[:, 2:3]
    if not np.isfinite(corners).all():
        return None
    x0, y0, x1, y1 = _grown_box(corners, shape, margin)
    if x1 - x0 < 2 * n or y1 - y0 < 2 * n:  # under 2 px a module, or mostly off the frame
        return None
    return x0, y0, x1, y1


def _corners_box(
    corners: np.ndarray, shape: tuple[int, ...], grow: float
) -> tuple[int, int, int, int] | None:
    """The bounding box of a region's corners grown by ``grow`` of its size, in the frame."""
    corners = np.asarray(corners, np.float64).reshape(-1, 2)
    if not np.isfinite(corners).all():
        return None
    x0, y0, x1, y1 = _grown_box(corners, shape, grow)
    return (x0, y0, x1, y1) if min(x1 - x0, y1 - y0) >= 64 else None


def _grown_box(
    corners: np.ndarray, shape: tuple[int, ...], grow: float
) -> tuple[int, int, int, int]:
    """The bounding box (x0, y0, x1, y1) of finite ``corners`` grown by ``grow`` of its
    larger side, clipped to the frame."""
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    pad = grow * float((hi - lo).max())
    h, w = shape[:2]
    x0, y0 = max(0, int(lo[0] - pad)), max(0, int(lo[1] - pad))
    x1, y1 = min(w, int(np.ceil(hi[0] + pad))), min(h, int(np.ceil(hi[1] + pad)))
    return x0, y0, x1, y1
