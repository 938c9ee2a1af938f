"""Emulated hosts: network namespaces on this machine standing in for servers (needs root)."""
