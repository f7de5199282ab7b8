"""Stand-ins for the outside world that run for real: HTTP servers and processes, no mocks."""
