"""Tools that talk to SEVIS Batch (the real service or sevis-mock) the way a school's software does.

`sevis_mock.harness.client` holds the protocol client (`SevisClient`, `parse_transaction_log`) and its result
types; `sevis_mock.harness.cli` holds the `upload` / `download` click commands built on it.
"""
