"""Readers for real data (pure Python + numpy, no Qt).

Guest memory images: ``open_image(path)`` -> GuestImage (``.ram_pages``, ``.page_numbers()``,
``.iter_chunks(n)``, ``.pages(gppns)``, ``.page(gppn)``); ``analyze.analyze(paths)`` and
``scan(images)`` for sharing / LZ4 numbers (the function ``analyze`` is not re-exported
here so that it does not hide the module ``vmmemviz.importers.analyze``). Traces: ``iter_trace(path)`` / ``read_trace(path)`` ->
(vpn, is_write). Live process: ``snapshot(pid)``. esxtop: ``read_esxtop(path)``,
(``esxtop_out.write_esxtop`` writes one). Every reader raises ``vmmemviz.errors.InputError`` (one line)
on a bad file.
"""
from .analyze import ImageScan, scan, summarize
from .esxtop import EsxtopCapture, read_esxtop
from .images import GuestImage, detect_kind, open_image
from .procsnap import Mapping, Snapshot, snapshot
from .traces import TraceChunk, detect_format, iter_trace, read_trace

__all__ = ["open_image", "detect_kind", "GuestImage", "scan", "summarize",
           "ImageScan", "iter_trace", "read_trace", "detect_format", "TraceChunk", "snapshot",
           "Snapshot", "Mapping", "read_esxtop", "EsxtopCapture"]
