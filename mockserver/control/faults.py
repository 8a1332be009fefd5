"""``/control/faults`` and ``/control/scenarios``: faults and outages on demand (see ``mockserver.faults``).

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

from ..faults.model import Fault, FaultError, add_fault, parse_rule, show
from ..faults.scenario import parse_scenario, shipped
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
        rule = parse_rule(body, now=now)
    except FaultError as exc:
        abort(400, description=f"fault: {exc}")
    name = body.get("name", "")
    if not isinstance(name, str):
        abort(400, description="fault: name is a label (text)")
    fault = add_fault(m.store, rule, now, name=name)
    return jsonify(fault.to_dict(now)), 201


@bp.get("/faults")
def faults_list():
    m = mock()
    now = m.clock.now()
    with m.store.session() as s:
        faults = [f.to_dict(now) for f in s.scalars(select(Fault).order_by(Fault.id))]
    return jsonify({"faults": faults, "count": len(faults)})


@bp.get("/faults/<int:fault_id>")
def faults_get(fault_id: int):
    m = mock()
    with m.store.session() as s:
        fault = s.get(Fault, fault_id)
        if fault is None:
            abort(404, description=f"no fault {fault_id}; GET /control/faults lists them")
        return jsonify(fault.to_dict(m.clock.now()))


@bp.delete("/faults/<int:fault_id>")
def faults_delete(fault_id: int):
    with mock().store.write() as s:
        fault = s.get(Fault, fault_id)
        if fault is None:
            abort(404, description=f"no fault {fault_id}; GET /control/faults lists them")
        gone = fault.to_dict()
        s.delete(fault)
    return jsonify({"deleted": [gone["id"]], "fault": gone})


@bp.delete("/faults")
def faults_clear():
    with mock().store.write() as s:
        ids = list(s.scalars(select(Fault.id).order_by(Fault.id)))
        s.execute(delete(Fault))
    return jsonify({"deleted": ids})


@bp.get("/scenarios")
def scenarios_list():
    found = [{"name": sc.name, "description": sc.description, "faults": sc.faults} for sc in shipped().values()]
    return jsonify({"scenarios": found})


@bp.post("/scenarios")
def scenarios_load():
    """``{"name": NAME}`` loads a shipped scenario, ``{"yaml": TEXT}`` one of your own."""
    body = _body()
    m = mock()
    now = m.clock.now()
    if isinstance(body.get("name"), str) and "yaml" not in body:
        scenario = shipped().get(body["name"])
        if scenario is None:
            abort(404, description=f"no shipped scenario {show(body['name'])}; known: {', '.join(shipped())}")
    elif isinstance(body.get("yaml"), str):
        if len(body["yaml"]) > MAX_SCENARIO_BYTES:
            abort(400, description=f"yaml: a scenario of at most {MAX_SCENARIO_BYTES} characters")
        try:
            scenario = parse_scenario(body["yaml"], "yaml")
        except FaultError as exc:
            abort(400, description=f"scenario: {exc}")
    else:
        abort(400, description='send {"name": "<shipped scenario>"} or {"yaml": "<scenario file text>"}')
    try:
        rules = scenario.rules(now)
    except FaultError as exc:
        abort(400, description=f"scenario: {exc}")
    made = [add_fault(m.store, rule, now, name=scenario.name).to_dict(now) for rule in rules]
    return jsonify({"scenario": scenario.name, "faults": made}), 201
