"""Runtime pieces both sandboxes share: request statistics, fault injection and serving."""

from sandbox_common.faults import FaultInjector
from sandbox_common.serve import add_common_arguments, add_sandbox_routes, serve
from sandbox_common.stats import RequestStats

__all__ = ["FaultInjector", "RequestStats", "add_common_arguments", "add_sandbox_routes", "serve"]
