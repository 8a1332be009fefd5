"""Record, replay and shadow: `sevis-mock proxy` between a college's client and SEVIS, `serve --replay`, and
`shadow-report` (see README, "Record, replay and shadow")."""
