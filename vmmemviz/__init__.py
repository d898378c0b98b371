"""vmmemviz: see how an ESXi-like hypervisor manages memory, page by page."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vmmemviz")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
