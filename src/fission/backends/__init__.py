"""Where a job runs: local child processes, or Ray actors on servers."""
