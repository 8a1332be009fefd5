"""Faults and outages on demand: SEVIS's bad days, as rules kept in the database.

One engine, three ways in: the control API (``/control/faults``, ``/control/scenarios``), YAML scenario
files (``serve --scenario``; shipped ones under ``scenarios/``) and the pytest plugin.

* :mod:`.model`: the ``faults`` table, the rule format (validated, with errors that say what to fix) and
  matching (environment, org, user, batch ID pattern, endpoint, the Nth matching request, a mock-time
  window or schedule, a count or a duration).
* :mod:`.web`: the answers given instead of (or after) the real view: dispositions, HTTP errors, delays,
  gateway maintenance pages, broken zips, S0030.
* :mod:`.transport`: what needs the socket: a connection reset, a body cut mid-stream, a failed TLS handshake.
* :mod:`.processing`: batches processed overnight, failed as a whole, or with internal errors per record.
* :mod:`.scenarios`: named sets of faults in YAML.
"""
