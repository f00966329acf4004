"""What the server tells its operators besides its logs: Prometheus metrics at /metrics.

    ports.py          what the metrics need from elsewhere: the storage totals (the SQL adapter answers)
    metrics.py        the series, and the observer ports of the services implemented over them
    http_metrics.py   the middleware counting every request by door, method and status
    request_tally.py  those counts kept in plain integers on the request path, moved into the series each second
    exposition.py     GET /metrics: the text format, one view of every worker, behind an optional token
    process_files.py  the directory where the workers' values meet (prometheus_client's multiprocess mode)

Only this package imports prometheus_client; the services report through ports they own (pullthrough/
observations.py, auth/observations.py, aws/ports.py) and the composition root (app.py) wires them here.
"""

from __future__ import annotations

from typing import Final

METRICS_PATH: Final = "/metrics"
