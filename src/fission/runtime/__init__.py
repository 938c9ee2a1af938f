"""How a job runs: framing, authentication, links with credit and replay, alignment, the job host.

The same code runs on every machine and in every mode (simulate or run).
"""
