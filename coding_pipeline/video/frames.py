"""A session's pictures on its constant-rate frame grid, decoded once (PyAV).

The picture is decoded file after file for a recording in several parts (see sources.py);
each decoded frame goes through one filter graph (deinterlace, rotate, then the consumer's
size and pixel format) and is placed on the session's grid at the source's full rate (see
plan.py): a slot without a frame of its own repeats the frame before (a slower stretch, a gap
between parts), and a frame that finds its slot taken (timestamp jitter) takes the next one if
that is at most one frame late, else it is dropped and counted. Cutting clips (cut.py) and
measuring motion (motion/) both read frames this way, so they see the same frames in the same
slots.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from coding_pipeline.video.probe import Part, SourceInfo

SEEK_AHEAD_S = 5  # a window starting further than this into a part seeks instead of decoding
LUMA = "luma"  # Picture.pix_fmt: only the luma (grey) plane is wanted, read with luma_plane
LUMA_FIRST = frozenset({  # 8-bit formats whose first plane is the luma plane
    "gray", "yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p",
    "yuvj440p", "yuv411p", "yuv410p", "yuva420p", "nv12", "nv21", "nv16"})


class SourceError(Exception):
    """Reading or converting the source video failed (not writing what is made from it)."""


@dataclass(frozen=True)
class Picture:
    """How placed frames look: `size` (width, height; None keeps the decoded size, rotated,
    with its pixel aspect) and `pix_fmt`. Sized pictures get square pixels (bicubic scaling).

    With pix_fmt LUMA, frames keep their decoded pixel format when it starts with an 8-bit luma
    plane (else they are converted to yuv420p), and frames that need no deinterlacing or
    rotation skip the filter graph: read their grey picture with `luma_plane`. The luma is as
    stored (video range, 16-235, for most cameras), the same with or without the graph.
    """

    size: tuple[int, int] | None
    pix_fmt: str


def luma_plane(frame: av.VideoFrame) -> np.ndarray:
    """The grey (luma) picture of a frame read with Picture pix_fmt LUMA: height x width uint8,
    a view of the frame's memory (rows may be padded: not C-contiguous)."""
    if frame.format.name not in LUMA_FIRST:
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)
    return rows[:, :frame.width]


PlacedFrame = tuple[int, av.VideoFrame, bool]
"""(slot, frame, repeat): `repeat` when the slot has no frame of its own and shows the one
before it."""


class GridReader:
    """Frames of grid slots [first_slot, end_slot) of `info`'s recording, from `frames()`.

    After iterating, `dropped` counts source frames left out inside the window and `reached`
    is the slot after the last one placed (less than `end_slot` when the video decodes less
    far than probed). `deinterlace_starts` are the slots of the first frame out of each new
    deinterlacer (one per file of an interlaced recording): having no frame before it, that
    frame's missing field is interpolated from its own lines only, unlike the frames after it.
    `threads`: decoding threads (0: the codec's choice, decoded ahead in a helper thread; 1:
    decoded in the calling thread).
    """

    def __init__(self, info: SourceInfo, first_slot: int, end_slot: int, picture: Picture,
                 threads: int = 0) -> None:
        self.info, self.picture, self.threads = info, picture, threads
        self.first_slot, self.end_slot = first_slot, end_slot
        self.dropped = 0
        self.reached = 0
        self.deinterlace_starts: list[int] = []
        self._last: av.VideoFrame | None = None
        self._past_end = False
        self._fresh_graph = False

    def frames(self) -> Iterator[PlacedFrame]:
        """Every slot of the window in order, once each (close it to stop early)."""
        first = float(self.first_slot / self.info.fps)
        parts = self.info.parts
        for number, part in enumerate(parts):
            if part.end_s < first - 2 and number < len(parts) - 1:
                continue  # wholly before the window
            yield from self._read_part(part, first)
            if self._past_end:
                return

    def _read_part(self, part: Part, first: float) -> Iterator[PlacedFrame]:
        try:
            container = av.open(str(part.path))
        except av.error.FFmpegError as exc:
            raise SourceError(f"{part.path.name}: {type(exc).__name__}: {exc}") from exc
        with container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            if self.threads:
                stream.thread_count = self.threads
            if first - part.start_s > SEEK_AHEAD_S:  # skip decoding long stretches before it
                target = Fraction(first - 2).limit_denominator(1000) - part.offset
                container.seek(int(target / stream.time_base), stream=stream, backward=True)
            if self.threads == 1:  # one core: decode in this thread, between the consumer's work
                yield from self._place_all(_decode(container, stream), stream.time_base,
                                           part.offset)
                return
            decoded = _DecodeAhead(container, stream)
            try:
                yield from self._place_all(decoded, stream.time_base, part.offset)
            finally:
                decoded.stop()

    def _place_all(self, frames: Iterable[av.VideoFrame], time_base: Fraction,
                   offset: Fraction) -> Iterator[PlacedFrame]:
        """Filter decoded frames and place them on the grid, until past the window."""
        graph, shape = None, None
        for frame in frames:
            if shape != (frame.width, frame.height, frame.format.name):
                if graph is not None:  # the picture changed size mid-stream: a new graph
                    graph.push(None)
                    yield from self._drain(graph, time_base, offset)
                shape = (frame.width, frame.height, frame.format.name)
                try:
                    graph = None if self._as_decoded(frame) else self._graph(frame, time_base)
                    self._fresh_graph = graph is not None and self.info.interlaced
                except (av.error.FFmpegError, ValueError) as exc:
                    raise SourceError(
                        f"its picture ({shape[2]}, {shape[0]}x{shape[1]}) cannot be converted: "
                        f"{exc}") from exc
            if graph is None:
                yield from self._place(frame, time_base, offset)
            else:
                graph.push(frame)
                yield from self._drain(graph, time_base, offset)
            if self._past_end:
                return
        if graph is not None:
            graph.push(None)
            yield from self._drain(graph, time_base, offset)

    def _as_decoded(self, frame: av.VideoFrame) -> bool:
        """Whether frames like this one need no filtering (only the luma is wanted, as is)."""
        info = self.info
        return (self.picture.pix_fmt == LUMA and self.picture.size is None
                and not info.interlaced and info.rotation == 0
                and frame.format.name in LUMA_FIRST)

    def _graph(self, frame: av.VideoFrame, time_base: Fraction) -> av.filter.Graph:
        graph = av.filter.Graph()
        aspect = self.info.sample_aspect
        source = graph.add(
            "buffer",
            f"video_size={frame.width}x{frame.height}:pix_fmt={frame.format.name}:"
            f"time_base={time_base.numerator}/{time_base.denominator}:"
            f"pixel_aspect={aspect.numerator}/{aspect.denominator}",
        )
        chain = [source]
        if self.info.interlaced:
            chain.append(graph.add("bwdif", "mode=send_frame:parity=auto:deint=all"))
        rotation = {90: ["transpose=cclock"], 180: ["hflip", "vflip"], 270: ["transpose=clock"]}
        for step in rotation.get(self.info.rotation, []):
            name, _, args = step.partition("=")
            chain.append(graph.add(name, args or None))
        if self.picture.size is not None:
            width, height = self.picture.size
            chain.append(graph.add("scale", f"{width}:{height}:flags=bicubic"))
            chain.append(graph.add("setsar", "1"))
        if self.picture.pix_fmt != LUMA:
            chain.append(graph.add("format", self.picture.pix_fmt))
        elif frame.format.name not in LUMA_FIRST:
            chain.append(graph.add("format", "yuv420p"))
        chain.append(graph.add("buffersink"))
        graph.link_nodes(*chain).configure()
        return graph

    def _drain(self, graph: av.filter.Graph, time_base: Fraction,
               offset: Fraction) -> Iterator[PlacedFrame]:
        """Place the filtered frames on the grid, until past the window."""
        while not self._past_end:
            try:
                frame = graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            yield from self._place(frame, time_base, offset)

    def _place(self, frame: av.VideoFrame, time_base: Fraction,
               offset: Fraction) -> Iterator[PlacedFrame]:
        """Place one frame in its slot, after repeating the frame before in any slots between
        (nothing once past the window; a frame too late for a free slot is dropped)."""
        if frame.pts is None:
            slot = self.reached
        else:
            base = frame.time_base or time_base  # bwdif halves the time base
            at = (frame.pts * base + offset) * self.info.fps  # in slots
            slot = round(at)
            if slot < self.reached:  # its slot is taken: the next one, if in time
                if self.reached - at > 1:
                    if self.first_slot <= slot < self.end_slot:
                        self.dropped += 1
                    return
                slot = self.reached
        if self._last is not None:
            for gap in range(self.reached, slot):  # a slot without a frame: repeat
                if not self._advance(gap):
                    return
                if gap >= self.first_slot:
                    yield gap, self._last, True
        if not self._advance(slot):
            return
        if self._fresh_graph:
            self._fresh_graph = False
            self.deinterlace_starts.append(slot)
        if slot >= self.first_slot:
            yield slot, frame, False
        self._last = frame

    def _advance(self, slot: int) -> bool:
        """Move past `slot`; False (and stop) when it is beyond the window."""
        if slot >= self.end_slot:
            self.reached = self.end_slot
            self._past_end = True
            return False
        self.reached = slot + 1
        return True


class _DecodeAhead:
    """Decoded frames from a helper thread, so decoding overlaps the consumer's work
    (PyAV releases the GIL inside FFmpeg). At most `depth` frames wait in memory."""

    _END = object()

    def __init__(self, container, stream, depth: int = 8) -> None:
        self.frames: queue.Queue = queue.Queue(maxsize=depth)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._work, args=(container, stream), daemon=True)
        self.thread.start()

    def _work(self, container, stream) -> None:
        try:
            for frame in _decode(container, stream):
                if not self._put(frame):
                    return
            self._put(self._END)
        except Exception as exc:  # handed to the consumer, raised there
            error = SourceError(f"{type(exc).__name__}: {exc}")
            error.__cause__ = exc
            self._put(error)

    def _put(self, item) -> bool:
        while not self.stopping.is_set():
            try:
                self.frames.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[av.VideoFrame]:
        while (item := self.frames.get()) is not self._END:
            if isinstance(item, Exception):
                raise item
            yield item

    def stop(self) -> None:
        """Stop decoding and wait for the thread (before the container closes)."""
        self.stopping.set()
        self.thread.join()


def _decode(container, stream) -> Iterator[av.VideoFrame]:
    """Decoded frames; damaged packets (a file cut short, bad sectors) are skipped."""
    for packet in container.demux(stream):
        if packet.is_corrupt:
            continue
        try:
            yield from packet.decode()
        except av.error.FFmpegError:
            continue
