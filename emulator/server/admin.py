"""Admin endpoints: health, time travel and runtime faults (``/_emulator/...``)."""

from __future__ import annotations

from emulator.server.core import ROUTER, Response


def _health_payload(state) -> dict:
    return {
        "status": "ok",
        "seed": state.seed,
        "scale": state.scale,
        "as_of": state.as_of.isoformat(),
        "advanced_days": state.advanced_days,
        "view_day": state.view.day.isoformat(),
        "now": state.now().isoformat(),
        "calls": state.calls,
        "faults": state.faults.as_dict(),
    }


@ROUTER.add("GET", r"/_emulator/health", "admin", authenticated=False)
def health(state, request, match):
    return Response.json(_health_payload(state))


@ROUTER.add("POST", r"/_emulator/advance", "admin", authenticated=False)
def advance(state, request, match):
    raw = request.arg("days", "1")
    try:
        days = int(raw)
        state.advance(days)
    except ValueError as exc:
        return Response.json({"error": "bad_request", "message": f"days={raw!r}: {exc}"}, 400)
    return Response.json(_health_payload(state))


@ROUTER.add("GET", r"/_emulator/faults", "admin", authenticated=False)
def get_faults(state, request, match):
    return Response.json(state.faults.as_dict())


@ROUTER.add("POST", r"/_emulator/faults", "admin", authenticated=False)
def set_faults(state, request, match):
    """Body: a JSON object of fault values, or ``?spec=name=value,...``; ``?reset=1`` clears all."""
    try:
        if request.arg("reset") in ("1", "true"):
            state.faults = type(state.faults)()
        spec = request.arg("spec")
        if spec:
            state.faults.update(spec)
        if request.body:
            state.faults.update(request.json())
    except ValueError as exc:
        return Response.json({"error": "bad_request", "message": str(exc)}, 400)
    return Response.json(state.faults.as_dict())
