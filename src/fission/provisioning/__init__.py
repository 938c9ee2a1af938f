"""Provisioning servers: what the client prepares for the ansible playbooks of a project
(``ansible/`` and the ``Makefile`` that ``startproject`` writes)."""
