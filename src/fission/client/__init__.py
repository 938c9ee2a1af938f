"""The supervisor: loads a network, starts its job hosts, watches them, stops them cleanly."""
