"""The control API: an authenticated HTTP interface and a status page for a running service.

    metrics = ServiceMetrics(svc)
    server = await start_control(svc, token=load_control_token(), metrics=metrics, port=8080)
    ...
    await server.stop()

See :mod:`execsvc.control.app` for the endpoints and :mod:`execsvc.control.auth` for the token.
"""

from execsvc.control.app import build_app
from execsvc.control.auth import check_bind, load_control_token
from execsvc.control.server import ControlServer, start_control

__all__ = ["ControlServer", "build_app", "check_bind", "load_control_token", "start_control"]
