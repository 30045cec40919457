"""Faithful local fakes of every destination: real HTTP servers on 127.0.0.1 that enforce the vendor's
request shapes, batch limits, auth header, rate limits and error bodies, and keep destination state.
Used by tests, benchmarks and the offline demo (`cdp sandbox`)."""
