"""RTI emulation, web side: the RTI application under each environment's root (accounts, Form I-17,
SEVP Response Center, Form DS-3036, the exchange-visitor help desk, batch registration, records and
batches), the SEVP operator console (``/sevp``), the Department of State's designation console
(``/dos``) and the e-mail outbox (``/outbox``). Pages are server-rendered Jinja templates with plain HTML forms;
every action is also a JSON API. The contract is ``API.md`` beside this file.

The app factory (``sevis_mock.server.app``) registers the RTI blueprint (``blueprint.py``, with the routes of
``pages``, ``api`` and ``ev``), the consoles (``sevis_mock.server.sevp``, ``sevis_mock.server.dos``) and the outbox
(``sevis_mock.server.outbox``); the tables are in ``sevis_mock.server.store.rti``.
"""

from __future__ import annotations
