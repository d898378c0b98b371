"""Open a guest memory image of any supported kind: ``open_image(path)``.

Detection: ELF magic -> QEMU/libvirt ELF core; a ``.vmem`` with ``.vmss``/``.vmsn`` beside it
(or the ``.vmss``/``.vmsn`` itself) -> VMware region map; anything else -> raw image
(offset = guest physical address).
"""
from __future__ import annotations

import os

from vmmemviz.errors import InputError
from vmmemviz.inputfile import open_input

from ._base import PAGE, GuestImage, Label, Region
from .elfcore import ElfCoreImage
from .rawimage import RawImage
from .vmss import VmssImage, is_vmss_magic, metadata_for

__all__ = ["open_image", "detect_kind", "GuestImage", "Region", "Label", "PAGE"]


def detect_kind(path: str) -> str:
    """'elf', 'vmss' or 'raw' (InputError if the file cannot be read)."""
    with open_input(path) as f:
        head = f.read(16)
    if head[:4] == b"\x7fELF":
        return "elf"
    if is_vmss_magic(head):
        return "vmss-meta"
    if path.lower().endswith(".vmem") and metadata_for(path):
        return "vmss"
    return "raw"


def open_image(path: str | os.PathLike) -> GuestImage:
    """Open a guest memory image; raises InputError (one line) if it is malformed."""
    path = os.fspath(path)
    kind = detect_kind(path)
    if kind == "elf":
        return ElfCoreImage(path)
    if kind == "vmss":
        return VmssImage(path)
    if kind == "vmss-meta":
        vmem = os.path.splitext(path)[0] + ".vmem"
        if not os.path.exists(vmem):
            raise InputError(f"{path}: VMware state file: expected the guest memory in {vmem}, "
                             f"which does not exist")
        return VmssImage(vmem, path)
    return RawImage(path)
