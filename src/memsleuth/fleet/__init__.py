"""Fleet mode: read a fleet's memory history back from a Prometheus-compatible API."""
