"""The whole model state: the host's frames and every VM's pages, as numpy arrays.

Only arrays and a few integers: a digest of them names a state, a keyframe is a copy of
them (LZ4-compressed, in blocks of ``BLOCK`` bytes), and restoring one is copying them back.
The random generator and the workload cursors are not state: they belong to the live
simulator, which only ever moves forward (replay re-applies logged events, it does not
re-decide them).

Blocks are numbered across the whole state (:func:`layout`: each array starts on a block).
A tracked state (:meth:`State.track`, the timeline's live state) holds its arrays in one
shared-memory buffer (a memfd) and knows, per block, which blob it last equalled
(``src``, an index into a :class:`Blobs` store) and whether it was written since
(``dirty``, marked by the arrays' own write paths before they write, see :class:`Tracked`).
A keyframe then compresses only the blocks written since the last one (most as small XOR
deltas, see :class:`Blobs`) and names the rest by their blob (a 64 GiB host touches a few per cent of its blocks between two keyframes), and a
restore writes back only the blocks that are dirty or came from another blob: seeking costs
what changed, not the whole state.

The view (:meth:`State.fork`) maps the live state's buffer copy-on-write: it costs no memory
and no copy until either side writes a block. Before the live state writes a block the view
still shares, it makes the view's pages of it private (the kernel copies them), so the view
keeps what it had. The view's own writes are not tracked (the timeline knows which blocks
its replays can have written). Without ``os.memfd_create`` the view is a private copy.
"""
from __future__ import annotations

import copy
import ctypes
import ctypes.util
import functools
import hashlib
import mmap
import os
from concurrent.futures import ThreadPoolExecutor

import lz4.block
import numpy as np
from numpy.lib.array_utils import byte_bounds

from vmmemviz.model.core.host import Host


BLOCK = 1 << 16     # bytes of the state per keyframe blob
PAGE = mmap.PAGESIZE
FILL = -2           # the base of a fill blob: a block of one repeated 8-byte word
DELTA = np.dtype([("xor", "<u8"), ("word", "<u2")])     # a delta blob's records, 10 bytes


def _lz4_safe():
    """``LZ4_decompress_safe(src, dst, src_size, dst_capacity)`` from the liblz4 python-lz4
    links in (it decompresses straight into the state's bytes), or None."""
    try:
        from lz4.block import _block
        fn = ctypes.CDLL(_block.__file__).LZ4_decompress_safe
    except (ImportError, OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)     # bytes in
    fn.restype = ctypes.c_int
    return fn


_LZ4_SAFE = _lz4_safe()
THREADS = 2         # threads writing a restore's blocks
PARALLEL = 256      # blocks: fewer are written by the calling thread alone


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(THREADS, thread_name_prefix="vmmemviz-restore")


def _raw(arr: np.ndarray) -> np.ndarray:
    """The bytes of ``arr`` as a flat, writable, untracked uint8 view."""
    assert arr.flags.c_contiguous, "state arrays are contiguous"
    return arr.view(np.ndarray).reshape(-1).view(np.uint8)


def _blocks(nbytes: int) -> int:
    return -(-nbytes // BLOCK)


def layout(state: "State"):
    """(name, array, first block) of every array of ``state``: each starts on a block."""
    out, b = [], 0
    for name, arr in state.arrays():
        out.append((name, arr, b))
        b += _blocks(arr.nbytes)
    return out, b


class Blobs:
    """Compressed blocks, numbered in the order they were made; keyframes and tracked states
    name their blocks by these numbers (equal numbers: equal bytes).

    A blob is either a whole block (LZ4) or, when that is much smaller, a delta: the 8-byte
    words where the block differs from its family's whole blob (``base``, -1 for a whole
    one), as records of their XOR and their index (``DELTA``). A block rewritten with a few
    changed words costs 10 bytes a word, not ~16 KB, and moving a block between two blobs of
    one family XORs only those words in (:meth:`patch`, one numpy pass for many blocks): a
    restore writes the words that differ, not the block. Deltas are taken against the whole
    blob, never against another delta, so reading any blob decompresses one and dropping a
    keyframe frees its deltas (only the whole blobs they name stay). Whole blobs are raw LZ4
    blocks (no size header: they decompress to ``BLOCK`` bytes, the last of an untracked
    array's to fewer), or fills: a block of one repeated word (an array's unused part), which
    LZ4 decodes at 2 GB/s and a fill writes at memory speed."""

    def __init__(self):
        self.data, self.size, self.base = [], np.zeros(0, np.int64), np.zeros(0, np.int64)

    def _push(self, data: list, base: list) -> np.ndarray:
        start = len(self.data)
        self.data += data
        self.size = np.concatenate([self.size, np.asarray([len(d) for d in data], np.int64)])
        self.base = np.concatenate([self.base, np.asarray(base, np.int64)])
        return np.arange(start, len(self.data), dtype=np.int64)

    @staticmethod
    def _records(xor: np.ndarray, at: np.ndarray) -> bytes:
        rec = np.empty(len(at), DELTA)
        rec["xor"], rec["word"] = xor, at
        return rec.tobytes()

    def _whole(self, block: np.ndarray, data: list, base: list) -> None:
        """Append to (``data``, ``base``), blobs to be numbered on from the last one, a whole
        blob of ``block``: a fill of its first word, and a delta against it of the words
        that differ when they take at most ``BLOCK // 32`` bytes (an array's unused or
        uniform part: LZ4 decodes one at 2 GB/s, a fill and a patch run at memory speed);
        else its LZ4 block."""
        if len(block) == BLOCK:
            w = block.view(np.uint64)
            odd = w != w[0]
            n = np.count_nonzero(odd)
            if n * DELTA.itemsize <= BLOCK // 32:
                data.append(w[:1].tobytes())
                base.append(FILL)
                if n:
                    at = np.flatnonzero(odd)
                    data.append(self._records(w[at] ^ w[0], at))
                    base.append(len(self.data) + len(data) - 2)
                return
        data.append(lz4.block.compress(block.data, store_size=False))
        base.append(-1)

    def add(self, raw: np.ndarray, blocks: np.ndarray) -> np.ndarray:
        """Compress the ``blocks`` of ``raw`` (the state's bytes) whole; their new numbers."""
        data, base, out = [], [], []
        for b in blocks.tolist():
            self._whole(raw[b * BLOCK:(b + 1) * BLOCK], data, base)
            out.append(len(self.data) + len(data) - 1)
        self._push(data, base)
        return np.asarray(out, np.int64)

    def add_versions(self, raw: np.ndarray, blocks: np.ndarray, prev: np.ndarray) -> np.ndarray:
        """Numbers for the ``blocks`` of ``raw`` whose last blobs were ``prev``: the family's
        whole blob or ``prev`` itself when the bytes equal it, else a new delta against the
        family's whole blob, or a new whole blob when the delta would be over half its size
        (over ``BLOCK // 32`` bytes for a fill)."""
        out, data, base = prev.copy(), [], []
        whole, xor, last = np.empty(BLOCK, np.uint8), np.empty(BLOCK, np.uint8), -1
        words, changed = xor.view(np.uint64), np.empty(BLOCK >> 3, bool)
        for i, (b, p) in enumerate(zip(blocks.tolist(), prev.tolist())):
            cur = raw[b * BLOCK:(b + 1) * BLOCK]
            fam = p if self.base[p] < 0 else int(self.base[p])
            if fam != last:         # the first keyframe's blocks all come from the zero blob
                self.read(fam, whole)
                last = fam
            np.bitwise_xor(whole, cur, out=xor)
            n = np.count_nonzero(np.not_equal(words, 0, out=changed))     # listing costs more
            if not n:
                out[i] = fam
                continue
            if n * DELTA.itemsize <= (self.size[fam] // 2 if self.base[fam] != FILL else BLOCK // 32):
                at = np.flatnonzero(changed)            # of a bool mask: twice as fast as of words
                d = self._records(words[at], at)
                if p != fam and d == self.data[p]:
                    continue                              # the same delta as before
                data.append(d)
                base.append(fam)
            else:
                self._whole(cur, data, base)
            out[i] = len(self.data) + len(data) - 1
        self._push(data, base)
        return out

    def family(self, blobs: np.ndarray) -> np.ndarray:
        """The whole blob of each of ``blobs`` (itself, or the one a delta is taken against)."""
        base = self.base[blobs]
        return np.where(base < 0, blobs, base)

    def read(self, i: int, out: np.ndarray) -> None:
        """Write blob ``i``'s bytes into ``out`` (a block, or the last, shorter part of one)."""
        b = int(self.base[i])
        if b == FILL:
            out[:] = np.frombuffer(self.data[i] * (BLOCK >> 3), np.uint8)[:len(out)]
            return
        if b < 0:
            out[:] = np.frombuffer(lz4.block.decompress(self.data[i], uncompressed_size=BLOCK), np.uint8)[:len(out)]
            return
        block = out if len(out) == BLOCK else np.empty(BLOCK, np.uint8)
        self.read(b, block)
        rec = np.frombuffer(self.data[i], DELTA)
        words = block.view(np.uint64)
        words[rec["word"]] ^= rec["xor"]
        if block is not out:
            out[:] = block[:len(out)]

    def unpack(self, raw: np.ndarray, blocks: np.ndarray, blobs: np.ndarray) -> None:
        """Write the whole ``blobs`` into the ``blocks`` of ``raw`` (a state's bytes, whole
        blocks), decompressing straight into them (no bytes object and copy a block)."""
        fill = self.base[blobs] == FILL
        if fill.any():
            vals = np.frombuffer(b"".join([self.data[i] for i in blobs[fill].tolist()]), np.uint64)
            raw.view(np.uint64).reshape(-1, BLOCK >> 3)[blocks[fill]] = vals[:, None]
            blocks, blobs = blocks[~fill], blobs[~fill]
        if _LZ4_SAFE is None:
            for b, i in zip(blocks.tolist(), blobs.tolist()):
                self.read(i, raw[b * BLOCK:(b + 1) * BLOCK])
            return
        base, data, fn = raw.__array_interface__["data"][0], self.data, _LZ4_SAFE
        for b, i in zip(blocks.tolist(), blobs.tolist()):
            d = data[i]
            if fn(d, base + b * BLOCK, len(d), BLOCK) != BLOCK:
                raise ValueError("a keyframe blob does not decompress to a whole block")

    def patch(self, words: np.ndarray, blocks: np.ndarray, blobs: np.ndarray) -> None:
        """XOR the deltas among ``blobs`` into the ``blocks`` of ``words`` (a state's bytes as
        8-byte words), one numpy pass: a block at its family's whole blob becomes the delta's
        blob, and back. Only the words a delta names are written."""
        sel = self.base[blobs] >= 0
        if not sel.any():
            return
        data = self.data
        rec = np.frombuffer(b"".join([data[i] for i in blobs[sel].tolist()]), DELTA)
        at = rec["word"].astype(np.int64)
        at += np.repeat(blocks[sel] * (BLOCK >> 3), self.size[blobs[sel]] // DELTA.itemsize)
        words[at] ^= rec["xor"]

    def write(self, raw: np.ndarray, blocks: np.ndarray, want: np.ndarray, had: np.ndarray) -> None:
        """Make the ``blocks`` of ``raw`` (a state's bytes) equal blobs ``want``, where they
        now equal blobs ``had`` (-1: unknown). A block at another blob of the wanted blob's
        family gets only the words where the two differ; any other block is read whole."""
        fam = self.family(want)
        near = had >= 0
        near[near] = self.family(had[near]) == fam[near]
        self.unpack(raw, blocks[~near], fam[~near])
        words = raw.view(np.uint64)
        self.patch(words, blocks[near], had[near])      # back to the family's whole blob
        self.patch(words, blocks, want)                 # and on to the wanted one

    def closure(self, *used: np.ndarray) -> np.ndarray:
        """Per blob, whether one of ``used`` (arrays of blob numbers) needs it: named, or the
        whole blob a named delta is taken against."""
        need = np.zeros(len(self.data), bool)
        for u in used:
            need[u] = True
        b = self.base[need]
        need[b[b >= 0]] = True
        return need

    def keep(self, *used: np.ndarray) -> None:
        """Free every blob none of ``used`` (arrays of blob numbers) needs."""
        live = self.closure(*used)
        for i in np.flatnonzero(~live & (self.size > 0)).tolist():
            self.data[i] = None
        self.size[~live] = 0

    def nbytes(self, *used: np.ndarray) -> int:
        """Bytes of the blobs ``used`` needs, each once."""
        return int(self.size[self.closure(*used)].sum())


class _Track:
    """What the arrays of a tracked state share: ``dirty`` (one bool per ``BLOCK`` bytes of
    the state), the address and size of the state's bytes, and the views that map them
    copy-on-write (their raw bytes)."""

    __slots__ = ("dirty", "root", "size", "views")

    def __init__(self, dirty: np.ndarray, root: int, size: int):
        self.dirty, self.root, self.size, self.views = dirty, root, size, []

    def mark(self, sl) -> None:
        """Blocks ``sl`` (a slice or block numbers) are about to be written: give the views
        their own copy of them first (a write fault: the kernel copies the page), then mark."""
        if self.views:
            if isinstance(sl, slice):
                pages = np.arange(sl.start * BLOCK // PAGE, (sl.stop * BLOCK - 1) // PAGE + 1)
            else:
                pages = (np.asarray(sl)[:, None] * BLOCK // PAGE + np.arange(max(BLOCK // PAGE, 1))).ravel()
            pages *= PAGE
            for raw in self.views:
                raw[pages] = raw[pages]
        self.dirty[sl] = True


class Tracked(np.ndarray):
    """A state array that marks the blocks each write touches (``tr``, its state's
    :class:`_Track`) before it writes. Writes are ``a[key] = v`` (any key, also through a
    slice view of it), ``ufunc.at(a, ...)``, ``out=a`` and ``fill`` / ``put`` / ``sort``;
    model code writes state arrays no other way. Ufunc results are plain arrays."""

    tr = None       # None: a copy, or not tracked

    def __array_finalize__(self, obj):
        tr = getattr(obj, "tr", None)
        if tr is not None and self.base is not None:      # a view, not a fancy-indexed copy
            self.tr = tr

    def touch(self, key=Ellipsis) -> None:
        """Mark the blocks ``self[key]`` covers (before writing them)."""
        tr = self.tr
        if tr is None:
            return
        off = self.__array_interface__["data"][0] - tr.root
        if not 0 <= off < tr.size:          # not a view into the state (a copy)
            return
        if self.ndim == 1 and isinstance(key, slice):
            r = range(*key.indices(len(self)))
            if not r:
                return
            a, b = off + r[0] * self.strides[0], off + r[-1] * self.strides[0]
            sl = slice(min(a, b) // BLOCK, max(a, b) // BLOCK + 1)
        elif self.ndim == 1 and key is not Ellipsis and not isinstance(key, tuple):
            k, st = np.asarray(key), self.strides[0]
            even = st > 0 and BLOCK % st == 0 and off % st == 0
            if k.dtype == bool and even and k.ndim == 1:
                sl = self._mask_blocks(k, off // st, BLOCK // st)
            else:
                idx = np.flatnonzero(k) if k.dtype == bool else k.ravel().astype(np.int64, copy=False)
                if idx.size and k.dtype != bool and idx.min() < 0:
                    idx = idx % len(self)
                sl = ((idx + off // st) >> ((BLOCK // st).bit_length() - 1) if even  # shifts: cheaper
                      else (off + idx * st) // BLOCK)
            if sl.size == 0:
                return
        else:
            lo, hi = byte_bounds(self.view(np.ndarray))
            sl = slice((lo - tr.root) // BLOCK, (max(hi, lo + 1) - 1 - tr.root) // BLOCK + 1)
        tr.mark(sl)

    @staticmethod
    def _mask_blocks(mask: np.ndarray, first: int, per: int) -> np.ndarray:
        """The blocks where ``mask`` (over elements ``first``.., ``per`` to a block) is True:
        one pass over the mask by block, not an index per True element."""
        lead = first % per
        pad = np.zeros(-(-(lead + len(mask)) // per) * per, bool)
        pad[lead:lead + len(mask)] = mask
        return np.flatnonzero(pad.reshape(-1, per).any(axis=1)) + first // per

    def __setitem__(self, key, value):
        self.touch(key)
        super().__setitem__(key, value)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kw):
        if method == "at" and isinstance(inputs[0], Tracked):
            inputs[0].touch(inputs[1])
        if out is not None:
            for o in out:
                if isinstance(o, Tracked):
                    o.touch()
            kw["out"] = tuple(o.view(np.ndarray) if isinstance(o, Tracked) else o for o in out)
        return getattr(ufunc, method)(*[i.view(np.ndarray) if isinstance(i, Tracked) else i for i in inputs], **kw)

    def fill(self, value):
        self.touch()
        super().fill(value)

    def put(self, *a, **kw):
        self.touch()
        super().put(*a, **kw)

    def sort(self, *a, **kw):
        self.touch()
        super().sort(*a, **kw)


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None. Looked up once: ``find_library`` runs ``ldconfig -p``
    in a child process (8 ms, a fork of a process of gigabytes)."""
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


def _trim() -> None:
    """Give the memory of freed arrays back to the system (glibc keeps freed heap pages)."""
    fn = _malloc_trim()
    if fn is not None:
        fn(0)


class _Buffer:
    """The bytes of a tracked state: shared memory (memfd ``fd``) that a view can map
    copy-on-write (``like``: the live state's buffer), or private memory where there is no
    memfd."""

    def __init__(self, size: int, fd: int | None = None, like: "_Buffer | None" = None):
        self.size, self.fd, self.owns = size, fd, fd is not None
        if like is not None and like.fd is not None:
            self.fd, self.mm = like.fd, mmap.mmap(like.fd, size, mmap.MAP_PRIVATE)
        elif fd is not None:
            self.mm = mmap.mmap(fd, size, mmap.MAP_SHARED)
        else:
            self.mm = mmap.mmap(-1, size)
            if like is not None:
                self.mm[:] = like.mm
        self.raw = np.frombuffer(self.mm, np.uint8)

    def __del__(self):
        if self.fd is not None and self.owns:       # the mappings keep the memory while they last
            os.close(self.fd)

    def shares(self, other: "_Buffer") -> bool:
        return self.fd is not None and self.fd == other.fd

    def private_bytes(self) -> int:
        """Bytes of this mapping's own pages (a view's copies; Linux's smaps), None elsewhere."""
        lo = self.raw.__array_interface__["data"][0]
        try:
            lines = open("/proc/self/smaps").read().splitlines()
        except OSError:
            return None
        mine = False
        for line in lines:
            head = line.split(None, 1)[0]
            if "-" in head and not head.endswith(":"):
                mine = int(head.split("-")[0], 16) == lo
            elif mine and head == "Anonymous:":
                return int(line.split()[1]) * 1024
        return None


class State:
    def __init__(self, host: Host, vms: list, tick: int = 0):
        self.host, self.vms, self.tick = host, vms, tick
        self.host_state = 0          # states.HIGH..LOW, set by the STATE event
        self.extra = {}              # named arrays mechanisms add (e.g. per-VM caches)
        self.stores = {}             # name -> store.Store, set by build_state
        self.buf = None              # tracked: the _Buffer holding every array
        self.blobs = None            # tracked: the Blobs store its keyframes use
        self.src = None              # tracked: per block, the blob number it equals
        self.dirty = None            # tracked: per block, written since
        self.tr = None               # tracked: its _Track (the views sharing its blocks)

    def store_holding(self, page_state: int):
        """The store that holds the GPPNs in ``page_state`` (None for none)."""
        return next((s for s in self.stores.values() if s.page_state == page_state), None)

    def _places(self):
        """(name, holder, attribute) of every array of the state, in a fixed order."""
        for a in self.host.ARRAYS:
            yield f"host.{a}", self.host, a
        for vm in self.vms:
            for a in vm.ARRAYS:
                yield f"{vm.index}.{a}", vm, a
            for p in vm.procs:
                yield f"{vm.index}.{p.index}.pt", p, "pt"
                yield f"{vm.index}.{p.index}.pt_state", p, "pt_state"
        for k in sorted(self.extra):
            yield k, self.extra, k

    def _get(self, holder, a: str) -> np.ndarray:
        """The array ``a`` of ``holder`` (a host, VM or process, or the ``extra`` dict)."""
        return holder[a] if holder is self.extra else getattr(holder, a)

    def _set(self, holder, a: str, arr: np.ndarray) -> None:
        """Put ``arr`` in place of the array ``a`` of ``holder``."""
        if holder is self.extra:
            holder[a] = arr
        else:
            setattr(holder, a, arr)

    def arrays(self):
        """(name, array) for every array of the state, in a fixed order."""
        for name, holder, a in self._places():
            yield name, self._get(holder, a)

    def _rehome(self, buf: _Buffer, tracked: bool, copy: bool = False) -> None:
        """Make every array a view of ``buf`` (:class:`Tracked` when ``tracked``; copying the
        values in when ``copy``)."""
        if tracked:
            self.dirty = np.zeros(layout(self)[1], bool)
            self.tr = _Track(self.dirty, buf.raw.__array_interface__["data"][0], buf.size)
        self.buf, b = buf, 0
        for _, holder, a in self._places():
            arr = self._get(holder, a)
            t = buf.raw[b * BLOCK:b * BLOCK + arr.nbytes].view(arr.dtype).reshape(arr.shape)
            if copy:
                t[...] = arr
            if tracked:
                t = t.view(Tracked)
                t.tr = self.tr
            self._set(holder, a, t)
            b += _blocks(arr.nbytes)

    def _to_memfd(self, size: int) -> tuple:
        """Write every array into a new memfd and free it (a zero-strided stand-in keeps its
        shape), one after the other, so the state is never held twice; the memfd, and per
        block whether it was written (arrays of zeros are not: their memory stays unused)."""
        fd = os.memfd_create("vmmemviz-state", os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        written, b = np.zeros(layout(self)[1], bool), 0
        for _, holder, a in self._places():
            arr = self._get(holder, a)
            nb = _blocks(arr.nbytes)
            if arr.any():
                data = memoryview(_raw(arr))
                for at in range(0, len(data), 1 << 30):
                    os.pwrite(fd, data[at:at + (1 << 30)], b * BLOCK + at)
                written[b:b + nb] = True
                del data
            self._set(holder, a, np.broadcast_to(np.zeros((), arr.dtype), arr.shape))
            if arr.nbytes >= BLOCK << 4:
                del arr
                _trim()
            b += nb
        _trim()
        return fd, written

    def track(self, snap: "Snapshot | None" = None) -> None:
        """Move every array into shared memory and track its writes; the state equals
        keyframe ``snap`` now (None: no keyframe yet, every block not all zeros is dirty)."""
        size = layout(self)[1] * BLOCK
        if hasattr(os, "memfd_create"):
            fd, written = self._to_memfd(size)
            self._rehome(_Buffer(size, fd=fd), tracked=True)
        else:
            written = np.ones(layout(self)[1], bool)
            self._rehome(_Buffer(size), tracked=True, copy=True)
        if snap is None:
            self.blobs = Blobs()
            self.src = np.full(len(self.dirty), self.blobs.add(np.zeros(BLOCK, np.uint8), np.zeros(1, int))[0])
            self.dirty[:] = written
        else:
            self.blobs = snap.store
            self._equal(snap)

    def untrack(self) -> None:
        """Stop tracking writes (a finished run's live state, which becomes the timeline's
        view: replays through :class:`Tracked` cost a third of a seek): the arrays become plain
        views of the same bytes; ``src`` and ``dirty`` keep what the run left."""
        self.tr = None
        for _, holder, a in self._places():
            self._set(holder, a, self._get(holder, a).view(np.ndarray))

    def fork(self) -> "State":
        """A twin of this tracked state that shares its blocks copy-on-write: nothing is
        copied until a side writes (the objects are shallow copies, the arrays plain views).
        Its writes are not tracked: the timeline knows which blocks its replays can write."""
        twin = copy.copy(self)
        twin.host, twin.extra, twin.vms = copy.copy(self.host), dict(self.extra), []
        for vm in self.vms:
            twin.vms.append(copy.copy(vm))
            twin.vms[-1].procs = [copy.copy(p) for p in vm.procs]
        twin.tr = twin.src = twin.dirty = None
        twin._rehome(_Buffer(self.buf.size, like=self.buf), tracked=False)
        if twin.buf.shares(self.buf):
            self.tr.views.append(twin.buf.raw)
        return twin

    def unshare(self, view: "State") -> None:
        """``view`` no longer follows this state copy-on-write (it is dropped)."""
        self.tr.views = [r for r in self.tr.views if r is not view.buf.raw]

    def _equal(self, snap: "Snapshot") -> None:
        """The state equals ``snap`` now: every block clean, from ``snap``'s blobs."""
        self.src = snap.src
        self.dirty[:] = False

    def scalars(self) -> dict:
        out = {"tick": self.tick, "host_state": self.host_state}
        for vm in self.vms:
            for s in vm.SCALARS:
                out[f"{vm.index}.{s}"] = getattr(vm, s)
        return out

    def set_scalars(self, d: dict) -> None:
        self.tick, self.host_state = d["tick"], d["host_state"]
        for vm in self.vms:
            for s in vm.SCALARS:
                setattr(vm, s, d[f"{vm.index}.{s}"])

    def digest(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        for name, arr in self.arrays():
            h.update(name.encode())
            h.update(np.ascontiguousarray(arr).data)
        h.update(repr(sorted(self.scalars().items())).encode())
        return h.hexdigest()

    def snapshot(self) -> "Snapshot":
        return Snapshot(self)

    def restore(self, snap: "Snapshot", have: np.ndarray | None = None) -> None:
        """Become keyframe ``snap``, writing back only what differs from it. ``have``: per
        block, the blob its bytes are known to equal, -1 where unknown (a tracked state knows
        its own: ``src`` where not dirty). Many blocks are written by ``THREADS`` threads."""
        if self.buf is not None:
            assert self.blobs is snap.store, "a state restores keyframes of its own store"
            store = snap.store
            if have is None:
                have = np.where(self.dirty, -1, self.src)
            todo = np.flatnonzero(have != snap.src)
            want, had = snap.src[todo], have[todo]
            if len(todo) < PARALLEL:
                store.write(self.buf.raw, todo, want, had)
            else:       # every other block each: LZ4 and numpy's fancy indexing run without the GIL
                shares = [_pool().submit(store.write, self.buf.raw, todo[t::THREADS], want[t::THREADS],
                                         had[t::THREADS]) for t in range(THREADS)]
                for share in shares:
                    share.result()
            if self.tr is not None:
                self._equal(snap)
        else:
            for _, arr, b0 in layout(self)[0]:
                raw = _raw(arr)
                for b in range(_blocks(arr.nbytes)):
                    snap.store.read(snap.src[b0 + b], raw[b * BLOCK:(b + 1) * BLOCK])
        self.set_scalars(snap.scalars)
        self.host.recount(snap.free)

    def nbytes(self) -> int:
        return sum(a.nbytes for _, a in self.arrays())


class Snapshot:
    """A keyframe: for every block of the state, the number of its blob in ``store``; the
    scalars, and the host's free frames. Of a tracked state only the blocks written since its
    last keyframe are compressed; the others keep that keyframe's blobs. ``nbytes`` counts the
    blobs new here; ``written`` marks the blocks written since that keyframe (None untracked)."""

    def __init__(self, state: State):
        if state.buf is not None:
            self.store, self.src = state.blobs, state.src.copy()
            self.written = state.dirty.copy()
            start, todo = len(self.store.data), np.flatnonzero(self.written)
            self.src[todo] = self.store.add_versions(state.buf.raw, todo, self.src[todo])
        else:
            self.store, parts, start, self.written = Blobs(), [], 0, None
            for _, arr, _ in layout(state)[0]:
                parts.append(self.store.add(_raw(arr), np.arange(_blocks(arr.nbytes))))
            self.src = np.concatenate(parts)
        self.nbytes = int(self.store.size[start:].sum())
        self.scalars = dict(state.scalars())
        self.free = state.host.free_count()
        if state.buf is not None:
            state._equal(self)
