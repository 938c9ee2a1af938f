"""FISSION: run graphs of long-running streaming jobs across many small devices.

Importing ``fission`` starts nothing. The user API lives in :mod:`fission.core`
(``fission.core.jobs``, ``fission.core.pipes``, ``fission.core.nodes``).
"""

__version__ = "0.1.0"
