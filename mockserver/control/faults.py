"""``/control/faults`` and ``/control/scenarios``: faults and outages on demand (see ``sevis_mock.server.faults``).

| request | does |
| --- | --- |
| ``POST /control/faults`` | one fault rule (JSON); answers 201 with the fault, its ``id`` and ``hits`` |
| ``GET /control/faults`` | every fault with its hit count, oldest first |
| ``GET /control/faults/<id>`` | one fault |
| ``DELETE /control/faults/<id>``, ``DELETE /control/faults`` | remove one, or all |
| ``GET /control/scenarios`` | the shipped scenarios |
| ``POST /control/scenarios`` | ``{"name": "sevis-slow-night"}`` or ``{"yaml": "..."}``: load a scenario's faults |
"""

from __future__ import annotations

from flask import abort, jsonify, request
from sqlalchemy import delete, select

from ..faults import model, scenario as scenarios
from . import bp, mock

MAX_SCENARIO_BYTES = 256 * 1024


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(
            400,
            description='send a JSON object, e.g. {"match": {"endpoint": "upload"}, "respond": '
            '{"disposition": "S0001"}, "times": 1}',
        )
    return body


@bp.post("/faults")
def faults_add():
    body = _body()
    m = mock()
    now = m.clock.now()
    try:
        rule = model.parse_rule(body, now=now)
    except model.FaultError as exc:
        abort(400, description=f"fault: {exc}")
    name = body.get("name", "")
    if not isinstance(name, str):
        abort(400, description="fault: name is a label (text)")
    fault = model.add_fault(m.store, rule, now, name=name)
    return jsonify(model.fault_dict(fault, now)), 201


@bp.get("/faults")
def faults_list():
    m = mock()
    now = m.clock.now()
    with m.store.session() as s:
        faults = [model.fault_dict(f, now) for f in s.scalars(select(model.Fault).order_by(model.Fault.id))]
    return jsonify({"faults": faults, "count": len(faults)})


@bp.get("/faults/<int:fault_id>")
def faults_get(fault_id: int):
    m = mock()
    with m.store.session() as s:
        fault = s.get(model.Fault, fault_id)
        if fault is None:
            abort(404, description=f"no fault {fault_id}; GET /control/faults lists them")
        return jsonify(model.fault_dict(fault, m.clock.now()))


@bp.delete("/faults/<int:fault_id>")
def faults_delete(fault_id: int):
    with mock().store.write() as s:
        fault = s.get(model.Fault, fault_id)
        if fault is None:
            abort(404, description=f"no fault {fault_id}; GET /control/faults lists them")
        gone = model.fault_dict(fault)
        s.delete(fault)
    return jsonify({"deleted": [gone["id"]], "fault": gone})


@bp.delete("/faults")
def faults_clear():
    with mock().store.write() as s:
        ids = list(s.scalars(select(model.Fault.id).order_by(model.Fault.id)))
        s.execute(delete(model.Fault))
    return jsonify({"deleted": ids})


@bp.get("/scenarios")
def scenarios_list():
    found = [
        {"name": sc.name, "description": sc.description, "faults": sc.faults} for sc in scenarios.shipped().values()
    ]
    return jsonify({"scenarios": found})


@bp.post("/scenarios")
def scenarios_load():
    """``{"name": NAME}`` loads a shipped scenario, ``{"yaml": TEXT}`` one of your own."""
    body = _body()
    m = mock()
    now = m.clock.now()
    if isinstance(body.get("name"), str) and "yaml" not in body:
        scenario = scenarios.shipped().get(body["name"])
        if scenario is None:
            abort(
                404,
                description=f"no shipped scenario {model.show(body['name'])}; known: {', '.join(scenarios.shipped())}",
            )
    elif isinstance(body.get("yaml"), str):
        if len(body["yaml"]) > MAX_SCENARIO_BYTES:
            abort(400, description=f"yaml: a scenario of at most {MAX_SCENARIO_BYTES} characters")
        try:
            scenario = scenarios.parse_scenario(body["yaml"], "yaml")
        except model.FaultError as exc:
            abort(400, description=f"scenario: {exc}")
    else:
        abort(400, description='send {"name": "<shipped scenario>"} or {"yaml": "<scenario file text>"}')
    try:
        rules = scenario.rules(now)
    except model.FaultError as exc:
        abort(400, description=f"scenario: {exc}")
    made = [model.fault_dict(model.add_fault(m.store, rule, now, name=scenario.name), now) for rule in rules]
    return jsonify({"scenario": scenario.name, "faults": made}), 201
