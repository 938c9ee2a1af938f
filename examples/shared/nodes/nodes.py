"""Nodes shared by every network of this project (import them as shared.nodes.nodes)."""

from fission.core.nodes import BaseNode  # noqa: F401
